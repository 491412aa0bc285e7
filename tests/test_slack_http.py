"""Slack in HTTP mode, end to end: real signed requests to the bot's HTTP server, the real
Bolt app, and a fake Slack Web API that records what the bot sends back."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.adapters.slack import SlackHTTPServer, build_app, run_slack
from bot.core.admin import AdminService
from bot.core.packs import local
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from bot.settings import Settings
from tests.fakes.slack_api import (
    BOT_TOKEN,
    RESPONSE_URL,
    Call,
    FakeSlackAPI,
    TrackingExecutor,
    block_actions,
    event_body,
    im_event,
    mention_event,
    slash_payload,
    view_submission,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "UADMIN"
MEMBER = "UMEMBER"
ACK_LIMIT_S = 3.0
FORBIDDEN = ("<!channel>", "<!here>", "<!everyone>", "<@")
NASTY_QUESTION = "<!channel> @here what did the studios offer? <@U123>"


def settings_for(fake: FakeSlackAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": None,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "STRIKEBOT_SLACK_ADMINS": ADMIN,
        "STRIKEBOT_SLACK_WORKSPACE_ADMINS": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{exact body}`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Reply:
    status: int
    body: str
    seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class SlackSender:
    """Sends requests to the bot the way Slack does."""

    def __init__(self, port: int, fake: FakeSlackAPI, executor: TrackingExecutor):
        self.port = port
        self.fake = fake
        self.executor = executor

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(body, ts, secret),
            **(headers or {}),
        }
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        start = time.monotonic()
        try:
            conn.request("POST", "/slack/events", body=body.encode(), headers=all_headers)
            response = conn.getresponse()
            data = response.read().decode()
        finally:
            conn.close()
        reply = Reply(response.status, data, time.monotonic() - start)
        assert reply.seconds < ACK_LIMIT_S
        return reply

    def slash(
        self,
        command: str,
        text: str,
        user: str = MEMBER,
        trigger_id: str | None = None,
        **kw: Any,
    ) -> Reply:
        fields = slash_payload(
            command, text, user=user, response_url=self.fake.response_url(), trigger_id=trigger_id
        )
        return self.post(urlencode(fields), "application/x-www-form-urlencoded", **kw)

    def event(self, event: dict[str, Any], event_id: str, **kw: Any) -> Reply:
        return self.post(json.dumps(event_body(event, event_id)), "application/json", **kw)

    def interactive(self, payload: dict[str, Any], **kw: Any) -> Reply:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def settle(self) -> None:
        """Wait until every listener started by the requests so far has finished."""
        self.executor.wait_idle()


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    users = {
        "UWSADMIN": {"name": "ws-admin", "is_admin": True, "is_owner": False},
        "UOWNER": {"name": "owner", "is_admin": False, "is_primary_owner": True},
        "UPLAIN": {"name": "plain", "is_admin": False},
    }
    with FakeSlackAPI(users=users) as api:
        yield api


def serving(
    fake: FakeSlackAPI,
    bot: StrikeBot,
    admin: AdminService,
    *,
    client: Callable[[], WebClient] | None = None,
    clear: bool = False,
) -> Iterator[Callable[..., SlackSender]]:
    """Start the bot's HTTP server (port 0) with settings overrides, as often as a test
    asks; every server is stopped after the test. `client` makes the Web API client
    (default: a plain one on the fake); `clear` forgets the calls made while starting."""
    started: list[tuple[SlackHTTPServer, threading.Thread, TrackingExecutor]] = []

    def start(**overrides: Any) -> SlackSender:
        executor = TrackingExecutor()
        web = client() if client else WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        settings = settings_for(fake, **overrides)
        app = build_app(settings, bot, admin, client=web, listener_executor=executor)
        server = SlackHTTPServer(app, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        started.append((server, thread, executor))
        if clear:
            fake.clear()
        return SlackSender(server.port, fake, executor)

    yield start
    for server, thread, executor in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        executor.shutdown(wait=True)


@pytest.fixture
def serve(
    fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService
) -> Iterator[Callable[..., SlackSender]]:
    """Start the bot's HTTP server (port 0) with settings overrides; stopped after the test."""
    yield from serving(fake, bot, admin)


@pytest.fixture
def slack(serve: Callable[..., SlackSender], fake: FakeSlackAPI) -> SlackSender:
    sender = serve()
    fake.clear()  # forget the start-up auth.test
    return sender


