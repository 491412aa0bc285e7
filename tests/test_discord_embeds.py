"""Discord embeds: answers, sources and lists laid out within Discord's limits, with nothing
that can ping."""

from __future__ import annotations

import datetime as dt

import discord
import pytest

from bot.core.models import Answer, Citation, Fact, Source, Statement
from bot.render import discord_embeds as r

DAY = dt.date(2023, 9, 11)


def fact(n: int, text: str = "The strike had gone on for roughly 130 days.") -> Fact:
    return Fact(f"f{n}", text, "strike.duration", DAY, "src")


def citation(n: int, *, url: str | None = "https://example.org/a", title: str = "") -> Citation:
    return Citation(f"s{n}", title or f"Source number {n}", DAY, url, "Variety")


def answer(statements: int = 1, citations: int = 1, text: str | None = None, **kw) -> Answer:
    return Answer(
        answered=True,
        text="plain",
        question=kw.pop("question", "how long has the strike lasted?"),
        statements=[
            Statement(fact(i, text or f"Fact {i} about the strike."), f"Label {i}")
            for i in range(statements)
        ],
        citations=[citation(i) for i in range(citations)],
        as_of=DAY,
        **kw,
    )


def within_limits(embed: dict) -> None:
    assert len(embed.get("title", "")) <= r.TITLE_MAX
    assert len(embed.get("description", "")) <= r.DESCRIPTION_MAX
    assert len(embed.get("fields", [])) <= r.FIELDS_MAX
    for f in embed.get("fields", []):
        assert 1 <= len(f["name"]) <= r.FIELD_NAME_MAX
        assert 1 <= len(f["value"]) <= r.FIELD_VALUE_MAX
    assert len(embed.get("footer", {}).get("text", "")) <= r.FOOTER_MAX
    assert r.embed_length(embed) <= r.TOTAL_MAX
    assert discord.Embed.from_dict(embed).to_dict()  # discord.py accepts it


def test_an_answer_has_text_citations_as_fields_and_as_of_in_the_footer():
    embed = r.answer_embed(answer())
    assert embed["title"] == "How long has the strike lasted?"
    assert embed["description"].startswith("Fact 0 about the strike. *(as of 11 Sep 2023)*")
    assert embed["fields"] == [
        {
            "name": "Source number 0",
            "value": "11 Sep 2023 · Variety\n[Read the source](https://example.org/a)",
            "inline": False,
        }
    ]
    assert embed["footer"] == {"text": "As of 11 Sep 2023"}
    assert embed["color"] == r.COLOUR_ANSWER
    within_limits(embed)


def test_a_stale_answer_warns_in_the_footer_and_changes_colour():
    embed = r.answer_embed(answer(stale_warning="My latest source is old."))
    assert embed["footer"]["text"] == "As of 11 Sep 2023 · ⚠ My latest source is old."
    assert embed["color"] == r.COLOUR_STALE


def test_several_statements_are_labelled_and_history_is_quoted():
    a = answer(statements=2)
    a.statements[0] = Statement(fact(0, "Now 130 days."), "Duration", history=fact(9, "Was 100."))
    a.kind = "status"
    embed = r.answer_embed(a)
    assert embed["title"] == "Latest picture of the strike"
    assert embed["description"].startswith("**Duration**\nNow 130 days.")
    assert "\n> Earlier: Was 100. *(as of 11 Sep 2023)*" in embed["description"]
    assert "**Label 1**" in embed["description"]


def test_a_refusal_suggests_questions_and_points_to_topics():
    a = Answer(
        answered=False,
        text="",
        question="weather on mars?",
        suggestions=["How long has it lasted?"],
        kind="refusal",
    )
    embed = r.answer_embed(a)
    assert "won't guess" in embed["description"]
    assert "• How long has it lasted?" in embed["description"]
    assert "/strike topics" in embed["description"]
    assert "fields" not in embed and embed["color"] == r.COLOUR_REFUSAL


def test_an_invalid_question_shows_the_reason():
    a = Answer(answered=False, text="Please type a question about the strike.", kind="invalid")
    embed = r.answer_embed(a)
    assert embed["description"] == "Please type a question about the strike."


