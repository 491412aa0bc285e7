"""Follow-ups: a short question read with the one before it in the same conversation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.adapters.console import reply
from bot.core.models import Question
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(tmp_path: Path, clock: Clock) -> StrikeBot:
    config = BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE, followup_window=60)
    return StrikeBot(
        Store(tmp_path / "f.db"), config, today=lambda: dt.date(2023, 9, 12), clock=clock
    )


def ask(bot: StrikeBot, text: str, user: str = "U1", channel: str | None = "C1",
        thread: str | None = None, platform: str = "slack"):  # fmt: skip
    return bot.ask(Question(text, platform, user, channel, thread=thread))


def test_a_short_follow_up_is_read_with_the_question_before_it(bot: StrikeBot) -> None:
    first = ask(bot, "what did the studios offer on pay?")
    assert "5%" in first.text
    alone = bot.answer("and what about the writers?")
    follow = ask(bot, "and what about the writers?")
    assert follow.understood and "writers" in follow.understood and "pay" in follow.understood
    assert follow.text.startswith("(Reading that as: “")
    assert (follow.answered and follow.fact_ids != alone.fact_ids) or alone.answered is False


def test_source_gives_the_last_answer_with_where_it_came_from(bot: StrikeBot) -> None:
    first = ask(bot, "how long has the WGA been on strike?")
    source = ask(bot, "source?")
    assert source.answered and source.fact_ids == first.fact_ids
    assert source.citations == first.citations and "came from" in (source.understood or "")


def test_follow_ups_stay_in_their_conversation(bot: StrikeBot, clock: Clock) -> None:
    ask(bot, "how long has the WGA been on strike?", user="U1")
    other = ask(bot, "source?", user="U2")  # another user in the channel: not U1's turn
    assert not other.understood
    in_thread = ask(bot, "how long has the WGA been on strike?", user="U3", thread="T1")
    assert in_thread.answered
    assert ask(bot, "source?", user="U4", thread="T1").understood  # a thread is shared
    dm = ask(bot, "source?", user="U5", channel=None)
    assert not dm.understood
    clock.now += 61  # past STRIKEBOT_FOLLOWUP_WINDOW
    assert not ask(bot, "source?", user="U1").understood


def test_a_full_question_is_not_a_follow_up(bot: StrikeBot) -> None:
    ask(bot, "what did the studios offer on pay?")
    again = ask(bot, "how long has the WGA been on strike?")
    assert not again.understood and "130" in again.text


def test_the_command_line_has_no_conversation(bot: StrikeBot) -> None:
    bot.ask(Question("how long has the WGA been on strike?", "cli"))
    assert not bot.ask(Question("source?", "cli")).understood


def test_the_console_follows_up(bot: StrikeBot) -> None:
    reply(bot, "how long has the WGA been on strike?", user="me")
    assert "(Reading that as:" in (reply(bot, "source?", user="me") or "")