def responses(fake: FakeSlackAPI, count: int = 1) -> list[dict[str, Any]]:
    return [c.params for c in fake.wait_for(RESPONSE_URL, count)]


def assert_safe(calls: list[Call]) -> None:
    dumped = json.dumps([c.params for c in calls])
    for token in FORBIDDEN:
        assert token not in dumped


def assert_blocks_ok(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= kit.BLOCK_LIMIT
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= kit.SECTION_LIMIT
        if block["type"] == "context":
            assert len(block["elements"]) <= kit.CONTEXT_LIMIT
    assert message["text"]


def snapshot(bot: StrikeBot) -> tuple[Any, ...]:
    """Everything a request could change in the store."""
    store = bot.store
    return (
        store.facts(),
        store.audit(limit=1000),
        store.feedback(limit=1000),
        store.db["questions_log"].count,
    )


def active_fact_id(bot: StrikeBot) -> str:
    return next(f.id for f in bot.store.facts() if f.status == "active")


def button_value(message: dict[str, Any]) -> str:
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert len(actions) == 1
    return actions[0]["elements"][0]["value"]


# --- start-up and the built-in checks ---------------------------------------------------


def test_start_up_verifies_the_token_against_slack_api_url(serve, fake) -> None:
    serve()
    (call,) = fake.calls_to("auth.test")
    assert call.token == BOT_TOKEN


def test_url_verification_challenge(slack: SlackSender) -> None:
    reply = slack.post(
        json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}),
        "application/json",
    )
    assert reply.status == 200
    assert "abc123" in reply.body


def test_health_and_unknown_paths(slack: SlackSender) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", slack.port, timeout=5)
    conn.request("GET", "/healthz")  # a server given no health checks: not ready
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["ready"]) == (503, False)
    conn.request("GET", "/health")  # the name deploy/SLACK.md once gave
    response = conn.getresponse()
    assert (response.status, response.read()) == (404, b"not found")
    conn.request("POST", "/elsewhere", body=b"{}")
    assert conn.getresponse().status == 404
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", slack.port, timeout=5)
    conn.request("POST", "/slack/events", body=b"{}", headers={"Content-Length": "9999999"})
    assert conn.getresponse().status == 413
    conn.close()


@pytest.mark.parametrize("case", ["wrong secret", "stale timestamp", "future timestamp"])
def test_bad_signatures_get_401_and_change_nothing(slack, fake, bot, case: str) -> None:
    before = snapshot(bot)
    kw: dict[str, Any] = {}
    if case == "wrong secret":
        kw["secret"] = "not-the-secret"
    else:
        kw["timestamp"] = int(time.time()) + (-6 * 60 if case == "stale timestamp" else 6 * 60)
    fid = active_fact_id(bot)
    replies = [
        slack.slash("/strike", "what did the studios offer?", **kw),
        slack.slash("/strike-admin", f"retract {fid} because", user=ADMIN, **kw),
        slack.event(mention_event("<@UBOT> status", ts="1.1"), "EvBad1", **kw),
        slack.interactive(block_actions(kit.ACTION_HELPFUL, "1", response_url="x"), **kw),
    ]
    assert [r.status for r in replies] == [401] * 4
    slack.settle()
    assert fake.calls == []
    assert snapshot(bot) == before


def test_missing_signature_gets_401(slack, fake) -> None:
    body = urlencode(slash_payload("/strike", "status", response_url=fake.response_url()))
    conn = http.client.HTTPConnection("127.0.0.1", slack.port, timeout=5)
    conn.request("POST", "/slack/events", body=body.encode())
    assert conn.getresponse().status == 401
    conn.close()


# --- /strike ----------------------------------------------------------------------------


def test_status_is_posted_in_the_channel(slack, fake) -> None:
    reply = slack.slash("/strike", "status")
    assert (reply.status, reply.body) == (200, "")
    (msg,) = responses(fake)
    assert msg["response_type"] == "in_channel"
    assert_blocks_ok(msg)
    assert "Latest picture" in json.dumps(msg["blocks"])


def test_question_is_ephemeral_with_feedback_buttons(slack, fake, bot) -> None:
    slack.slash("/strike", "what did the studios offer?")
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert_blocks_ok(msg)
    assert "Studios' pay offer" in json.dumps(msg["blocks"])
    entry = bot.store.logged_question(int(button_value(msg)))
    assert entry is not None and entry["platform"] == "slack"


