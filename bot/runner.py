"""Start the bot's adapters: the console always (unless asked not to), Slack and Discord when
their tokens are set. Each chat platform runs in its own thread."""

from __future__ import annotations

import logging
import sys
import threading

import click

from bot.adapters.console import current_user, run_chat
from bot.core.service import StrikeBot
from bot.settings import Settings

log = logging.getLogger(__name__)


def _thread(name: str, target, failures: list[str], *args) -> threading.Thread:
    def guarded() -> None:
        try:
            target(*args)
        except SystemExit as exc:  # a one-line configuration error from the adapter
            if exc.code not in (0, None):
                click.echo(f"{name}: {exc.code}", err=True)
                failures.append(name)
        except Exception:
            log.exception("%s adapter stopped with an error", name)
            failures.append(name)

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def run_all(settings: Settings, bot: StrikeBot, *, console: bool = True) -> None:
    """Run every adapter that is configured until the console ends (or forever).

    Without the console, exits with status 1 once every platform adapter has failed."""
    bot.warm()
    threads = []
    failures: list[str] = []
    if settings.slack_bot_token:
        from bot.adapters.slack import run_slack

        threads.append(_thread("slack", run_slack, failures, settings, bot))
    if settings.discord_token:
        from bot.adapters.discord import run_discord

        threads.append(_thread("discord", run_discord, failures, settings, bot))
    if not threads:
        click.echo(
            "Slack and Discord are off (set SLACK_BOT_TOKEN or DISCORD_TOKEN to start them).",
            err=True,
        )
    if console:
        run_chat(bot, sys.stdin, click.echo, interactive=True, user=current_user())
        interactive = getattr(sys.stdin, "isatty", lambda: False)()
        if interactive or not threads:
            return  # the person at the console said quit
        # No terminal (a service manager, a pipe that ended): keep serving the platforms.
    for thread in threads:
        thread.join()
    if failures and len(failures) == len(threads):
        raise SystemExit(1)
