"""The review queue through the core and the CLI: articles in, candidates accepted (in the
admin's words, with the article as the source), edited or rejected; nothing unreviewed
reaches answers; refusals change nothing; facts due for review."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import EXIT_NOT_FOUND, EXIT_USAGE, cli
from bot.core.admin import Actor, AdminInputError, AdminService, PermissionDenied
from bot.core.due import due_facts
from bot.core.models import Fact
from bot.core.packs import local
from bot.core.review import ReviewService, candidate_fact_id
from bot.core.service import StrikeBot
from bot.store.db import NotFound
from tests.conftest import DATA

ARTICLE = (DATA / "article_test.txt").read_text(encoding="utf-8")
TITLE = "Tentative deal ends the writers' strike"
PUBLISHED = dt.date(2023, 9, 27)
URL = "https://example.org/deal"
DURATION_Q = "how long has the strike lasted?"
OWN_WORDS = "The WGA strike ended after 148 days, on 27 September 2023."


@pytest.fixture
def review(bot: StrikeBot, admin: AdminService) -> ReviewService:
    return ReviewService(bot, admin)


@pytest.fixture
def queued(review: ReviewService, root: Actor):
    """The own article added: (article id, its candidates)."""
    return review.add_article(root, ARTICLE, TITLE, PUBLISHED, url=URL, publisher="Ledger")


def day_count(items) -> int:
    [item] = [i for i in items if "148 days" in i.record.sentence]
    return item.id


def state(bot: StrikeBot) -> tuple:
    store = bot.store
    return (
        store._read("select * from articles"),
        store._read("select * from candidates"),
        store.facts(),
        len(store.audit(limit=10_000)),
    )


# --- core -----------------------------------------------------------------------------------


def test_add_article_queues_drafts_and_answers_do_not_change(bot, review, queued) -> None:
    article_id, items = queued
    assert article_id >= 1 and len(items) >= 8
    assert [i.id for i in review.pending()] == [i.id for i in items]
    for item in items:
        assert item.record.status == "pending" and item.record.draft
        assert item.record.as_of == PUBLISHED and item.record.article_title == TITLE
    answer = bot.answer(DURATION_Q)
    assert "130" in answer.text and "148" not in answer.text
    assert all(c.title != TITLE for c in answer.citations)
    assert bot.store.audit(limit=1)[0]["action"] == "article-add"


def test_accept_publishes_in_own_words_with_the_article_as_source(
    bot, admin, review, queued, root
) -> None:
    changes: list[tuple[Fact, Fact | None]] = []
    admin.on_fact_changed.append(lambda fact, previous, actor: changes.append((fact, previous)))
    cid = day_count(queued[1])
    with pytest.raises(AdminInputError, match="own words"):
        review.accept(root, cid)  # the draft is the article's sentence
    assert review.candidate(cid).record.status == "pending"
    fact = review.accept(root, cid, text=OWN_WORDS)
    assert fact.id == candidate_fact_id("strike.duration", cid)
    assert local(fact.topic) == "strike.duration" and fact.as_of == PUBLISHED
    source = bot.store.sources()[fact.source]
    assert (source.title, source.published, source.url, source.publisher) == (
        TITLE, PUBLISHED, URL, "Ledger",
    )  # fmt: skip
    [(changed, previous)] = changes
    assert changed == fact and previous is not None and previous.id == "strike-duration-130"
    answer = bot.answer(DURATION_Q)
    assert "148" in answer.text and answer.citations[0].title == TITLE
    record = review.candidate(cid).record
    assert (record.status, record.fact_id, record.text) == ("accepted", fact.id, OWN_WORDS)
    assert cid not in [i.id for i in review.pending()]
    entry = bot.store.audit(limit=1)[0]
    assert (entry["action"], entry["fact_id"], entry["actor"]) == (
        "candidate-accept", fact.id, "test:tester",
    )  # fmt: skip


def test_accept_twice_or_after_reject_is_refused(bot, review, queued, root) -> None:
    first, second = queued[1][0].id, queued[1][1].id
    review.accept(root, first, text="Talks produced a tentative agreement.", topic="talks.state")
    with pytest.raises(AdminInputError, match="already accepted"):
        review.accept(root, first, text="Again, in other words.")
    with pytest.raises(AdminInputError, match="already accepted"):
        review.reject(root, first, "changed my mind")
    review.reject(root, second, "duplicate of the curated figure")
    with pytest.raises(AdminInputError, match="rejected"):
        review.accept(root, second, text="Something else entirely.")
    with pytest.raises(AdminInputError, match="rejected"):
        review.reject(root, second, "again")
    assert bot.store.audit(limit=1)[0]["action"] == "candidate-reject"
    assert review.candidate(second).record.note == "duplicate of the curated figure"
    with pytest.raises(AdminInputError, match="reason"):
        review.reject(root, queued[1][2].id, "  ")
    with pytest.raises(NotFound):
        review.accept(root, 9999, text="x")


def test_edit_then_accept_with_a_new_topic(bot, review, queued, root) -> None:
    item = next(i for i in queued[1] if "Jane Example" in i.record.sentence)
    edited = review.edit(root, item.id, text="An economist called it a very good contract.")
    assert not edited.record.draft
    with pytest.raises(AdminInputError):
        review.edit(root, item.id, topic="Not A Topic!")
    fact = review.accept(root, item.id, topic="reaction.economists", as_of="2023-09-26")
    assert fact.text == "An economist called it a very good contract."
    assert (local(fact.topic), fact.as_of) == ("reaction.economists", dt.date(2023, 9, 26))
    assert "wga-2023/reaction.economists" in bot.store.topics()
    assert bot.store.audit(limit=3)[2]["action"] == "candidate-edit"


def test_permission_refusals_change_nothing(bot, review, queued, member) -> None:
    before = state(bot)
    cid = queued[1][0].id
    with pytest.raises(PermissionDenied):
        review.add_article(member, ARTICLE, TITLE, PUBLISHED)
    with pytest.raises(PermissionDenied):
        review.accept(member, cid, text="Words of my own.")
    with pytest.raises(PermissionDenied):
        review.reject(member, cid, "no")
    with pytest.raises(PermissionDenied):
        review.edit(member, cid, text="Words of my own.")
    assert state(bot) == before


def test_bad_article_input_is_refused(bot, review, root) -> None:
    before = state(bot)
    with pytest.raises(AdminInputError):
        review.add_article(root, "   ", TITLE, PUBLISHED)
    with pytest.raises(AdminInputError):
        review.add_article(root, ARTICLE, TITLE, "27/09/2023")
    with pytest.raises(AdminInputError):
        review.add_article(root, ARTICLE, " ", PUBLISHED)
    with pytest.raises(AdminInputError):
        review.add_article(root, ARTICLE, TITLE, PUBLISHED, url="ftp://x")
    assert state(bot) == before


def test_an_interrupted_accept_is_completed_without_a_duplicate(
    bot, admin, review, queued, root
) -> None:
    cid = day_count(queued[1])
    # The fact was written, then the process died before the candidate was marked.
    admin.add(
        root, text=OWN_WORDS, topic="strike.duration", as_of=PUBLISHED, source_title=TITLE,
        published=PUBLISHED, fact_id=candidate_fact_id("strike.duration", cid),
    )  # fmt: skip
    count = len(bot.store.facts())
    fact = review.accept(root, cid, text=OWN_WORDS)
    assert len(bot.store.facts()) == count
    assert review.candidate(cid).record.fact_id == fact.id


def test_due_facts(tmp_path: Path, bot, admin, root) -> None:
    path = tmp_path / "due.facts.yaml"
    path.write_text(
        "sources:\n  - {id: due-src, title: Due source, published: 2023-09-01}\n"
        "facts:\n"
        "  - {id: due-early, topic: strike.duration, text: Early., as_of: 2023-09-01,"
        " source: due-src, review_by: 2023-09-10}\n"
        "  - {id: due-today, topic: talks.state, text: Today., as_of: 2023-09-01,"
        " source: due-src, review_by: 2023-09-12}\n"
        "  - {id: due-later, topic: offer.pay, text: Later., as_of: 2023-09-01,"
        " source: due-src, review_by: 2023-10-01}\n",
        encoding="utf-8",
    )
    admin.import_file(root, path)
    facts = bot.store.facts()
    assert [f.id for f in due_facts(facts, dt.date(2023, 9, 12))] == ["due-early", "due-today"]
    assert [f.id for f in due_facts(facts, dt.date(2023, 9, 9))] == []
    admin.retract(root, "due-early", "checked, wrong")
    assert [f.id for f in due_facts(bot.store.facts(), dt.date(2023, 9, 12))] == ["due-today"]


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """run(*args) -> click Result, on this test's database, without the caller's settings."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    for key in list(os.environ):
        if key.startswith(("STRIKEBOT_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STRIKEBOT_DB", str(tmp_path / "cli.db"))
    runner = CliRunner()

    def _run(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return _run


def test_cli_articles_add_and_review(run, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    added = run(
        "articles", "add", str(article), "--title", TITLE, "--published", "2023-09-27",
        "--url", URL, "--by", "alice", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    data = json.loads(added.output)
    assert data["article_id"] == 1
    first = data["candidates"][0]
    assert {"id", "topic", "text", "sentence", "draft", "new_topic"} <= set(first)
    assert first["draft"] is True and first["text"] == first["sentence"]
    cid = next(c["id"] for c in data["candidates"] if "148 days" in c["sentence"])
    assert next(c for c in data["candidates"] if c["id"] == cid)["topic"] == "strike.duration"

    listed = run("review", "--json")
    assert [c["id"] for c in json.loads(listed.output)] == [c["id"] for c in data["candidates"]]
    assert "draft, reword before accepting" in run("review", "list").output

    draft = run("review", "accept", str(cid))
    assert draft.exit_code == EXIT_USAGE and "own words" in draft.output
    accepted = run("review", "accept", str(cid), "--text", OWN_WORDS, "--by", "alice", "--json")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.output)["topic"] == "strike.duration"
    again = run("review", "accept", str(cid), "--text", OWN_WORDS)
    assert again.exit_code == EXIT_USAGE and "already accepted" in again.output
    asked = json.loads(run("ask", "--json", DURATION_Q).output)
    assert "148" in asked["text"] and asked["citations"][0]["url"] == URL

    other = data["candidates"][0]["id"]
    assert run("review", "reject", str(other)).exit_code == EXIT_USAGE  # --reason is required
    rejected = run("review", "reject", str(other), "--reason", "not news")
    assert rejected.exit_code == 0 and "rejected" in rejected.output
    assert run("review", "reject", "999", "--reason", "x").exit_code == EXIT_NOT_FOUND
    remaining = json.loads(run("review", "list", "--json").output)
    assert other not in [c["id"] for c in remaining] and cid not in [c["id"] for c in remaining]
    audit = json.loads(run("facts", "audit", "--json").output)
    assert {"candidate-accept", "candidate-reject", "article-add"} <= {e["action"] for e in audit}


def test_cli_articles_add_bad_input(run, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    bad = run("articles", "add", str(article), "--title", TITLE, "--published", "yesterday")
    assert bad.exit_code == EXIT_USAGE and "date" in bad.output
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    assert (
        run("articles", "add", str(empty), "--title", "T", "--published", "2023-09-27").exit_code
        == EXIT_USAGE
    )
    assert json.loads(run("review", "--json").output) == []


def test_cli_facts_due(run, tmp_path: Path) -> None:
    path = tmp_path / "due.facts.yaml"
    path.write_text(
        "sources:\n  - {id: due-src, title: Due source, published: 2023-09-01}\n"
        "facts:\n  - {id: due-one, topic: strike.duration, text: Check me., as_of: 2023-09-01,"
        " source: due-src, review_by: 2023-09-10}\n",
        encoding="utf-8",
    )
    assert run("facts", "import", str(path)).exit_code == 0
    due = json.loads(run("facts", "due", "--json", "--today", "2023-09-12").output)
    assert [(f["id"], f["review_by"], f["days_overdue"]) for f in due] == [
        ("due-one", "2023-09-10", 2)
    ]
    assert json.loads(run("facts", "due", "--json", "--today", "2023-09-09").output) == []
    assert "due-one" in run("facts", "due", "--today", "2023-09-12").output
    assert run("facts", "due", "--today", "soon").exit_code == EXIT_USAGE


def test_review_by_set_by_an_admin_shows_in_due(bot, admin, root):
    import datetime as dt

    from bot.core.due import due_facts

    fact = admin.add(
        root,
        text="A fact to re-check.",
        topic="talks.state",
        as_of="2023-09-12",
        source_title="Check",
        published="2023-09-12",
        review_by="2023-09-20",
    )
    assert fact.review_by == dt.date(2023, 9, 20)
    assert fact.id in [f.id for f in due_facts(bot.store.facts(), dt.date(2023, 9, 21))]
    admin.edit(root, fact.id, review_by="2023-12-01")
    assert fact.id not in [f.id for f in due_facts(bot.store.facts(), dt.date(2023, 9, 21))]