def test_question_with_public_is_posted_in_the_channel(slack, fake) -> None:
    slack.slash("/strike", "what did the studios offer? public")
    (msg,) = responses(fake)
    assert msg["response_type"] == "in_channel"
    assert button_value(msg)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("topics", "I can answer questions about"),
        ("sources", "My sources"),
        ("help", "/strike status"),
        ("", "/strike status"),
        ("statsu", "Did you mean `status`?"),
    ],
)
def test_topics_sources_help_and_unknown(slack, fake, text: str, expected: str) -> None:
    slack.slash("/strike", text)
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert_blocks_ok(msg)
    assert expected in json.dumps(msg["blocks"], ensure_ascii=False)


def test_slow_answers_are_acknowledged_first(slack, fake, bot, monkeypatch) -> None:
    ask = bot.ask

    def slow_ask(question):
        time.sleep(2.0)
        return ask(question)

    monkeypatch.setattr(bot, "ask", slow_ask)
    reply = slack.slash("/strike", "what did the studios offer?")
    assert reply.seconds < 1.5
    (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL, timeout=10)]
    assert "Studios' pay offer" in json.dumps(msg["blocks"])


def test_pings_and_mentions_in_a_question_never_reach_slack(slack, fake) -> None:
    slack.slash("/strike", NASTY_QUESTION + " public")
    slack.event(mention_event("<@UBOT> " + NASTY_QUESTION, ts="5.5"), "EvNasty")
    (msg,) = responses(fake)
    (post,) = fake.wait_for("chat.postMessage")
    assert msg["response_type"] == "in_channel"
    assert "Studios' pay offer" in json.dumps(msg["blocks"])  # the question still works
    assert "Studios' pay offer" in json.dumps(post.params["blocks"])
    assert_safe(fake.calls)


# --- mentions and DMs -------------------------------------------------------------------


def test_mention_is_answered_in_a_thread_under_the_question(slack, fake, bot) -> None:
    slack.event(mention_event("<@UBOT> how long has the strike lasted?", ts="100.1"), "Ev1")
    (call,) = fake.wait_for("chat.postMessage")
    params = call.params
    assert call.token == BOT_TOKEN
    assert (params["channel"], params["thread_ts"]) == ("C0001", "100.1")
    assert params["link_names"] is False and params["parse"] == "none"
    assert params["unfurl_links"] is False
    assert_blocks_ok(params)
    entry = bot.store.logged_question(int(button_value(params)))
    assert entry is not None and "UBOT" not in entry["question"]
    assert entry["question"].startswith("how long")


def test_mention_inside_a_thread_answers_in_that_thread(slack, fake) -> None:
    event = mention_event("<@UBOT> status", ts="200.2", thread_ts="150.0")
    slack.event(event, "Ev2")
    (call,) = fake.wait_for("chat.postMessage")
    assert call.params["thread_ts"] == "150.0"
    assert "Latest picture" in json.dumps(call.params["blocks"])


def test_dm_is_answered_in_the_dm(slack, fake) -> None:
    slack.event(im_event("what did the studios offer?", ts="300.3"), "Ev3")
    (call,) = fake.wait_for("chat.postMessage")
    assert call.params["channel"] == "D0001"
    assert "thread_ts" not in call.params
    assert "Studios' pay offer" in json.dumps(call.params["blocks"])


def test_dm_help_word(slack, fake) -> None:
    slack.event(im_event("help", ts="301.3"), "Ev3h")
    (call,) = fake.wait_for("chat.postMessage")
    assert "/strike status" in json.dumps(call.params["blocks"])


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "message_changed"},
        {"bot_id": "B0001"},
        {"subtype": "bot_message"},
        {"edited": {"user": "UMEMBER", "ts": "1.0"}},
        {"user": None},
    ],
)
def test_bot_messages_edits_and_subtypes_are_ignored(slack, fake, extra) -> None:
    event = im_event("what did the studios offer?", ts="400.4")
    event.update(extra)
    assert slack.event(event, "Ev4").status == 200
    slack.settle()
    assert fake.calls_to("chat.postMessage") == []


def test_channel_messages_are_not_answered_unless_mentioned(slack, fake) -> None:
    event = im_event("what did the studios offer?", ts="401.4", channel="C0001")
    event["channel_type"] = "channel"
    slack.event(event, "Ev4c")
    slack.settle()
    assert fake.calls_to("chat.postMessage") == []


