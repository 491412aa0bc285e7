"""Rules every way of entering knowledge obeys: the CLI, the Slack and Discord forms, the
review queue, imported files and the bundled files. Each returns what is wrong (or the
cleaned value), and the caller reports it in its own terms (a message, or `file:line`)."""

from __future__ import annotations

import datetime as dt

# An as-of date may be up to this far past today's UTC date: it is already that day
# somewhere (UTC+14 is 14 hours ahead).
FUTURE_ALLOWANCE = dt.timedelta(days=1)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def as_of_problem(
    as_of: dt.date, published: dt.date | None, today: dt.date | None = None
) -> str | None:
    """Why a fact cannot be true as of `as_of`, or None: a date in the future (a typo that
    would supersede every later fact on its topic forever), or one after its source was
    published (a source cannot report what had not happened yet)."""
    today = today or utc_today()
    if as_of > today + FUTURE_ALLOWANCE:
        return f"the as-of date {as_of.isoformat()} is in the future (today is {today.isoformat()})"
    if published is not None and as_of > published:
        return (
            f"the as-of date {as_of.isoformat()} is after its source was published "
            f"({published.isoformat()})"
        )
    return None
