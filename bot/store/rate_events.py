"""Rate-limit windows kept in the database, so that every process sharing it (the Slack
HTTP workers) counts a user's questions together. `bot.core.limits.SharedWindow` uses it."""

from __future__ import annotations

import itertools
import threading

from bot.store.db import Store

PURGE_EVERY = 200  # additions between deletions of rows out of every window


class RateEvents:
    """Timestamps (wall-clock seconds) of admitted events per scope and key."""

    def __init__(self, store: Store, longest_window: float):
        self.store = store
        self.longest_window = longest_window
        self._added = itertools.count(1)
        self._lock = threading.Lock()

    def wait(self, scope: str, key: str, limit: int, window: float, now: float) -> float:
        """Seconds until `key` may have another event in `scope`; 0.0 when it may now."""
        rows = self.store._read(
            "select at from rate_events where scope = ? and key = ? and at > ?"
            " order by at desc limit ?",
            [scope, key, now - window, limit],
        )
        if len(rows) < limit:
            return 0.0
        return rows[-1]["at"] + window - now

    def add(self, scope: str, key: str, now: float) -> None:
        """Count an event now; now and then forget the events out of every window."""
        with self._lock:
            purge = next(self._added) % PURGE_EVERY == 0
        with self.store.transaction() as db:
            db.execute(
                "insert into rate_events (scope, key, at) values (?, ?, ?)", [scope, key, now]
            )
            if purge:
                db.execute("delete from rate_events where at <= ?", [now - self.longest_window])
