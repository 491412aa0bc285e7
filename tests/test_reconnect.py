"""Connections that drop: the Discord gateway closing, failing or asking for a reconnect
after READY is resumed by discord.py (RESUME with the session id and last sequence, at the
resume URL READY gave; missed events replayed), and a question still gets its answer; a
refused resume ends in a fresh IDENTIFY. On Slack, a Socket Mode connection closed, cut or
rotated by the server is reopened by the SocketModeHandler the bot uses (through
apps.connections.open again), and a later envelope is still answered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.adapters.slack import build_app, make_client
from bot.core.admin import AdminService
from bot.core.service import StrikeBot
from tests.fakes.discord_fake import APP_ID, RESUME_PATH, TOKEN, FakeDiscord
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    event_body,
    mention_event,
    slash_payload,
)
from tests.fakes.slack_socket import FakeSocketModeServer
from tests.test_discord_e2e import callback_of, connected, followup_of, run
from tests.test_slack_socket import settings_for

QUESTION = "what did the studios offer?"
ANSWER = "Studios' pay offer"

# --- Discord ----------------------------------------------------------------------------

DISCONNECTS: dict[str, Callable[[FakeDiscord], Awaitable[None]]] = {
    "close 4000 (unknown error)": lambda fake: fake.close_gateways(4000),
    "close 1001 (going away)": lambda fake: fake.close_gateways(1001),
    "close 1000 from Discord": lambda fake: fake.close_gateways(1000),
    "connection cut": lambda fake: fake.drop_gateways(),
    "op 7 RECONNECT": lambda fake: fake.send_op(7),
    "op 9 INVALID_SESSION (resumable)": lambda fake: fake.send_op(9, True),
}


async def answered(fake: FakeDiscord, interaction: dict[str, Any]) -> None:
    """The interaction was acknowledged once and answered once, with the answer."""
    follow = await followup_of(fake, interaction)
    embed = follow.json["embeds"][0]
    assert ANSWER in embed["title"] + embed["description"]
    await asyncio.sleep(0.05)  # a second answer would have arrived by now
    assert len(fake.find("POST", rf"/interactions/{interaction['id']}/.*/callback")) == 1
    assert len(fake.find("POST", rf"/webhooks/{APP_ID}/{interaction['token']}")) == 1


@pytest.mark.parametrize("how", list(DISCONNECTS))
def test_discord_a_dropped_gateway_is_resumed_and_still_answers(bot, admin, how: str) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            (first,) = fake.live_gateways()
            session = fake.sessions[first.session_id]
            seq = session.last_seq  # READY and GUILD_CREATE
            mark = len(fake.connections)
            await DISCONNECTS[how](fake)
            (again,) = await fake.wait_live(after=mark)
            assert again.path == RESUME_PATH  # READY's resume_gateway_url
            assert again.identify is None  # resumed, not a new session
            assert again.resume == {"token": TOKEN, "session_id": session.session_id, "seq": seq}
            assert session.frames[-1]["t"] == "RESUMED"
            assert [g.identify is not None for g in fake.connections] == [True, False]
            assert client.is_ready() and not client.is_closed()
            await answered(fake, await fake.slash("strike ask", {"question": QUESTION}))

    run(scenario())


def test_discord_events_missed_while_disconnected_are_replayed(bot, admin) -> None:
    """A question Discord sent just as the connection died reaches the bot with the
    RESUME, and is answered once."""

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            (first,) = fake.live_gateways()
            seq = fake.sessions[first.session_id].last_seq
            lost = await fake.slash("strike ask", {"question": QUESTION}, lost=True)
            mark = len(fake.connections)
            await fake.drop_gateways()
            (again,) = await fake.wait_live(after=mark)
            assert again.resume is not None and again.resume["seq"] == seq  # before the loss
            await answered(fake, lost)

    run(scenario())


def test_discord_a_refused_resume_ends_in_a_new_session(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            (first,) = fake.live_gateways()
            fake.refuse_resume = True
            mark = len(fake.connections)
            await fake.close_gateways(4000)
            (fresh,) = await fake.wait_live(after=mark)
            tried = fake.connections[mark]
            assert tried.resume is not None and not tried.resumed  # refused: INVALID_SESSION
            assert fresh.identify is not None and fresh.identify["token"] == TOKEN
            assert fresh.session_id != first.session_id
            fake.refuse_resume = False
            await answered(fake, await fake.slash("strike ask", {"question": QUESTION}))

    run(scenario())


def test_discord_two_drops_in_a_row_are_resumed_each_time(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            (first,) = fake.live_gateways()
            for drop in (fake.drop_gateways, fake.close_gateways):
                mark = len(fake.connections)
                await drop()
                (again,) = await fake.wait_live(after=mark)
                assert again.resume is not None
                assert again.resume["session_id"] == first.session_id
            ask = await fake.slash("strike ask", {"question": QUESTION})
            assert (await callback_of(fake, ask)).json["type"] == 5
            await answered(fake, ask)

    run(scenario())


# --- Slack Socket Mode ------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def socket(fake: FakeSlackAPI) -> Iterator[FakeSocketModeServer]:
    with FakeSocketModeServer() as server:
        fake.socket_url = server.url
        yield server


class Bot:
    """The bot in Socket Mode, built as `run_slack` builds it (make_client, build_app, a
    SocketModeHandler with auto-reconnect on); `ping_interval` (10 s by default) is how
    often slack_sdk checks the connection."""

    def __init__(
        self, fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService, **handler_options: Any
    ):
        self.executor = TrackingExecutor()
        client = make_client(BOT_TOKEN, fake.api_url)
        app = build_app(
            settings_for(fake), bot, admin, client=client, listener_executor=self.executor
        )
        self.handler = SocketModeHandler(app, APP_TOKEN, web_client=client, **handler_options)
        self.handler.connect()

    def close(self, socket: FakeSocketModeServer) -> None:
        client = self.handler.client
        client.auto_reconnect_enabled = False
        client.default_auto_reconnect_enabled = False
        socket.disconnect_all()
        # End the client's blocking waits now rather than at their timeouts.
        client.message_processor.event.set()
        client.message_queue.put("")
        self.handler.close()
        self.executor.shutdown(wait=True)


@pytest.fixture
def slack_bot(fake, socket, bot, admin) -> Iterator[Callable[..., Bot]]:
    started: list[Bot] = []

    def start(**handler_options: Any) -> Bot:
        running = Bot(fake, bot, admin, **handler_options)
        started.append(running)
        socket.wait_connected()
        return running

    yield start
    for running in started:
        running.close(socket)


def ask_over_socket(fake: FakeSlackAPI, socket: FakeSocketModeServer, n: int) -> None:
    """A `/strike` question and a mention over the current connection, each answered."""
    payload = slash_payload("/strike", QUESTION, response_url=fake.response_url(f"q{n}"))
    socket.wait_ack(socket.slash_command(payload))
    event = mention_event(f"<@UBOT> {QUESTION}", ts=f"80.{n}")
    socket.wait_ack(socket.event(event_body(event, f"EvSock{n}")))
    (answer,) = fake.wait_for(RESPONSE_URL, where=lambda c: c.path == f"/response/q{n}")
    assert ANSWER in json.dumps(answer.params["blocks"])
    fake.wait_for("chat.postMessage", where=lambda c: c.params.get("thread_ts") == f"80.{n}")


# How a connection ends, and within how many seconds the client is back: at once after
# Slack's `disconnect` message; at slack_sdk's next connection check (every ping_interval s,
# 10 by default) after a close frame (its close handler still sees the closed connection as
# open and leaves the reconnect to that check); after about four ping intervals without a
# pong when the TCP connection is cut silently. A ping interval of 0.5 s keeps the last two
# short here. (After a refresh, slack_sdk's builtin client reads the new connection only
# once its receive on the old one ends: up to 3 s while Slack keeps the old one open. The
# fake closes it at once, as Slack does some seconds later.)
SOCKET_DISCONNECTS: dict[str, tuple[Callable[[FakeSocketModeServer], None], float]] = {
    "refresh requested": (lambda socket: socket.request_refresh(close=True), 10),
    "closed by Slack": (lambda socket: socket.disconnect_all(), 0.5),
    "connection cut": (lambda socket: socket.drop_all(), 0.5),
}


@pytest.mark.parametrize("how", list(SOCKET_DISCONNECTS))
def test_slack_socket_mode_reconnects_and_still_answers(slack_bot, fake, socket, how) -> None:
    disconnect, ping_interval = SOCKET_DISCONNECTS[how]
    running = slack_bot(ping_interval=ping_interval)
    ask_over_socket(fake, socket, 1)
    started = time.monotonic()
    disconnect(socket)
    socket.wait_connections(2, timeout=15)
    reconnect_s = time.monotonic() - started
    assert len(fake.calls_to("apps.connections.open")) == 2  # a fresh URL each time
    ask_over_socket(fake, socket, 2)
    running.executor.wait_idle()
    assert len(fake.calls_to(RESPONSE_URL)) == 2
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert reconnect_s < (3.0 if how == "refresh requested" else 10 * ping_interval)


def test_slack_socket_mode_reconnects_again_and_again(slack_bot, fake, socket) -> None:
    slack_bot(ping_interval=0.5)
    for n in range(2, 4):
        socket.disconnect_all()
        socket.wait_connections(n)
    ask_over_socket(fake, socket, 9)
    assert len(fake.calls_to("apps.connections.open")) == 3
