"""Split article text into sentences: abbreviations ("U.S.", "Dr."), initials, decimals
("3.5%") and quotations that span several sentences are handled; every sentence keeps
balanced quotation marks."""

from __future__ import annotations

import re
import unicodedata


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words after which a full stop never ends a sentence (a name or a figure follows).
_TITLES = _words("mr mrs ms dr prof sen rep gov gen col lt sgt capt st mt rev hon pres supt messrs")
# Abbreviations that may also close a sentence: split only before a typical sentence opener.
_ABBREVIATIONS = _words(
    "jan feb mar apr jun jul aug sep sept oct nov dec no nos vs etc inc corp co ltd llc jr sr "
    "approx est dept univ fig al"
)
_OPENERS = _words(
    "the a an it its he she they we i this that these those there in on at but and so yet "
    "however after before when while meanwhile still last next on according"
)
# Sentence end: terminal punctuation and closing quotes/brackets, then space and a sentence
# start (an opening quote or bracket, a capital letter or a digit).
_END_RE = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+[\"“‘'(\[]*[A-Z0-9])")
_WORD_BEFORE_RE = re.compile(r"([^\s\"“‘(\[]+)$")
_WORD_AFTER_RE = re.compile(r"\s+[\"“‘'(\[]*([\w]+)")
_HEADER_RE = re.compile(r"^\s*date:?\s+\d{4}-\d{2}-\d{2}\b\s*", re.IGNORECASE)
_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_CLOSE_FOR = {"“": "”", '"': '"'}


def _normalise(text: str) -> str:
    """NFKC, no control or format characters, whitespace collapsed; quotes kept as typed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        "" if (cat := unicodedata.category(ch)) == "Cf" else " " if cat[0] == "C" else ch
        for ch in text
    )
    return " ".join(text.split())


def strip_header(text: str) -> str:
    """Drop a leading `date YYYY-MM-DD` stamp, as saved article files often carry."""
    return _HEADER_RE.sub("", text, count=1)


def _is_boundary(text: str, start: int, end: int) -> bool:
    """Whether the punctuation at text[start:end] really ends a sentence."""
    if text[start] != ".":
        return True
    before = _WORD_BEFORE_RE.search(text, 0, start)
    word = before.group(1).lower() if before else ""
    after = _WORD_AFTER_RE.match(text, end)
    following = after.group(1) if after else ""
    if word in _TITLES:
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith"
    if word == "no" and following[:1].isdigit():
        return False  # "No. 1"
    if "." in word or word in _ABBREVIATIONS:
        # "U.S.", "a.m.", "Sept.": a sentence end only when a typical opener follows.
        return following.lower() in _OPENERS
    return True


def _quote_state(piece: str, opener: str | None) -> str | None:
    """The quotation mark still open at the end of `piece` (None when all are closed)."""
    for ch in piece:
        if ch == "“":
            opener = "“"
        elif ch == "”":
            opener = None
        elif ch == '"':
            opener = None if opener == '"' else '"'
    return opener


def _split_paragraph(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    opener: str | None = None
    for match in _END_RE.finditer(text):
        if not _is_boundary(text, match.start(), match.end()):
            continue
        piece = text[start : match.end()].strip()
        start = match.end()
        prefix = opener or ""
        opener = _quote_state(piece, opener)
        pieces.append(prefix + piece + (_CLOSE_FOR[opener] if opener else ""))
    rest = text[start:].strip()
    if rest:
        prefix = opener or ""
        opener = _quote_state(rest, opener)
        pieces.append(prefix + rest + (_CLOSE_FOR[opener] if opener else ""))
    return [p for p in pieces if any(ch.isalnum() for ch in p)]


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, whitespace collapsed. Blank lines end paragraphs
    (and so sentences); a quotation spanning sentences is closed and reopened on each."""
    out: list[str] = []
    for paragraph in _PARAGRAPH_RE.split(strip_header(text.replace("\r\n", "\n"))):
        body = _normalise(paragraph)
        if body:
            out.extend(_split_paragraph(body))
    return out
