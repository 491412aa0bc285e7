"""A bot with no facts fails loudly at start: `run` and the platform commands exit non-zero
with one clear line before connecting anywhere, `status` and `ask` say why there is nothing to
answer from. STRIKEBOT_KNOWLEDGE_DIR (and --knowledge) still override the bundled folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE, Settings, bundled_knowledge_dir
from bot.store.db import Store
from tests.cli_runner import Run, failed, ok

EXIT_KNOWLEDGE = 4
NOWHERE = "http://127.0.0.1:9/"  # a closed port: nothing may be reached if the check failed
PLATFORM_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-notarealtoken",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "SLACK_API_URL": NOWHERE,
    "SLACK_HOST": "127.0.0.1",
    "SLACK_PORT": "0",
    "DISCORD_TOKEN": "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456",
    "DISCORD_API_URL": NOWHERE,
    "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "fresh.db"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "no-knowledge"
    folder.mkdir()
    return folder


def one_line(proc) -> str:
    """The one line of the failure (JSON log lines, such as the bundled sync's, aside)."""
    err = failed(proc)
    assert proc.returncode == EXIT_KNOWLEDGE, (proc.returncode, err)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, err
    assert "No facts to answer from" in lines[0], err
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["run", "--no-console"], ["slack"], ["slack", "--workers", "2"], ["discord"]],
    ids=["run", "slack", "slack-workers", "discord"],
)
def test_serving_with_no_facts_fails_at_start_with_one_line(run: Run, empty: Path, command):
    line = one_line(run(*command, env={"STRIKEBOT_KNOWLEDGE_DIR": str(empty), **PLATFORM_ENV}))
    assert str(empty) in line and "STRIKEBOT_KNOWLEDGE_DIR" in line


def test_a_missing_knowledge_folder_is_named(run: Run, tmp_path: Path):
    missing = tmp_path / "nope"
    line = one_line(run("--knowledge", str(missing), "run", "--no-console"))
    assert f"{missing} does not exist" in line


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["ask", "what about AI?"]])
def test_status_and_ask_on_an_empty_store_say_so(run: Run, empty: Path, command):
    line = one_line(run(*command, env={"STRIKEBOT_KNOWLEDGE_DIR": str(empty)}))
    assert "strikebot facts import" in line


def test_every_fact_retracted_is_named(run: Run, db_path: Path, root: Actor):
    store = Store(db_path)
    admin = AdminService(StrikeBot(store, BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)))
    for fact in store.facts(include_retracted=False):
        admin.retract(root, fact.id, "test")
    store.close()
    line = one_line(run("status", db=db_path))
    assert "retracted" in line and "facts restore" in line


def test_the_bundled_facts_start_and_the_override_still_works(run: Run, tmp_path: Path):
    assert "130 days" in ok(run("status"))
    assert Settings(_env_file=None).knowledge_dir == bundled_knowledge_dir()
    custom = tmp_path / "custom"
    shutil.copytree(BUNDLED_KNOWLEDGE, custom)
    env = {"STRIKEBOT_KNOWLEDGE_DIR": str(custom)}
    assert Settings(_env_file=None, STRIKEBOT_KNOWLEDGE_DIR=str(custom)).knowledge_dir == custom
    assert "130 days" in ok(run("--db", str(tmp_path / "other.db"), "status", env=env))
