"""Whether a stream is a person at a terminal (the console chat, text logs) or not."""

from __future__ import annotations

from typing import Any


def is_terminal(stream: Any) -> bool:
    """True when `stream` is attached to a terminal; False for files, pipes and test
    streams without `isatty`."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
