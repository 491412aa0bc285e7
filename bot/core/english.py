"""General English knowledge the matcher leans on for any dispute: base forms of words
(lemminflect) and how common a word is in English (the word counts that ship with
symspellpy). Neither names anything of a particular strike."""

from __future__ import annotations

import functools
import importlib.resources
import math

from lemminflect import getAllLemmas
from rapidfuzz import process
from rapidfuzz.distance import OSA

_FREQUENCIES = "frequency_dictionary_en_82_765.txt"
# Parts of speech whose base form keeps a word's meaning: "offers" -> "offer", "saying" ->
# "say", "struck" -> "strike". Adjective and adverb lemmas do not ("better" -> "good").
_POS_ORDER = ("NOUN", "VERB", "PROPN", "AUX")
COMMON = 7.0  # log10 of a word's count from which it is everyday English ("anywhere")
RARE = 5.5  # ... and up to which it is a rare word ("ratification" is 6.2)


@functools.lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The base form of an English word, or the word itself when it has none."""
    if len(word) <= 3 or not word.isalpha():
        return word
    forms = getAllLemmas(word)
    noun = forms.get("NOUN")
    if noun and noun[0] != word:
        return noun[0]  # a plural
    for pos in _POS_ORDER[1:]:  # "saying" is a noun too, but is asked as "say"
        base = forms.get(pos)
        if base:
            return base[0]
    return noun[0] if noun else word


@functools.cache
def _counts() -> dict[str, float]:
    text = importlib.resources.files("symspellpy").joinpath(_FREQUENCIES).read_text("utf-8")
    out: dict[str, float] = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if count:
            out[word] = math.log10(int(count))
    return out


def commonness(word: str) -> float:
    """log10 of how often `word` occurs in a large English corpus (0 when it is unknown):
    "the" 10.4, "weather" 8.0, "ratification" 6.2, "longshoremen" 4.9."""
    counts = _counts()
    found = counts.get(word)
    if found is None:
        found = counts.get(lemma(word), 0.0)
    return found


def is_word(word: str) -> bool:
    """True for a real English word (not a typo), by its count."""
    return commonness(word) >= RARE


def rarity(word: str) -> float:
    """0 for an everyday English word, 1 for a rare or unknown one, in between linearly."""
    value = commonness(word)
    if value <= RARE:
        return 1.0
    if value >= COMMON:
        return 0.0
    return (COMMON - value) / (COMMON - RARE)


def is_noun(word: str) -> bool:
    """True when `word` can be a noun (or English does not know it: a name, a coinage)."""
    forms = getAllLemmas(word)
    return not forms or "NOUN" in forms or "PROPN" in forms


@functools.cache
def _buckets() -> dict[tuple[int, str], list[str]]:
    """Real English words by (length, first letter) and (length, second letter)."""
    out: dict[tuple[int, str], list[str]] = {}
    for word, count in _counts().items():
        if count >= RARE and word.isalpha():
            out.setdefault((len(word), "1" + word[0]), []).append(word)
            out.setdefault((len(word), "2" + word[1:2]), []).append(word)
    return out


@functools.lru_cache(maxsize=20_000)
def spelled(token: str) -> str | None:
    """The English word a misspelt token most likely is ("threatend" -> "threatened"), or
    None: one letter off (two for long words), the most common such word first. Words of
    up to four letters are left alone ("rns" is not "runs"), and so are the forms English
    knows ("lumping")."""
    size = len(token)
    if size < 5 or not token.isalpha() or getAllLemmas(token):
        return None
    allowed = 1 if size <= 7 else 2
    counts = _counts()
    buckets = _buckets()
    best: tuple[tuple[int, float], str] | None = None
    for length in range(size - allowed, size + allowed + 1):
        words = [
            *buckets.get((length, "1" + token[0]), ()),
            *buckets.get((length, "2" + token[1]), ()),
        ]
        for word, distance, _ in process.extract(
            token, words, scorer=OSA.distance, score_cutoff=allowed, limit=None
        ):
            rank = (int(distance), -counts[word])
            if best is None or rank < best[0]:
                best = (rank, word)
    return best[1] if best else None


@functools.lru_cache(maxsize=20_000)
def not_only_noun(word: str) -> bool:
    """True when English uses `word` as a verb, adjective or adverb too ("check", "name",
    "average"), not only as a noun ("slogan", "teamster")."""
    return not set(getAllLemmas(word)).issubset(("NOUN", "PROPN"))
