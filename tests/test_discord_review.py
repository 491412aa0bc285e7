"""Article intake, the review queue, due facts and the report on Discord: `/strike-admin
article` (pasted in a form or attached as a .txt file), `review` (persistent Accept / edit
and Reject buttons opening forms), `due` and `report`, through the real discord.py client
against the fake Discord, asserted on the recorded requests and on the store."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import discord

from bot.core.admin import Actor, AdminService
from bot.core.models import Fact, Question
from bot.core.report import Asked, Group, Rate, Report
from bot.core.review import ReviewItem, ReviewService, candidate_fact_id
from bot.core.service import StrikeBot
from bot.render import discord_embeds as render
from bot.store.review_queue import CandidateRecord
from tests.conftest import DATA
from tests.fakes.discord_fake import APP_ID, EPHEMERAL, MANAGE_GUILD, FakeDiscord, command_problems
from tests.test_discord_e2e import (
    callback_of,
    connected,
    custom_ids,
    followup_of,
    no_pings,
    refused,
    run,
)
from tests.test_discord_embeds import within_limits

ARTICLE_FILE = DATA / "article_test.txt"
ARTICLE = ARTICLE_FILE.read_text(encoding="utf-8")
TITLE = "Tentative deal ends the writers' strike"
PUBLISHED = "2023-09-27"
URL = "https://example.org/deal"
OWN_WORDS = "The WGA strike ended after 148 days, on 27 September 2023."
DURATION_Q = "how long has the strike lasted?"
ADMIN = {"permissions": MANAGE_GUILD}


def queue(bot: StrikeBot, admin: AdminService) -> ReviewService:
    return ReviewService(bot, admin)


def day_count(bot: StrikeBot, admin: AdminService) -> int:
    [item] = [i for i in queue(bot, admin).pending() if "148 days" in i.record.sentence]
    return item.id


def add_article_directly(bot: StrikeBot, admin: AdminService) -> list[ReviewItem]:
    root = Actor("setup", "test", is_admin=True)
    return queue(bot, admin).add_article(root, ARTICLE, TITLE, PUBLISHED, url=URL)[1]


def snapshot(bot: StrikeBot) -> tuple:
    store = bot.store
    return (
        store._read("select * from articles"),
        store._read("select * from candidates"),
        store.facts(),
        len(store.audit(limit=10_000)),
    )


def review_messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.messages.values()
        if any(c.startswith("strikebot:rv:") for c in custom_ids(m))
    ]


def message_limits(body: dict[str, Any]) -> None:
    """Discord's limits for a message's embeds and buttons."""
    embeds = body.get("embeds") or []
    assert len(embeds) <= render.EMBEDS_MAX
    for e in embeds:
        within_limits(e)
    assert sum(render.embed_length(e) for e in embeds) <= render.TOTAL_MAX
    rows = body.get("components") or []
    assert len(rows) <= 5 and all(len(r["components"]) <= 5 for r in rows)


async def open_review(fake: FakeDiscord) -> tuple[dict[str, Any], dict[str, Any]]:
    """`/strike-admin review` as an admin: (the reply's body, the stored message)."""
    listing = await fake.slash("strike-admin review", **ADMIN)
    assert (await callback_of(fake, listing)).json["type"] == 5
    body = (await followup_of(fake, listing)).json
    assert body["flags"] & EPHEMERAL
    no_pings(body)
    message_limits(body)
    return body, review_messages(fake)[-1]


async def modal_of(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    callback = (await callback_of(fake, interaction)).json
    assert callback["type"] == 9, callback
    return callback["data"]


def prefilled(modal: dict[str, Any]) -> list[str | None]:
    return [row["component"].get("value") for row in modal["components"]]


# --- the command payload ----------------------------------------------------------------


def test_the_synced_commands_include_the_review_commands_and_stay_valid(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            sync = await fake.wait_request("PUT", rf"/applications/{APP_ID}/commands")
            assert command_problems(sync.json) == []
            group = next(c for c in sync.json if c["name"] == "strike-admin")
            assert str(group["default_member_permissions"]) == str(MANAGE_GUILD)
            subs = {o["name"]: o for o in group["options"]}
            assert {"article", "review", "due", "report"} <= set(subs)
            options = {o["name"]: o for o in subs["article"]["options"]}
            assert [o["name"] for o in subs["article"]["options"] if o.get("required")] == [
                "title",
                "published",
            ]
            assert options["file"]["type"] == 11 and not options["file"].get("required")
            assert "4000" in options["file"]["description"]
            days = subs["report"]["options"][0]
            assert (days["name"], days["min_value"], days["max_value"]) == ("days", 1, 365)

    run(scenario())


# --- articles ---------------------------------------------------------------------------


def test_an_article_pasted_in_the_form_proposes_candidates(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            options = {"title": TITLE, "published": PUBLISHED, "url": URL}
            command = await fake.slash("strike-admin article", options, **ADMIN)
            modal = await modal_of(fake, command)
            [row] = modal["components"]
            assert row["component"]["style"] == 2 and row["component"]["max_length"] == 4000
            assert "4000" in row["description"]
            submit = await fake.submit_modal(modal, [ARTICLE], **ADMIN)
            body = (await followup_of(fake, submit)).json
            assert body["flags"] & EPHEMERAL
            no_pings(body)
            pending = queue(bot, admin).pending()
            assert len(pending) >= 8
            reply = body["embeds"][0]
            assert reply["title"].startswith("Article ") and TITLE in reply["title"]
            assert f"**{len(pending)}** candidate" in reply["description"]
            assert "/strike-admin review" in reply["description"]
            assert "strike.duration" in reply["fields"][0]["value"]
            assert {i.record.article_title for i in pending} == {TITLE}
            assert bot.store.audit(limit=1)[0]["actor"].startswith("discord:")
            assert "148" not in bot.answer(DURATION_Q).text  # nothing published yet

    run(scenario())


def test_an_attached_txt_article_is_downloaded_and_proposes_candidates(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            file = fake.attach("deal.txt", ARTICLE_FILE.read_bytes())
            options = {"title": TITLE, "published": PUBLISHED, "file": file}
            command = await fake.slash("strike-admin article", options, **ADMIN)
            assert (await callback_of(fake, command)).json["type"] == 5  # no form
            body = (await followup_of(fake, command)).json
            assert fake.find("GET", rf"/attachments/{file['id']}/deal.txt")
            pending = queue(bot, admin).pending()
            assert len(pending) >= 8
            assert f"**{len(pending)}** candidate" in body["embeds"][0]["description"]
            assert any("148 days" in i.record.sentence for i in pending)

    run(scenario())


def test_wrong_article_input_is_explained_and_changes_nothing(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            before = snapshot(bot)
            bad_date = await fake.slash(
                "strike-admin article", {"title": TITLE, "published": "27/09/2023"}, **ADMIN
            )
            assert "published must be a date" in await refused(fake, bad_date)  # before the form
            pdf = fake.attach("deal.pdf", b"%PDF-1.4", content_type="application/pdf")
            options = {"title": TITLE, "published": PUBLISHED, "file": pdf}
            not_text = await fake.slash("strike-admin article", options, **ADMIN)
            body = (await followup_of(fake, not_text)).json
            assert ".txt" in body["content"] and body["flags"] & EPHEMERAL
            latin1 = fake.attach("deal.txt", "Grève: 148 jours.".encode("latin-1"))
            options = {"title": TITLE, "published": PUBLISHED, "file": latin1}
            undecodable = await fake.slash("strike-admin article", options, **ADMIN)
            assert "UTF-8" in (await followup_of(fake, undecodable)).json["content"]
            empty = fake.attach("empty.txt", b"   \n")
            options = {"title": TITLE, "published": PUBLISHED, "file": empty}
            blank = await fake.slash("strike-admin article", options, **ADMIN)
            assert "no text" in (await followup_of(fake, blank)).json["content"]
            assert snapshot(bot) == before

    run(scenario())


# --- the review queue -------------------------------------------------------------------


def test_review_lists_candidates_with_buttons_and_accept_publishes_in_own_words(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            await asyncio.to_thread(add_article_directly, bot, admin)
            total = len(queue(bot, admin).pending())
            cid = day_count(bot, admin)
            body, listing = await open_review(fake)
            header, *cards = body["embeds"]
            assert f"**{total}** candidate" in header["description"]
            assert f"and {total - 5} more" in header["description"]
            assert len(cards) == 5 and f"Candidate #{cid}" in [c["title"] for c in cards]
            assert f"strikebot:rv:accept:{cid}" in custom_ids(body)
            assert f"strikebot:rv:reject:{cid}" in custom_ids(body)
            assert len(body["components"]) == 5

            click = await fake.click(listing, f"strikebot:rv:accept:{cid}", **ADMIN)
            modal = await modal_of(fake, click)
            sentence = queue(bot, admin).candidate(cid).record.sentence
            assert prefilled(modal) == [sentence, "strike.duration", PUBLISHED]

            draft = await fake.submit_modal(
                modal, [sentence, "strike.duration", ""], **ADMIN, message=listing
            )
            assert (await callback_of(fake, draft)).json["type"] == 6  # in place
            refusal = (await followup_of(fake, draft)).json
            assert "own words" in refusal["content"] and refusal["flags"] & EPHEMERAL
            retry_message = next(
                m for m in fake.messages.values() if custom_ids(m) and "own words" in m["content"]
            )
            retry = await fake.click(retry_message, custom_ids(retry_message)[0], **ADMIN)
            assert prefilled(await modal_of(fake, retry))[0] == sentence
            assert queue(bot, admin).candidate(cid).record.status == "pending"

            mark = len(fake.requests)  # a submitted form is closed: open it again
            click = await fake.click(listing, f"strikebot:rv:accept:{cid}", **ADMIN)
            accept = await fake.submit_modal(
                await modal_of(fake, click),
                [OWN_WORDS, "strike.duration", ""],
                **ADMIN,
                message=listing,
            )
            result = (await followup_of(fake, accept, after=mark)).json
            fact_id = candidate_fact_id("strike.duration", cid)
            assert result["embeds"][0]["title"] == f"Accepted candidate #{cid} as: {fact_id}"
            edit = await fake.wait_request(
                "PATCH", rf"/webhooks/{APP_ID}/{accept['token']}/messages/@original", after=mark
            )
            assert f"strikebot:rv:accept:{cid}" not in custom_ids(edit.json)  # left the list
            assert f"**{total - 1}** candidate" in edit.json["embeds"][0]["description"]
            fact = bot.store.fact(fact_id)
            assert (fact.text, fact.as_of) == (OWN_WORDS, dt.date(2023, 9, 27))
            assert bot.store.audit(limit=1)[0]["actor"].startswith("discord:")

            ask = await fake.slash("strike ask", {"question": DURATION_Q})
            answer = (await followup_of(fake, ask)).json["embeds"][0]
            assert "148 days" in answer["description"]
            assert answer["fields"][0]["name"] == TITLE
            assert URL in answer["fields"][0]["value"]

            again = await fake.click(listing, f"strikebot:rv:accept:{cid}", **ADMIN)
            assert "already accepted" in await refused(fake, again)

    run(scenario())


def test_reject_records_the_reason(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            await asyncio.to_thread(add_article_directly, bot, admin)
            body, listing = await open_review(fake)
            cid = int(custom_ids(body)[1].split(":")[3])
            assert custom_ids(body)[1] == f"strikebot:rv:reject:{cid}"
            modal = await modal_of(fake, await fake.click(listing, custom_ids(body)[1], **ADMIN))
            assert (
                len(modal["components"]) == 1
                and modal["components"][0]["component"]["max_length"] == 500
            )
            submit = await fake.submit_modal(
                modal, ["duplicates the curated figure"], **ADMIN, message=listing
            )
            reply = (await followup_of(fake, submit)).json
            assert reply["content"] == f"Rejected candidate #{cid}: duplicates the curated figure"
            record = queue(bot, admin).candidate(cid).record
            assert (record.status, record.note) == ("rejected", "duplicates the curated figure")
            entry = bot.store.audit(limit=1)[0]
            assert entry["action"] == "candidate-reject" and entry["platform"] == "discord"
            stale = await fake.click(listing, f"strikebot:rv:accept:{cid}", **ADMIN)
            assert "rejected (duplicates the curated figure)" in await refused(fake, stale)

    run(scenario())


def test_a_member_without_permission_changes_nothing(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            await asyncio.to_thread(add_article_directly, bot, admin)
            cid = day_count(bot, admin)
            _body, listing = await open_review(fake)
            accept_form = await modal_of(
                fake, await fake.click(listing, f"strikebot:rv:accept:{cid}", **ADMIN)
            )
            reject_form = await modal_of(
                fake, await fake.click(listing, f"strikebot:rv:reject:{cid}", **ADMIN)
            )
            article_form = await modal_of(
                fake,
                await fake.slash(
                    "strike-admin article", {"title": "t", "published": PUBLISHED}, **ADMIN
                ),
            )
            before = snapshot(bot)
            mark = len(fake.requests)
            for action in ("accept", "reject"):
                click = await fake.click(listing, f"strikebot:rv:{action}:{cid}", permissions=0)
                assert "Manage Server" in await refused(fake, click)  # no form opens
            submits = [
                await fake.submit_modal(
                    accept_form, [OWN_WORDS, "strike.duration", ""], message=listing
                ),
                await fake.submit_modal(reject_form, ["no"], message=listing),
                await fake.submit_modal(article_form, [ARTICLE]),
            ]
            for submit in submits:
                assert "Manage Server" in await refused(fake, submit)
            for command, options in [
                ("strike-admin article", {"title": TITLE, "published": PUBLISHED}),
                ("strike-admin review", {}),
                ("strike-admin due", {}),
                ("strike-admin report", {}),
            ]:
                assert "Manage Server" in await refused(fake, await fake.slash(command, options))
            assert snapshot(bot) == before
            assert not fake.find("POST", rf"/webhooks/{APP_ID}/.*", after=mark)
            assert not fake.find("PATCH", rf"/webhooks/{APP_ID}/.*", after=mark)

    run(scenario())


# --- due facts and the report -----------------------------------------------------------


def test_due_lists_facts_past_their_review_date(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            none_due = await fake.slash("strike-admin due", **ADMIN)
            body = (await followup_of(fake, none_due)).json
            assert (
                "No fact is past its review date (12 Sep 2023)" in body["embeds"][0]["description"]
            )
            fact = await asyncio.to_thread(
                admin.add,
                Actor("setup", "test", is_admin=True),
                text="Talks are set to resume on 20 September.",
                topic="talks.state",
                as_of="2023-09-01",
                source_title="Talks update",
                published="2023-09-01",
                review_by="2023-09-05",
            )
            due = await fake.slash("strike-admin due", **ADMIN)
            body = (await followup_of(fake, due)).json
            assert body["flags"] & EPHEMERAL
            embed = body["embeds"][0]
            within_limits(embed)
            assert embed["title"] == "Facts due for review (1)"
            assert f"`{fact.id}`" in embed["description"]
            assert "review by 5 Sep 2023, 7 day(s) overdue" in embed["description"]

    run(scenario())


def test_report_groups_what_was_not_answered(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            for text in ["who won the world cup", "who won the world cup?", DURATION_Q]:
                await asyncio.to_thread(bot.ask, Question(text, platform="discord"))
            report = await fake.slash("strike-admin report", {"days": 7}, **ADMIN)
            body = (await followup_of(fake, report)).json
            assert body["flags"] & EPHEMERAL
            no_pings(body)
            embed = body["embeds"][0]
            within_limits(embed)
            assert "Last 7 day(s)" in embed["description"]
            assert "Answered **1** of **3** question(s) (33%)" in embed["description"]
            first = embed["fields"][0]
            assert first["name"].startswith("1. ×2: who won the world cup")
            assert "unanswered ×2" in first["value"]
            names = [f["name"] for f in embed["fields"]]
            assert "Top facts served" in names and "Answer rate per day" in names

    run(scenario())


# --- limits, without a network ----------------------------------------------------------


def record(n: int, text: str, sentence: str, title: str = TITLE) -> ReviewItem:
    return ReviewItem(
        CandidateRecord(
            id=n,
            article_id=1,
            sentence=sentence,
            text=text,
            topic="offer.pay." + "x" * 60,
            as_of=dt.date(2023, 9, 27),
            status="pending",
            article_title=title,
        ),
        new_topic=True,
    )


def test_the_review_message_stays_within_discords_limits() -> None:
    long = "The studios offered @everyone a raise of 5% " * 60  # ~2600 characters
    items = [record(n, long[:2000] + str(n), long[:1990], "T" * 300) for n in range(1, 8)]
    embeds = render.review_embeds(items[:5], 7)
    assert len(embeds) == 6 and "and 2 more" in embeds[0]["description"]
    message_limits({"embeds": embeds})
    assert all("@everyone" not in e.get("description", "") for e in embeds)
    for e in embeds:
        assert discord.Embed.from_dict(e).to_dict()
    empty = render.review_embeds([], 0)
    assert "/strike-admin article" in empty[0]["description"]


def test_the_report_and_due_embeds_stay_within_discords_limits() -> None:
    question = "what did the studios say about residuals and AI and @here " * 16
    groups = [
        Group(
            n,
            tuple(Asked(f"{question} {n}.{k}", unanswered=3) for k in range(8)),
            closest_fact="offer-pay",
            closest_text="x" * 2000,
            closest_score=0.5,
        )
        for n in range(1, 15)
    ]
    now = dt.datetime(2023, 9, 12, tzinfo=dt.UTC)
    rates = [Rate(f"2023-08-{d:02d}", 10, 7) for d in range(1, 31)]
    top = [(f"fact-{n}-" + "y" * 60, 100 - n, "t") for n in range(10)]
    rep = Report(now - dt.timedelta(days=30), now, "day", groups, top, rates)
    embed = render.report_embed(rep, 30)
    within_limits(embed)
    names = [f["name"] for f in embed["fields"]]
    assert names[-2:] == ["Top facts served", "Answer rate per day"]
    assert "More groups" in names and "@here" not in str(embed)
    facts = [
        (
            Fact(
                f"f{n}",
                "z" * 2000,
                "talks.state",
                dt.date(2023, 9, 1),
                "s",
                review_by=dt.date(2023, 9, 2),
            ),
            10,
        )
        for n in range(40)
    ]
    within_limits(render.due_embed(facts, dt.date(2023, 9, 12)))
