"""`strikebot run`: the adapters that are configured start; failures are reported in one line."""

from __future__ import annotations

import pytest

import bot.adapters.discord as discord_adapter
import bot.adapters.slack as slack_adapter
from bot.runner import run_all
from bot.settings import Settings


@pytest.fixture(autouse=True)
def no_tokens_from_outside(monkeypatch, tmp_path):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_all_adapters_failing_exits_non_zero(monkeypatch, bot, capsys):
    def broken(settings, core):
        raise SystemExit("Cannot reach Discord: refused.")

    monkeypatch.setattr(discord_adapter, "run_discord", broken)
    settings = Settings(DISCORD_TOKEN="a.b.c", STRIKEBOT_DB="unused.db")
    with pytest.raises(SystemExit) as caught:
        run_all(settings, bot, console=False)
    assert caught.value.code == 1
    assert "discord: Cannot reach Discord: refused." in capsys.readouterr().err


def test_one_adapter_stopping_cleanly_is_not_a_failure(monkeypatch, bot):
    started = []
    monkeypatch.setattr(slack_adapter, "run_slack", lambda s, b: started.append("slack"))
    monkeypatch.setattr(discord_adapter, "run_discord", lambda s, b: started.append("discord"))
    settings = Settings(SLACK_BOT_TOKEN="xoxb-1", DISCORD_TOKEN="a.b.c", STRIKEBOT_DB="x.db")
    run_all(settings, bot, console=False)
    assert sorted(started) == ["discord", "slack"]


def test_without_tokens_the_console_runs_alone(monkeypatch, bot, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("how long has the strike lasted?\nquit\n"))
    run_all(Settings(STRIKEBOT_DB="x.db"), bot, console=True)
    out = capsys.readouterr()
    assert "Slack and Discord are off" in out.err
    assert "130" in out.out


def test_without_a_terminal_the_platforms_keep_running_after_stdin_ends(monkeypatch, bot):
    import io
    import sys
    import threading

    stop = threading.Event()
    served = []

    def serve(settings, core):
        served.append("started")
        stop.wait(5)
        served.append("stopped")

    monkeypatch.setattr(discord_adapter, "run_discord", serve)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a TTY, already at its end
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    run_all(Settings(DISCORD_TOKEN="a.b.c", STRIKEBOT_DB="x.db"), bot, console=True)
    assert served == ["started", "stopped"]  # run_all waited for the platform
