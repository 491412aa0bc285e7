"""Property-based tests of every renderer (hypothesis): answers, lists, admin replies, the
review queue, the report and status updates, built from arbitrary text in every field a user
or an admin can fill (questions, fact texts, topic labels, source titles and publishers,
suggestions, reasons), many statements / citations / suggestions and texts up to 100 KB.

For each: nothing raises; nothing shown can ping or mention anyone (tests/strategies.py says
precisely what that means per platform); Slack's mrkdwn has `&`, `<`, `>` escaped; Discord
Markdown in what someone typed is shown as typed; and the output is within the platforms'
limits. A failure prints the falsifying example and a @reproduce_failure blob."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import discord
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.adapters.discord import FeedbackButton, ReviewButton
from bot.core.models import Answer, Citation, Fact, Source, Statement
from bot.core.report import Asked, Group, Rate, Report
from bot.core.review import ReviewItem
from bot.core.updates import Snapshot, StatusUpdate
from bot.render import discord_embeds as embeds
from bot.render import slack_blocks as kit
from bot.render.status_updates import discord_update_embed, slack_update_message
from bot.render.text import render_plain
from bot.store.review_queue import CandidateRecord
from tests.strategies import (
    BROADCAST,
    SLACK_BAD_AMP,
    any_texts,
    discord_limit_problems,
    discord_ping_problems,
    discord_problems,
    discord_unescape,
    discord_unescaped_markup,
    examples,
    huge_texts,
    slack_limit_problems,
    slack_problems,
    texts,
    urls,
)

# --- core objects with arbitrary text -------------------------------------------------------

dates = st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))
# Ids and topics are checked on the way in (admin commands, knowledge files): ID_RE, TOPIC_RE.
fact_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,79}", fullmatch=True)
topic_ids = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,79}", fullmatch=True)
# A field someone typed: mostly short, sometimes very long.
typed = st.one_of(texts(), texts(40), huge_texts(500, 100_000))
short_typed = texts(10)


@st.composite
def facts(draw: st.DrawFn, text: st.SearchStrategy[str] = typed) -> Fact:
    return Fact(
        id=draw(fact_ids),
        text=draw(text),
        topic=draw(topic_ids),
        as_of=draw(dates),
        source=draw(fact_ids),
        questions=tuple(draw(st.lists(short_typed, max_size=3))),
        review_by=draw(st.none() | dates),
    )


citations = st.builds(
    Citation,
    source_id=fact_ids,
    title=typed,
    published=dates,
    url=st.none() | urls(),
    publisher=st.none() | typed,
)
sources = st.builds(
    Source,
    id=fact_ids,
    title=typed,
    published=dates,
    url=st.none() | urls(),
    publisher=st.none() | typed,
)


@st.composite
def statements(draw: st.DrawFn, text: st.SearchStrategy[str] = typed) -> Statement:
    return Statement(
        fact=draw(facts(text)),
        label=draw(st.one_of(short_typed, typed)),
        history=draw(st.none() | facts(text)),
    )


def _many(strategy: st.SearchStrategy, many: int) -> st.SearchStrategy[list]:
    """A few of something with any text, or many of it with short text."""
    return st.one_of(st.lists(strategy, max_size=3), st.lists(strategy, max_size=many))


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    """An answer of any kind, its every text typed by someone: the question (user), facts,
    labels, sources and suggestions (admins)."""
    kind = draw(st.sampled_from(["answer", "status", "refusal", "invalid"]))
    answered = kind in ("answer", "status")
    huge = draw(st.booleans())
    text = typed if huge else short_typed
    count = 3 if huge else 60
    answer = Answer(
        answered=answered,
        text="",
        question=draw(typed),
        confidence=draw(st.floats(0, 1)),
        suggestions=draw(st.lists(draw(st.sampled_from([short_typed, typed])), max_size=20)),
        kind=kind,
        log_id=draw(st.none() | st.integers(1, 10**18 - 1)),
    )
    if answered:
        # Which dispute (a pack's name, typed by admins) and how a follow-up was read.
        answer.dispute = draw(st.none() | short_typed | typed)
        answer.understood = draw(st.none() | short_typed | typed)
        answer.statements = draw(st.lists(statements(text), min_size=1, max_size=count))
        answer.citations = draw(st.lists(citations, min_size=1, max_size=count))
        answer.as_of = max(s.fact.as_of for s in answer.statements)
        answer.stale_warning = draw(st.none() | st.just("My latest source is old.") | text)
    if kind == "invalid":
        # The reason check_question gave: never blank (test_properties_core checks it).
        answer.text = draw(st.one_of(st.just("Please type a question."), typed))
        assume(answer.text.strip())
    else:
        answer.text = render_plain(answer)
    return answer


# --- text safety: the escaping functions themselves -----------------------------------------


def slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@examples(500)
@given(text=any_texts())
def test_slack_escape_is_safe_and_loses_nothing(text: str) -> None:
    out = kit.escape(text)
    assert "<" not in out and ">" not in out
    assert not SLACK_BAD_AMP.search(out)
    assert not BROADCAST.search(out)
    # Reading it back gives what was typed, with a word joiner breaking each broadcast word.
    expected = re.sub(r"(?i)@(here|channel|everyone)", "@\u2060\\1", text)
    assert slack_unescape(out) == expected


@examples(400)
@given(text=any_texts(), limit=st.integers(2, 4000))
def test_slack_truncate_fits_and_never_cuts_an_escape(text: str, limit: int) -> None:
    out = kit.truncate(kit.escape(text), limit)
    assert len(out) <= limit
    assert not SLACK_BAD_AMP.search(out)
    if len(kit.escape(text)) <= limit:
        assert out == kit.escape(text)
    else:
        assert out.endswith("…") and kit.escape(text).startswith(out[:-1])


@examples(500)
@given(text=any_texts())
def test_discord_escape_shows_the_text_as_typed(text: str) -> None:
    out = embeds.escape(text)
    assert not discord_unescaped_markup(out), discord_unescaped_markup(out)[:3]
    assert not discord_ping_problems(out)
    assert not discord_ping_problems(embeds.neutralise(text))
    # What Discord shows is what was typed (plus a zero-width space breaking each mention).
    assert discord_unescape(out) == embeds.neutralise(text)
    assert embeds.neutralise(text).replace("\u200b", "") == text.replace("\u200b", "")


@examples(400)
@given(text=any_texts(), limit=st.integers(1, 5000))
def test_discord_truncate_fits_and_never_leaves_a_dangling_escape(text: str, limit: int) -> None:
    escaped = embeds.escape(text)
    out = embeds.truncate(escaped, limit)
    assert len(out) <= limit
    assert not discord_unescaped_markup(out.removesuffix(embeds.ELLIPSIS))
    content = embeds.plain_message(text)
    assert len(content) <= embeds.MESSAGE_MAX and not discord_ping_problems(content)


# --- answers --------------------------------------------------------------------------------


def shown_whole(answer: Answer) -> list[str]:
    """The fact texts of an answer short enough that no renderer cuts any of it."""
    parts = [answer.question, *answer.suggestions, answer.stale_warning or ""]
    for st_ in answer.statements:
        parts += [st_.fact.text, st_.label, st_.history.text if st_.history else ""]
    parts += [c.title + (c.publisher or "") + (c.url or "") for c in answer.citations]
    if len(answer.statements) > 3 or sum(len(p) for p in parts) > 1000:
        return []
    return [st_.fact.text for st_ in answer.statements if "\n" not in st_.fact.text]


def check_slack(body: dict[str, Any], *, modal: bool = False) -> None:
    problems = slack_problems(body) + slack_limit_problems(body, modal=modal)
    assert not problems, problems[:5]


def check_discord(items: dict[str, Any] | list[dict[str, Any]]) -> None:
    problems = discord_problems(items) + discord_limit_problems(items)
    assert not problems, problems[:5]
    for item in items if isinstance(items, list) else [items]:
        assert discord.Embed.from_dict(item).to_dict()  # discord.py takes it


@examples(150)
@given(answer=answers(), asked=st.none() | typed, feedback=st.booleans())
def test_slack_answers_cannot_ping_and_fit(
    answer: Answer, asked: str | None, feedback: bool
) -> None:
    body = kit.answer_message(answer, asked=asked, feedback=feedback)
    check_slack(body)
    dumped = json.dumps(body, ensure_ascii=False)
    if answer.answered:
        for text in shown_whole(answer):
            assert json.dumps(kit.escape(text), ensure_ascii=False)[1:-1] in dumped
    if feedback and answer.answered and answer.log_id is not None:
        assert body["blocks"][-1]["block_id"] == kit.FEEDBACK_BLOCK_ID
    thanked = {**body, "blocks": kit.feedback_thanks(body["blocks"], helpful=True)}
    check_slack(thanked)


@examples(150)
@given(answer=answers())
def test_discord_answers_cannot_ping_and_fit(answer: Answer) -> None:
    embed = embeds.answer_embed(answer)
    check_discord(embed)
    if answer.answered:
        for text in shown_whole(answer):
            assert embeds.escape(text) in embed["description"]


@examples(100)
@given(log_id=st.integers(1, 10**18 - 1), helpful=st.booleans())
def test_discord_buttons_fit(log_id: int, helpful: bool) -> None:
    """Button labels at most 80 characters, custom ids at most 100 (log ids are SQLite
    rowids: 18 digits cover 10^18 logged questions)."""
    for item in (
        FeedbackButton(log_id, helpful).item,
        ReviewButton("accept" if helpful else "reject", log_id).item,
    ):
        assert 1 <= len(item.label) <= 80 and 1 <= len(item.custom_id) <= 100


@examples(50)
@given(answer=answers())
def test_plain_text_rendering_never_raises(answer: Answer) -> None:
    text = render_plain(answer, reason=answer.text if answer.kind == "invalid" else None)
    assert text.strip()


# --- status updates -------------------------------------------------------------------------


snapshots = st.builds(Snapshot, text=typed, as_of=dates)
updates = st.builds(
    StatusUpdate,
    id=st.integers(1, 10**9),
    fact_id=fact_ids,
    topic=topic_ids,
    label=st.one_of(short_typed, typed),
    after=snapshots,
    before=st.none() | snapshots,
    source=st.none() | citations,
    message=typed,
)


@examples(200)
@given(update=updates)
def test_status_updates_cannot_ping_and_fit(update: StatusUpdate) -> None:
    check_slack(slack_update_message(update))
    check_discord(discord_update_embed(update))


# --- lists, admin replies, the review queue, the report ------------------------------------


@examples(100)
@given(labels=_many(typed, 200), srcs=_many(sources, 80))
def test_topics_and_sources_cannot_ping_and_fit(labels: list[str], srcs: list[Source]) -> None:
    check_slack(kit.topics_message(labels))
    check_discord(embeds.topics_embed(labels))
    check_slack(kit.sources_message(srcs))
    check_discord(embeds.sources_embed(srcs))


entries = st.fixed_dictionaries(
    {
        "at": st.just("2023-09-11 10:00:00"),
        "actor": st.one_of(short_typed, typed),
        "action": st.sampled_from(["add", "edit", "retract", "restore"]),
        "fact_id": fact_ids,
        "note": st.none() | typed,
    }
)
unanswered_rows = st.fixed_dictionaries(
    {
        "question": typed,
        "times": st.integers(1, 10**6),
        "last_asked": st.just("2023-09-11 10:00:00"),
    }
)


@examples(100)
@given(
    fact=facts(),
    audit=_many(entries, 60),
    rows=_many(unanswered_rows, 60),
    problem=st.none() | typed,
    today=dates,
)
def test_admin_replies_cannot_ping_and_fit(
    fact: Fact,
    audit: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    problem: str | None,
    today: dt.date,
) -> None:
    check_slack(kit.fact_message("Added", fact))
    check_slack(kit.fact_added_view(fact), modal=True)
    check_slack(kit.add_fact_modal(today=today, text=fact.text, topics=[fact.topic]), modal=True)
    check_slack(kit.audit_message(audit))
    check_slack(kit.unanswered_message(rows))
    check_slack(kit.help_message(problem))
    check_slack(kit.admin_help_message(problem))
    check_slack(kit.notice(problem or "x"))
    check_slack(kit.modal_notice("Not done", problem or "x"), modal=True)
    check_slack(kit.due_message([fact] * 3, today))
    check_discord(embeds.fact_embed(fact, "Added"))
    check_discord(embeds.audit_embed(audit))
    check_discord(embeds.unanswered_embed(rows))
    check_discord(embeds.notice_embed(problem or "x", error=True))
    check_discord(embeds.due_embed([(fact, 3)] * 3, today))


@st.composite
def review_items(draw: st.DrawFn) -> ReviewItem:
    sentence = draw(typed)
    record = CandidateRecord(
        id=draw(st.integers(1, 10**9)),
        article_id=draw(st.integers(1, 10**9)),
        sentence=sentence,
        text=draw(st.just(sentence) | typed),
        topic=draw(topic_ids),
        as_of=draw(st.none() | dates),
        status="pending",
        note=draw(st.none() | typed),
        article_title=draw(typed),
    )
    return ReviewItem(record, new_topic=draw(st.booleans()))


@examples(60)
@given(items=_many(review_items(), 30), title=typed, today=dates)
def test_review_queue_and_articles_cannot_ping_and_fit(
    items: list[ReviewItem], title: str, today: dt.date
) -> None:
    check_slack(kit.review_message(items[: kit.REVIEW_SHOWN], len(items), note=title))
    check_slack(kit.article_added_message(title, len(items)))
    check_slack(kit.article_added_view(title, len(items)), modal=True)
    check_slack(kit.article_modal(today=today, title=title, metadata=title), modal=True)
    check_discord(embeds.review_embeds(items[: embeds.REVIEW_SHOWN], len(items)))
    check_discord(embeds.article_embed(1, title, items))
    for item in items[:3]:
        for accept in (True, False):
            check_slack(
                kit.candidate_modal(item, accept=accept, today=today, metadata=""), modal=True
            )
        check_slack(kit.reject_modal(item, metadata=""), modal=True)
        check_slack(kit.edited_view(item), modal=True)
        check_slack(kit.rejected_view(item), modal=True)


@st.composite
def reports(draw: st.DrawFn) -> Report:
    asked = st.builds(
        Asked, text=typed, unanswered=st.integers(0, 50), not_helpful=st.integers(0, 50)
    )
    groups = [
        Group(
            number=n,
            questions=tuple(draw(st.lists(asked, min_size=1, max_size=6))),
            closest_fact=draw(st.none() | fact_ids),
            closest_text=draw(st.none() | typed),
            closest_score=draw(st.floats(0, 1)),
            answered_now=draw(st.booleans()),
        )
        for n in range(1, draw(st.integers(0, 25)) + 1)
    ]
    since = dt.datetime(2023, 9, 1, tzinfo=dt.UTC)
    return Report(
        since=since,
        until=since + dt.timedelta(days=draw(st.integers(1, 366))),
        per=draw(st.sampled_from(["day", "week"])),
        groups=groups,
        top_facts=draw(st.lists(st.tuples(fact_ids, st.integers(1, 10**6), typed), max_size=12)),
        rates=draw(
            st.lists(
                st.builds(
                    Rate,
                    period=st.just("2023-09-11"),
                    asked=st.integers(0, 10**6),
                    answered=st.just(0),
                ),
                max_size=40,
            )
        ),
    )


@examples(40)
@given(report=reports(), days=st.integers(1, 366))
def test_reports_cannot_ping_and_fit(report: Report, days: int) -> None:
    check_slack(kit.report_message(report))
    check_discord(embeds.report_embed(report, days))


# --- the checkers catch what they look for (else every property above would pass vacuously) --


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


SLACK_UNSAFE = {
    "here": "<!here>",
    "channel": "hi <!channel|channel>",
    "subteam": "<!subteam^S123>",
    "user": "<@U123>",
    "channel-link": "<#C123|x>",
    "raw-amp": "AT&T",
    "cut-entity": "a &am…",
    "cut-link": "<https://x.org/a|Tit…",
    "bare-broadcast": "@everyone",
    "bare-broadcast-case": "@Here now",
}


def test_slack_checker_flags_pings_and_broken_escapes() -> None:
    for name, text in SLACK_UNSAFE.items():
        assert slack_problems({"text": "x", "blocks": [_section(text)]}), name
        assert slack_problems({"text": text, "blocks": []}), name
    not_verbatim = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}]}
    assert slack_problems({"blocks": [not_verbatim]})
    assert slack_problems({"blocks": [_section("<https://x.org|@channel>")]})
    # A well-formed http(s) link is allowed: user text cannot make one, as `<` is escaped.
    assert not slack_problems(
        {"text": "a &amp; b", "blocks": [_section("<https://x.org|“T”> &lt;")]}
    )


def test_slack_limit_checker_flags_each_limit() -> None:
    assert slack_limit_problems({"blocks": [_section("x")] * 51})
    assert slack_limit_problems({"blocks": [_section("x" * 3001)]})
    assert slack_limit_problems({"blocks": [_section("")]})
    assert slack_limit_problems({"text": "x" * 40_001, "blocks": []})
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}
    assert slack_limit_problems({"blocks": [context]})
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert slack_limit_problems({"blocks": [header]})
    button = {"type": "button", "action_id": "a", "value": "v", "text": {"text": "x" * 76}}
    assert slack_limit_problems({"blocks": [{"type": "actions", "elements": [button]}]})
    assert slack_limit_problems({"title": {"text": "x" * 25}, "blocks": []}, modal=True)
    assert not slack_limit_problems(kit.answer_message(Answer(False, "no", kind="refusal")))


def test_discord_checkers_flag_pings_markup_and_limits() -> None:
    for text in ("@everyone", "hi @here", "<@123>", "<@!1>", "<@&123456789012345678>", "<#1>"):
        assert discord_problems({"description": text}), text
        assert discord_problems({"fields": [{"name": "x", "value": text}]}), text
    assert discord_problems({"fields": [{"name": "S", "value": "[Read the source](http://a b)"}]})
    assert not discord_problems({"description": "[Read the source](https://x.org/@everyone)"})
    assert not discord_problems({"title": "@\u200beveryone <@\u200b123>"})
    for text in ("*a*", "a_b", "`x`", "<t:0:R>", "[x](http://e)", "# h", "x\n- y", "1. x", "\\"):
        assert discord_unescaped_markup(text), text
    assert not discord_unescaped_markup("\\*a\\* \\# \\- 1\\. \\<t:0:R\\> \\\\")
    assert discord_limit_problems({"title": "x" * 257})
    assert discord_limit_problems({"description": "x" * 4097})
    assert discord_limit_problems({"fields": [{"name": "n", "value": "v"}] * 26})
    assert discord_limit_problems({"fields": [{"name": " ", "value": "v"}]})
    assert discord_limit_problems({"fields": [{"name": "n", "value": "v" * 1025}]})
    assert discord_limit_problems({"footer": {"text": "x" * 2049}})
    assert discord_limit_problems([{"description": "x" * 3001}, {"description": "x" * 3000}])
    assert discord_limit_problems([{"title": "x"}] * 11)
