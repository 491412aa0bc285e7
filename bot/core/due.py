"""Facts due for review: an admin set a `review_by` date and it has come."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.core.models import Fact


def due_facts(facts: Iterable[Fact], today: dt.date) -> list[Fact]:
    """Active facts whose `review_by` is today or earlier, longest overdue first."""
    due = [f for f in facts if f.status == "active" and f.review_by and f.review_by <= today]
    return sorted(due, key=lambda f: (f.review_by, f.topic, f.id))


def days_overdue(fact: Fact, today: dt.date) -> int:
    """How many days past its review date a fact is (0 on the date itself)."""
    return (today - fact.review_by).days if fact.review_by else 0
