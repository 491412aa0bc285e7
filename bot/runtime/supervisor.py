"""Keeping each chat platform connected: one supervised task per platform, retried with
backoff after a failure, so one platform's outage or bad token never stops the other."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

FIRST_DELAY_S = 1.0
STABLE_AFTER_S = 60.0  # a connection that lasted this long resets the backoff
JITTER = 0.2

STARTING, CONNECTED, RETRYING, FAILED, STOPPING, STOPPED = (
    "starting",
    "connected",
    "retrying",
    "failed",
    "stopping",
    "stopped",
)


class PlatformError(Exception):
    """A platform could not connect or lost its connection; the message is one line for
    the operator and never contains a secret. Retried with backoff."""


class PlatformConfigError(PlatformError):
    """A setting is missing or malformed: retrying cannot help, so the platform stays off
    until the settings are fixed and the bot restarted."""


@dataclass
class PlatformState:
    """What health checks report about one platform."""

    name: str
    state: str = STARTING
    detail: str = ""
    last_error: str | None = None
    attempts: int = 0
    since: float = field(default_factory=time.time)
    retry_at: float | None = None
    probe: Callable[[], bool] | None = None  # the library's own view: connected right now?

    def set(self, state: str, *, error: str | None = None, retry_in: float | None = None) -> None:
        self.state = state
        self.since = time.time()
        if error is not None:
            self.last_error = error
        self.retry_at = self.since + retry_in if retry_in is not None else None

    @property
    def connected(self) -> bool:
        if self.state != CONNECTED:
            return False
        try:
            return self.probe() if self.probe is not None else True
        except Exception:  # a probe must never break a health check
            return False

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        if state == CONNECTED and not self.connected:
            state = "reconnecting"  # the library is re-establishing its connection
        data: dict[str, Any] = {
            "state": state,
            "since": _iso(self.since),
            "attempts": self.attempts,
        }
        if self.detail:
            data["detail"] = self.detail
        if self.last_error:
            data["last_error"] = self.last_error
        if self.retry_at is not None:
            data["retry_at"] = _iso(self.retry_at)
        return data


class Platform(Protocol):
    """A chat platform the supervisor can run. One that serves HTTP may also have a
    `share_health(checks)` method: `strikebot run` gives it the health checks of every
    platform, to answer /healthz and /readyz on its own port too."""

    name: str

    async def run(self, stop: asyncio.Event, state: PlatformState) -> None:
        """Connect (set `state` to connected), serve until `stop` is set, then finish the
        requests in flight and close. Raise PlatformError when connecting fails or the
        connection is lost for good."""


def backoff(attempt: int, ceiling: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before attempt `attempt + 1`: doubling from one second up to
    `ceiling`, with ±20 % jitter so several bots do not retry in step."""
    base = min(ceiling, FIRST_DELAY_S * 2 ** max(0, attempt - 1))
    return max(0.0, base * (1 + JITTER * (2 * rng() - 1)))


async def supervise(
    platform: Platform,
    state: PlatformState,
    stop: asyncio.Event,
    *,
    retry_max: float,
    rng: Callable[[], float] = random.random,
) -> None:
    """Run `platform` until `stop` is set, reconnecting with backoff after each failure.
    Returns early only for a configuration error (state `failed`)."""
    failures = 0
    while not stop.is_set():
        state.attempts += 1
        state.set(STARTING)
        started = time.monotonic()
        try:
            await platform.run(stop, state)
        except PlatformConfigError as exc:
            log.error("%s is off: %s", platform.name, exc)
            state.set(FAILED, error=str(exc))
            return
        except asyncio.CancelledError:
            raise
        except PlatformError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("%s stopped with an unexpected error", platform.name)
            error = f"{type(exc).__name__}: {exc}"
        else:
            if stop.is_set():
                break
            error = "the connection ended"
        if stop.is_set():
            break
        if time.monotonic() - started >= STABLE_AFTER_S:
            failures = 0
        failures += 1
        delay = backoff(failures, retry_max, rng)
        state.set(RETRYING, error=error, retry_in=delay)
        log.error(
            "%s: %s; retrying in %.1f s",
            platform.name,
            error,
            delay,
            extra={"event": "platform_retry", "platform": platform.name, "attempt": failures},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    state.set(STOPPED)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def install_stop_signals(stop: asyncio.Event) -> bool:
    """SIGTERM and SIGINT set `stop` (a graceful shutdown); False where signals cannot be
    handled (not the main thread)."""
    loop = asyncio.get_running_loop()
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True
