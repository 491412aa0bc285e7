"""The candidate pre-filter keeps the fact a question names when every fact shares its word."""

from __future__ import annotations

import datetime as dt

from bot.core.language import Language
from bot.core.matcher import CANDIDATES, Matcher
from bot.core.models import Fact


def test_the_fact_whose_alias_is_the_word_survives_a_tie_of_many() -> None:
    facts = [
        Fact(f"f{i}", f"The Riverside union said thing number {i}.", f"p/t{i}",
             dt.date(2024, 1, 1), "s", questions=(f"what did the riverside union say {i}",))
        for i in range(3 * CANDIDATES)
    ]  # fmt: skip
    facts.append(
        Fact("who", "Riverside is the nurses' union of the city hospital.", "p/who",
             dt.date(2024, 1, 1), "s", aliases=("riverside",))
    )  # fmt: skip
    matcher = Matcher.build(Language.build(), facts)
    analysis = matcher.analyse("riverside")
    assert facts.index(facts[-1]) in matcher.candidates(analysis)
