"""Rates counted in the database (`shared_limits`): several processes on one database, such
as the Slack HTTP workers, count a user's questions together."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from bot.core.limits import IGNORED, SLOW_DOWN, SharedWindow
from bot.core.models import Question
from bot.core.service import BotConfig, StrikeBot
from bot.store.db import Store, StoreError
from tests.test_limits import FakeClock

QUESTION = "how long has the strike lasted?"


def two_processes(db_path: Path, config: BotConfig, clock: FakeClock) -> list[StrikeBot]:
    """Two bots on one database file, each with its own connection, as two workers."""
    shared = dataclasses.replace(config, user_rate=2, channel_rate=0, shared_limits=True)
    return [StrikeBot(Store(db_path), shared, clock=clock) for _ in range(2)]


def ask(bot: StrikeBot, user: str = "U1") -> str:
    return bot.ask(Question(QUESTION, "slack", user, None)).kind


def test_workers_sharing_a_database_count_a_user_together(db_path, config):
    clock = FakeClock(1_000_000.0)
    first, second = two_processes(db_path, config, clock)
    assert [ask(first), ask(second)] == ["answer", "answer"]
    assert ask(first) == SLOW_DOWN  # the third question in the minute, whichever worker
    assert ask(second) in (SLOW_DOWN, IGNORED)  # each worker tells the user once
    assert ask(second, user="U2") == "answer"  # other users are counted on their own
    clock.now += 61
    assert ask(second) == "answer"  # the window slid on, for every worker


def test_without_sharing_each_process_counts_alone(db_path, config):
    clock = FakeClock(1_000_000.0)
    alone = dataclasses.replace(config, user_rate=2, channel_rate=0)
    first, second = (StrikeBot(Store(db_path), alone, clock=clock) for _ in range(2))
    assert [ask(first), ask(first), ask(second), ask(second)] == ["answer"] * 4


def test_old_events_are_purged(db_path, config, monkeypatch):
    import bot.store.rate_events as rate_events

    monkeypatch.setattr(rate_events, "PURGE_EVERY", 3)
    clock = FakeClock(1_000_000.0)
    (bot, _) = two_processes(db_path, config, clock)
    for n in range(6):
        ask(bot, user=f"U{n}")
        clock.now += 100  # each event is out of the window before the next
    rows = bot.store.db.execute("select count(*) from rate_events").fetchone()[0]
    assert rows < 6


class Broken:
    def wait(self, *args) -> float:
        raise StoreError("Database error: disk I/O error")

    def add(self, *args) -> None:
        raise StoreError("Database error: disk I/O error")


def test_a_failing_database_never_blocks_a_question(caplog):
    window = SharedWindow("user", 1, Broken(), clock=lambda: 5.0)
    with caplog.at_level(logging.WARNING, logger="bot.core.limits"):
        assert [window.hit(("slack", "U1")) for _ in range(3)] == [0.0, 0.0, 0.0]
    warnings = [r for r in caplog.records if "counted in this process only" in r.getMessage()]
    assert len(warnings) == 1
