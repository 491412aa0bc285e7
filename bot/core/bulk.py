"""Help for work that builds many objects at once (indexing, bulk imports)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block.

    Bulk work allocates millions of small objects and no cycles; the collector's repeated
    full passes over them would make it grow faster than linearly with the data."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
