"""Shared fixtures: a fresh database per test, and the bot over the bundled knowledge."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store
from tests.cli_runner import CLI, Run, run_cli

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"
TODAY = dt.date(2023, 9, 12)


@pytest.fixture(scope="session")
def synced_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the schema and the bundled knowledge, built once per test session."""
    path = tmp_path_factory.mktemp("template") / "strikebot.db"
    store = Store(path)
    StrikeBot(store, BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE))
    store.close()
    return path


@pytest.fixture
def db_path(tmp_path: Path, synced_template: Path) -> Path:
    """The bot's database for one test: a fresh copy of the synced template."""
    path = tmp_path / "strikebot.db"
    shutil.copyfile(synced_template, path)
    return path


@pytest.fixture
def fresh_store(tmp_path: Path) -> Store:
    """An empty, migrated store of its own (not the bot's)."""
    store = Store(tmp_path / "empty.db")
    yield store
    store.close()


@pytest.fixture
def config() -> BotConfig:
    return BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)


@pytest.fixture
def bot(db_path: Path, config: BotConfig) -> StrikeBot:
    """The bot over the bundled knowledge, with 'today' the day after the article."""
    store = Store(db_path)
    yield StrikeBot(store, config, today=lambda: TODAY)
    store.close()


@pytest.fixture
def admin(bot: StrikeBot) -> AdminService:
    return AdminService(bot)


@pytest.fixture
def root() -> Actor:
    return Actor(id="tester", platform="test", is_admin=True)


@pytest.fixture
def member() -> Actor:
    return Actor(id="member", platform="test", is_admin=False)


@pytest.fixture
def run(tmp_path: Path, db: Path) -> Run:
    """run(*args, input=None, db=<the test module's `db`>, env=None, cmd=CLI): the CLI as a
    subprocess, its output as text."""

    def _run(
        *args: str | bytes,
        input: str | bytes | None = None,
        db: Path | None = db,
        env: dict[str, str] | None = None,
        cmd: Sequence[str] = CLI,
    ) -> subprocess.CompletedProcess:
        return run_cli(args, db=db, cwd=tmp_path, input=input, env=env, cmd=cmd)

    return _run
