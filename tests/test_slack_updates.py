"""Status updates through Slack, end to end: `/strike subscribe` through the real signed HTTP
path and Bolt app, a newer fact added by an admin, and the delivery round posting through
the real WebClient to the fake Slack Web API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.adapters.slack import (
    SUBSCRIBED_CONFIRMATION,
    SlackDelivery,
    SlackHTTPServer,
    build_app,
)
from bot.core.admin import Actor, AdminService
from bot.core.service import StrikeBot
from bot.core.updates import SubscriptionService
from bot.store.subscriptions import SubscriptionStore
from tests.fakes.slack_api import (
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    slash_payload,
    view_submission,
)
from tests.test_slack_http import ADMIN, MEMBER, SlackSender, settings_for

SUBSCRIBED = ("C0001", "C0002")
OTHER = "C0003"
NEWER = "The strike ended after 148 days."


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def client(fake: FakeSlackAPI) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url)


@pytest.fixture
def slack(
    fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService, client: WebClient
) -> Iterator[SlackSender]:
    """The bot's HTTP server (port 0) over the real Bolt app."""
    executor = TrackingExecutor()
    app = build_app(settings_for(fake), bot, admin, client=client, listener_executor=executor)
    server = SlackHTTPServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SlackSender(server.port, fake, executor)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    executor.shutdown(wait=True)


@pytest.fixture
def delivery(bot: StrikeBot, client: WebClient) -> SlackDelivery:
    return SlackDelivery(bot, client, interval=0.05)


def strike(slack: SlackSender, text: str, *, user: str = ADMIN, channel: str = "C0001") -> str:
    """Type `/strike text` in a channel; returns the (ephemeral) reply's text."""
    fake = slack.fake
    before = len(fake.calls_to(RESPONSE_URL))
    fields = slash_payload(
        "/strike", text, user=user, channel=channel, response_url=fake.response_url()
    )
    assert slack.post(urlencode(fields), "application/x-www-form-urlencoded").status == 200
    reply = fake.wait_for(RESPONSE_URL, before + 1)[before].params
    assert reply["response_type"] == "ephemeral"
    return json.dumps(reply["blocks"], ensure_ascii=False)


def add_newer_fact(admin: AdminService) -> None:
    admin.add(
        Actor("UADMIN", "slack", is_admin=True),
        text=NEWER,
        topic="strike.duration",
        as_of="2023-09-27",
        source_title="Writers' strike ends",
        published="2023-09-27",
        url="https://example.org/ended",
    )


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def posts(fake: FakeSlackAPI) -> list[dict[str, Any]]:
    """The status updates posted (not the confirmations of new subscriptions)."""
    return [p for p in all_posts(fake) if p.get("text") != SUBSCRIBED_CONFIRMATION]


def all_posts(fake: FakeSlackAPI) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("chat.postMessage")]


def test_a_newer_fact_is_posted_once_to_each_subscribed_channel(
    slack, fake, bot, admin, delivery
) -> None:
    for channel in SUBSCRIBED:
        assert "now subscribed" in strike(slack, "subscribe", channel=channel)
    assert "already subscribed" in strike(slack, "subscribe", channel=SUBSCRIBED[0])
    confirmed = [p["channel"] for p in all_posts(fake) if p["text"] == SUBSCRIBED_CONFIRMATION]
    assert confirmed == list(SUBSCRIBED)  # once each, when first subscribed
    SubscriptionService(bot.store).subscribe(
        Actor("x", is_admin=True), "discord", "1100000000000000004"
    )

    add_newer_fact(admin)
    assert delivery.run_once() == {"sent": 2, "failed": 0}
    assert delivery.run_once() == {"sent": 0, "failed": 0}

    sent = posts(fake)
    assert sorted(p["channel"] for p in sent) == sorted(SUBSCRIBED)
    for params in sent:
        assert params["link_names"] is False and params["parse"] == "none"
        assert params["unfurl_links"] is False
        blocks = json.dumps(params["blocks"], ensure_ascii=False)
        assert "Status update: How long the strike has lasted" in blocks
        assert NEWER in blocks and "27 Sep 2023" in blocks and "11 Sep 2023" in blocks
        assert "<https://example.org/ended|" in blocks
        assert "130 days (11 Sep 2023) -&gt; The strike ended" in params["text"]
    rows = SubscriptionStore(bot.store).deliveries()
    assert {(r["platform"], r["status"]) for r in rows} == {
        ("slack", "sent"),
        ("discord", "pending"),
    }


