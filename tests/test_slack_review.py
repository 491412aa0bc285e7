"""The issue-5 admin commands on Slack, end to end: `/strike-admin article|review|due|report`,
the review buttons and their modals, through real signed HTTP requests to the bot's server,
the real Bolt app, and the fake Slack Web API (which records views.open, chat.postEphemeral
and the posts to response URLs)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.adapters.slack import SlackHTTPServer, build_app
from bot.core.admin import Actor, AdminService
from bot.core.models import Question
from bot.core.packs import local
from bot.core.review import ReviewService
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from tests.conftest import DATA
from tests.fakes.slack_api import (
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    block_actions,
    view_submission,
)
from tests.test_slack_http import ADMIN, FORBIDDEN, MEMBER, SlackSender, settings_for

ARTICLE = (DATA / "article_test.txt").read_text(encoding="utf-8")
TITLE = "Tentative deal ends the writers' strike"
URL = "https://example.org/deal"
DURATION_Q = "how long has the strike lasted?"
OWN_WORDS = "The WGA strike ended after 148 days, on 27 September 2023."


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def slack(fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService) -> Iterator[SlackSender]:
    executor = TrackingExecutor()
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    app = build_app(settings_for(fake), bot, admin, client=client, listener_executor=executor)
    server = SlackHTTPServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.clear()
    yield SlackSender(server.port, fake, executor)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    executor.shutdown(wait=True)


@pytest.fixture
def review(bot: StrikeBot, admin: AdminService) -> ReviewService:
    return ReviewService(bot, admin)


@pytest.fixture
def queued(review: ReviewService):
    """The test article added through the core: (article id, its candidates)."""
    root = Actor("UADMIN", "slack", is_admin=True)
    return review.add_article(root, ARTICLE, TITLE, "2023-09-27", url=URL, publisher="Ledger")


# --- helpers ----------------------------------------------------------------------------


def admin_command(slack: SlackSender, text: str, user: str = ADMIN) -> dict[str, Any]:
    """`/strike-admin text`: the ephemeral reply through the response URL."""
    before = len(slack.fake.calls_to(RESPONSE_URL))
    assert slack.slash("/strike-admin", text, user=user).status == 200
    reply = slack.fake.wait_for(RESPONSE_URL, before + 1)[before].params
    assert reply["response_type"] == "ephemeral"
    return reply


def opened_view(fake: FakeSlackAPI, count: int = 1) -> dict[str, Any]:
    """The view of the count-th views.open call."""
    return fake.wait_for("views.open", count)[count - 1].params["view"]


def submit(
    slack: SlackSender, view: dict[str, Any], values: dict[str, str | None], user: str = ADMIN
) -> dict[str, Any]:
    """Submit an opened modal as Slack does (its private_metadata handed back as it was)."""
    payload = view_submission(view["callback_id"], values, user=user)
    payload["view"]["private_metadata"] = view.get("private_metadata", "")
    reply = slack.interactive(payload)
    assert reply.status == 200
    return reply.json() if reply.body else {}


def click(slack: SlackSender, action_id: str, candidate_id: int, user: str = ADMIN) -> None:
    url = slack.fake.response_url("list")
    payload = block_actions(action_id, str(candidate_id), response_url=url, user=user)
    assert slack.interactive(payload).status == 200


def list_updates(fake: FakeSlackAPI) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to(RESPONSE_URL) if c.path == "/response/list"]


def candidate_id(items, words: str) -> int:
    [item] = [i for i in items if words in i.record.sentence]
    return item.id


def state(bot: StrikeBot) -> tuple:
    """Everything the review commands could change."""
    store = bot.store
    return (
        store._read("select * from articles"),
        store._read("select * from candidates"),
        store.facts(),
        store.audit(limit=10_000),
    )


def assert_blocks_ok(msg: dict[str, Any]) -> None:
    assert msg["text"] and 1 <= len(msg["blocks"]) <= kit.BLOCK_LIMIT
    for block in msg["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= kit.SECTION_LIMIT
        if block["type"] == "context":
            assert len(block["elements"]) <= kit.CONTEXT_LIMIT


def dumped(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- /strike-admin article --------------------------------------------------------------


def test_the_article_form_proposes_candidates_and_says_how_many(slack, fake, bot, review):
    admin_reply = slack.slash("/strike-admin", f"article {TITLE}", user=ADMIN)
    assert admin_reply.status == 200
    view = opened_view(fake)
    assert view["callback_id"] == kit.ARTICLE_CALLBACK
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["article_title"]["element"]["initial_value"] == TITLE
    assert blocks["article_published"]["element"]["initial_date"] == "2023-09-12"
    text_box = blocks["article_text"]
    assert text_box["element"]["multiline"] and text_box["element"]["max_length"] == 3000
    assert "3,000 characters" in text_box["hint"]["text"]
    assert blocks["article_url"]["optional"] and blocks["article_text_more"]["optional"]

    # A longer article split over the two boxes, at a paragraph.
    half = ARTICLE.index("Dr. Jane Example")
    values = {
        "article_title": TITLE,
        "article_published": "2023-09-27",
        "article_url": URL,
        "article_publisher": "Riverside Ledger",
        "article_text": ARTICLE[:half],
        "article_text_more": ARTICLE[half:],
    }
    result = submit(slack, view, values)
    pending = review.pending()
    assert len(pending) >= 8
    assert result["response_action"] == "update"
    assert f"{len(pending)} candidate facts" in dumped(result["view"])
    assert any("148 days" in i.record.sentence for i in pending)
    assert {i.record.article_title for i in pending} == {TITLE}
    (post,) = fake.wait_for("chat.postEphemeral")
    assert (post.params["channel"], post.params["user"]) == ("C0001", ADMIN)
    assert f"{len(pending)} candidate facts" in post.params["text"]
    assert "/strike-admin review" in post.params["text"]
    entry = bot.store.audit(limit=1)[0]
    assert (entry["action"], entry["actor"]) == ("article-add", "slack:UADMIN")
    # Nothing reaches answers before it is reviewed.
    assert "148" not in bot.answer(DURATION_Q).text


def test_the_article_reply_falls_back_to_a_dm(slack, fake, review) -> None:
    """Where the bot cannot post an ephemeral message (e.g. a DM between two people), the
    count comes as a direct message from the bot instead."""
    fake._chat_postEphemeral = lambda params: {"ok": False, "error": "channel_not_found"}  # type: ignore[method-assign]
    slack.slash("/strike-admin", "article", user=ADMIN)
    values = {"article_title": TITLE, "article_published": "2023-09-27", "article_text": ARTICLE}
    assert submit(slack, opened_view(fake), values)["response_action"] == "update"
    (dm,) = fake.wait_for("chat.postMessage")
    assert dm.params["channel"] == ADMIN
    assert f"{len(review.pending())} candidate facts" in dm.params["text"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"article_url": "ftp://example.org/x"}, "article_url"),
        ({"article_text": "   "}, "article_text"),
        ({"article_title": " "}, "article_title"),
        ({"article_published": None}, "article_published"),
    ],
)
def test_article_form_errors_stay_on_the_form(slack, fake, bot, changes, field) -> None:
    before = state(bot)
    slack.slash("/strike-admin", "article", user=ADMIN)
    values = {
        "article_title": TITLE,
        "article_published": "2023-09-27",
        "article_url": None,
        "article_publisher": None,
        "article_text": ARTICLE,
        "article_text_more": None,
        **changes,
    }
    result = submit(slack, opened_view(fake), values)
    assert result["response_action"] == "errors"
    assert list(result["errors"]) == [field]
    assert state(bot) == before
    assert fake.calls_to("chat.postEphemeral") == []


# --- /strike-admin review ---------------------------------------------------------------


def test_review_lists_the_candidates_with_buttons(slack, fake, queued) -> None:
    _, items = queued
    msg = admin_command(slack, "review")
    assert_blocks_ok(msg)
    actions = [b for b in msg["blocks"] if b["type"] == "actions"]
    assert len(actions) == len(items) == 10
    for block, item in zip(actions, items, strict=True):
        ids = [e["action_id"] for e in block["elements"]]
        assert ids == [kit.ACTION_REVIEW_ACCEPT, kit.ACTION_REVIEW_EDIT, kit.ACTION_REVIEW_REJECT]
        assert {e["value"] for e in block["elements"]} == {str(item.id)}
    text = dumped(msg["blocks"])
    assert "10 candidate facts waiting for review" in text
    assert "The walkout had lasted 148 days" in text and "`strike.duration`" in text
    assert "more:" not in text


def test_review_shows_at_most_ten_and_escapes_the_article(slack, fake, review, queued):
    root = Actor("UADMIN", "slack", is_admin=True)
    nasty = "<!channel> The studios said on 3 October that <@U123> would get 7% more."
    review.add_article(root, nasty + "\n\n" + ARTICLE, "Second & <b>", "2023-09-28")
    total = len(review.pending())
    assert total > 10
    msg = admin_command(slack, "review")
    assert_blocks_ok(msg)
    assert len([b for b in msg["blocks"] if b["type"] == "actions"]) == 10
    text = dumped(msg)
    assert f"{total} candidate facts" in text and f"And {total - 10} more" in text
    for token in FORBIDDEN:
        assert token not in text


def test_an_empty_queue(slack, fake) -> None:
    assert "The review queue is empty" in admin_command(slack, "review")["text"]


def test_accept_opens_the_prefilled_form_and_makes_a_cited_fact(slack, fake, bot, queued):
    cid = candidate_id(queued[1], "148 days")
    click(slack, kit.ACTION_REVIEW_ACCEPT, cid)
    view = opened_view(fake)
    assert view["callback_id"] == kit.REVIEW_ACCEPT_CALLBACK
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    draft = "The walkout had lasted 148 days, the second longest in the guild's history."
    assert blocks["candidate_text"]["element"]["initial_value"] == draft
    assert blocks["candidate_topic"]["element"]["initial_value"] == "strike.duration"
    assert blocks["candidate_as_of"]["element"]["initial_date"] == "2023-09-27"
    values = {"candidate_text": draft, "candidate_topic": "strike.duration"}
    values["candidate_as_of"] = "2023-09-27"

    refused = submit(slack, view, values)  # the article's own words
    assert refused["response_action"] == "errors"
    assert "own words" in refused["errors"]["candidate_text"]
    assert bot.store._read("select status from candidates where id = ?", [cid]) == [
        {"status": "pending"}
    ]

    done = submit(slack, view, {**values, "candidate_text": OWN_WORDS})
    assert done["response_action"] == "update" and "Fact added" in dumped(done["view"])
    fact = next(f for f in bot.store.facts() if f.text == OWN_WORDS)
    assert (local(fact.topic), fact.as_of) == ("strike.duration", dt.date(2023, 9, 27))
    assert fact.id in dumped(done["view"])
    assert bot.store.audit(limit=1)[0]["actor"] == "slack:UADMIN"

    # The list the button was in is redrawn without the accepted candidate.
    fake.wait_for(RESPONSE_URL, where=lambda c: c.path == "/response/list")
    (update,) = list_updates(fake)
    assert update["replace_original"] is True
    assert f"Accepted candidate #{cid}" in dumped(update["blocks"])
    assert str(cid) not in {
        e["value"] for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]
    }

    # The fact answers the question, with the article as its citation.
    slack.slash("/strike", DURATION_Q)
    answer = fake.wait_for(RESPONSE_URL, where=lambda c: c.path == "/response/r")[-1].params
    blocks_text = dumped(answer["blocks"])
    assert "148 days" in blocks_text and TITLE in blocks_text
    assert f"<{URL}|" in blocks_text


def test_edit_saves_the_rewording_without_publishing(slack, fake, bot, review, queued):
    cid = candidate_id(queued[1], "Jane Example")
    facts_before = bot.store.facts()
    click(slack, kit.ACTION_REVIEW_EDIT, cid)
    view = opened_view(fake)
    assert view["callback_id"] == kit.REVIEW_EDIT_CALLBACK
    values = {
        "candidate_text": "An economist called it the best contract in a generation.",
        "candidate_topic": "reaction.economists",
        "candidate_as_of": "2023-09-27",
    }
    done = submit(slack, view, values)
    assert done["response_action"] == "update" and "Candidate saved" in dumped(done["view"])
    record = review.candidate(cid).record
    assert (record.status, record.text, local(record.topic)) == (
        "pending",
        values["candidate_text"],
        "reaction.economists",
    )
    assert bot.store.facts() == facts_before
    entry = bot.store.audit(limit=1)[0]
    assert (entry["action"], entry["actor"]) == ("candidate-edit", "slack:UADMIN")
    assert "as_of" not in entry["note"]  # only what changed is written
    again = submit(slack, view, values)  # nothing changed this time
    assert again["response_action"] == "errors" and "Nothing to change" in dumped(again)


def test_reject_asks_for_a_reason_and_keeps_it(slack, fake, bot, review, queued) -> None:
    cid = candidate_id(queued[1], "SAG-AFTRA")
    click(slack, kit.ACTION_REVIEW_REJECT, cid)
    view = opened_view(fake)
    assert view["callback_id"] == kit.REVIEW_REJECT_CALLBACK
    empty = submit(slack, view, {"reject_reason": "   "})
    assert empty["response_action"] == "errors" and "reject_reason" in empty["errors"]
    assert review.candidate(cid).record.status == "pending"
    done = submit(slack, view, {"reject_reason": "not news, just colour"})
    assert done["response_action"] == "update"
    record = review.candidate(cid).record
    assert (record.status, record.note) == ("rejected", "not news, just colour")
    entry = bot.store.audit(limit=1)[0]
    assert (entry["action"], entry["actor"]) == ("candidate-reject", "slack:UADMIN")
    assert "not news, just colour" in entry["note"]
    fake.wait_for(RESPONSE_URL, where=lambda c: c.path == "/response/list")

    # The old form submitted again, and a button of the old list: the candidate is closed.
    again = submit(slack, view, {"reject_reason": "twice"})
    assert again["response_action"] == "update" and "was rejected" in dumped(again["view"])
    fake.clear()
    click(slack, kit.ACTION_REVIEW_ACCEPT, cid)
    fake.wait_for(RESPONSE_URL)
    slack.settle()
    assert fake.calls_to("views.open") == []
    assert "was rejected" in dumped(list_updates(fake)[-1]["blocks"])


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["article", "review", "due", "report"])
def test_non_admins_are_refused_the_commands(slack, fake, bot, queued, text: str) -> None:
    before = state(bot)
    msg = admin_command(slack, text, user=MEMBER)
    assert "only strikebot admins" in msg["text"]
    slack.settle()
    assert fake.calls_to("views.open") == []
    assert state(bot) == before


@pytest.mark.parametrize("action_id", kit.REVIEW_ACTIONS)
def test_a_non_admins_click_changes_nothing(slack, fake, bot, queued, action_id) -> None:
    before = state(bot)
    click(slack, action_id, queued[1][0].id, user=MEMBER)
    (reply,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "only strikebot admins" in reply["text"]
    slack.settle()
    assert fake.calls_to("views.open") == []
    assert state(bot) == before


def test_forged_submissions_by_a_non_admin_change_nothing(slack, fake, bot, queued) -> None:
    before = state(bot)
    cid = queued[1][0].id
    metadata = json.dumps({"candidate": cid})
    forms = [
        (
            {"callback_id": kit.ARTICLE_CALLBACK, "private_metadata": "{}"},
            {"article_title": TITLE, "article_published": "2023-09-27", "article_text": ARTICLE},
        ),
        (
            {"callback_id": kit.REVIEW_ACCEPT_CALLBACK, "private_metadata": metadata},
            {"candidate_text": OWN_WORDS, "candidate_topic": "strike.duration"},
        ),
        (
            {"callback_id": kit.REVIEW_EDIT_CALLBACK, "private_metadata": metadata},
            {"candidate_text": OWN_WORDS},
        ),
        (
            {"callback_id": kit.REVIEW_REJECT_CALLBACK, "private_metadata": metadata},
            {"reject_reason": "because I can"},
        ),
    ]
    for view, values in forms:
        result = submit(slack, view, values, user=MEMBER)
        assert result["response_action"] == "update"
        assert "only strikebot admins" in dumped(result["view"])
    slack.settle()
    assert state(bot) == before
    assert fake.calls_to("chat.postEphemeral") == []


# --- /strike-admin due and report -------------------------------------------------------


def test_due_lists_facts_past_their_review_date(slack, fake, admin) -> None:
    assert "No facts are due for review" in admin_command(slack, "due")["text"]
    root = Actor("UADMIN", "slack", is_admin=True)
    fact = admin.add(
        root,
        text="Talks are paused until further notice.",
        topic="talks.state",
        as_of="2023-09-01",
        source_title="Talks paused",
        published="2023-09-01",
        review_by="2023-09-10",
    )
    msg = admin_command(slack, "due")
    assert_blocks_ok(msg)
    text = dumped(msg["blocks"])
    assert fact.id in text and "2 days overdue" in text and "10 Sep 2023" in text


def test_report_groups_what_was_not_answered(slack, fake, bot) -> None:
    for q in [
        "how long did the 2007 strike last",
        "how long was the 2007 strike?",
        "who won the world cup",
        DURATION_Q,
    ]:
        bot.ask(Question(q, platform="slack"))
    log_id = bot.ask(Question(DURATION_Q, platform="slack")).log_id
    assert log_id is not None
    bot.feedback(log_id, helpful=False, platform="slack", user=None)
    msg = admin_command(slack, "report 7")
    assert_blocks_ok(msg)
    text = dumped(msg["blocks"])
    assert "Report for the last 7 days" in text
    assert "×2 “how long did the 2007 strike last” (+1 similar)" in text
    assert "closest fact: `" in text and "1 not helpful" in text
    assert "Facts served most" in text and "`strike-duration-130`" in text
    assert "Answer rate:* 2/5 (40%)" in text
    assert "strikebot report promote" in text
    assert "Report for the last 30 days" in dumped(admin_command(slack, "report")["blocks"])
    assert "e.g. `report 7`" in dumped(admin_command(slack, "report weekly"))


def test_help_lists_the_new_commands(slack, fake) -> None:
    text = dumped(admin_command(slack, "help"))
    for usage in ("article [title]", "review", "due", "report [DAYS]"):
        assert f"/strike-admin {usage}" in text
