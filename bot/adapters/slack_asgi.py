"""Slack's HTTP mode behind an ASGI server, for running several worker processes
(`strikebot slack --workers N`, or `uvicorn --factory bot.adapters.slack_asgi:create_app`).

Each worker builds its own settings, store and Bolt app at start-up (never at import),
reads the one SQLite database (WAL: many readers, one writer at a time), and serves
POST /slack/events through slack-bolt's ASGI adapter plus GET /healthz. Bolt's dispatch is
blocking, so it runs on a thread: one slow request never holds up the worker's loop."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.adapters.slack import EVENTS_PATH, MAX_BODY_BYTES, SlackPlatform
from bot.core.service import StrikeBot
from bot.runtime.build import build_bot
from bot.runtime.health import health_report
from bot.runtime.logs import configure_logging
from bot.runtime.supervisor import CONNECTED, PlatformState
from bot.settings import Settings

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """slack-bolt's ASGI handler, with the blocking dispatch moved off the event loop."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        body = await request.get_raw_body()
        bolt_request = BoltRequest(
            body=body, query=request.query_string, headers=request.get_headers()
        )
        return await asyncio.to_thread(self.app.dispatch, bolt_request)


class SlackASGI:
    """One worker's ASGI application. Start-up (the ASGI lifespan) checks the tokens with
    Slack and warms the index; shutdown finishes the answers in flight, then closes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bot: StrikeBot | None = None
        self.platform: SlackPlatform | None = None
        self.handler: ThreadedSlackRequestHandler | None = None
        self.state = PlatformState("slack")
        self.started = time.time()

    def start(self) -> None:
        """Blocking start-up; raises PlatformError on a bad token or setting."""
        # Workers serve the same users: their rates are counted together in the database.
        self.bot = build_bot(self.settings, shared_limits=True)
        self.platform = SlackPlatform(self.settings, self.bot)
        app, _client, _ = self.platform.prepare(http_only=True)
        self.bot.warm()
        self.handler = ThreadedSlackRequestHandler(app, path=EVENTS_PATH)
        self.state.detail = "HTTP mode (ASGI worker)"
        self.state.set(CONNECTED)

    def stop(self) -> None:
        if self.platform is not None:
            self.platform.close(self.settings.shutdown_grace)
        if self.bot is not None:
            self.bot.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.start)
                except Exception as exc:  # a one-line reason; the server exits
                    log.error("Slack worker could not start: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if method == "GET" and path in ("/healthz", "/readyz"):
            await self._health(send)
            return
        if method == "POST" and path == EVENTS_PATH:
            length = dict(scope["headers"]).get(b"content-length", b"")
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                await _respond(send, 413 if length.isdigit() else 411, b"bad request")
                return
        if self.handler is None:
            await _respond(send, 503, b"starting")
            return
        try:
            await self.handler(scope, receive, send)
        except UnicodeDecodeError:
            await _respond(send, 400, b"bad request")

    async def _health(self, send: Send) -> None:
        if self.bot is None:
            await _respond(send, 503, b'{"ready": false}', "application/json")
            return
        report = await asyncio.to_thread(
            health_report, self.bot, [self.state], started=self.started
        )
        body = json.dumps(report).encode()
        await _respond(send, 200 if report["ready"] else 503, body, "application/json")


async def _respond(send: Send, status: int, body: bytes, kind: str = "text/plain") -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> SlackASGI:
    """The uvicorn factory: settings from the environment and `.env`, read now."""
    settings = Settings()
    configure_logging(settings, serving=True)
    return SlackASGI(settings)


def serve_workers(settings: Settings, *, port: int | None = None, workers: int = 1) -> None:
    """Run the ASGI app under uvicorn with `workers` processes (blocking). Every worker
    re-reads the settings from the environment, so the ones given here are exported."""
    import os

    import uvicorn

    os.environ.update(exported(settings))
    uvicorn.run(
        "bot.adapters.slack_asgi:create_app",
        factory=True,
        host=settings.slack_host,
        port=settings.slack_port if port is None else port,
        workers=workers,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
    )


def exported(settings: Settings) -> dict[str, str]:
    """The settings a worker process must see as environment variables (the command
    line's --db and --knowledge overrides included)."""
    return {
        "STRIKEBOT_DB": str(settings.db),
        "STRIKEBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
    }
