"""Platform API faults: the fake Slack Web API (and its response URLs) and the fake Discord
REST API answer 429 (with Retry-After / retry_after) or 500/502/503, or drop the
connection, for the first N calls. The bot retries as far as the libraries allow (slack_sdk
through the retry handlers `make_client` installs; discord.py by itself, plus the 503 retry
`build_client` adds) and the user's answer still arrives, exactly once. Past the retry
limits the bot gives up without crashing or posting twice."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import discord.http as discord_http
import discord.webhook.async_ as discord_webhooks
import pytest
import slack_sdk.http_retry.builtin_handlers as slack_handlers
import slack_sdk.http_retry.handler as slack_retry_handler
import slack_sdk.http_retry.jitter as slack_jitter
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.adapters import discord as discord_adapter
from bot.adapters.slack import (
    MAX_RETRY_AFTER_S,
    build_app,
    make_client,
)
from bot.core.admin import AdminService
from bot.core.service import StrikeBot
from tests.fakes.discord_fake import APP_ID, BOT_ID, CHANNEL_ID, EPHEMERAL, FakeDiscord
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    mention_event,
    slash_payload,
)
from tests.fakes.slack_socket import FakeSocketModeServer
from tests.test_discord_e2e import callback_of, connected, followup_of, run
from tests.test_slack_http import ADMIN, SlackSender, serving, settings_for

QUESTION = "what did the studios offer?"
ANSWER = "Studios' pay offer"


SPEED_UP = 50  # waits asked for by the libraries are recorded, and slept 50 times shorter


class Waits(list):
    """The waits (in seconds) the retry code asked for, in order."""

    def real(self) -> list[float]:
        """Without the zero-second sleeps that only yield to the event loop."""
        return [w for w in self if w > 0]


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    """Record every retry wait of slack_sdk and discord.py and sleep a fraction of it, so
    the tests check the waits the libraries choose without spending them. slack_sdk's
    random jitter (up to 1 s more per wait) is taken out."""
    asked = Waits()
    real_sleep = asyncio.sleep

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        time.sleep(seconds / SPEED_UP)

    async def async_sleep(seconds: float, result: Any = None) -> Any:
        asked.append(seconds)
        return await real_sleep(seconds / SPEED_UP, result)

    class AsyncioWithQuickSleep:
        sleep = staticmethod(async_sleep)

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

    zero = types.SimpleNamespace(random=lambda: 0.0)
    monkeypatch.setattr(slack_jitter, "random", zero)
    monkeypatch.setattr(slack_handlers, "random", zero)
    monkeypatch.setattr(slack_handlers, "time", types.SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(slack_retry_handler, "time", types.SimpleNamespace(sleep=sleep))
    for module in (discord_http, discord_webhooks, discord_adapter):
        monkeypatch.setattr(module, "asyncio", AsyncioWithQuickSleep())
    return asked


# --- Slack ------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(users={"UWSADMIN": {"name": "ws", "is_admin": True}}) as api:
        yield api


@pytest.fixture
def serve(
    fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService
) -> Iterator[Callable[..., SlackSender]]:
    """The bot in HTTP mode with the Web API client `run_slack` makes (`make_client`)."""
    yield from serving(
        fake, bot, admin, client=lambda: make_client(BOT_TOKEN, fake.api_url), clear=True
    )


@pytest.fixture
def slack(serve) -> SlackSender:
    return serve()


def mention(slack: SlackSender, event_id: str, ts: str) -> None:
    assert slack.event(mention_event(f"<@UBOT> {QUESTION}", ts=ts), event_id).status == 200


@pytest.mark.parametrize(
    ("fault", "times", "expected_waits"),
    [
        ({"status": 429, "retry_after": 1}, 1, [1]),  # as long as Retry-After says
        ({"status": 429, "retry_after": 2}, 3, [2, 2, 2]),  # the most 429s that are retried
        ({"status": 500}, 1, [0.5]),
        ({"status": 502}, 1, [0.5]),
        ({"status": 503}, 2, [0.5, 1]),  # the most server errors that are retried
        ({"drop": True}, 1, [0.5]),
        ({"drop": True}, 2, [0.5, 1]),
    ],
    ids=["429", "429x3", "500", "502", "503x2", "dropped", "droppedx2"],
)
def test_slack_a_thread_answer_survives_api_faults(
    slack, fake, waits, fault, times: int, expected_waits: list[float]
) -> None:
    fake.fail("chat.postMessage", times=times, **fault)
    mention(slack, f"EvFault{times}{fault}", "70.1")
    slack.settle()
    (post,) = fake.calls_to("chat.postMessage")  # exactly once
    assert ANSWER in json.dumps(post.params["blocks"])
    assert post.params["thread_ts"] == "70.1"
    assert len(fake.refused_to("chat.postMessage")) == times
    assert waits == expected_waits


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        ({"status": 503, "times": 5}, 3),  # the first try and two retries
        ({"status": 429, "retry_after": MAX_RETRY_AFTER_S + 1}, 1),  # too long to wait
        ({"status": 504}, 1),  # a gateway timeout may have been posted: not retried
        ({"status": 400}, 1),
    ],
    ids=["503 past the limit", "429 too long", "504", "400"],
)
def test_slack_past_the_retry_limits_the_bot_gives_up_quietly(
    slack, fake, caplog, fault, attempts: int
) -> None:
    fake.fail("chat.postMessage", **fault)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.slack"):
        mention(slack, f"EvGiveUp{attempts}{fault['status']}", "71.1")
        slack.settle()
    assert fake.calls_to("chat.postMessage") == []
    assert len(fake.refused_to("chat.postMessage")) == attempts
    assert any("could not reply on Slack" in r.getMessage() for r in caplog.records)
    fake.clear()
    mention(slack, "EvAfterGivingUp", "71.2")  # the next question is answered again
    slack.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retry_after": 1}, {"status": 503}, {"status": 502}, {"drop": True}],
    ids=["429", "503", "502", "dropped"],
)
def test_slack_a_slash_answer_through_the_response_url_survives_faults(slack, fake, fault):
    """Bolt's own `respond` does not retry; the bot's replies through response URLs do."""
    fake.fail(RESPONSE_URL, **fault)
    assert slack.slash("/strike", QUESTION).status == 200
    slack.settle()
    (answer,) = fake.calls_to(RESPONSE_URL)
    assert ANSWER in json.dumps(answer.params["blocks"])
    assert len(fake.refused_to(RESPONSE_URL)) == 1


def test_slack_the_add_form_opens_once_after_a_rate_limit(slack, fake) -> None:
    fake.fail("views.open", status=429, retry_after=1)
    slack.slash("/strike-admin", "add", user=ADMIN)
    slack.settle()
    assert len(fake.calls_to("views.open")) == 1
    assert fake.calls_to(RESPONSE_URL) == []  # no "couldn't open the form"


def test_slack_a_workspace_admin_is_recognised_after_users_info_recovers(serve, fake, bot):
    slack = serve(STRIKEBOT_SLACK_WORKSPACE_ADMINS=True)
    fid = next(f.id for f in bot.store.facts() if f.status == "active")
    fake.fail("users.info", status=503)
    fake.fail("users.info", status=429, retry_after=1)
    slack.slash("/strike-admin", f"retract {fid} checked twice", user="UWSADMIN")
    slack.settle()
    (reply,) = fake.calls_to(RESPONSE_URL)
    assert "Retracted" in json.dumps(reply.params)
    assert bot.store.fact(fid).status == "retracted"
    assert len(fake.calls_to("users.info")) == 1


def test_slack_socket_mode_connects_after_connections_open_fails(fake, bot, admin) -> None:
    with FakeSocketModeServer() as socket:
        fake.socket_url = socket.url
        fake.fail("apps.connections.open", status=503)
        fake.fail("apps.connections.open", status=429, retry_after=1)
        client = make_client(BOT_TOKEN, fake.api_url)
        executor = TrackingExecutor()
        app = build_app(settings_for(fake), bot, admin, client=client, listener_executor=executor)
        handler = SocketModeHandler(app, APP_TOKEN, web_client=client)
        try:
            handler.connect()
            fake.fail("chat.postMessage", status=500)
            payload = slash_payload("/strike", QUESTION, response_url=fake.response_url())
            socket.wait_ack(socket.slash_command(payload))
            executor.wait_idle()
            assert len(fake.calls_to(RESPONSE_URL)) == 1
        finally:
            handler.client.auto_reconnect_enabled = False
            socket.disconnect_all()
            handler.close()
            executor.shutdown(wait=True)
    assert len(fake.refused_to("apps.connections.open")) == 2
    assert len(fake.calls_to("apps.connections.open")) == 1


# --- Discord ----------------------------------------------------------------------------

WEBHOOK = rf"/webhooks/{APP_ID}/[^/]+"
CALLBACK = r"/interactions/\d+/[^/]+/callback"
CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"


async def ask(fake: FakeDiscord) -> dict[str, Any]:
    """`/strike ask` and its answer: the one follow-up that got through."""
    interaction = await fake.slash("strike ask", {"question": QUESTION})
    callback = await callback_of(fake, interaction)
    assert callback.json["type"] == 5
    follow = await followup_of(fake, interaction)
    assert follow.json["flags"] & EPHEMERAL
    assert ANSWER in follow.json["embeds"][0]["title"] + follow.json["embeds"][0]["description"]
    await asyncio.sleep(0.05)  # anything sent twice would have arrived by now
    return interaction


@pytest.mark.parametrize(
    ("status", "times"),
    [(429, 1), (429, 3), (500, 1), (502, 1), (503, 1)],
)
def test_discord_an_answer_survives_rest_faults(bot, admin, waits, status: int, times: int) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            fake.fail("POST", WEBHOOK, status, times=times)
            interaction = await ask(fake)
            token = interaction["token"]
            assert len(fake.find("POST", rf"/webhooks/{APP_ID}/{token}")) == 1
            assert len(fake.failed_to("POST", WEBHOOK)) == times
            # retry_after as Discord says; a server error after 1 s (then 3, 5, 7)
            assert waits.real() == ([0.05] * times if status == 429 else [1])

    run(scenario())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_discord_the_acknowledgement_survives_rest_faults(bot, admin, status: int) -> None:
    """The deferral must reach Discord within 3 s: one retry fits."""

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            fake.fail("POST", CALLBACK, status)
            interaction = await ask(fake)
            path = rf"/interactions/{interaction['id']}/[^/]+/callback"
            assert len(fake.find("POST", path)) == 1

    run(scenario())


def test_discord_a_global_rate_limit_is_waited_out(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            fake.fail("POST", WEBHOOK, 429, retry_after=0.2, is_global=True)
            await ask(fake)

    run(scenario())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_discord_a_mention_reply_survives_rest_faults(bot, admin, waits, status: int) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            fake.fail("POST", CHANNEL_POST, status)
            await fake.say(f"<@{BOT_ID}> {QUESTION}")
            post = await fake.wait_request("POST", CHANNEL_POST)
            assert ANSWER in json.dumps(post.json["embeds"])
            await asyncio.sleep(0.05)
            assert len(fake.find("POST", CHANNEL_POST)) == 1
            assert len(fake.failed_to("POST", CHANNEL_POST)) == 1
            assert waits.real() == ([0.05] if status == 429 else [1])  # 503: the bot's own retry

    run(scenario())


def test_discord_past_the_retry_limit_the_user_gets_an_apology_once(bot, admin, waits) -> None:
    """Five 500s in a row: discord.py's webhook client gives up on the answer after five
    tries and 1+3+5+7+9 s of waiting (well within the interaction's 15 minutes); the user
    is then told, once, privately."""

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            fake.fail("POST", WEBHOOK, 500, times=5)
            interaction = await fake.slash("strike ask", {"question": QUESTION})
            token = interaction["token"]
            apology = await fake.wait_request("POST", rf"/webhooks/{APP_ID}/{token}", timeout=10)
            assert "Sorry, something went wrong" in apology.json["content"]
            assert apology.json["flags"] & EPHEMERAL
            await asyncio.sleep(0.05)
            assert len(fake.find("POST", rf"/webhooks/{APP_ID}/{token}")) == 1
            assert waits.real() == [1, 3, 5, 7, 9]

    run(scenario())


@pytest.mark.parametrize("target", ["chat.postMessage", RESPONSE_URL])
def test_slack_a_retried_call_leaves_no_error_line_and_a_lost_one_a_single_warning(
    slack, fake, caplog, target: str
) -> None:
    """slack_sdk logs an ERROR of its own for every failed attempt it then retries; the
    retry is expected, so only a call that finally fails is logged, once, by the bot."""

    def ask(n: int) -> None:
        if target == RESPONSE_URL:
            assert slack.slash("/strike", QUESTION).status == 200
        else:
            mention(slack, f"EvQuiet{n}", f"72.{n}")
        slack.settle()

    def library_lines() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("slack_sdk") and r.levelno >= logging.WARNING
        ]

    with caplog.at_level(logging.INFO):
        fake.fail(target, drop=True, times=2)  # two attempts dropped, the third delivered
        ask(1)
        assert len(fake.calls_to(target)) == 1
        assert library_lines() == []
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        fake.fail(target, drop=True, times=3)  # every attempt dropped: lost
        ask(2)
    assert len(fake.calls_to(target)) == 1
    assert library_lines() == []
    ours = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(ours) == 1 and ours[0].name == "bot.adapters.slack", [r.getMessage() for r in ours]
