"""Abuse limits: per-user and per-channel rates for questions, repeats pointed to instead
of answered again, and a rate for admin commands. Platform-neutral; the adapters only say
how a question arrived (`Question.private`, `Question.command`) and, after posting a
public answer, where it is (`StrikeBot.posted`).

The rules (each `*_rate` is per minute; 0 turns that rule off):

- **Per user** (`user_rate`): a user who asks more often gets one "slow down" notice
  saying when to try again, shown only to them where the platform can (kind `slow_down`,
  `private`); further questions until then are `ignored` (the adapters post nothing), so a
  flood costs the channel one message. A slash command always gets the notice, privately:
  the platform expects a reply and nobody else sees it.
- **Per channel** (`channel_rate`): what the bot posts in one channel. Over it, one public
  notice for the channel, then silence for the rest of the window. Private (ephemeral)
  replies and DMs do not count: they add nothing to the channel.
- **Repeats** (`repeat_window`, seconds): the same question (case, punctuation, spacing
  and accents ignored) or any status request answered publicly in the same channel a
  moment ago gets a short pointer to that answer (kind `repeat`, with a link when the
  adapter recorded one), shown only to the asker where possible; each user is pointed
  once, later repeats of theirs are ignored (a slash command is always pointed). Private
  answers are never pointed to (nobody else can see them), and private asks and DMs are
  always answered in full. A knowledge change ends every repeat window.
- **Admins** (`admin_rate`): admin commands per admin; over it, `admin.SlowDown` and nothing
  changes. One `Actor` object stands for one command (adapters build one per command), so
  a command that runs others (accepting a candidate adds a fact) counts once.

Only admitted questions count towards a rate, so a user who stops flooding is answered
again as soon as their oldest question leaves the window. Local operators (`trusted`
platforms: the console and the CLI) are never limited. Memory is bounded: keys quiet for a
whole window are forgotten, and at most `max_keys` are kept per table (least recently used
go first).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.language import tokens
from bot.core.models import Answer, Question

log = logging.getLogger(__name__)

WINDOW_S = 60.0
MAX_KEYS = 50_000
MAX_COMMANDS = 1024  # Actor objects remembered as already counted
SLOW_DOWN = "slow_down"
IGNORED = "ignored"
REPEAT = "repeat"
NOTICE_KINDS = (SLOW_DOWN, REPEAT, IGNORED)
REPEATABLE = ("answer", "status")
TRUSTED = frozenset({"console", "cli"})

Clock = Callable[[], float]


def normalise(text: str) -> str:
    """The words of a question, folded: what two questions must share to be the same one."""
    return " ".join(tokens(text))


def seconds(wait: float) -> int:
    """A wait as whole seconds to tell a person (at least 1)."""
    return max(1, math.ceil(wait))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def in_seconds(wait: float) -> str:
    """'1 second', '23 seconds'."""
    return _plural(seconds(wait), "second")


def slow_down_text(scope: str, limit: int, wait: float) -> str:
    """The notice for a user or a channel over its rate."""
    retry = f"Please try again in {in_seconds(wait)}."
    if scope == "channel":
        return (
            "There are a lot of questions in this channel right now (I answer up to "
            f"{limit} a minute here). {retry}"
        )
    return (
        f"You're asking faster than I can keep up with (up to {limit} questions a minute). {retry}"
    )


def repeat_text(status: bool, ago: float) -> str:
    """The pointer's sentence; the renderers add the link, or say to scroll up."""
    when = "a moment ago" if ago < 60 else f"{_plural(int(ago // 60), 'minute')} ago"
    if status:
        return f"I posted the latest picture in this channel {when}."
    return f"I answered that in this channel {when}."


class Rate:
    """At most `limit` events per key in any `window` seconds; subclasses keep the events."""

    limit: int
    clock: Clock
    _lock: threading.RLock

    def wait(self, key: Hashable, now: float | None = None) -> float:
        raise NotImplementedError

    def add(self, key: Hashable, now: float | None = None) -> None:
        raise NotImplementedError

    def hit(self, key: Hashable) -> float:
        """Admit and count an event now (0.0), or say how long to wait (nothing counted)."""
        with self._lock:
            now = self.clock()
            wait = self.wait(key, now)
            if wait <= 0:
                self.add(key, now)
            return wait


