"""General English knowledge the matcher leans on for any dispute: base forms of words
(lemminflect) and how common a word is in English (the word counts that ship with
symspellpy). Neither names anything of a particular strike."""

from __future__ import annotations

import functools
import importlib.resources
import math

from lemminflect import getAllLemmas

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
