"""Question suggestions for type-ahead (Discord autocomplete): the example questions of the
current facts, matched against what the user has typed so far."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

from rapidfuzz import fuzz, utils

from bot.core.models import Fact

MIN_SCORE = 50.0
SHORT_WORDS = 4  # questions this short ("ai?") come last when nothing is typed yet


def as_sentence(question: str) -> str:
    """'how long has it lasted' -> 'How long has it lasted?'."""
    q = " ".join(question.split())
    q = q[:1].upper() + q[1:]
    return q if not q or q.endswith(("?", ".", "!")) else q + "?"


def known_questions(facts: Iterable[Fact], first_topics: Sequence[str] = ()) -> list[str]:
    """Every example question of the active facts once, as a sentence. Facts on
    `first_topics` come first; questions are interleaved across facts so that any prefix
    of the list covers as many different facts as possible."""
    rank = {topic: i for i, topic in enumerate(first_topics)}
    active = [f for f in facts if f.status == "active" and f.questions]
    active.sort(key=lambda f: rank.get(f.topic, len(rank)))
    seen: set[str] = set()
    out: list[str] = []
    for row in zip_longest(*(f.questions for f in active)):
        for question in row:
            sentence = as_sentence(question or "")
            if sentence and sentence.casefold() not in seen:
                seen.add(sentence.casefold())
                out.append(sentence)
    return out


def _score(typed: str, words: list[str], question: str) -> float:
    """Higher is better: a prefix match, then every typed word starting a word of the
    question, then fuzzy similarity."""
    text = utils.default_process(question)
    if text.startswith(typed):
        return 300.0
    q_words = text.split()
    if all(any(w.startswith(t) for w in q_words) for t in words):
        return 200.0
    return (fuzz.token_set_ratio(typed, text) + fuzz.partial_ratio(typed, text)) / 2


def suggest_questions(
    questions: Sequence[str], typed: str, *, limit: int = 25, max_chars: int = 100
) -> list[str]:
    """Up to `limit` known questions closest to `typed`, each at most `max_chars` long; the
    fuller questions first when nothing is typed yet."""
    fitting = [q for q in questions if len(q) <= max_chars]
    typed = utils.default_process(typed or "")
    if not typed:
        return sorted(fitting, key=lambda q: len(q.split()) < SHORT_WORDS)[:limit]
    words = typed.split()
    scored = [(_score(typed, words, q), i, q) for i, q in enumerate(fitting)]
    scored = [s for s in scored if s[0] >= MIN_SCORE]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [q for _score_, _i, q in scored[:limit]]
