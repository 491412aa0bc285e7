"""`strikebot run`: every platform whose tokens are set, in one asyncio process sharing one
store, each supervised (a failing platform is retried with backoff and never stops the
other), health checks on STRIKEBOT_HEALTH_PORT, and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from typing import TextIO

import click

from bot.adapters.console import current_user, run_chat
from bot.core.service import StrikeBot
from bot.runtime.health import HealthChecks, HealthServer
from bot.runtime.supervisor import (
    FAILED,
    Platform,
    PlatformState,
    install_stop_signals,
    supervise,
)
from bot.runtime.terminal import is_terminal
from bot.settings import Settings

log = logging.getLogger(__name__)

NO_PLATFORMS = (
    "Slack and Discord are off: set SLACK_BOT_TOKEN (with SLACK_APP_TOKEN for Socket Mode or "
    "SLACK_SIGNING_SECRET for HTTP mode) and/or DISCORD_TOKEN to start them (see .env.example)."
)
NOTHING_TO_RUN = (
    "Nothing to run: no platform is configured and there is no terminal for the console."
)
ALL_FAILED = "Every platform is off because of its settings (see the errors above)."
EXTRA_STOP_S = 5.0  # beyond the grace period, for connections to close


def configured_platforms(settings: Settings, bot: StrikeBot) -> list[Platform]:
    """The platforms whose token is set."""
    platforms: list[Platform] = []
    if settings.slack_bot_token and settings.slack_bot_token.get_secret_value().strip():
        from bot.adapters.slack import SlackPlatform

        platforms.append(SlackPlatform(settings, bot))
    if settings.discord_token and settings.discord_token.get_secret_value().strip():
        from bot.adapters.discord import DiscordPlatform

        platforms.append(DiscordPlatform(settings, bot))
    return platforms


def _start_console(bot: StrikeBot, stdin: TextIO, done: Callable[[], None]) -> None:
    """The console chat on a daemon thread (a blocked read must not hold up the exit)."""

    def chat() -> None:
        try:
            run_chat(bot, stdin, click.echo, interactive=True, user=current_user())
        finally:
            done()

    threading.Thread(target=chat, name="console", daemon=True).start()


async def serve(
    settings: Settings,
    bot: StrikeBot,
    *,
    console: bool = True,
    platforms: list[Platform] | None = None,
    stdin: TextIO | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[HealthServer | None], None] | None = None,
) -> int:
    """Run until stopped (signal, `stop`, or the console user quitting); returns the exit
    status. The console starts only when `console` and stdin is a terminal."""
    stdin = stdin if stdin is not None else sys.stdin
    stop = stop or asyncio.Event()
    install_stop_signals(stop)
    platforms = configured_platforms(settings, bot) if platforms is None else platforms
    states = [PlatformState(p.name) for p in platforms]
    with_console = console and is_terminal(stdin)
    if not platforms:
        print(NO_PLATFORMS, file=sys.stderr, flush=True)
        if not with_console:
            print(NOTHING_TO_RUN, file=sys.stderr, flush=True)
            return 1
    await asyncio.to_thread(bot.warm)
    health = HealthServer(bot, states) if settings.health_port is not None else None
    # Slack's HTTP mode answers /healthz and /readyz on its own port too, for every platform.
    checks = health.checks if health is not None else HealthChecks(bot, states)
    for platform in platforms:
        share = getattr(platform, "share_health", None)
        if share is not None:
            share(checks)
    try:
        if health is not None:
            try:
                await health.start(settings.health_host, settings.health_port)
            except OSError as exc:
                where = f"{settings.health_host}:{settings.health_port}"
                print(
                    f"Cannot serve health checks on {where}: {exc.strerror or exc}. "
                    "Choose another STRIKEBOT_HEALTH_PORT.",
                    file=sys.stderr,
                    flush=True,
                )
                return 2
        status = await _serve_until_stopped(
            settings, bot, platforms, states, stop, with_console, stdin, health, on_started
        )
    finally:
        if health is not None:
            await health.stop()
        bot.store.close()
    log.info("stopped")
    return status


async def _serve_until_stopped(
    settings: Settings,
    bot: StrikeBot,
    platforms: list[Platform],
    states: list[PlatformState],
    stop: asyncio.Event,
    with_console: bool,
    stdin: TextIO,
    health: HealthServer | None,
    on_started: Callable[[HealthServer | None], None] | None,
) -> int:
    """Supervise the platforms (and the console) until `stop`, then let them finish."""
    loop = asyncio.get_running_loop()
    supervisors = [
        asyncio.create_task(
            supervise(p, s, stop, retry_max=settings.retry_max), name=f"run-{p.name}"
        )
        for p, s in zip(platforms, states, strict=True)
    ]
    if with_console:
        _start_console(bot, stdin, lambda: loop.call_soon_threadsafe(stop.set))
    if on_started is not None:
        on_started(health)
    status = 0
    waiting = asyncio.create_task(stop.wait())
    pending = {waiting, *supervisors}
    while not stop.is_set():
        _done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if not with_console and all(t.done() for t in supervisors):
            # Only configuration errors end a supervisor early: nothing left to serve.
            if supervisors and all(s.state == FAILED for s in states):
                print(ALL_FAILED, file=sys.stderr, flush=True)
                status = 1
            stop.set()
    log.info("stopping: finishing requests in flight (up to %.0f s)", settings.shutdown_grace)
    if supervisors:
        _done, unfinished = await asyncio.wait(
            supervisors, timeout=settings.shutdown_grace + EXTRA_STOP_S
        )
        for task in unfinished:
            task.cancel()
    waiting.cancel()
    return status


def run_all(settings: Settings, bot: StrikeBot, *, console: bool = True) -> None:
    """The blocking entry point of `strikebot run`; exits non-zero when nothing could run."""
    status = asyncio.run(serve(settings, bot, console=console))
    if status:
        raise SystemExit(status)
