"""Replay protection for Slack's HTTP mode.

Bolt checks each request's signature and that its timestamp is within five minutes of now,
but a request captured on the way (a proxy log, a leaked capture) can be sent again, word for
word, within those five minutes and Bolt accepts it. `VerifiedOnce` takes the place of
Bolt's signature check (same verifier, same 401, same place in the middleware chain: before
every listener and before the URL-verification answer) and also remembers the signature of
every request it lets through until that request's timestamp leaves the window; the same
signed request again is refused with 401, exactly as a bad signature is.

Slack's own retries of an event carry `X-Slack-Retry-Num`, a header outside the signature.
A retry made in another second is newly signed and passes here (the adapter's duplicate-event
skipping then acknowledges it without answering twice). A retry made within the same second
has the very same signature: it is acknowledged (200) without being handled, never answered
twice. Slack retries only Events API deliveries, so a repeated slash command or interaction
with a retry header added is refused like any other replay.

Where the signatures are kept: always in this process's memory (bounded, thread-safe), and,
when the bot's database is a file, also in a small table of that SQLite file
(`slack_replay`, created here on first use; rows are deleted once expired), so a replay is
also refused when it reaches another worker process sharing the database. Events accepted
through HTTP are noted there too (`event:<event_id>`, for an hour), so a retry of an event
that one worker already took is not answered again by another. If the database is busy or
unusable, the in-memory record alone decides for that request (a replay could then reach a
different worker) and a warning is logged; answering Slack within its 3 seconds comes first.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from slack_bolt import BoltResponse
from slack_bolt.middleware.request_verification import RequestVerification
from slack_bolt.request import BoltRequest

log = logging.getLogger(__name__)

WINDOW_S = 5 * 60  # the timestamp window of slack_sdk's SignatureVerifier (|now - ts| <= 300)
MARGIN_S = 5  # kept a little longer than the window, for clock steps between the two checks
EVENT_MEMORY_S = 60 * 60  # Slack retries an event for about five minutes; keep it an hour
MEMORY_LIMIT = 50_000  # keys kept in memory per process (two per request, one per event)
SQLITE_TIMEOUT_S = 1.0  # how long a busy database may hold up an acknowledgement
PURGE_EVERY = 500  # checks between deletions of expired rows
WARN_EVERY_S = 60.0  # at most one warning a minute about a busy database
TABLE = "slack_replay"
MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970: 10 digits until the year 2286

Clock = Callable[[], float]


class MemoryReplayGuard:
    """Keys with an expiry time, in memory: thread-safe and bounded (when more than `limit`
    keys are live, the ones closest to expiring are forgotten first, and a warning is logged:
    that would take more than `limit` requests within five minutes in one process)."""

    def __init__(self, limit: int = MEMORY_LIMIT, clock: Clock = time.time):
        self.limit = limit
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._warned = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def add(self, keys: Sequence[str], expires: Sequence[float]) -> list[bool]:
        """Remember each key until its expiry; for each, True when it was not already
        remembered (so the first of two threads adding the same key gets True, not both)."""
        with self._lock:
            now = self.clock()
            self._purge(now)
            fresh = []
            for key, until in zip(keys, expires, strict=True):
                known = self._expiry.get(key)
                if known is not None and known >= now:
                    fresh.append(False)
                    continue
                fresh.append(True)
                self._expiry[key] = until
                heapq.heappush(self._heap, (until, key))
            self._bound()
            return fresh

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            until, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == until:
                del self._expiry[key]

    def _bound(self) -> None:
        while len(self._expiry) > self.limit and self._heap:
            until, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == until:
                del self._expiry[key]
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "more than %d Slack requests within five minutes: the oldest "
                        "signatures are forgotten early (replays of them are not refused here)",
                        self.limit,
                    )
        if len(self._heap) > 2 * self.limit + 1000:  # stale heap entries of re-added keys
            self._heap = [(u, k) for u, k in self._heap if self._expiry.get(k) == u]
            heapq.heapify(self._heap)


class SQLiteReplayGuard:
    """The same record in a table of the bot's SQLite file, shared by every process that
    uses the file; always paired with an in-memory guard (see the module docstring)."""

    def __init__(
        self,
        path: Path | str,
        memory: MemoryReplayGuard | None = None,
        *,
        clock: Clock = time.time,
        timeout: float = SQLITE_TIMEOUT_S,
    ):
        self.path = Path(path)
        self.memory = memory or MemoryReplayGuard(clock=clock)
        self.clock = clock
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._checks = 0
        self._unusable: str | None = None  # why the file cannot hold the record at all
        self._warned_at = -WARN_EVERY_S

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # mode=rw: never create a database of our own next to the bot's
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=rw",
                uri=True,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID"
                )
                conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_expires ON {TABLE} (expires)")
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def add(self, keys: Sequence[str], expires: Sequence[float]) -> list[bool]:
        fresh = self.memory.add(keys, expires)
        if self._unusable is not None:
            return fresh
        try:
            shared = self._add_shared(keys, expires)
        except sqlite3.Error as exc:
            self._failed(exc)
            return fresh
        return [a and b for a, b in zip(fresh, shared, strict=True)]

    def _failed(self, exc: sqlite3.Error) -> None:
        """A busy database is tried again on the next request (warned about once a minute);
        one that cannot be opened or written (read-only, missing, damaged) is given up, with
        one warning."""
        busy = "locked" in str(exc) or "busy" in str(exc)
        if not busy:
            self._unusable = str(exc)
            log.warning(
                "replay check cannot use %s (%s): each process keeps its own record",
                self.path,
                exc,
            )
            return
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "replay check in %s failed (%s); this process's record decides", self.path, exc
            )

    def _add_shared(self, keys: Sequence[str], expires: Sequence[float]) -> list[bool]:
        with self._lock:
            conn = self._connection()
            now = self.clock()
            conn.execute("BEGIN IMMEDIATE")
            try:
                fresh = []
                for key, until in zip(keys, expires, strict=True):
                    cursor = conn.execute(
                        f"INSERT INTO {TABLE} (key, expires) VALUES (?, ?) "
                        f"ON CONFLICT (key) DO UPDATE SET expires = excluded.expires "
                        f"WHERE {TABLE}.expires < ?",
                        (key, until, now),
                    )
                    fresh.append(cursor.rowcount == 1)
                self._checks += 1
                if self._checks % PURGE_EVERY == 1:
                    conn.execute(f"DELETE FROM {TABLE} WHERE expires < ?", (now,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return fresh

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


ReplayGuard = MemoryReplayGuard | SQLiteReplayGuard


def guard_for(db_path: Path | str | None, *, clock: Clock = time.time) -> ReplayGuard:
    """The SQLite-backed guard for a database file, else an in-memory one."""
    if db_path is None or str(db_path) in ("", ":memory:"):
        return MemoryReplayGuard(clock=clock)
    return SQLiteReplayGuard(db_path, clock=clock)


def _header(req: BoltRequest, name: str) -> str:
    values = req.headers.get(name) or [""]
    return values[0] or ""


def usable_timestamp(value: str) -> bool:
    """A Slack timestamp: ASCII digits only, at most MAX_TIMESTAMP_DIGITS of them (Python's
    `isdigit` also takes "²" or "١", and a 400-digit number overflows the window check)."""
    value = value.strip()
    return 0 < len(value) <= MAX_TIMESTAMP_DIGITS and value.isascii() and value.isdigit()


class VerifiedOnce(RequestVerification):
    """Bolt's signature check (its own verifier and 401 answer), refusing as well a
    timestamp that is not a number (Bolt's check raises on it and answers 500) and a signed
    request that was already accepted (see the module docstring). Socket Mode envelopes are
    not signed and pass untouched, as with Bolt's check.

    `screen` is the same timestamp and signature check on the raw body and headers, for
    the HTTP server to run before Bolt parses anything of an unauthenticated request."""

    def __init__(self, signing_secret: str, guard: ReplayGuard, *, clock: Clock = time.time):
        super().__init__(signing_secret, base_logger=log)
        self.guard = guard
        self.clock = clock

    def screen(self, raw_body: str, timestamp: str, signature: str) -> bool:
        """True when the timestamp is usable and the signature right (a refusal is logged,
        one line)."""
        if not usable_timestamp(timestamp):
            log.info("refused a Slack request without a usable timestamp")
            return False
        if not self.verifier.is_valid(raw_body, timestamp, signature):
            log.info("refused a Slack request with a bad or stale signature")
            return False
        return True

    def refusal(self) -> BoltResponse:
        """The answer to a refused request: 401, as Bolt gives."""
        return self._build_error_response()

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if self._can_skip(req.mode, req.body):
            return next()
        signature = _header(req, "x-slack-signature")
        timestamp = _header(req, "x-slack-request-timestamp")
        if not self.screen(req.raw_body, timestamp, signature):
            return self._build_error_response()
        return self._first_time(req, signature, int(timestamp), next)

    def _first_time(
        self, req: BoltRequest, signature: str, timestamp: int, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        retry = _header(req, "x-slack-retry-num").strip()
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        expires = timestamp + WINDOW_S + MARGIN_S
        keys, until = [f"sig:{signature}#{retry}", f"sig:{signature}"], [expires, expires]
        if event_id:
            keys.append(f"event:{event_id}")
            until.append(self.clock() + EVENT_MEMORY_S)
        exact, same_signature, *event = self.guard.add(keys, until)
        if not exact or (not same_signature and not (retry and event_id)):
            log.warning(
                "refused a replayed Slack request (signature %s…, retry %r)",
                signature[:15],
                retry or None,
            )
            return self._build_error_response()
        if event_id and not (same_signature and event[0]):
            # Slack's retry of an event already taken here or by another worker.
            log.info("acknowledging a repeated delivery of event %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()
