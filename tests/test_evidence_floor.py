"""What the matcher's evidence floor (MIN_EVIDENCE) protects: a question whose only matches
are everyday words, question words or small numbers is not answered with a fact."""

from __future__ import annotations

import pytest

from bot.core import matcher
from bot.core.service import StrikeBot

WITHOUT_EVIDENCE = [
    "what time is it",
    "2+2",
    "what day is it",
    "who are you",
    "what happened",
    "tell me more",
    "one two three",
    "how many",
    "the 2nd one",
    "more details",
]


@pytest.mark.parametrize("question", WITHOUT_EVIDENCE)
def test_no_fact_answers_a_question_made_of_everyday_words(bot: StrikeBot, question: str):
    assert not bot.answer(question).answered


def test_it_is_the_evidence_floor_that_declines_them(bot: StrikeBot, monkeypatch):
    """With the floor off, most of them would be answered with some fact."""
    monkeypatch.setattr(matcher, "MIN_EVIDENCE", 0.0)
    bot.refresh(force=True)
    answered = [q for q in WITHOUT_EVIDENCE if bot.answer(q).answered]
    assert len(answered) >= len(WITHOUT_EVIDENCE) // 2, answered
