"""The README's promise "user ids are never logged", checked: refusals, subscriptions and
errors are driven on Slack and Discord through the real adapters and fakes, and every log
record captured at INFO and above (what the running bot logs; DEBUG, which an operator
must ask for, shows the libraries' raw payloads) is scanned for the user ids."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.adapters.slack import SlackHTTPServer, build_app
from bot.core.admin import AdminService
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from tests.fakes.discord_fake import APP_ID, MANAGE_GUILD, MEMBER_ID
from tests.fakes.slack_api import (
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    block_actions,
    slash_payload,
)
from tests.test_discord_e2e import callback_of, connected, followup_of, run
from tests.test_slack_http import SlackSender, settings_for

SLACK_MEMBER = "UPRIVMEMBER7"
SLACK_ADMIN = "UPRIVADMIN9"
SLACK_STRANGER = "UPRIVUNKNOWN3"  # not in the fake's users: users.info fails for them


def leaks(records: list[logging.LogRecord], ids: list[str]) -> list[str]:
    """Every captured record that holds one of `ids`: message, arguments, extra fields or
    traceback."""
    formatter = logging.Formatter("%(message)s")
    found = []
    for record in records:
        text = formatter.format(record) + repr(vars(record))
        if any(user in text for user in ids):
            found.append(f"{record.levelname} {record.name}: {record.getMessage()}")
    return found


# --- Slack --------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    users = {SLACK_MEMBER: {"name": "member", "is_admin": False}}
    with FakeSlackAPI(users=users) as api:
        yield api


@pytest.fixture
def slack(fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService) -> Iterator[SlackSender]:
    """The bot in HTTP mode; workspace admins count, so users.info is asked."""
    executor = TrackingExecutor()
    settings = settings_for(
        fake, STRIKEBOT_SLACK_ADMINS=SLACK_ADMIN, STRIKEBOT_SLACK_WORKSPACE_ADMINS=True
    )
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    app = build_app(settings, bot, admin, client=client, listener_executor=executor)
    server = SlackHTTPServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SlackSender(server.port, fake, executor)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    executor.shutdown(wait=True)


def slash(slack: SlackSender, command: str, text: str, user: str) -> None:
    fields = slash_payload(command, text, user=user, response_url=slack.fake.response_url())
    assert slack.post(urlencode(fields), "application/x-www-form-urlencoded").status == 200


def test_slack_refusals_subscriptions_and_errors_log_no_user_id(slack, fake, caplog) -> None:
    with caplog.at_level(logging.INFO):
        for user in (SLACK_MEMBER, SLACK_STRANGER):
            slash(slack, "/strike-admin", "audit", user)  # refused (users.info fails for one)
            slash(slack, "/strike", "subscribe", user)  # refused
        slash(slack, "/strike", "subscribe", SLACK_ADMIN)
        slash(slack, "/strike", "unsubscribe", SLACK_ADMIN)
        click = block_actions(
            kit.ACTION_REVIEW_ACCEPT, "1", user=SLACK_MEMBER, response_url=fake.response_url()
        )
        slack.interactive(click)  # a review button pressed by a non-admin: refused
        fake.fail("chat.postMessage", 500, times=2)
        slash(slack, "/strike", "what about AI?", SLACK_MEMBER)  # a question: logged, no id
        fake.wait_for(RESPONSE_URL, 8)
        slack.settle()
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused" in m for m in messages)
    assert any("subscribed" in m for m in messages)
    assert any("users.info failed" in m for m in messages)
    assert leaks(caplog.records, [SLACK_MEMBER, SLACK_ADMIN, SLACK_STRANGER]) == []


# --- Discord ------------------------------------------------------------------------------


def test_discord_refusals_subscriptions_and_errors_log_no_user_id(
    bot, admin, monkeypatch, caplog
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("the topics broke")

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            for command in ("strike-admin audit", "strike subscribe"):  # refused
                refused = await fake.slash(command)
                await callback_of(fake, refused)
            sub = await fake.slash("strike subscribe", permissions=MANAGE_GUILD)
            await followup_of(fake, sub)
            unsub = await fake.slash("strike unsubscribe", permissions=MANAGE_GUILD)
            await followup_of(fake, unsub)
            monkeypatch.setattr(bot, "topics", broken)
            failing = await fake.slash("strike topics")  # an unexpected error, logged
            await followup_of(fake, failing)
            # a refusal whose private reply Discord does not take: logged as a warning
            fake.fail("POST", r"/interactions/\d+/[^/]+/callback", 404)
            lost = await fake.slash("strike-admin audit")
            await fake.wait_for(lambda: fake.failed)
            assert lost["id"] in json.dumps([r.path for r in fake.failed])
            assert fake.find("POST", rf"/webhooks/{APP_ID}/.*")

    with caplog.at_level(logging.INFO):
        run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused" in m for m in messages)
    assert any("subscribed" in m for m in messages)
    assert any("failed" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
    assert leaks(caplog.records, [str(MEMBER_ID)]) == []
