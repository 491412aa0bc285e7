"""Slack's HTTP mode in several worker processes (`strikebot slack --workers N`, or
`uvicorn --factory bot.adapters.slack_asgi:create_app`).

Each worker builds its own settings, store and Bolt app at start-up (never at import),
reads the one SQLite database (WAL: many readers, one writer at a time), and serves the
same ASGI app as a single process does (bot.adapters.slack_http: POST /slack/events through
slack-bolt's ASGI adapter, GET /healthz and /readyz)."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.adapters.slack import SlackPlatform
from bot.adapters.slack_http import SlackHTTP
from bot.core.service import StrikeBot
from bot.runtime.build import build_bot
from bot.runtime.health import HealthChecks
from bot.runtime.http import Receive, Scope, Send
from bot.runtime.logs import configure_logging
from bot.runtime.supervisor import CONNECTED, PlatformState
from bot.settings import Settings

log = logging.getLogger(__name__)


class SlackASGI:
    """One worker's ASGI application. Start-up (the ASGI lifespan) checks the tokens with
    Slack and warms the index; shutdown finishes the answers in flight, then closes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bot: StrikeBot | None = None
        self.platform: SlackPlatform | None = None
        self.state = PlatformState("slack")
        self.started = time.time()
        self.http = SlackHTTP()

    def start(self) -> None:
        """Blocking start-up; raises PlatformError on a bad token or setting."""
        # Workers serve the same users: their rates are counted together in the database.
        self.bot = build_bot(self.settings, shared_limits=True)
        self.platform = SlackPlatform(self.settings, self.bot)
        app, _client, _ = self.platform.prepare(http_only=True)
        self.bot.warm()
        self.http.attach(app, HealthChecks(self.bot, [self.state], started=self.started))
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
            await self.http(scope, receive, send)

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
