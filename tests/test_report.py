"""The report of what users could not get answered: paraphrases grouped, the closest fact,
top facts, answer rate, stable group numbers, and promoting a group in one step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import EXIT_USAGE, cli
from bot.core.admin import AdminInputError, PermissionDenied
from bot.core.models import Question
from bot.core.report import Asked, ReportService, cluster, same_question
from bot.core.service import StrikeBot

PARAPHRASES = [
    "how long did the 2007 strike last",
    "how long was the 2007 strike?",
    "2007 strike length?",
    "how long did the 2007 strike last",
]
OTHERS = ["who won the world cup", "who won the world cup?", "what is the weather like"]
ANSWERED = ["how long has the strike lasted?", "what did the studios offer on pay"]
NEW_FACT = {
    "text": "The 2007-08 WGA strike lasted 100 days.",
    "topic": "history.strike-2007",
    "as_of": "2008-02-12",
    "source_title": "A history of WGA strikes",
    "published": "2020-05-01",
}


@pytest.fixture
def reports(bot, admin) -> ReportService:
    return ReportService(bot, admin)


def ask_all(bot: StrikeBot, questions: list[str]) -> list[int | None]:
    return [bot.ask(Question(q, platform="test")).log_id for q in questions]


@pytest.fixture
def logged(bot: StrikeBot) -> None:
    ask_all(bot, PARAPHRASES + OTHERS + ANSWERED)
    # An answer voted not helpful joins the report too.
    [log_id] = ask_all(bot, ["how long has the strike lasted?"])
    assert log_id is not None
    bot.feedback(log_id, helpful=False, platform="test", user=None)


def test_paraphrases_are_grouped_most_frequent_first(reports, root, logged) -> None:
    report = reports.build(root)
    first = report.groups[0]
    assert first.number == 1
    assert sorted(set(first.texts)) == sorted(set(PARAPHRASES))
    assert first.count == len(PARAPHRASES)
    assert first.closest_fact is not None and 0 < first.closest_score < 1
    assert not first.answered_now
    cup = next(g for g in report.groups if "who won the world cup" in g.texts)
    assert set(cup.texts) == {"who won the world cup", "who won the world cup?"}
    weather = next(g for g in report.groups if "what is the weather like" in g.texts)
    assert weather.texts == ["what is the weather like"]
    voted = next(g for g in report.groups if "how long has the strike lasted?" in g.texts)
    assert voted.questions[0].not_helpful == 1 and voted.questions[0].unanswered == 0
    assert [g.number for g in report.groups] == list(range(1, len(report.groups) + 1))


def test_top_facts_and_answer_rate(reports, root, logged) -> None:
    report = reports.build(root, days=7)
    top = dict((fid, n) for fid, n, _ in report.top_facts)
    assert top["strike-duration-130"] == 2
    [rate] = report.rates
    assert report.per == "day"
    assert (rate.asked, rate.answered) == (len(PARAPHRASES + OTHERS + ANSWERED) + 1, 3)
    assert reports.build(root, days=60).per == "week"
    assert json.dumps(report.to_json())  # JSON-ready


def test_group_numbers_are_stable(reports, root, logged) -> None:
    assert reports.build(root).to_json()["groups"] == reports.build(root).to_json()["groups"]


def test_grouping_rules(reports) -> None:
    norm = reports.normalise
    assert same_question(norm("how long did the 2007 strike last"), norm("2007 strike length?"))
    assert not same_question(
        norm("how long was the 2007 strike"), norm("how long was the 2023 strike")
    )
    assert not same_question(norm("strike?"), norm("how long was the 2007 strike"))
    groups = cluster([Asked("b", 1), Asked("a", 1), Asked("c", 3)], norm)
    assert [[q.text for q in g] for g in groups] == [["c"], ["a"], ["b"]]


def test_promote_to_a_new_fact(bot, reports, root, logged) -> None:
    fact = reports.promote(root, 1, **NEW_FACT)
    assert set(fact.questions) == set(PARAPHRASES)
    answer = bot.answer("how long did the 2007 strike last?")
    assert answer.answered and "100 days" in answer.text
    assert reports.build(root).groups[0].answered_now


def test_promote_to_an_existing_fact(bot, reports, root, logged) -> None:
    before = bot.store.fact("wga-identity").questions
    number = next(
        g.number for g in reports.build(root).groups if "who won the world cup" in g.texts
    )
    fact = reports.promote(root, number, fact_id="wga-identity")
    assert fact.questions[: len(before)] == before
    assert set(fact.questions[len(before) :]) == {"who won the world cup", "who won the world cup?"}
    with pytest.raises(AdminInputError, match="already"):
        reports.promote(root, number, fact_id="wga-identity")


def test_promote_refusals(bot, reports, root, member, logged) -> None:
    facts = bot.store.facts()
    with pytest.raises(AdminInputError):
        reports.promote(root, 1)  # neither a fact nor a text
    with pytest.raises(AdminInputError):
        reports.promote(root, 1, fact_id="wga-identity", **NEW_FACT)
    with pytest.raises(AdminInputError, match="No group 99"):
        reports.promote(root, 99, fact_id="wga-identity")
    with pytest.raises(PermissionDenied):
        reports.promote(member, 1, **NEW_FACT)
    with pytest.raises(PermissionDenied):
        reports.build(member)
    assert bot.store.facts() == facts


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("STRIKEBOT_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STRIKEBOT_DB", str(tmp_path / "cli.db"))
    runner = CliRunner()

    def _run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return _run


def test_cli_report_and_promote(run) -> None:
    assert run("ask", "-", input="\n".join(PARAPHRASES + OTHERS) + "\n").exit_code == 0
    report = json.loads(run("report", "--json", "--days", "7").output)
    assert set(report) == {"since", "until", "per", "groups", "top_facts", "answer_rate"}
    first = report["groups"][0]
    assert first["group"] == 1 and {q["text"] for q in first["questions"]} == set(PARAPHRASES)
    assert "group 1: x4" in run("report").output

    args = [
        f"--{k.replace('_', '-')}" if i % 2 == 0 else v for k, v in NEW_FACT.items() for i in (0, 1)
    ]
    promoted = run("report", "promote", "1", *args, "--days", "7", "--json")
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.output)["topic"] == "history.strike-2007"
    assert json.loads(run("ask", "--json", "how long was the 2007 strike?").output)["answered"]

    cup = next(
        g["group"]
        for g in report["groups"]
        if "who won the world cup" in {q["text"] for q in g["questions"]}
    )
    alias = run("report", "promote", str(cup), "--fact", "wga-identity", "--days", "7")
    assert alias.exit_code == 0 and "wga-identity" in alias.output
    assert run("report", "promote", "42", "--fact", "wga-identity").exit_code == EXIT_USAGE