# --- retries ----------------------------------------------------------------------------


def test_retries_do_not_duplicate_answers(slack, fake) -> None:
    event = mention_event("<@UBOT> what did the studios offer?", ts="500.5")
    assert slack.event(event, "Ev5").status == 200
    fake.wait_for("chat.postMessage")
    for n in (1, 2, 3):
        headers = {"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}
        reply = slack.event(event, "Ev5", headers=headers)
        assert (reply.status, reply.seconds < 1.0) == (200, True)
    slack.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_the_same_message_as_two_events_is_answered_once(slack, fake) -> None:
    slack.event(mention_event("<@UBOT> status", ts="600.6"), "Ev6a")
    slack.event(mention_event("<@UBOT> status", ts="600.6"), "Ev6b")
    slack.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_a_retry_of_an_event_never_received_is_answered(slack, fake) -> None:
    """Slack retries when the first delivery failed (e.g. the bot was restarting): that
    question has not been answered yet, so it is answered once."""
    event = mention_event("<@UBOT> status", ts="700.7")
    slack.event(event, "Ev7", headers={"X-Slack-Retry-Num": "1"})
    slack.event(event, "Ev7", headers={"X-Slack-Retry-Num": "2"})
    slack.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


# --- feedback buttons -------------------------------------------------------------------


def test_feedback_on_an_ephemeral_answer(slack, fake, bot) -> None:
    slack.slash("/strike", "what did the studios offer?")
    (answer,) = responses(fake)
    log_id = button_value(answer)
    click = block_actions(kit.ACTION_HELPFUL, log_id, response_url=fake.response_url("click"))
    reply = slack.interactive(click)
    assert (reply.status, reply.body) == (200, "")
    update = responses(fake, 2)[1]
    assert update["replace_original"] is True
    assert all(b["type"] != "actions" for b in update["blocks"])
    assert "Thanks for the feedback" in json.dumps(update["blocks"])
    assert "Studios' pay offer" in json.dumps(update["blocks"])  # the answer stays
    (row,) = bot.store.feedback()
    assert (row["helpful"], row["platform"]) == (1, "slack")
    assert json.loads(row["facts"]) == bot.store.logged_question(int(log_id))["facts"]
    # A second click by the same person (a new request: Slack never sends the same one twice)
    # is not counted again.
    slack.interactive(block_actions(kit.ACTION_HELPFUL, log_id, response_url=click["response_url"]))
    responses(fake, 3)
    assert len(bot.store.feedback()) == 1


def test_feedback_on_a_thread_answer_uses_the_message(slack, fake, bot) -> None:
    slack.event(mention_event("<@UBOT> what did the studios offer?", ts="800.8"), "Ev8")
    (post,) = fake.wait_for("chat.postMessage")
    message = {"type": "message", "ts": "1700000000.000001", **post.params}
    click = block_actions(
        kit.ACTION_NOT_HELPFUL,
        button_value(post.params),
        response_url=fake.response_url("click"),
        user="UOTHER",
        message=message,
    )
    slack.interactive(click)
    (update,) = responses(fake)
    assert update["replace_original"] is True
    assert "not helpful" in json.dumps(update["blocks"])
    assert bot.store.feedback()[0]["helpful"] == 0


def test_feedback_for_an_unknown_answer_records_nothing(slack, fake, bot) -> None:
    click = block_actions(kit.ACTION_HELPFUL, "999999", response_url=fake.response_url())
    slack.interactive(click)
    (update,) = responses(fake)
    assert "Thanks" in update["text"]
    assert bot.store.feedback() == []


# --- /strike-admin ----------------------------------------------------------------------


def test_admin_add_opens_the_modal(slack, fake) -> None:
    slack.slash(
        "/strike-admin", "add The studios met again.", user=ADMIN, trigger_id="1337.42.trigger"
    )
    (call,) = fake.wait_for("views.open")
    view = call.params["view"]
    assert call.params["trigger_id"] == "1337.42.trigger"
    assert view["callback_id"] == kit.ADD_FACT_CALLBACK
    assert view["blocks"][0]["element"]["initial_value"] == "The studios met again."
    assert view["blocks"][2]["element"]["initial_date"] == "2023-09-12"  # the bot's today
    assert fake.calls_to(RESPONSE_URL) == []


def test_admin_add_reports_a_form_that_could_not_open(slack, fake) -> None:
    slack.slash("/strike-admin", "add", user=ADMIN, trigger_id="")
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert "couldn't open the form" in msg["text"]


def add_values(**changes: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "fact_text": "The studios and the WGA met again on 20 September 2023.",
        "fact_topic": "negotiations.meetings",
        "fact_as_of": "2023-09-20",
        "source_title": "Talks resume",
        "source_published": "2023-09-20",
        "source_url": "https://example.org/talks",
    }
    values.update(changes)
    return values


def test_admin_modal_submission_adds_the_fact(slack, fake, bot) -> None:
    reply = slack.interactive(view_submission(kit.ADD_FACT_CALLBACK, add_values(), user=ADMIN))
    assert reply.status == 200
    result = reply.json()
    assert result["response_action"] == "update"
    added = [f for f in bot.store.facts() if local(f.topic) == "negotiations.meetings"]
    assert len(added) == 1
    assert added[0].id in json.dumps(result["view"])
    entry = bot.store.audit(limit=1)[0]
    assert (entry["actor"], entry["platform"], entry["action"]) == ("slack:UADMIN", "slack", "add")
    source = bot.store.sources()[added[0].source]
    assert source.url == "https://example.org/talks"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fact_topic": "Not A Topic"}, "fact_topic"),
        ({"source_url": "ftp://example.org/x"}, "source_url"),
        ({"fact_text": None}, "fact_text"),
    ],
)
def test_admin_modal_validation_errors_stay_on_the_form(slack, bot, changes, field) -> None:
    before = snapshot(bot)
    payload = view_submission(kit.ADD_FACT_CALLBACK, add_values(**changes), user=ADMIN)
    result = slack.interactive(payload).json()
    assert result["response_action"] == "errors"
    assert list(result["errors"]) == [field]
    assert snapshot(bot) == before


