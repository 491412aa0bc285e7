"""Parsing of `/strike` and `/strike-admin` text (platform-neutral, pure)."""

from __future__ import annotations

import pytest

from bot.core.slash_commands import (
    ADMIN_HELP,
    ASK,
    DEFAULT_LIST_LIMIT,
    DEFAULT_REPORT_DAYS,
    HELP,
    MAX_LIST_LIMIT,
    MAX_REPORT_DAYS,
    parse_admin,
    parse_strike,
)


@pytest.mark.parametrize("text", [None, "", "   ", "help", "HELP", "help me please", "?", "-h"])
def test_strike_empty_or_help_gives_help(text: str | None) -> None:
    cmd = parse_strike(text)
    assert cmd.name == HELP
    assert cmd.problem is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("status", "status"),
        ("Topics", "topics"),
        ("sources", "sources"),
        ("status?", "status"),
        ("/sources", "sources"),
    ],
)
def test_strike_subcommands(text: str, name: str) -> None:
    cmd = parse_strike(text)
    assert (cmd.name, cmd.public) == (name, False)


@pytest.mark.parametrize("text", ["statsu", "topic", "--verbose", "sourcs"])
def test_strike_unknown_subcommand_gives_help_with_a_note(text: str) -> None:
    cmd = parse_strike(text)
    assert cmd.name == HELP
    assert cmd.problem and "don't know the command" in cmd.problem


def test_strike_typo_suggests_the_command() -> None:
    assert "`status`" in (parse_strike("statsu").problem or "")


def test_strike_question_is_private_by_default() -> None:
    cmd = parse_strike("  what did the studios   offer? ")
    assert cmd == parse_strike("what did the studios offer?")
    assert (cmd.name, cmd.text, cmd.public) == (ASK, "what did the studios offer?", False)


@pytest.mark.parametrize(
    "text", ["what did the studios offer? public", "public what did the studios offer?"]
)
def test_strike_public_flag_at_either_end(text: str) -> None:
    cmd = parse_strike(text)
    assert (cmd.name, cmd.text, cmd.public) == (ASK, "what did the studios offer?", True)


def test_strike_public_inside_a_question_is_kept() -> None:
    cmd = parse_strike("does the public support the strike")
    assert (cmd.text, cmd.public) == ("does the public support the strike", False)


def test_strike_public_subcommand_and_single_public() -> None:
    assert (parse_strike("topics public").name, parse_strike("topics public").public) == (
        "topics",
        True,
    )
    assert parse_strike("public").name == ASK  # a one-word question, not a flag


def test_strike_one_word_questions_and_longer_command_words_are_questions() -> None:
    assert parse_strike("residuals").name == ASK
    assert parse_strike("status of the negotiations").name == ASK
    assert parse_strike("sources for the pay offer?").text == "sources for the pay offer?"


def test_admin_empty_and_unknown() -> None:
    assert parse_admin("").name == HELP
    assert parse_admin("help").problem is None
    cmd = parse_admin("retrakt offer.pay-1 wrong")
    assert cmd.name == HELP
    assert "`retract`" in (cmd.problem or "")


def test_admin_add_keeps_prefill_text() -> None:
    cmd = parse_admin("add The studios offered 5%.")
    assert (cmd.name, cmd.text) == ("add", "The studios offered 5%.")
    assert parse_admin("ADD").text == ""


def test_admin_retract_and_restore() -> None:
    cmd = parse_admin("retract offer.pay-1  the article was corrected ")
    assert (cmd.name, cmd.args, cmd.text) == (
        "retract",
        ("offer.pay-1",),
        "the article was corrected",
    )
    assert parse_admin("retract offer.pay-1").text == ""  # the core asks for a reason
    cmd = parse_admin("restore offer.pay-1")
    assert (cmd.name, cmd.args, cmd.text) == ("restore", ("offer.pay-1",), "")


@pytest.mark.parametrize("text", ["retract", "restore"])
def test_admin_retract_restore_without_id_is_usage_help(text: str) -> None:
    cmd = parse_admin(text)
    assert cmd.name == HELP
    assert "FACT_ID" in (cmd.problem or "")


def test_admin_audit_and_unanswered_limits() -> None:
    assert parse_admin("audit").args == ()
    assert parse_admin("audit").limit == DEFAULT_LIST_LIMIT
    cmd = parse_admin("audit offer.pay-1 5")
    assert (cmd.args, cmd.limit) == (("offer.pay-1",), 5)
    assert parse_admin("unanswered 3").limit == 3
    assert parse_admin("unanswered 100000").limit == MAX_LIST_LIMIT
    assert parse_admin("unanswered 0").limit == 1
    assert parse_admin("unanswered lots").limit == DEFAULT_LIST_LIMIT


def test_admin_article_keeps_the_title_to_prefill() -> None:
    cmd = parse_admin("article  Tentative deal ends the strike ")
    assert (cmd.name, cmd.text) == ("article", "Tentative deal ends the strike")
    assert parse_admin("Article").text == ""


@pytest.mark.parametrize(("text", "name"), [("review", "review"), ("due", "due"), ("DUE", "due")])
def test_admin_review_and_due(text: str, name: str) -> None:
    cmd = parse_admin(text)
    assert (cmd.name, cmd.problem) == (name, None)


def test_admin_report_days() -> None:
    assert parse_admin("report").days == DEFAULT_REPORT_DAYS
    assert (parse_admin("report 7").name, parse_admin("report 7").days) == ("report", 7)
    assert parse_admin("report 0").days == 1
    assert parse_admin("report 100000").days == MAX_REPORT_DAYS
    cmd = parse_admin("report weekly")
    assert cmd.name == HELP and "`report 7`" in (cmd.problem or "")


def test_admin_typos_of_the_new_commands() -> None:
    assert "`review`" in (parse_admin("reveiw").problem or "")
    assert "`article`" in (parse_admin("artcle").problem or "")


def test_admin_help_lists_every_command() -> None:
    usages = " ".join(usage for usage, _ in ADMIN_HELP)
    for word in ("add", "article", "review", "due", "report", "retract", "restore", "audit"):
        assert word in usages
