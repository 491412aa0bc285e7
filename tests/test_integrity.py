"""Data integrity (issue 12, items 2-5): an import that changes a source says so and needs
--update-sources; no fact dated in the future or after its source; concurrent adds on one
topic all succeed; an export replaces the old file atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminInputError, AdminService
from bot.core.models import Fact, Source
from bot.core.review import ReviewService
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store
from bot.store.knowledge_files import KnowledgeError, load_fact_files
from tests.cli_runner import CLI, Run, cli_env, failed, ok
from tests.conftest import DATA
from tests.store_workers import big_knowledge

ARTICLE = (DATA / "article_test.txt").read_text(encoding="utf-8")

BUNDLED_SOURCE = "wga-breakaway-2023-09-11"
PHISH = f"""\
sources:
  - id: {BUNDLED_SOURCE}
    title: "Studios concede everything"
    published: 2023-09-11
    url: https://evil.example/phish
"""


@pytest.fixture
def db(db_path: Path) -> Path:
    return db_path


def audit_entries(db: Path, action: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "select fact_id, before, after, note from audit where action = ?", [action]
        ).fetchall()
    finally:
        conn.close()
    return [
        {"fact_id": f, "before": json.loads(b), "after": json.loads(a), "note": n}
        for f, b, a, n in rows
    ]


# --- 2. an import that changes an existing source -----------------------------------------


def test_import_refuses_to_change_a_source_without_the_flag(
    admin: AdminService, root: Actor, tmp_path: Path
) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    before, audit = admin.store.sources(), admin.store.audit(limit=10_000)
    with pytest.raises(AdminInputError) as caught:
        admin.import_file(root, path)
    message = str(caught.value)
    assert BUNDLED_SOURCE in message and "--update-sources" in message
    assert "https://evil.example/phish" in message, "the refusal shows what would change"
    assert admin.store.sources() == before
    assert admin.store.audit(limit=10_000) == audit


def test_import_with_the_flag_counts_and_audits_a_source_change(
    admin: AdminService, root: Actor, tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    old = admin.store.sources()[BUNDLED_SOURCE]
    counts = admin.import_file(root, path, update_sources=True)
    assert counts["sources updated"] == 1
    assert admin.store.sources()[BUNDLED_SOURCE].url == "https://evil.example/phish"
    [entry] = audit_entries(db_path, "import-source-update")
    assert entry["before"]["title"] == old.title and entry["before"]["url"] is None
    assert entry["after"]["url"] == "https://evil.example/phish"
    assert BUNDLED_SOURCE in entry["note"]
    again = admin.import_file(root, path, update_sources=True)
    assert again["sources updated"] == 0, "the same file again changes nothing"


def test_cli_import_shows_source_changes(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    proc = run("facts", "import", str(path))
    err = failed(proc)
    assert proc.returncode == 2 and "--update-sources" in err
    assert "evil.example" not in ok(run("sources"))
    out = ok(run("facts", "import", "--update-sources", str(path)))
    assert "1 sources updated" in out
    assert "evil.example" in ok(run("sources"))
    audit = json.loads(ok(run("facts", "audit", "--json")))
    assert audit[0]["action"] == "import-source-update"
    assert audit[0]["before"]["url"] is None
    assert audit[0]["after"]["url"] == "https://evil.example/phish"
    assert "None" not in ok(run("facts", "audit")).splitlines()[0]


def test_import_of_an_unchanged_source_needs_no_flag(
    admin: AdminService, root: Actor, tmp_path: Path, bot: StrikeBot
) -> None:
    same = admin.export_text()
    path = tmp_path / "same.facts.yaml"
    path.write_text(same, encoding="utf-8")
    counts = admin.import_file(root, path)
    assert counts["sources updated"] == 0 and counts["added"] == 0
    assert isinstance(bot.store, Store)


# --- 3. an as_of in the future or after its source ----------------------------------------

FUTURE = ["2203-09-21", "9999-12-31"]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def add(admin: AdminService, root: Actor, as_of: str | dt.date, **over: object):
    fields: dict[str, object] = {
        "text": "The strike is still going on.",
        "topic": "strike.duration",
        "as_of": as_of,
        "source_title": "A later report",
        "published": utc_today(),
    }
    fields.update(over)
    return admin.add(root, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("as_of", FUTURE)
def test_add_refuses_an_as_of_in_the_future(admin: AdminService, root: Actor, as_of: str):
    facts = admin.store.facts()
    with pytest.raises(AdminInputError, match="future"):
        add(admin, root, as_of, published=as_of)
    assert admin.store.facts() == facts


def test_add_allows_a_day_for_time_zones_but_not_two(admin: AdminService, root: Actor):
    tomorrow = utc_today() + dt.timedelta(days=1)
    assert add(admin, root, tomorrow, published=tomorrow).as_of == tomorrow
    later = tomorrow + dt.timedelta(days=1)
    with pytest.raises(AdminInputError, match="future"):
        add(admin, root, later, published=later)


def test_add_refuses_an_as_of_after_the_source_was_published(admin: AdminService, root: Actor):
    with pytest.raises(AdminInputError, match="after its source"):
        add(admin, root, "2023-09-20", published="2023-09-11")
    with pytest.raises(AdminInputError, match="after its source"):
        add(admin, root, "2023-09-12", source_title=None, published=None, source_id=BUNDLED_SOURCE)


def test_edit_refuses_a_future_or_unsourced_as_of(admin: AdminService, root: Actor):
    before = admin.store.fact("strike-duration-130")
    with pytest.raises(AdminInputError, match="future"):
        admin.edit(root, before.id, as_of="2203-09-21")
    with pytest.raises(AdminInputError, match="after its source"):
        admin.edit(root, before.id, as_of="2023-09-12")
    later = add(admin, root, "2023-09-20", published="2023-09-20")
    with pytest.raises(AdminInputError, match="after its source"):
        admin.edit(root, later.id, source=BUNDLED_SOURCE)  # published 2023-09-11
    assert admin.store.fact(before.id) == before


def future_file(tmp_path: Path, as_of: str, published: str = "2023-09-20") -> Path:
    path = tmp_path / "future.facts.yaml"
    path.write_text(
        f"""\
