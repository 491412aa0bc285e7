"""Discord as a platform of `strikebot run`: it connects through the supervisor's
interface, a stop lets the interaction in flight get its answer, and a rejected token is
a retryable PlatformError (never the token itself)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.adapters.discord import DiscordPlatform, use_endpoints
from bot.runtime.supervisor import CONNECTED, PlatformError, PlatformState
from tests.fakes.discord_fake import FakeDiscord
from tests.test_discord_e2e import (
    DEFAULT_API,
    DEFAULT_GATEWAY,
    callback_of,
    followup_of,
    make_settings,
    run,
)

SLOW_S = 1.0


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_stopping_lets_the_interaction_in_flight_get_its_answer(bot, monkeypatch):
    answered = bot.ask

    def slow_ask(question):
        time.sleep(SLOW_S)
        return answered(question)

    monkeypatch.setattr(bot, "ask", slow_ask)

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            settings = make_settings(fake, STRIKEBOT_SHUTDOWN_GRACE=10)
            platform = DiscordPlatform(settings, bot, guild_ready_timeout=0.05)
            state, stop = PlatformState("discord"), asyncio.Event()
            running = asyncio.create_task(platform.run(stop, state))
            try:
                await _until(lambda: state.state == CONNECTED)
                assert state.connected and "shard" in state.detail
                interaction = await fake.slash("strike ask", {"question": "what about AI?"})
                await callback_of(fake, interaction)  # deferred: the core is working
                stop.set()
                await asyncio.wait_for(running, 15)
                follow = await followup_of(fake, interaction, after=0)
                assert follow.json["embeds"], "the answer in flight was cut off"
                assert platform.client is None  # closed
            finally:
                stop.set()
                use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)

    run(scenario())


def test_a_rejected_token_is_a_retryable_error_without_the_token(bot):
    async def scenario() -> None:
        async with FakeDiscord() as fake:
            settings = make_settings(fake, DISCORD_TOKEN="wrong-token-value")
            try:
                with pytest.raises(PlatformError) as caught:
                    await DiscordPlatform(settings, bot).run(
                        asyncio.Event(), PlatformState("discord")
                    )
            finally:
                use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)
            assert "DISCORD_TOKEN" in str(caught.value)
            assert "wrong-token-value" not in str(caught.value)
            assert type(caught.value) is PlatformError  # retried, not a settings error

    run(scenario())
