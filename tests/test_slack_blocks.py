"""Block Kit rendering: safe text, layout of answers, and Slack's size limits."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from bot.core.admin import AdminInputError, AdminService
from bot.core.models import Answer, Citation, Fact, Question, Source, Statement
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from tests.fakes.slack_api import view_submission

DAY = dt.date(2023, 9, 11)
FORBIDDEN = ("<!channel", "<!here", "<!everyone", "<@", "<https://evil")
NASTY = "<!channel> <!here> @everyone hi <@U123> <https://evil.example|click> & co"


def assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    """Slack's limits, and no way for the text to ping or link."""
    assert len(blocks) <= kit.BLOCK_LIMIT
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= kit.SECTION_LIMIT
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= kit.CONTEXT_LIMIT
    dumped = json.dumps(blocks)
    for token in FORBIDDEN:
        assert token not in dumped


def fact(text: str, n: int = 1, topic: str = "offer.pay") -> Fact:
    return Fact(id=f"{topic}-{n}", text=text, topic=topic, as_of=DAY, source="src")


def citation(n: int = 1, url: str | None = "https://example.org/a?b=1&c=2") -> Citation:
    return Citation(f"src-{n}", f"Article {n}", DAY, url, "The Paper")


def made_answer(statements: list[Statement], citations: list[Citation], **kw: Any) -> Answer:
    return Answer(
        answered=True,
        text="\n".join(s.fact.text for s in statements),
        statements=statements,
        citations=citations,
        as_of=DAY,
        log_id=7,
        **kw,
    )


# --- text safety ------------------------------------------------------------------------


def test_escape_neutralises_markup_and_broadcasts() -> None:
    out = kit.escape(NASTY)
    assert "<" not in out and ">" not in out
    assert "&amp; co" in out
    assert "@everyone" not in out
    assert "@\u2060everyone" in out


def test_plain_from_slack_reads_markup_as_words() -> None:
    text = "<@UBOT> hi <@U1|ann> see <#C1|general> <https://x.org|the page> &lt;b&gt; &amp; <!here>"
    assert kit.plain_from_slack(text, "UBOT") == "hi @ann see #general the page <b> & @here"


def test_question_from_slack_drops_every_mention() -> None:
    text = "<!channel> @here what did the studios offer? <@U123> <!subteam^S1|@team>"
    assert kit.question_from_slack(text, "UBOT") == "what did the studios offer?"
    assert kit.question_from_slack("mail writers@wga.org <@UBOT>", "UBOT") == (
        "mail writers@wga.org"
    )


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://example.org/a?b=1&c=2", True),
        ("javascript:alert(1)", False),
        ("https://evil.example|click", False),
        ("https://x.org/>", False),
        (None, False),
    ],
)
def test_links_only_for_plain_http_urls(url: str | None, linked: bool) -> None:
    out = kit.link(url, "A <b> title")
    assert out.startswith("<http") is linked
    assert "A &lt;b&gt; title" in out
    if linked:
        assert "&amp;c=2" in out


# --- answers ----------------------------------------------------------------------------


def test_real_answer_layout(bot: StrikeBot) -> None:
    answer = bot.ask(Question("what did the studios offer?", platform="slack"))
    assert answer.answered and answer.log_id is not None
    msg = kit.answer_message(answer, asked="what did the studios offer?")
    blocks = msg["blocks"]
    assert_within_limits(blocks)
    assert [b["type"] for b in blocks] == ["context", "section", "context", "actions"]
    assert blocks[0]["elements"][0]["type"] == "plain_text"
    assert "Studios' pay offer" in blocks[1]["text"]["text"]
    sources = [e["text"] for e in blocks[2]["elements"]]
    assert sources[0].startswith("*Source:*") and "11 Sep 2023" in sources[0]
    assert sources[-1] == "As of 11 Sep 2023"
    buttons = blocks[3]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Helpful", "Not helpful"]
    assert {b["value"] for b in buttons} == {str(answer.log_id)}
    assert msg["text"] and len(msg["text"]) <= kit.FALLBACK_LIMIT