sources:
  - id: later-source
    title: A later report
    published: {published}
facts:
  - id: future-fact
    topic: strike.duration
    text: The strike had lasted 9000 days.
    as_of: {as_of}
    source: later-source
  - id: bundled-source-fact
    topic: strike.duration
    text: The strike had lasted 131 days.
    as_of: 2023-09-12
    source: {BUNDLED_SOURCE}
""",
        encoding="utf-8",
    )
    return path


def test_import_names_file_and_line_of_each_bad_as_of(
    admin: AdminService, root: Actor, tmp_path: Path
):
    path = future_file(tmp_path, "2203-09-21")
    with pytest.raises(KnowledgeError) as caught:
        admin.import_file(root, path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:9:") and "future" in p for p in problems), problems
    assert any(p.startswith(f"{path}:14:") and "after its source" in p for p in problems)
    assert "future-fact" not in {f.id for f in admin.store.facts()}


def test_import_refuses_an_as_of_after_the_files_own_source(tmp_path: Path):
    path = future_file(tmp_path, "2023-09-21", published="2023-09-20")
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path], known_sources=[BUNDLED_SOURCE])
    assert f"{path}:9:" in str(caught.value) and "after its source" in str(caught.value)


def test_bundled_files_with_a_future_as_of_are_reported_by_file_and_line(
    tmp_path: Path, db_path: Path
):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    shutil.copyfile(
        BUNDLED_KNOWLEDGE / "packs" / "wga-2023" / "topics.yaml", folder / "topics.yaml"
    )
    bad = folder / "x.facts.yaml"
    bad.write_text(
        future_file(tmp_path, "9999-12-31").read_text().split("  - id: bundled-source-fact")[0]
    )
    store = Store(tmp_path / "fresh.db")
    try:
        with pytest.raises(KnowledgeError, match=rf"{bad}:9: .*future"):
            StrikeBot(store, BotConfig(knowledge_dir=folder))
    finally:
        store.close()


@pytest.fixture
def review(bot: StrikeBot, admin: AdminService) -> ReviewService:
    return ReviewService(bot, admin)


def test_review_accept_and_edit_refuse_a_bad_as_of(review: ReviewService, root: Actor):
    _, items = review.add_article(
        root, ARTICLE, "Tentative deal", dt.date(2023, 9, 27), url="https://example.org/deal"
    )
    cid = items[0].id
    for as_of, why in (("2203-09-21", "future"), ("2023-09-28", "after its source")):
        with pytest.raises(AdminInputError, match=why):
            review.edit(root, cid, as_of=as_of)
        with pytest.raises(AdminInputError, match=why):
            review.accept(root, cid, text="In our words: a deal was reached.", as_of=as_of)
    assert review.candidate(cid).record.status == "pending"


def test_cli_add_refuses_a_future_as_of(run: Run):
    proc = run(
        "facts", "add", "--text", "Typo.", "--topic", "strike.duration", "--as-of", "2203-09-21",
        "--source-title", "T", "--published", "2023-09-20",
    )  # fmt: skip
    err = failed(proc)
    assert proc.returncode == 2 and "future" in err and err.count("\n") == 1


# --- 4. ids chosen inside the write (the process race is in test_concurrency.py) ----------


def test_a_new_source_never_rewrites_one_stored_meanwhile(fresh_store: Store):
    """Two admins adding facts with new sources whose ids collide (chosen before either
    wrote): the second gets the next free id instead of rewriting the first's source."""
    first = Source("report-2023-09-20", "Report", dt.date(2023, 9, 20), "https://a.example/")
    second = Source("report-2023-09-20", "Report!", dt.date(2023, 9, 20), "https://b.example/")
    fact = Fact("", "Some text.", "misc.race", dt.date(2023, 9, 20), first.id)
    a = fresh_store.add_fact(fact, first, actor="a", auto_id=True)
    b = fresh_store.add_fact(fact, second, actor="b", auto_id=True)
    assert (a.id, b.id) == ("misc-race-1", "misc-race-2")
    sources = fresh_store.sources()
    assert sources[first.id] == first
    assert b.source == "report-2023-09-20-2" and sources[b.source].url == "https://b.example/"
    again = fresh_store.add_fact(fact, first, actor="a", auto_id=True)
    assert again.source == first.id, "the same source is reused, not copied"


