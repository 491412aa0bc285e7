"""The stale warning at its edge: an answer whose newest source is exactly
STRIKEBOT_STALE_DAYS old carries no warning, one a day older does; and the setting, from the
environment, is what the core uses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.models import Question
from bot.core.service import StrikeBot
from bot.runtime.build import bot_config
from bot.settings import Settings
from bot.store.db import Store

PUBLISHED = dt.date(2023, 9, 11)  # the bundled article, the newest source


def bot_on(db_path: Path, monkeypatch, stale_days: int, age_days: int) -> StrikeBot:
    """The bot configured from the environment, on the day the source is `age_days` old."""
    monkeypatch.setenv("STRIKEBOT_STALE_DAYS", str(stale_days))
    settings = Settings(_env_file=None)
    assert settings.stale_days == stale_days
    today = PUBLISHED + dt.timedelta(days=age_days)
    return StrikeBot(Store(db_path), bot_config(settings), today=lambda: today)


@pytest.mark.parametrize("stale_days", [0, 1, 5, 14, 30])
def test_no_warning_at_exactly_stale_days_a_warning_one_day_later(db_path, monkeypatch, stale_days):
    fresh = bot_on(db_path, monkeypatch, stale_days, age_days=stale_days)
    for answer in (fresh.status(), fresh.answer("how long has the strike lasted")):
        assert answer.stale_warning is None, (stale_days, answer.stale_warning)
    fresh.store.close()
    old = bot_on(db_path, monkeypatch, stale_days, age_days=stale_days + 1)
    for answer in (old.status(), old.ask(Question("how long has the strike lasted", "cli"))):
        assert answer.stale_warning == (
            "My latest source on this is from 11 Sep 2023; it may be out of date."
        )
        assert answer.stale_warning in answer.text
    old.store.close()


def test_the_default_is_fourteen_days(db_path, monkeypatch):
    monkeypatch.delenv("STRIKEBOT_STALE_DAYS", raising=False)
    settings = Settings(_env_file=None)
    assert settings.stale_days == 14
    for age, warned in ((14, False), (15, True)):
        today = PUBLISHED + dt.timedelta(days=age)
        bot = StrikeBot(Store(db_path), bot_config(settings), today=lambda t=today: t)
        assert (bot.status().stale_warning is not None) is warned, age
        bot.store.close()
