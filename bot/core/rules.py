"""Rules every way of entering knowledge obeys: the CLI, the Slack and Discord forms, the
review queue, imported files and the bundled files. Each returns what is wrong (or the
cleaned value), and the caller reports it in its own terms (a message, or `file:line`)."""

from __future__ import annotations

import datetime as dt
import re

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


# --- URLs -------------------------------------------------------------------------------

MAX_URL = 2000
# One http(s) address: a host, then anything but whitespace and control characters, to the
# end of the text (fullmatch: `$` in a plain match would let a final newline through).
URL_RE = re.compile(r"https?://[^\s/?#\x00-\x1f\x7f-\x9f]+[^\s\x00-\x1f\x7f-\x9f]*")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a source's link (Slack and Discord render it as one), or None."""
    if len(url) > MAX_URL:
        return f"the URL is longer than {MAX_URL} characters"
    if not URL_RE.fullmatch(url):
        return (
            "the URL must be one http:// or https:// address, without spaces or control characters"
        )
    return None


# --- control characters -----------------------------------------------------------------

# C0 and C1 controls (ESC starts terminal escapes, BEL ends some), DEL, and the bidi
# embeddings, overrides and isolates that make text display in another order than stored.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)]
_CONTROLS += range(0x2066, 0x206A)
_TO_SPACE = dict.fromkeys(_CONTROLS, " ")
_LINE_BREAKS = frozenset("\t\n\r")


def clean_text(text: str) -> str:
    """Admin-entered text as stored: every control character a space, runs of whitespace one
    space, no space at either end."""
    return " ".join(text.translate(_TO_SPACE).split())


def clean_block(text: str) -> str:
    """Longer admin-entered text (an article) as stored: control characters spaces, but its
    line breaks and tabs kept."""
    return text.translate({k: v for k, v in _TO_SPACE.items() if chr(k) not in _LINE_BREAKS})


def control_problem(text: str) -> str | None:
    """For text read from a file (which is refused rather than changed): the first control
    character it holds, other than tabs and line breaks, or None."""
    for ch in text:
        if ord(ch) in _TO_SPACE and ch not in _LINE_BREAKS:
            return f"contains a control character (U+{ord(ch):04X})"
    return None


# --- example questions, aliases, keywords -----------------------------------------------

# Each is matched against every question: a few hundred long ones would slow every answer.
MAX_HINTS = 40
MAX_HINT_CHARS = 300
HINT_NAMES = {"questions": "example questions", "aliases": "aliases", "keywords": "keywords"}


def hints_problem(key: str, values: tuple[str, ...] | list[str]) -> str | None:
    """Why a fact cannot have these example questions (or aliases, or keywords), or None."""
    name = HINT_NAMES.get(key, key)
    if len(values) > MAX_HINTS:
        return f"a fact can have at most {MAX_HINTS} {name}, not {len(values)}"
    for value in values:
        if len(value) > MAX_HINT_CHARS:
            return f"each of the {name} must be at most {MAX_HINT_CHARS} characters"
    return None
