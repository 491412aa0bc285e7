"""The question sets: the shared development set must pass in full; our own sets set a floor.

`questions_dev.jsonl` was used to tune the matcher from the start; `questions_holdout.jsonl`
(written alongside it) and `questions_fresh.jsonl` (written later, blind to the knowledge
files) were first scored untuned and then used for general fixes (language data, answer
types), never for per-question patches. `questions_blind.jsonl` (written last, by someone who
saw neither the knowledge nor the other sets) scored 54/70 before the last general fixes;
`questions_blind2.jsonl`, written the same way afterwards, scored 43/60 on first contact.
Synonyms and rules were later changed because of those sets, so they are tuning sets now.
`questions_blind3.jsonl` was written from the article alone by a helper who saw nothing of
the bot (44/50 on first contact) and nothing has been changed for it. The example packs' own
blind sets are in tests/test_packs.py. Raise the floors as the matcher improves."""

from __future__ import annotations

import pytest

from bot.core.evaluate import evaluate, read_cases
from tests.conftest import DATA, need_shared


def report(bot, path):
    result = evaluate(read_cases(path), bot.answer)
    misses = "\n".join(f"{m.case.question!r}: {m.why}" for m in result.misses)
    return result, misses


def test_shared_development_set_passes_in_full(bot):
    result, misses = report(bot, need_shared("eval", "questions.jsonl"))
    assert result.total == 28
    assert result.passed == result.total, misses


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("questions_dev.jsonl", 0.93),
        ("questions_holdout.jsonl", 0.93),
        ("questions_fresh.jsonl", 0.9),
        ("questions_blind.jsonl", 0.94),
        ("questions_blind2.jsonl", 0.86),
        ("questions_blind3.jsonl", 0.88),
    ],
)
def test_own_question_sets_meet_their_floor(bot, name, floor):
    result, misses = report(bot, DATA / name)
    assert result.total >= 50
    assert result.rate >= floor, f"{result.passed}/{result.total}\n{misses}"


def test_own_sets_have_enough_questions_of_each_kind():
    cases = [
        c
        for name in ("questions_dev.jsonl", "questions_holdout.jsonl")
        for c in read_cases(DATA / name)
    ]
    assert len(cases) >= 100
    assert sum(not c.answerable for c in cases) >= 25