def test_status_layout_has_latest_picture_and_no_buttons_without_log(bot: StrikeBot) -> None:
    blocks = kit.answer_blocks(bot.status())
    assert_within_limits(blocks)
    assert blocks[0]["text"]["text"].startswith("*Latest picture* (as of 11 Sep 2023)")
    assert all(b["type"] != "actions" for b in blocks)


def test_refusal_shows_suggestions_and_no_buttons(bot: StrikeBot) -> None:
    answer = bot.ask(Question("what colour is the sky?", platform="slack"))
    assert not answer.answered
    blocks = kit.answer_blocks(answer)
    assert_within_limits(blocks)
    text = json.dumps(blocks)
    assert "won't guess" in text
    assert "I can answer questions like" in text
    assert "/strike topics" in text
    assert all(b["type"] != "actions" for b in blocks)


def test_invalid_question_shows_the_reason(bot: StrikeBot) -> None:
    answer = bot.ask(Question("?!?!", platform="slack"))
    assert answer.kind == "invalid"
    assert "in words" in json.dumps(kit.answer_blocks(answer))


def test_fact_and_source_text_cannot_ping_or_link() -> None:
    history = fact("<!everyone> was earlier", 2)
    st = Statement(fact(NASTY), "<@U9> label", history=history)
    answer = made_answer(
        [st],
        [Citation("s", "<!here> title", DAY, "https://evil.example|x", "<@U1>")],
        stale_warning="<!channel> old",
    )
    msg = kit.answer_message(answer, asked="<!channel> hi")
    assert_within_limits(msg["blocks"])
    for token in FORBIDDEN:
        assert token not in msg["text"]
    assert "Earlier" in json.dumps(msg["blocks"])
    assert ":warning:" in json.dumps(msg["blocks"])


def test_long_answers_are_cut_to_fit_with_a_pointer_to_sources() -> None:
    statements = [Statement(fact("word " * 400, n), f"Label {n}") for n in range(200)]
    answer = made_answer(statements, [citation(n) for n in range(25)])
    msg = kit.answer_message(answer, asked="x" * 5000)
    blocks = msg["blocks"]
    assert_within_limits(blocks)
    assert len(blocks) == kit.BLOCK_LIMIT
    assert blocks[-1]["type"] == "actions"
    dumped = json.dumps(blocks)
    assert kit.TRUNCATED_NOTE in dumped
    cites = next(b for b in blocks if b["type"] == "context" and "Sources" in json.dumps(b))
    assert len(cites["elements"]) == kit.CONTEXT_LIMIT
    assert "more: `/strike sources`" in json.dumps(cites)
    assert len(msg["text"]) <= kit.FALLBACK_LIMIT


def test_one_huge_statement_is_truncated() -> None:
    answer = made_answer([Statement(fact("x" * 5000), "Huge")], [citation()])
    blocks = kit.answer_blocks(answer)
    assert_within_limits(blocks)
    assert blocks[0]["text"]["text"].endswith("…")


def test_feedback_thanks_replaces_only_the_buttons() -> None:
    blocks = kit.answer_blocks(made_answer([Statement(fact("a"), "A")], [citation()]))
    thanked = kit.feedback_thanks(blocks, helpful=True)
    assert len(thanked) == len(blocks)
    assert all(b["type"] != "actions" for b in thanked)
    assert "Thanks for the feedback" in json.dumps(thanked[-1])
    assert "not helpful" in json.dumps(kit.feedback_thanks(blocks, helpful=False))
    assert "too old" in json.dumps(kit.feedback_thanks(blocks, True, recorded=False))


# --- lists, help, admin -----------------------------------------------------------------


def test_topics_and_sources(bot: StrikeBot) -> None:
    topics = kit.topics_message(bot.topics())
    assert_within_limits(topics["blocks"])
    assert "Studios' pay offer" in json.dumps(topics)
    sources = kit.sources_message(
        [Source("a", "<!here> A", DAY, "https://example.org/a", "Paper"), Source("b", "B", DAY)]
    )
    assert_within_limits(sources["blocks"])
    assert "<https://example.org/a|“&lt;!here&gt; A”>" in sources["blocks"][0]["text"]["text"]
    assert "nothing I can answer" in json.dumps(kit.topics_message([]))