def test_a_fact_added_through_the_slack_form_queues_the_update(slack, fake, bot, delivery):
    strike(slack, "subscribe")
    form = {
        "fact_text": NEWER,
        "fact_topic": "strike.duration",
        "fact_as_of": "2023-09-27",
        "source_title": "Writers' strike ends",
        "source_published": "2023-09-27",
        "source_url": None,
    }
    reply = slack.interactive(view_submission("strike_admin_add", form, user=ADMIN))
    assert reply.status == 200 and "Fact added" in reply.body
    delivery.run_once()
    (post,) = posts(fake)
    assert post["channel"] == "C0001" and NEWER in json.dumps(post["blocks"])


def test_unsubscribe_stops_delivery(slack, fake, admin, delivery) -> None:
    for channel in SUBSCRIBED:
        strike(slack, "subscribe", channel=channel)
    assert "no longer" in strike(slack, "unsubscribe", channel=SUBSCRIBED[1])
    assert "not subscribed" in strike(slack, "unsubscribe", channel=OTHER)
    add_newer_fact(admin)
    delivery.run_once()
    assert [p["channel"] for p in posts(fake)] == [SUBSCRIBED[0]]


def test_a_member_cannot_subscribe_and_nothing_changes(slack, fake, bot, admin, delivery):
    reply = strike(slack, "subscribe", user=MEMBER)
    assert "only strikebot admins" in reply and "nothing was changed" in reply
    strike(slack, "subscribe")  # an admin subscribes C0001
    assert "only strikebot admins" in strike(slack, "unsubscribe", user=MEMBER)
    assert [s.channel for s in SubscriptionService(bot.store).list()] == ["C0001"]
    add_newer_fact(admin)
    delivery.run_once()
    assert [p["channel"] for p in posts(fake)] == ["C0001"]


def test_a_direct_message_cannot_subscribe(slack, bot) -> None:
    assert "not in a direct message" in strike(slack, "subscribe", channel="D0001")
    assert SubscriptionService(bot.store).list() == []


def test_help_lists_the_subscription_commands(slack) -> None:
    text = strike(slack, "help", user=MEMBER)
    assert "/strike subscribe" in text and "/strike unsubscribe" in text


def test_the_delivery_thread_retries_a_refused_post(slack, fake, bot, admin, delivery):
    strike(slack, "subscribe")
    refusals = iter([{"ok": False, "error": "not_in_channel"}])
    post_message = fake._chat_postMessage

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        return next(refusals, None) or post_message(params)

    fake._chat_postMessage = flaky  # type: ignore[method-assign]
    add_newer_fact(admin)
    stop = threading.Event()
    thread = delivery.start(stop)
    records = SubscriptionStore(bot.store)
    try:
        fake.wait_for("chat.postMessage", 2)
        wait_until(lambda: records.deliveries()[0]["status"] == "sent")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    (row,) = SubscriptionStore(bot.store).deliveries()
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert len(posts(fake)) == 2  # one refused, one delivered; never more


# --- a channel the bot cannot post in ---------------------------------------------------


def test_subscribing_a_channel_the_bot_is_not_in_says_so_and_changes_nothing(
    slack, fake, bot
) -> None:
    fake.not_member.add("C0009")
    reply = strike(slack, "subscribe", channel="C0009")
    assert "not_in_channel" in reply and "/invite @strikebot" in reply
    assert "now subscribed" not in reply
    assert SubscriptionService(bot.store).list() == []
    assert "now subscribed" in strike(slack, "subscribe", channel="C0001")
    (confirmation,) = [p for p in all_posts(fake) if p["channel"] == "C0001"]
    assert "status updates" in confirmation["text"] and confirmation["link_names"] is False
    assert [s.channel for s in SubscriptionService(bot.store).list()] == ["C0001"]


def test_failed_deliveries_are_shown_by_strike_admin_subscriptions(
    slack, fake, bot, admin, delivery
) -> None:
    for channel in SUBSCRIBED:
        strike(slack, "subscribe", channel=channel)
    fake.not_member.add(SUBSCRIBED[1])  # the bot was removed from the channel afterwards
    add_newer_fact(admin)
    assert delivery.run_once() == {"sent": 1, "failed": 1}
    fields = slash_payload(
        "/strike-admin", "subscriptions", user=ADMIN, response_url=fake.response_url("subs")
    )
    assert slack.post(urlencode(fields), "application/x-www-form-urlencoded").status == 200
    (reply,) = [c.params for c in fake.wait_for(RESPONSE_URL, where=lambda c: "subs" in c.path)]
    text = json.dumps(reply["blocks"], ensure_ascii=False)
    assert SUBSCRIBED[0] in text and SUBSCRIBED[1] in text
    assert "1 update not delivered" in text and "not_in_channel" in text
    listed = {s.channel: s for s in SubscriptionService(bot.store).list()}
    assert listed[SUBSCRIBED[0]].failed == 0 and listed[SUBSCRIBED[0]].last_error is None
    assert (
        listed[SUBSCRIBED[1]].failed == 1 and "not_in_channel" in listed[SUBSCRIBED[1]].last_error
    )