def test_admin_retract_restore_audit_unanswered(slack, fake, bot) -> None:
    fid = active_fact_id(bot)
    slack.slash("/strike-admin", f"retract {fid} the article was corrected", user=ADMIN)
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert f"Retracted `{fid}`" in msg["blocks"][0]["text"]["text"]
    assert bot.store.fact(fid).status == "retracted"
    entry = bot.store.audit(limit=1)[0]
    assert (entry["actor"], entry["action"], entry["note"]) == (
        "slack:UADMIN",
        "retract",
        "the article was corrected",
    )
    slack.slash("/strike-admin", f"restore {fid}", user=ADMIN)
    assert "Restored" in json.dumps(responses(fake, 2)[1])
    assert bot.store.fact(fid).status == "active"
    slack.slash("/strike-admin", "audit", user=ADMIN)
    audit = json.dumps(responses(fake, 3)[2])
    assert "restore" in audit and "slack:UADMIN" in audit
    slack.slash("/strike", "<!here> what is the colour of money?")
    responses(fake, 4)
    slack.slash("/strike-admin", "unanswered", user=ADMIN)
    unanswered = responses(fake, 5)[4]
    assert "what is the colour of money?" in json.dumps(unanswered, ensure_ascii=False)
    assert_safe(fake.calls)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retract no-such-fact because", "No fact with id"),
        ("retract {fid}", "reason is required"),
        ("retract", "Say which fact"),
        ("frobnicate", "know the command `frobnicate`"),
        ("retrackt x y", "Did you mean `retract`?"),
        ("", "/strike-admin add"),
    ],
)
def test_admin_mistakes_get_an_ephemeral_message(slack, fake, bot, text, expected) -> None:
    before = snapshot(bot)
    slack.slash("/strike-admin", text.format(fid=active_fact_id(bot)), user=ADMIN)
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert expected in json.dumps(msg)
    assert snapshot(bot) == before


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["retract {fid} gone", "restore {fid}", "audit", "add", "help"])
def test_non_admins_are_refused_and_nothing_changes(slack, fake, bot, text: str) -> None:
    before = snapshot(bot)
    slack.slash("/strike-admin", text.format(fid=active_fact_id(bot)), user=MEMBER)
    (msg,) = responses(fake)
    assert msg["response_type"] == "ephemeral"
    assert "only strikebot admins" in msg["text"]
    slack.settle()
    assert fake.calls_to("views.open") == []
    assert fake.calls_to("users.info") == []  # workspace admins are not allowed here
    assert snapshot(bot) == before


