"""The console adapter: a chat session in the terminal, no tokens needed."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO

from bot.core.models import Citation, Question
from bot.core.service import StrikeBot
from bot.render.text import citation_line, human_date
from bot.runtime.terminal import is_terminal

HELP = """Ask me anything about the strike in your own words, e.g. "how long has it lasted?"
Commands: status (the latest picture), topics (what I can answer), timeline TOPIC (its facts
in date order), sources, help, quit."""


def current_user() -> str:
    """The OS user name, or "cli" where there is none (a container's bare uid)."""
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def reply(bot: StrikeBot, line: str, user: str | None = None) -> str | None:
    """What the bot says to one console line; None means the session should end."""
    command = line.strip().lower().lstrip("/")
    if command in ("quit", "exit", "bye", ":q"):
        return None
    if command in ("help", "?", "commands"):
        return HELP
    if command == "status":
        return bot.status().text
    if command.startswith("timeline "):
        return bot.timeline(line.strip().lstrip("/")[len("timeline ") :]).text
    if command == "topics":
        return "I can answer questions about:\n" + "\n".join(f"  - {t}" for t in bot.topics())
    if command == "sources":
        lines = [citation_line(Citation.of(s)) for s in bot.sources()]
        return "My sources:\n" + "\n".join(f"  - {x}" for x in lines)
    return bot.ask(Question(line, platform="console", user=user)).text


def run_chat(
    bot: StrikeBot,
    stdin: TextIO,
    write: Callable[[str], None],
    *,
    interactive: bool,
    user: str | None = None,
) -> None:
    """Read questions until EOF or `quit`, answering each."""
    if interactive:
        status = bot.status()
        as_of = f" (knowledge as of {human_date(status.as_of)})" if status.as_of else ""
        write(f"strikebot{as_of}. Type a question, `help` or `quit`.")
    while True:
        if interactive and is_terminal(stdin):
            print("you> ", end="", flush=True)
        line = stdin.readline()
        if not line:
            return
        if not line.strip():
            continue
        text = reply(bot, line.rstrip("\n"), user)
        if text is None:
            return
        write(text + "\n")
