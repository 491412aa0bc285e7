"""Slack in Socket Mode, end to end: the real SocketModeHandler connects (through
apps.connections.open on the fake Web API) to a local websocket that hands it envelopes and
records each acknowledgement."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bot.adapters.slack import build_app, run_slack
from bot.core.admin import AdminService
from bot.core.packs import local
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from bot.settings import Settings
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    block_actions,
    event_body,
    mention_event,
    slash_payload,
    view_submission,
)
from tests.fakes.slack_socket import FakeSocketModeServer

ADMIN = "UADMIN"
ACK_LIMIT_S = 3.0


def settings_for(fake: FakeSlackAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": None,
        "SLACK_API_URL": fake.api_url,
        "STRIKEBOT_SLACK_ADMINS": ADMIN,
        "STRIKEBOT_SLACK_WORKSPACE_ADMINS": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def socket(fake: FakeSlackAPI) -> Iterator[FakeSocketModeServer]:
    with FakeSocketModeServer() as server:
        fake.socket_url = server.url
        yield server


class Connected:
    """The bot connected over Socket Mode, and ways to hand it envelopes."""

    def __init__(self, fake: FakeSlackAPI, socket: FakeSocketModeServer, ex: TrackingExecutor):
        self.fake = fake
        self.socket = socket
        self.executor = ex

    def acked(self, envelope_id: str, sent_at: float) -> dict[str, Any]:
        ack = self.socket.wait_ack(envelope_id)
        assert time.monotonic() - sent_at < ACK_LIMIT_S
        return ack

    def slash(self, command: str, text: str, user: str = "UMEMBER") -> dict[str, Any]:
        payload = slash_payload(command, text, user=user, response_url=self.fake.response_url())
        start = time.monotonic()
        return self.acked(self.socket.slash_command(payload), start)

    def event(self, event: dict[str, Any], event_id: str, retry: int = 0) -> dict[str, Any]:
        start = time.monotonic()
        envelope_id = self.socket.event(event_body(event, event_id), retry_attempt=retry)
        return self.acked(envelope_id, start)

    def interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        return self.acked(self.socket.interactive(payload), start)


@pytest.fixture
def connected(
    fake: FakeSlackAPI, socket: FakeSocketModeServer, bot: StrikeBot, admin: AdminService
) -> Iterator[Connected]:
    executor = TrackingExecutor()
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    app = build_app(settings_for(fake), bot, admin, client=client, listener_executor=executor)
    handler = SocketModeHandler(app, APP_TOKEN, web_client=client, auto_reconnect_enabled=False)
    handler.connect()
    socket.wait_connected()
    try:
        yield Connected(fake, socket, executor)
    finally:
        executor.wait_idle()
        # End the client's blocking waits now rather than at their timeouts (3 s and 1 s).
        socket.disconnect_all()
        handler.client.message_processor.event.set()
        handler.client.message_queue.put("")
        handler.close()
        executor.shutdown(wait=True)


def test_connects_through_apps_connections_open_with_the_app_token(connected, fake) -> None:
    (call,) = fake.calls_to("apps.connections.open")
    assert call.token == APP_TOKEN
    assert fake.calls_to("auth.test")[0].token == BOT_TOKEN


def test_slash_status_is_acked_then_posted_in_channel(connected, fake) -> None:
    ack = connected.slash("/strike", "status")
    assert not ack.get("payload")  # an empty ack; the answer goes to response_url
    (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert msg["response_type"] == "in_channel"
    assert "Latest picture" in json.dumps(msg["blocks"])


def test_slash_question_is_ephemeral(connected, fake) -> None:
    connected.slash("/strike", "<!here> what did the studios offer?")
    (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert msg["response_type"] == "ephemeral"
    assert "Studios' pay offer" in json.dumps(msg["blocks"])
    assert "<!here>" not in json.dumps(msg)


def test_mention_event_is_answered_in_thread(connected, fake) -> None:
    connected.event(mention_event("<@UBOT> how long has the strike lasted?", ts="10.1"), "EvS1")
    (call,) = fake.wait_for("chat.postMessage")
    assert (call.params["channel"], call.params["thread_ts"]) == ("C0001", "10.1")


def test_retried_envelopes_are_acked_but_not_answered_twice(connected, fake) -> None:
    event = mention_event("<@UBOT> status", ts="11.1")
    connected.event(event, "EvS2")
    fake.wait_for("chat.postMessage")
    connected.event(event, "EvS2", retry=1)
    connected.event(event, "EvS2", retry=2)
    connected.executor.wait_idle()
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_button_click_is_acked_and_recorded(connected, fake, bot) -> None:
    connected.slash("/strike", "what did the studios offer?")
    (answer,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    log_id = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    click = block_actions(kit.ACTION_HELPFUL, log_id, response_url=fake.response_url("c"))
    connected.interactive(click)
    update = fake.wait_for(RESPONSE_URL, 2)[1].params
    assert update["replace_original"] is True
    assert bot.store.feedback()[0]["helpful"] == 1


def test_modal_submission_acks_with_the_response_action(connected, bot) -> None:
    values = {
        "fact_text": "The studios and the WGA met again on 20 September 2023.",
        "fact_topic": "negotiations.meetings",
        "fact_as_of": "2023-09-20",
        "source_title": "Talks resume",
        "source_published": "2023-09-20",
        "source_url": None,
    }
    bad = connected.interactive(
        view_submission(kit.ADD_FACT_CALLBACK, {**values, "fact_topic": "Bad Topic"}, user=ADMIN)
    )
    assert bad["payload"]["response_action"] == "errors"
    assert "fact_topic" in bad["payload"]["errors"]
    good = connected.interactive(view_submission(kit.ADD_FACT_CALLBACK, values, user=ADMIN))
    assert good["payload"]["response_action"] == "update"
    assert [local(f.topic) for f in bot.store.facts()].count("negotiations.meetings") == 1


def test_non_admin_is_refused_over_socket_mode(connected, fake, bot) -> None:
    fid = next(f.id for f in bot.store.facts())
    before = (bot.store.facts(), bot.store.audit(limit=1000))
    connected.slash("/strike-admin", f"retract {fid} nope", user="UMEMBER")
    (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert "only strikebot admins" in msg["text"]
    assert (bot.store.facts(), bot.store.audit(limit=1000)) == before


def test_run_slack_socket_mode_end_to_end(fake, socket, bot) -> None:
    """`strikebot slack` with SLACK_APP_TOKEN: every call goes to SLACK_API_URL."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_slack(settings_for(fake), bot, stop=stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        socket.wait_connected()
        payload = slash_payload("/strike", "topics", response_url=fake.response_url())
        socket.wait_ack(socket.slash_command(payload))
        (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
        assert "I can answer questions about" in json.dumps(msg["blocks"])
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive() and errors == []
    assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN


def test_run_slack_rejected_app_token(fake, socket, bot) -> None:
    settings = settings_for(fake, SLACK_APP_TOKEN="xapp-revoked-secret")
    with pytest.raises(SystemExit) as info:
        run_slack(settings, bot)
    assert str(info.value.code) == "Slack rejected SLACK_APP_TOKEN: invalid_auth."


def test_http_requests_are_refused_in_socket_mode_without_a_signing_secret(fake, bot, admin):
    """No signing secret: Bolt verifies against a random one, so no HTTP request passes."""
    from slack_bolt.request import BoltRequest

    app = build_app(settings_for(fake), bot, admin)
    body = "command=%2Fstrike&text=status&user_id=U1"
    request = BoltRequest(body=body, headers={"x-slack-request-timestamp": str(int(time.time()))})
    assert app.dispatch(request).status == 401