def test_very_long_lists_are_cut() -> None:
    msg = kit.topics_message([f"Topic {n} " + "y" * 200 for n in range(2000)])
    assert_within_limits(msg["blocks"])
    assert "shortened" in json.dumps(msg["blocks"][-1])


def test_help_lists_every_command_and_escapes_the_problem() -> None:
    msg = kit.help_message("I don't know the command `<!here>`.")
    text = json.dumps(msg)
    for word in ("status", "topics", "sources", "help", "public"):
        assert f"/strike {word}" in text or f"{word}`" in text
    assert_within_limits(msg["blocks"])
    admin = json.dumps(kit.admin_help_message())
    for word in ("add", "retract", "restore", "audit", "unanswered"):
        assert f"/strike-admin {word}" in admin


def test_admin_lists_escape_user_text() -> None:
    rows = [{"question": "<!channel> why?", "times": 2, "last_asked": "2023-09-12T10:00:00"}]
    assert_within_limits(kit.unanswered_message(rows)["blocks"])
    entries = [
        {
            "at": "2023-09-12T10:00:00",
            "actor": "slack:UADMIN",
            "action": "retract",
            "fact_id": "offer.pay-1",
            "note": "<@U1> said so",
        }
    ]
    msg = kit.audit_message(entries)
    assert_within_limits(msg["blocks"])
    assert "slack:UADMIN" in json.dumps(msg)
    assert "empty" in json.dumps(kit.audit_message([]))


# --- the add-fact modal -----------------------------------------------------------------


def test_add_fact_modal_shape() -> None:
    view = kit.add_fact_modal(today=DAY, text="prefill", topics=["offer.pay", "status.days"])
    assert view["callback_id"] == kit.ADD_FACT_CALLBACK
    assert len(view["title"]["text"]) <= 24
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert tuple(blocks) == kit.ADD_FACT_FIELDS
    assert blocks["fact_text"]["element"]["initial_value"] == "prefill"
    assert blocks["fact_as_of"]["element"]["type"] == "datepicker"
    assert blocks["source_published"]["element"]["initial_date"] == "2023-09-11"
    assert blocks["source_url"]["optional"] is True
    assert "offer.pay" in blocks["fact_topic"]["hint"]["text"]


def test_read_add_fact_form_round_trip() -> None:
    values = {
        "fact_text": "  A fact.  ",
        "fact_topic": "offer.pay",
        "fact_as_of": "2023-09-11",
        "source_title": "T",
        "source_published": "2023-09-10",
        "source_url": None,
    }
    payload = view_submission(kit.ADD_FACT_CALLBACK, values)
    form = kit.read_add_fact_form(payload["view"]["state"]["values"])
    assert form == {**values, "fact_text": "A fact."}
    assert kit.read_add_fact_form({})["fact_text"] is None


def _core_error(admin: AdminService, root, **fields: Any) -> str:
    base = {"text": "A fact.", "topic": "offer.pay", "as_of": "2023-09-11"}
    base.update({"source_title": "T", "published": "2023-09-11"})
    base.update(fields)
    with pytest.raises(AdminInputError) as info:
        admin.add(root, **base)
    return str(info.value)


@pytest.mark.parametrize(
    ("fields", "block"),
    [
        ({"text": ""}, "fact_text"),
        ({"topic": "Not A Topic"}, "fact_topic"),
        ({"as_of": "soon"}, "fact_as_of"),
        ({"published": "soon"}, "source_published"),
        ({"source_title": " "}, "source_title"),
        ({"url": "ftp://x"}, "source_url"),
    ],
)
def test_core_errors_map_to_the_right_field(admin, root, fields: dict, block: str) -> None:
    assert kit.form_error_field(_core_error(admin, root, **fields)) == block