# --- 5. an export over an existing file is atomic -----------------------------------------


def _full_disk(limit: int) -> Callable[[], None]:
    """For a child process: a file size limit (a disk that fills up at `limit` bytes);
    writing past it fails with EFBIG instead of killing the process."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE")
@pytest.mark.parametrize("name", ["export.facts.yaml", "export.facts.json"])
def test_export_that_fails_midway_leaves_the_old_file(
    run: Run, db: Path, tmp_path: Path, name: str
):
    store = Store(db)
    try:
        store.import_knowledge(load_fact_files([bulk_file(tmp_path)]), actor="seed")
    finally:
        store.close()
    target = tmp_path / "out" / name
    target.parent.mkdir()
    ok(run("facts", "export", str(target)))
    old = target.read_bytes()
    assert len(old) > 2 * LIMIT, "the export must not fit under the limit"
    ok(run("facts", "retract", "bulk-1", "--reason", "so the next export differs"))
    proc = subprocess.run(
        [*CLI, "facts", "export", str(target)],
        capture_output=True,
        text=True,
        env=cli_env(db),
        cwd=tmp_path,
        preexec_fn=_full_disk(LIMIT),
        timeout=60,
    )
    err = failed(proc)
    assert str(target) in err and err.count("\n") == 1
    assert target.read_bytes() == old, "the previous export is intact"
    assert [p.name for p in target.parent.iterdir()] == [name], "no temporary file is left"
    ok(run("facts", "export", str(target)))
    assert target.read_bytes() != old and load_fact_files([target]).facts


LIMIT = 64 * 1024


def bulk_file(tmp_path: Path) -> Path:
    path = tmp_path / "bulk.facts.json"
    path.write_text(big_knowledge(600), encoding="utf-8")
    return path