class SlidingWindow(Rate):
    """At most `limit` events per key in any `window` seconds: a log of each key's admitted
    events. Thread-safe. Keys with no event in the last window are forgotten; beyond
    `max_keys` the least recently used key goes first."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_S,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = MAX_KEYS,
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def wait(self, key: Hashable, now: float | None = None) -> float:
        """Seconds until `key` may have another event; 0.0 when it may now."""
        if self.limit <= 0:
            return 0.0
        with self._lock:
            now = self.clock() if now is None else now
            events = self._events.get(key)
            if events is None:
                return 0.0
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) < self.limit:
                return 0.0
            return events[0] + self.window - now

    def add(self, key: Hashable, now: float | None = None) -> None:
        """Count an event for `key` (whether or not it was over the limit)."""
        if self.limit <= 0:
            return
        with self._lock:
            now = self.clock() if now is None else now
            events = self._events.get(key)
            if events is None:
                events = self._events[key] = deque(maxlen=self.limit)
            else:
                self._events.move_to_end(key)
            events.append(now)
            self._forget(now)

    def _forget(self, now: float) -> None:
        while self._events:
            key, events = next(iter(self._events.items()))
            if len(self._events) > self.max_keys or not events or events[-1] <= now - self.window:
                del self._events[key]
            else:
                break


class Expiring:
    """A bounded map whose entries lapse at a time of their own (oldest inserted first)."""

    def __init__(self, max_keys: int = MAX_KEYS):
        self.max_keys = max_keys
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, now: float) -> Any:
        item = self._items.get(key)
        if item is None or item[0] <= now:
            return None
        return item[1]

    def put(self, key: Hashable, value: Any, until: float, now: float) -> None:
        self._items.pop(key, None)
        self._items[key] = (until, value)
        while self._items:
            first, (lapse, _) = next(iter(self._items.items()))
            if len(self._items) > self.max_keys or lapse <= now:
                del self._items[first]
            else:
                break


@dataclass
class Earlier:
    """A public answer that later repeats point to."""

    at: float
    revision: int
    status: bool
    link: str | None = None
    message: str | None = None
    pointed: set[str] = field(default_factory=set)


class RateCounter(Protocol):
    """Where a SharedWindow keeps its events (bot.store.rate_events.RateEvents)."""

    def wait(self, scope: str, key: str, limit: int, window: float, now: float) -> float: ...

    def add(self, scope: str, key: str, now: float) -> None: ...


class SharedWindow(Rate):
    """A SlidingWindow whose events live in the database, so every process sharing it
    (several Slack HTTP workers) counts together. Needs a wall clock. A database that
    cannot be read or written never stops a question: the event is admitted (fail open)
    and one warning is logged."""

    def __init__(
        self, scope: str, limit: int, counter: RateCounter, window: float = WINDOW_S,
        *, clock: Clock = time.time,
    ):  # fmt: skip
        self.scope = scope
        self.limit = limit
        self.window = window
        self.counter = counter
        self.clock = clock
        self._lock = threading.RLock()
        self._warned = False

    @staticmethod
    def _key(key: Hashable) -> str:
        return "\x1f".join(map(str, key)) if isinstance(key, tuple) else str(key)

    def _failed(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s limit counted in this process only for now: %s", self.scope, exc)

    def wait(self, key: Hashable, now: float | None = None) -> float:
        """Seconds until `key` may have another event; 0.0 when it may now."""
        if self.limit <= 0:
            return 0.0
        now = self.clock() if now is None else now
        try:
            wait = self.counter.wait(self.scope, self._key(key), self.limit, self.window, now)
        except Exception as exc:  # the store's errors: never block an answer on them
            self._failed(exc)
            return 0.0
        return max(0.0, wait)

    def add(self, key: Hashable, now: float | None = None) -> None:
        """Count an event for `key`."""
        if self.limit <= 0:
            return
        try:
            self.counter.add(self.scope, self._key(key), self.clock() if now is None else now)
        except Exception as exc:
            self._failed(exc)


class Limits:
    """Every abuse limit of one bot, with one lock and one clock."""

    def __init__(
        self,
        *,
        user_rate: int = 0,
        channel_rate: int = 0,
        repeat_window: float = 0.0,
        admin_rate: int = 0,
        trusted: Iterable[str] = TRUSTED,
        clock: Clock = time.monotonic,
        window: float = WINDOW_S,
        max_keys: int = MAX_KEYS,
        shared: RateCounter | None = None,
    ):
        """With `shared`, the three rates are counted in the database (give a wall
        `clock`); notices and repeats stay with this process."""
        self.clock = clock
        self.window = window
        self.repeat_window = repeat_window
        self.trusted = frozenset(trusted)
        self.users: Rate
        self.channels: Rate
        self.admins: Rate
        if shared is None:
            self.users = SlidingWindow(user_rate, window, clock=clock, max_keys=max_keys)
            self.channels = SlidingWindow(channel_rate, window, clock=clock, max_keys=max_keys)
            self.admins = SlidingWindow(admin_rate, window, clock=clock, max_keys=max_keys)
        else:  # counted in the database, with every process sharing it
            self.users = SharedWindow("user", user_rate, shared, window, clock=clock)
            self.channels = SharedWindow("channel", channel_rate, shared, window, clock=clock)
            self.admins = SharedWindow("admin", admin_rate, shared, window, clock=clock)
        self._told = Expiring(max_keys)
        self._earlier = Expiring(max_keys)
        self._commands: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, config: Any, clock: Clock = time.monotonic, shared: RateCounter | None = None
    ) -> Limits:
        """The limits a `BotConfig` asks for."""
        return cls(
            user_rate=config.user_rate,
            channel_rate=config.channel_rate,
            repeat_window=config.repeat_window,
            admin_rate=config.admin_rate,
            trusted=config.trusted_platforms,
            clock=clock,
            shared=shared,
        )

    # --- rates ---------------------------------------------------------------------------

    def admit(self, question: Question) -> Answer | None:
        """None when the question may be answered (it is counted), else the slow-down
        notice or an `ignored` answer."""
        if question.platform in self.trusted:
            return None
        user = ("user", question.platform, question.user) if question.user else None
        channel = None
        if question.channel and not question.private:
            channel = ("channel", question.platform, question.channel)
        with self._lock:
            now = self.clock()
            rates = (("user", user, self.users), ("channel", channel, self.channels))
            for scope, key, rate in rates:
                if key is None:
                    continue
                wait = rate.wait(key, now)
                if wait > 0:
                    return self._held(question, scope, key, rate.limit, wait, now)
            if user:
                self.users.add(user, now)
            if channel:
                self.channels.add(channel, now)
        return None

    def _held(
        self, question: Question, scope: str, key: tuple, limit: int, wait: float, now: float
    ) -> Answer:
        told = self._told.get(key, now) is not None
        if not told:
            self._told.put(key, True, now + wait, now)
        text = slow_down_text(scope, limit, wait)
        quiet = told and not question.command
        return Answer(
            answered=False,
            text=text,
            question=question.text if isinstance(question.text, str) else "",
            kind=IGNORED if quiet else SLOW_DOWN,
            retry_after=seconds(wait),
            private=scope == "user" or question.command,
        )

    def admit_admin(self, platform: str, admin_id: str, command: object) -> float:
        """0.0 when the admin may run `command` now (counted once per command object),
        else the seconds to wait."""
        if platform in self.trusted or self.admins.limit <= 0:
            return 0.0
        with self._lock:
            if self._commands.get(id(command)) is command:
                return 0.0
            wait = self.admins.hit((platform, admin_id))
            if wait <= 0:
                # Holding the object keeps its id from being reused while it is remembered.
                self._commands[id(command)] = command
                while len(self._commands) > MAX_COMMANDS:
                    self._commands.popitem(last=False)
            return wait

    # --- repeats -------------------------------------------------------------------------

    def repeat(self, question: Question, answer: Answer, revision: int) -> Answer | None:
        """After answering: a pointer to the same answer given here a moment ago (or an
        `ignored` answer), else None, and this answer is remembered for later repeats."""
        if (
            self.repeat_window <= 0
            or question.platform in self.trusted
            or question.private
            or not question.channel
            or answer.kind not in REPEATABLE
        ):
            return None
        status = answer.kind == "status"
        topic = "status" if status else "q:" + normalise(question.text)
        key = (question.platform, question.channel, topic)
        with self._lock:
            now = self.clock()
            earlier: Earlier | None = self._earlier.get(key, now)
            if earlier is None or earlier.revision != revision:
                until = now + self.repeat_window
                self._earlier.put(key, Earlier(now, revision, status), until, now)
                answer.repeat_key = key
                return None
            who = question.user or ""
            quiet = who in earlier.pointed and not question.command
            earlier.pointed.add(who)
            return Answer(
                answered=False,
                text=repeat_text(earlier.status, now - earlier.at),
                question=answer.question,
                kind=IGNORED if quiet else REPEAT,
                link=earlier.link,
                earlier=earlier.message,
                private=True,
            )

    def posted(
        self, answer: Answer, *, link: str | None = None, message: str | None = None
    ) -> None:
        """Remember where a public answer was posted (a URL, and/or the platform's message
        id), for repeats to point to. Answers nothing can repeat are ignored."""
        if answer.repeat_key is None or not (link or message):
            return
        with self._lock:
            earlier: Earlier | None = self._earlier.get(answer.repeat_key, self.clock())
            if earlier is not None and earlier.link is None and earlier.message is None:
                earlier.link = link
                earlier.message = message
