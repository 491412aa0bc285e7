"""Packs on Slack and Discord: an admin binds a channel to a dispute, questions there are
answered from it, `/strike status ID` shows another, and labels name the dispute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.admin import AdminService
from bot.core.service import StrikeBot
from bot.store.packs import PackStore
from tests.fakes.discord_fake import MANAGE_GUILD
from tests.fakes.slack_api import mention_event
from tests.test_discord_e2e import connected, followup_of, no_pings, run
from tests.test_discord_e2e import refused as refused_reply
from tests.test_packs import EXAMPLES, WGA, knowledge_dir, make_bot
from tests.test_slack_http import ADMIN, MEMBER, responses, serving
from tests.test_slack_http import fake as fake


@pytest.fixture
def bot(tmp_path: Path) -> StrikeBot:
    """The WGA writers and the SAG-AFTRA actors, no default pack."""
    return make_bot(tmp_path, knowledge_dir(tmp_path, WGA, EXAMPLES / "sag-aftra-2023"))


@pytest.fixture
def slack(fake, bot, admin):
    starts = serving(fake, bot, admin, clear=True)
    start = next(starts)
    yield start(STRIKEBOT_SLACK_ADMINS=ADMIN)
    next(starts, None)


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or message.get("text"))


def test_slack_admin_binds_a_channel_and_questions_there_come_from_that_pack(slack, fake, bot):
    slack.slash("/strike-admin", "pack", user=ADMIN)
    (listing,) = responses(fake)
    assert "sag-aftra-2023" in text_of(listing) and "wga-2023" in text_of(listing)
    fake.clear()
    slack.slash("/strike-admin", "pack sag-aftra-2023", user=ADMIN)
    (done,) = responses(fake)
    assert "now answers from sag-aftra-2023" in text_of(done)
    fake.clear()
    slack.slash("/strike", "how long did the strike last?")
    (answer,) = responses(fake)
    assert "118" in text_of(answer) and "130" not in text_of(answer)
    fake.clear()
    slack.slash("/strike", "status wga-2023")
    (status,) = responses(fake)
    assert "130" in text_of(status) and "Latest picture" in text_of(status)
    fake.clear()
    slack.slash("/strike", "status nope")
    (unknown,) = responses(fake)
    assert "no dispute called" in text_of(unknown)


def test_slack_a_member_cannot_bind_and_nothing_changes(slack, fake, bot):
    slack.slash("/strike-admin", "pack sag-aftra-2023", user=MEMBER)
    (refused,) = responses(fake)
    assert "only" in text_of(refused).lower()
    assert bot.store.db.execute("select count(*) from channel_packs").fetchone()[0] == 0
    fake.clear()
    slack.slash("/strike-admin", "pack nope", user=ADMIN)
    (unknown,) = responses(fake)
    assert "no dispute (pack) 'nope'" in text_of(unknown)


def test_slack_an_answer_from_two_disputes_names_both(slack, fake):
    slack.slash("/strike", "how long did the strike last?")
    (answer,) = responses(fake)
    body = text_of(answer)
    assert "WGA writers" in body and "SAG-AFTRA" in body


def test_slack_timeline(slack, fake):
    slack.slash("/strike", "timeline offer.pay")
    (answer,) = responses(fake)
    assert "(current)" in text_of(answer)


# --- Discord ------------------------------------------------------------------------------


def test_discord_admin_binds_a_channel_and_status_takes_a_pack(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            refused = await fake.slash("strike-admin pack", {"id": "sag-aftra-2023"})
            assert "only" in (await refused_reply(fake, refused)).lower()
            assert not PackStore(bot.store).bindings()
            listing = await fake.slash("strike-admin pack", {}, permissions=MANAGE_GUILD)
            text = (await followup_of(fake, listing)).json["embeds"][0]["description"]
            assert "sag-aftra-2023" in text and "wga-2023" in text
            bind = await fake.slash(
                "strike-admin pack", {"id": "sag-aftra-2023"}, permissions=MANAGE_GUILD
            )
            done = (await followup_of(fake, bind)).json["embeds"][0]["description"]
            assert "now answers from sag-aftra-2023" in done
            ask = await fake.slash("strike ask", {"question": "how long did the strike last?"})
            body = (await followup_of(fake, ask)).json
            answer = json.dumps(body["embeds"])
            assert "118" in answer and "130" not in answer
            no_pings(body)
            status = await fake.slash("strike status", {"pack": "wga-2023"})
            shown = (await followup_of(fake, status)).json["embeds"][0]
            assert "130" in shown["description"] and "118" not in shown["description"]

    run(scenario())


def test_discord_an_answer_from_two_disputes_names_both(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            ask = await fake.slash("strike ask", {"question": "how long did the strike last?"})
            answer = json.dumps((await followup_of(fake, ask)).json["embeds"])
            assert "WGA writers" in answer and "SAG-AFTRA" in answer
            timeline = await fake.slash("strike timeline", {"topic": "offer.pay"})
            shown = json.dumps((await followup_of(fake, timeline)).json["embeds"])
            assert "(current)" in shown

    run(scenario())


def test_slack_a_follow_up_in_a_thread_is_read_with_the_question_before_it(fake, tmp_path, admin):
    bot = make_bot(tmp_path / "f", knowledge_dir(tmp_path / "f", WGA), followup_window=60)
    starts = serving(fake, bot, AdminService(bot), clear=True)
    slack = next(starts)()
    slack.event(mention_event("<@UBOT> how long has the WGA been on strike?", ts="300.1"), "Ev1")
    (first,) = fake.wait_for("chat.postMessage")
    assert "130" in json.dumps(first.params["blocks"])
    fake.clear()
    slack.event(mention_event("<@UBOT> source?", ts="300.5", thread_ts="300.1"), "Ev2")
    (follow,) = fake.wait_for("chat.postMessage")
    assert follow.params["thread_ts"] == "300.1"
    shown = json.dumps(follow.params["blocks"])
    assert "Reading that as" in shown and "130" in shown
    next(starts, None)
