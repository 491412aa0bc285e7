"""Every option of the command line says what it does (issue 12, item 17)."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from bot.cli import cli


def options(command: click.Command, path: str = "strikebot") -> Iterator[tuple[str, click.Option]]:
    for param in command.params:
        if isinstance(param, click.Option):
            yield f"{path} {param.opts[0]}", param
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from options(sub, f"{path} {name}")


def test_every_option_has_help_text() -> None:
    found = list(options(cli))
    assert len(found) > 60
    missing = [where for where, option in found if not (option.help or "").strip()]
    assert missing == [], f"options without help: {missing}"


def test_db_option_names_its_environment_variable() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    assert "--db" in out and "STRIKEBOT_DB" in out
    assert "STRIKEBOT_KNOWLEDGE_DIR" in out
