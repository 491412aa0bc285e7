"""Slack's HTTP mode as one ASGI app, served by uvicorn in every mode: `strikebot slack`
(one process), `strikebot run` and `strikebot slack --workers N` alike.

POST /slack/events goes through slack-bolt's ASGI adapter to the Bolt app, whose blocking
dispatch runs on a thread so one slow request never holds up the others; GET /healthz and
/readyz answer on the same server (see bot.runtime.health). A request Bolt could not read
(a body that is not UTF-8, or one the app refuses before parsing it) never reaches a
traceback: it gets a 400 or 401 and one log line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.response import BoltResponse

from bot.runtime.health import HealthChecks
from bot.runtime.http import AsgiServer, Receive, Scope, Send, respond

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000
BAD_REQUEST = b'{"error": "bad request"}'
JSON = "application/json"


class RawDispatch(Protocol):
    """A Bolt app that takes a request as it came over HTTP (bot.adapters.slack.StrikeApp)."""

    def handle_http(self, body: str, query: str, headers: dict[str, str]) -> BoltResponse: ...


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """slack-bolt's ASGI handler, with the blocking dispatch moved off the event loop and
    the raw request handed to the app (which checks the signature before parsing)."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        try:
            body = await request.get_raw_body()
            headers = request.get_headers()
        except UnicodeDecodeError:
            log.info("refused a Slack request that is not UTF-8")
            return BoltResponse(status=400, body=BAD_REQUEST.decode())
        app: RawDispatch = self.app  # type: ignore[assignment]
        return await asyncio.to_thread(
            app.handle_http, body, request.query_string, {k: str(v) for k, v in headers.items()}
        )


class SlackHTTP:
    """The ASGI app of Slack's HTTP mode: POST /slack/events to Bolt once `attach`ed (503
    before that), GET /healthz and /readyz from `health`, 404 for anything else."""

    def __init__(
        self,
        app: Any = None,
        health: HealthChecks | None = None,
        *,
        path: str = EVENTS_PATH,
    ):
        self.path = path
        self.handler: ThreadedSlackRequestHandler | None = None
        self.health = health
        if app is not None:
            self.attach(app, health)

    def attach(self, app: Any, health: HealthChecks | None = None) -> None:
        """Start handing requests to `app` (a StrikeApp)."""
        self.handler = ThreadedSlackRequestHandler(app, path=self.path)
        if health is not None:
            self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method in ("GET", "HEAD") and path in HealthChecks.PATHS:
            if self.health is None:
                await respond(send, 503, b'{"ready": false, "live": false}', JSON)
            else:
                await self.health.answer(path, send)
            return
        if path != self.path:
            await respond(send, 404, b"not found")
            return
        if method != "POST":
            await respond(send, 405, b"method not allowed", headers=[(b"allow", b"POST")])
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            await respond(send, 413 if length.isdigit() else 411, b"bad request")
            return
        if self.handler is None:
            await respond(send, 503, b"starting")
            return
        await self.handler(scope, receive, send)


class SlackHTTPServer(AsgiServer):
    """Slack's HTTP mode for one Bolt app under uvicorn on host:port (port 0: any free),
    with the health endpoints when `health` is given. Bound at once (an OSError for a port
    in use); serve it with `serve_forever` on a thread, stop it with `shutdown`."""

    def __init__(
        self,
        app: Any,
        host: str = "0.0.0.0",
        port: int = 3000,
        path: str = EVENTS_PATH,
        *,
        health: HealthChecks | None = None,
        grace: float = 10.0,
    ):
        super().__init__(SlackHTTP(app, health, path=path), host, port, grace=grace)
