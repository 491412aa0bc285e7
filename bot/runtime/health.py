"""`GET /healthz` and `GET /readyz`: is the store reachable, is each platform connected,
what knowledge is loaded and how fresh it is.

/healthz answers 200 while the process can reach its database (a liveness check: restart
the bot when it fails); /readyz answers 200 only when, in addition, knowledge is loaded and
every configured platform is connected (a readiness check: send traffic when it passes).
Both return the same JSON body."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from bot import __version__
from bot.core.service import StrikeBot
from bot.runtime.http import AsgiServer, Receive, Scope, Send, respond
from bot.runtime.supervisor import PlatformState

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0
JSON = "application/json"


def knowledge_summary(bot: StrikeBot) -> dict[str, Any]:
    """Counts of what answers are drawn from, and the newest as-of date (blocking)."""
    bot.refresh()
    knowledge = bot.knowledge
    newest = max((f.as_of for f in knowledge.facts.values()), default=None)
    return {
        "facts": len(knowledge.facts),
        "topics": len(knowledge.by_topic),
        "sources": len({f.source for f in knowledge.facts.values()}),
        "newest_as_of": newest.isoformat() if newest else None,
        "revision": bot.store.knowledge_revision(),
    }


def health_report(
    bot: StrikeBot, platforms: Iterable[PlatformState], *, started: float
) -> dict[str, Any]:
    """The health document (blocking: it reads the store)."""
    store: dict[str, Any] = {"ok": True}
    knowledge: dict[str, Any] | None = None
    try:
        knowledge = knowledge_summary(bot)
    except Exception as exc:  # any failure to read is reported, not raised
        store = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return _document(store, knowledge, platforms, started)


def _document(
    store: dict[str, Any],
    knowledge: dict[str, Any] | None,
    platforms: Iterable[PlatformState],
    started: float,
) -> dict[str, Any]:
    platforms = list(platforms)
    connected = all(p.connected for p in platforms)
    ready = store["ok"] and bool(knowledge and knowledge["facts"]) and connected
    return {
        "status": "ok" if ready else ("degraded" if store["ok"] else "failing"),
        "live": store["ok"],
        "ready": ready,
        "version": __version__,
        "uptime_s": round(time.time() - started, 1),
        "store": store,
        "knowledge": knowledge,
        "platforms": {p.name: p.snapshot() for p in platforms},
    }


class HealthChecks:
    """The health document for a set of platforms, and the two endpoints as ASGI routes,
    served by the health server and by Slack's HTTP server alike."""

    PATHS = ("/healthz", "/readyz")

    def __init__(
        self, bot: StrikeBot, platforms: Iterable[PlatformState], *, started: float | None = None
    ):
        self.bot = bot
        self.platforms = list(platforms)
        self.started = time.time() if started is None else started

    async def report(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(health_report, self.bot, self.platforms, started=self.started),
                CHECK_TIMEOUT_S,
            )
        except TimeoutError:
            store = {"ok": False, "error": f"no answer from the database in {CHECK_TIMEOUT_S} s"}
            return _document(store, None, self.platforms, self.started)

    async def answer(self, path: str, send: Send) -> None:
        """Answer GET /healthz (200 while the store is reachable) or /readyz (200 when
        ready), with the health document."""
        report = await self.report()
        ok = report["live"] if path == "/healthz" else report["ready"]
        await respond(send, 200 if ok else 503, json.dumps(report).encode(), JSON)


class HealthApp:
    """An ASGI app with only the two health endpoints (STRIKEBOT_HEALTH_PORT)."""

    def __init__(self, checks: HealthChecks):
        self.checks = checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in HealthChecks.PATHS:
            await self.checks.answer(scope["path"], send)
        else:
            await respond(send, 404, b"not found")


class HealthServer:
    """The two endpoints on STRIKEBOT_HEALTH_HOST:STRIKEBOT_HEALTH_PORT (port 0: any free),
    served by uvicorn on the running event loop."""

    def __init__(self, bot: StrikeBot, platforms: Iterable[PlatformState]):
        self.checks = HealthChecks(bot, platforms)
        self._server: AsgiServer | None = None
        self.port: int | None = None

    @property
    def started(self) -> float:
        return self.checks.started

    async def report(self) -> dict[str, Any]:
        return await self.checks.report()

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0). Raises OSError."""
        self._server = AsgiServer(HealthApp(self.checks), host, port, grace=1)
        self.port = await self._server.start()
        log.info("health checks on http://%s:%s/healthz and /readyz", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None


def probe(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """GET a health URL (`strikebot healthcheck`): healthy or not, and one line saying why."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"unhealthy: no answer from {url} ({reason})"
    try:
        body = json.loads(raw)
    except ValueError:
        return False, f"unhealthy: {url} answered {status} without a health document"
    platforms = ", ".join(f"{n} {p['state']}" for n, p in (body.get("platforms") or {}).items())
    facts = (body.get("knowledge") or {}).get("facts")
    line = f"{body.get('status', '?')}: store {'ok' if body.get('live') else 'unreachable'}"
    line += f", {facts} facts" if facts is not None else ""
    line += f", {platforms}" if platforms else ""
    return status == 200, line