def test_a_forged_modal_submission_by_a_non_admin_changes_nothing(slack, bot) -> None:
    before = snapshot(bot)
    result = slack.interactive(
        view_submission(kit.ADD_FACT_CALLBACK, add_values(), user=MEMBER)
    ).json()
    assert result["response_action"] == "update"
    assert "only strikebot admins" in json.dumps(result["view"])
    assert snapshot(bot) == before


@pytest.mark.parametrize(
    ("user", "allowed"), [("UWSADMIN", True), ("UOWNER", True), ("UPLAIN", False), ("UGONE", False)]
)
def test_workspace_admins_when_switched_on(serve, fake, bot, user: str, allowed: bool) -> None:
    slack = serve(STRIKEBOT_SLACK_WORKSPACE_ADMINS=True)
    fake.clear()
    before = snapshot(bot)
    fid = active_fact_id(bot)
    slack.slash("/strike-admin", f"retract {fid} testing", user=user)
    (msg,) = responses(fake)
    (info,) = fake.calls_to("users.info")
    assert info.params["user"] == user
    assert ("only strikebot admins" not in msg["text"]) is allowed
    assert (bot.store.fact(fid).status == "retracted") is allowed
    if not allowed:
        assert snapshot(bot) == before


def test_listed_admins_need_no_users_info(serve, fake) -> None:
    slack = serve(STRIKEBOT_SLACK_WORKSPACE_ADMINS=True)
    slack.slash("/strike-admin", "audit", user=ADMIN)
    responses(fake)
    assert fake.calls_to("users.info") == []


# --- run_slack configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"SLACK_BOT_TOKEN": None}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "  "}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xapp-1-secret-value"}, "SLACK_BOT_TOKEN does not look"),
        ({"SLACK_APP_TOKEN": "xoxb-secret-value"}, "SLACK_APP_TOKEN does not look"),
        ({"SLACK_SIGNING_SECRET": None}, "SLACK_SIGNING_SECRET is not set"),
    ],
)
def test_run_slack_configuration_errors(fake, bot, overrides, variable: str) -> None:
    with pytest.raises(SystemExit) as info:
        run_slack(settings_for(fake, **overrides), bot, port=0)
    message = str(info.value.code)
    assert variable in message
    assert "\n" not in message and "secret-value" not in message
    assert fake.calls == []


def test_run_slack_rejected_token(fake, bot) -> None:
    settings = settings_for(fake, SLACK_BOT_TOKEN="xoxb-revoked-secret")
    with pytest.raises(SystemExit) as info:
        run_slack(settings, bot, port=0)
    assert str(info.value.code) == "Slack rejected SLACK_BOT_TOKEN: invalid_auth."


def test_run_slack_unreachable_api(bot) -> None:
    with FakeSlackAPI() as gone:
        url = gone.api_url
    settings = Settings(
        _env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=None,
        SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=url,
    )  # fmt: skip
    with pytest.raises(SystemExit) as info:
        run_slack(settings, bot, port=0)
    assert "Cannot reach the Slack API" in str(info.value.code)


def test_run_slack_http_mode_starts_and_stops(fake, bot) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_slack(settings_for(fake), bot, port=0, stop=stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    fake.wait_for("auth.test", count=2)  # the token check, then Bolt's own
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and errors == []


def test_manifest_matches_what_the_adapter_handles() -> None:
    import yaml

    from bot.adapters.slack import ADMIN_COMMAND, STRIKE_COMMAND
    from bot.core.slash_commands import ADMIN_COMMANDS

    path = Path(__file__).resolve().parent.parent / "deploy" / "slack-manifest.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    features, settings = manifest["features"], manifest["settings"]
    assert {c["command"] for c in features["slash_commands"]} == {STRIKE_COMMAND, ADMIN_COMMAND}
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "users:read",
    }
    hints = {c["command"]: c["usage_hint"] for c in features["slash_commands"]}
    admin_words = {w.strip("[]|") for w in hints[ADMIN_COMMAND].split()}
    assert set(ADMIN_COMMANDS) - {"help"} <= admin_words, hints[ADMIN_COMMAND]
    assert len(hints[ADMIN_COMMAND]) <= 1000  # Slack's limit for a usage hint
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False


def test_the_slack_guide_names_the_health_paths_the_server_answers() -> None:
    guide = (Path(__file__).resolve().parent.parent / "deploy" / "SLACK.md").read_text()
    assert re.findall(r"/health\w*", guide) and set(re.findall(r"/health\w*", guide)) <= {
        "/healthz"
    }
    assert "/readyz" in guide
