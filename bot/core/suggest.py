"""Question suggestions for type-ahead (Discord autocomplete): the example questions of the
current facts, matched fuzzily against what the user has typed so far."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

from rapidfuzz import fuzz, process, utils

from bot.core.models import Fact

MIN_SCORE = 45.0


def as_sentence(question: str) -> str:
    """'how long has it lasted' -> 'How long has it lasted?'."""
    q = " ".join(question.split())
    q = q[:1].upper() + q[1:]
    return q if not q or q.endswith(("?", ".", "!")) else q + "?"


def known_questions(facts: Iterable[Fact]) -> list[str]:
    """Every example question once, interleaved across facts so that any prefix of the list
    covers as many different facts as possible."""
    columns = [f.questions for f in facts if f.status == "active" and f.questions]
    seen: set[str] = set()
    out: list[str] = []
    for row in zip_longest(*columns):
        for question in row:
            if question is None:
                continue
            sentence = as_sentence(question)
            key = sentence.casefold()
            if sentence and key not in seen:
                seen.add(key)
                out.append(sentence)
    return out


def suggest_questions(
    questions: Sequence[str], typed: str, *, limit: int = 25, max_chars: int = 100
) -> list[str]:
    """Up to `limit` known questions closest to `typed` (the first ones when nothing is typed
    yet), each at most `max_chars` long."""
    fitting = [q for q in questions if len(q) <= max_chars]
    typed = " ".join((typed or "").split())
    if not typed:
        return fitting[:limit]
    ranked = process.extract(
        typed,
        fitting,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=MIN_SCORE,
    )
    return [choice for choice, _score, _index in ranked]
