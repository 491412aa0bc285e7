"""Logging (JSON off a terminal, text on one, secrets redacted everywhere) and settings
(read once from the environment and .env, clear one-line errors)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import subprocess
import sys
import time

import pytest

from bot.runtime.logs import REDACTED, Redactor, configure_logging, level_for, secret_values
from bot.settings import Settings
from tests.cli_runner import CLI, cli_env

SLACK = "xoxb-1111-2222-abcdefSECRET"
APP = "xapp-1-A111-222-feedbeef"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
DISCORD = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_every_secret_setting_is_redacted_from_message_args_extra_and_traceback(restore_logging):
    stream = io.StringIO()
    configure_logging(
        settings(
            SLACK_BOT_TOKEN=SLACK, SLACK_APP_TOKEN=APP, SLACK_SIGNING_SECRET=SIGNING,
            DISCORD_TOKEN=DISCORD, STRIKEBOT_LOG_FORMAT="json",
        ),
        serving=True, stream=stream,
    )  # fmt: skip
    log = logging.getLogger("test.secrets")
    log.info("token %s and %s", SLACK, APP, extra={"header": f"Bot {DISCORD}"})
    log.warning(f"signing secret {SIGNING} in an f-string")
    try:
        raise RuntimeError(f"auth failed for {SLACK}")
    except RuntimeError:
        log.exception("while connecting")
    text = stream.getvalue()
    for secret in (SLACK, APP, SIGNING, DISCORD):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 3 and REDACTED in lines[0]["message"]
    assert lines[0]["header"] == f"Bot {REDACTED}"
    assert "RuntimeError" in lines[2]["exc_info"]


def test_token_shapes_are_redacted_even_when_not_configured():
    redact = Redactor()
    pasted = f"my tokens: {SLACK} {APP} {DISCORD}"
    assert redact(pasted) == f"my tokens: {REDACTED} {REDACTED} {REDACTED}"
    assert redact("the WGA strike lasted 148 days") == "the WGA strike lasted 148 days"


def test_short_or_empty_secrets_do_not_redact_ordinary_words():
    assert secret_values(settings(SLACK_SIGNING_SECRET="a", DISCORD_TOKEN="  ")) == []


def test_text_on_a_terminal_json_elsewhere(restore_logging):
    for stream, expect_json in ((Terminal(), False), (io.StringIO(), True)):
        configure_logging(settings(), serving=True, stream=stream)
        logging.getLogger("test.format").info("hello")
        line = stream.getvalue().strip()
        assert line.startswith("{") is expect_json
        assert "hello" in line


def test_json_log_time_is_iso_8601_utc_whatever_the_local_zone(restore_logging, monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # never UTC: -07:00 or -08:00
    time.tzset()
    try:
        stream = io.StringIO()
        configure_logging(settings(STRIKEBOT_LOG_FORMAT="json"), serving=True, stream=stream)
        before = dt.datetime.now(dt.UTC)
        logging.getLogger("test.time").info("tick")
        after = dt.datetime.now(dt.UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = json.loads(stream.getvalue())["asctime"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
    when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=1) <= when <= after + dt.timedelta(seconds=1), stamp


def test_log_level_defaults_to_info_for_a_service_and_warning_otherwise():
    assert level_for(settings(), serving=True) == logging.INFO
    assert level_for(settings(), serving=False) == logging.WARNING
    assert level_for(settings(STRIKEBOT_LOG_LEVEL="debug"), serving=False) == logging.DEBUG


def test_settings_come_from_dotenv_and_environment_when_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("STRIKEBOT_HEALTH_PORT=8088\nSLACK_PORT=4000\n")
    monkeypatch.setenv("SLACK_PORT", "4100")  # the environment wins over .env
    built = Settings()
    assert built.health_port == 8088 and built.slack_port == 4100


def test_settings_are_not_built_at_import_time():
    """No module holds a Settings instance built on import."""
    code = (
        "import os, sys, bot.cli, bot.runner, bot.runtime.health, bot.adapters.slack, "
        "bot.adapters.discord\n"
        "from bot.settings import Settings\n"
        "found = [n for n, m in list(sys.modules.items()) if n.startswith('bot') "
        "for v in vars(m).values() if isinstance(v, Settings)]\n"
        "print(found)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, env=cli_env(None), check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STRIKEBOT_HEALTH_PORT": "eighty"}, "STRIKEBOT_HEALTH_PORT"),
        ({"STRIKEBOT_HEALTH_PORT": "70000"}, "STRIKEBOT_HEALTH_PORT"),
        ({"STRIKEBOT_LOG_FORMAT": "xml"}, "STRIKEBOT_LOG_FORMAT"),
        ({"STRIKEBOT_SHUTDOWN_GRACE": "-1"}, "STRIKEBOT_SHUTDOWN_GRACE"),
        ({"STRIKEBOT_SLACK_WORKERS": "0"}, "STRIKEBOT_SLACK_WORKERS"),
        ({"SLACK_PORT": "http"}, "SLACK_PORT"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path, env, named):
    done = subprocess.run(
        [*CLI, "status"], cwd=tmp_path, env=cli_env(tmp_path / "x.db", **env),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert named in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_every_core_setting_reaches_the_core():
    """build_bot's config carries each BotConfig field that is a setting from the setting
    of the same name."""
    import dataclasses

    from bot.runtime.build import bot_config

    values = settings(
        STRIKEBOT_MIN_CONFIDENCE=0.61, STRIKEBOT_STALE_DAYS=3, STRIKEBOT_STORE_USER_IDS=True,
        STRIKEBOT_RETENTION_DAYS=9, STRIKEBOT_USER_RATE=2, STRIKEBOT_CHANNEL_RATE=5,
        STRIKEBOT_REPEAT_WINDOW=7, STRIKEBOT_ADMIN_RATE=4, STRIKEBOT_DEFAULT_PACK="kaiser-2023", STRIKEBOT_FOLLOWUP_WINDOW=30,
    )  # fmt: skip
    config = bot_config(values)
    shared = [f for f in dataclasses.fields(config) if f.name in Settings.model_fields]
    assert len(shared) >= 9
    for field in shared:
        assert getattr(config, field.name) == getattr(values, field.name), field.name
