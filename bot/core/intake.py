"""Article intake: find the sentences of an article that carry checkable facts (figures,
percentages, dates, durations, named parties, quoted positions) and propose each as a
candidate fact with a suggested topic. Pure: no store, no network.

A candidate's text is a draft in the article's own words; an admin rewords and accepts it
(see `bot.core.review`). Nothing proposed here reaches answers on its own."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.language import Language, tokens
from bot.core.models import Fact, Topic
from bot.core.sentences import split_sentences
from bot.core.topics import TopicGuide, TopicSuggestion

MIN_WORDS = 4
MAX_SENTENCE = 2000

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|dozen|half"
)
_NUMBER = rf"(?:\d[\d,]*(?:\.\d+)?|(?:{_NUMBER_WORDS})(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORDS}))*)"
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan\.|feb\.|mar\.|apr\.|jun\.|jul\.|aug\.|sept?\.|oct\.|nov\.|dec\."
)
_WEEKDAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS = r"days?|weeks?|months?|years?|hours?|decades?"

SIGNALS: dict[str, re.Pattern[str]] = {
    "percentage": re.compile(
        r"\d(?:[\d,]*\d)?(?:\.\d+)?\s*(?:%|per\s?cent\b|percentage points?\b)", re.I
    ),
    "duration": re.compile(rf"\b{_NUMBER}[\s-]+(?:{_UNITS})\b", re.I),
    "date": re.compile(
        rf"\b(?:(?:{_MONTHS})(?=\W)|(?:{_WEEKDAYS})\b|(?:19|20)\d\d\b(?!\s*%)|\d{{4}}-\d\d-\d\d\b"
        rf"|(?:last|next|this)\s+(?:week|month|year)\b|\b{_NUMBER}\s+(?:{_UNITS})\s+ago\b"
        r"|yesterday\b|today\b)",
        re.I,
    ),
    "figure": re.compile(rf"[$€£]\s?\d|\b{_NUMBER}\b", re.I),
    "quote": re.compile(r"[“\"][^”\"]{12,}[”\"]"),
    "position": re.compile(
        r"\b(?:said|says|stated|states|wrote|told|claims?|claimed|accused|announced|argued|"
        r"noted|insisted|according to|demanded|proposed|rejected|agreed|offered)\b",
        re.I,
    ),
}
# A capitalised name inside the sentence ("Carol Lombardini", "Los Angeles Times").
_NAME_RE = re.compile(r"(?<=[a-z,;:] )(?:[A-Z][\w’'-]+)(?:\s+(?:of\s+)?[A-Z][\w’'-]+)+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence proposed as a fact; `draft` is the article's wording, to be reworded."""

    sentence: str
    draft: str
    topic: str
    topic_score: float
    new_topic: bool
    signals: tuple[str, ...]
    as_of: dt.date | None = None
    closest_fact: str | None = None


def signals(sentence: str, language: Language | None = None) -> tuple[str, ...]:
    """What makes `sentence` checkable: figures, dates, parties, quoted positions..."""
    found = [name for name, pattern in SIGNALS.items() if pattern.search(sentence)]
    if "figure" not in found and language is not None:
        concepts = language.concepts(tokens(sentence))
        if any(c[:1].isdigit() for c in concepts):
            found.append("figure")  # a number word the language knows ("a dozen")
    if _has_party(sentence, language):
        found.append("party")
    if "position" in found and not ({"quote", "party"} & set(found)):
        found.remove("position")  # "said" without anyone named or quoted
    return tuple(found)


def _has_party(sentence: str, language: Language | None) -> bool:
    if _NAME_RE.search(sentence):
        return True
    if language is None or not language.entities:
        return False
    return any(c in language.entities for c in language.concepts(tokens(sentence)))


# A paragraph with a photo credit in it is a caption, all of it.
_CREDIT = (
    r"\((?:AP |Reuters |AFP |Getty )?(?:photo|image|file)\b|\bphoto(?:graph)?(?: by|:)"
    r"|\b(?:getty images|ap photo|file photo|credit:|image:|caption:)"
)
_CAPTION = re.compile(_CREDIT, re.IGNORECASE)
# ... and a caption, a byline or an editor's line is not a statement of fact.
_NOT_PROSE = re.compile(
    _CREDIT + r"|^by [A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3}(?:,| and |$)"
    r"|\b(?:contributed to this report|reporting by|editing by|writing by|staff writer)\b"
    r"|^(?:updated|published|posted)\b",
    re.IGNORECASE,
)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_ENDS_LIKE_A_SENTENCE = re.compile(r"[.!?][\"”’')\]]*$")


def not_a_statement(sentence: str) -> bool:
    """True for text an article carries that states nothing: a caption, a photo credit, a
    byline, or a fragment cut off at either end ("...and the union said it would", a
    sentence starting in lower case or ending without its full stop)."""
    text = sentence.strip()
    if _NOT_PROSE.search(text):
        return True
    if text.endswith(("...", "…")) or not _ENDS_LIKE_A_SENTENCE.search(text):
        return True
    first = next((ch for ch in text if ch.isalnum()), "")
    return first.islower()


def propose(
    text: str,
    language: Language,
    topics: dict[str, Topic],
    facts: Iterable[Fact] = (),
    *,
    as_of: dt.date | None = None,
    guide: TopicGuide | None = None,
) -> list[Candidate]:
    """The candidate facts of an article, in the article's order."""
    guide = guide or TopicGuide.build(language, topics, facts)
    out: list[Candidate] = []
    seen: set[str] = set()
    prose = "\n\n".join(p for p in _PARAGRAPHS.split(text) if not _CAPTION.search(p))
    for sentence in split_sentences(prose):
        key = sentence.casefold()
        if key in seen or len(sentence.split()) < MIN_WORDS or len(sentence) > MAX_SENTENCE:
            continue
        seen.add(key)
        if not_a_statement(sentence):
            continue
        found = signals(sentence, language)
        if not found:
            continue
        suggestion: TopicSuggestion = guide.suggest(sentence)
        out.append(
            Candidate(
                sentence=sentence,
                draft=sentence,
                topic=suggestion.topic,
                topic_score=round(suggestion.score, 3),
                new_topic=suggestion.new,
                signals=found,
                as_of=as_of,
                closest_fact=suggestion.closest_fact,
            )
        )
    return out
