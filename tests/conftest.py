"""Shared fixtures: a fresh database per test, and the bot over the bundled knowledge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"
TODAY = dt.date(2023, 9, 12)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "strikebot.db"


@pytest.fixture
def fresh_store(db_path: Path) -> Store:
    store = Store(db_path)
    yield store
    store.close()


@pytest.fixture
def config() -> BotConfig:
    return BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)


@pytest.fixture
def bot(fresh_store: Store, config: BotConfig) -> StrikeBot:
    """The bot over the bundled knowledge, with 'today' the day after the article."""
    return StrikeBot(fresh_store, config, today=lambda: TODAY)


@pytest.fixture
def admin(bot: StrikeBot) -> AdminService:
    return AdminService(bot)


@pytest.fixture
def root() -> Actor:
    return Actor(id="tester", platform="test", is_admin=True)


@pytest.fixture
def member() -> Actor:
    return Actor(id="member", platform="test", is_admin=False)