def test_nothing_shown_can_ping_or_render_as_a_mention():
    a = answer(question="@everyone <@123456789012345678> <@&123456789012345678> @here hi")
    a.statements[0] = Statement(fact(0, "Ask <@!123456789012345678> or @here"), "L")
    embed = r.answer_embed(a)
    shown = embed["title"] + embed["description"]
    for raw in (
        "@everyone",
        "@here",
        "<@123456789012345678>",
        "<@&123456789012345678>",
        "<@!123456789012345678>",
    ):
        assert raw not in shown
    assert "@\u200beveryone" in embed["title"]
    assert r.plain_message("hi @everyone") == "hi @\u200beveryone"


def test_markdown_in_facts_and_titles_is_shown_literally():
    a = answer(text="Pay rises *5%* in year_one")
    a.citations = [citation(0, title="[Click](https://evil.example)", url=None)]
    embed = r.answer_embed(a)
    assert "\\*5%\\* in year\\_one" in embed["description"]
    assert embed["fields"][0]["name"] == "\\[Click\\](https://evil.example)"
    assert embed["fields"][0]["value"] == "11 Sep 2023 · Variety"


@pytest.mark.parametrize("statements,citations,length", [
    (1, 1, 20_000),   # one huge fact: description cut
    (40, 1, 300),     # many statements
    (1, 60, 50),      # more sources than fields
    (30, 30, 900),    # everything at once: the 6000 total binds
])  # fmt: skip
def test_every_answer_fits_discords_limits(statements, citations, length):
    a = answer(statements=statements, citations=citations, text="word " * (length // 5))
    a.citations = [citation(i, title="T" * 300) for i in range(citations)]
    embed = r.answer_embed(a)
    within_limits(embed)
    if citations > r.FIELDS_MAX or r.embed_length(embed) > 5000:
        text = embed["description"] + " ".join(f["value"] for f in embed.get("fields", []))
        assert "/strike sources" in text


def test_the_description_keeps_priority_over_citations_up_to_a_point():
    a = answer(statements=1, citations=25, text="x " * 3000)
    a.citations = [citation(i, title="T" * 250) for i in range(25)]
    embed = r.answer_embed(a)
    within_limits(embed)
    assert len(embed["description"]) >= r.DESCRIPTION_KEPT
    assert embed["fields"][-1]["name"] == "More"
    assert embed["fields"][-1]["value"].startswith("…and ")


def test_truncate_cuts_on_a_word_and_never_leaves_a_dangling_escape():
    assert r.truncate("short", 10) == "short"
    assert r.truncate("alpha " * 20, 50) == "alpha " * 7 + "alpha…"
    assert not r.truncate("abcdefgh\\*", 10).endswith("\\…")
    assert len(r.truncate("x" * 50, 10)) == 10


def test_sources_topics_and_help():
    sources = [Source(f"s{i}", f"Title {i}", DAY, None, None) for i in range(30)]
    embed = r.sources_embed(sources)
    within_limits(embed)
    assert embed["fields"][-1]["name"] == "More"
    assert r.sources_embed([])["description"] == "I have no sources yet."
    topics = r.topics_embed([f"Topic {i} " + "x" * 200 for i in range(100)])
    within_limits(topics)
    assert "more" in topics["description"].splitlines()[-1]
    assert "/strike ask" in r.help_embed()["description"]


def test_admin_listings():
    entries = [
        {
            "at": "2023-09-12T10:00:00+00:00",
            "actor": "discord:42",
            "action": "retract",
            "fact_id": "f1",
            "note": "wrong @everyone",
        }
    ] * 200
    embed = r.audit_embed(entries)
    within_limits(embed)
    assert "discord:42" in embed["description"] and "@everyone" not in embed["description"]
    rows = [{"question": "weather?", "times": 3, "last_asked": "2023-09-12"}]
    assert "weather? (×3" in r.unanswered_embed(rows)["description"]
    assert r.unanswered_embed([])["description"].startswith("Every recent question")
    added = r.fact_embed(fact(1), "Added")
    assert added["title"] == "Added: f1"
    within_limits(added)
