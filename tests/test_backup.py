"""`strikebot backup` and `strikebot restore`: a checked, point-in-time copy while writes go
on; a restore that refuses anything but a healthy strikebot database and keeps what it
replaces."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.service import StrikeBot
from bot.store import backup as backups
from bot.store.db import Store
from bot.store.migrations import MIGRATIONS
from tests.cli_runner import Run, failed, ok, run_cli
from tests.store_workers import result, snapshot, start, start_readers

DURATION_Q = "how long has the strike lasted?"
EXIT_STORE = 3


@pytest.fixture
def db(db_path: Path) -> Path:
    return db_path


def rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"select * from {table} order by 1").fetchall()
    finally:
        conn.close()


def pragma(path: Path, name: str) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def meta(path: Path, key: str) -> str | None:
    found = [v for k, v in rows(path, "meta") if k == key]
    return found[0] if found else None


def make_backup(db: Path, target: Path) -> Path:
    store = Store(db)
    try:
        backups.backup(store, target)
    finally:
        store.close()
    return target


def add_args(text: str) -> list[str]:
    return ["facts", "add", "--text", text, "--topic", "misc.restore", "--as-of", "2023-09-20",
            "--source-title", "T", "--published", "2023-09-20"]  # fmt: skip


# --- backup -------------------------------------------------------------------------------


def test_backup_is_a_checked_copy_that_says_what_it_holds(run: Run, db: Path, tmp_path: Path):
    target = tmp_path / "copies" / "strikebot.db"
    target.parent.mkdir()
    out = ok(run("backup", str(target)))
    facts = rows(db, "facts")
    assert out.count("\n") == 1
    assert str(target) in out and f"{len(facts)} facts" in out and "integrity ok" in out
    assert pragma(target, "integrity_check") == "ok"
    assert pragma(target, "journal_mode") == "delete"  # one self-contained file
    assert rows(target, "facts") == facts and rows(target, "audit") == rows(db, "audit")
    assert list(target.parent.iterdir()) == [target], "no temporary file is left behind"


def test_backup_into_a_folder_gets_a_dated_name(run: Run, db: Path, tmp_path: Path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    report = json.loads(ok(run("backup", "--json", str(folder))))
    [made] = folder.iterdir()
    assert made.name.startswith("strikebot-") and made.suffix == ".db"
    assert pragma(made, "integrity_check") == "ok"
    assert report["path"] == str(made) and report["size"] == made.stat().st_size
    assert report["facts"] == len(rows(db, "facts")) and report["version"] == len(MIGRATIONS)


def test_backup_never_overwrites_without_force(run: Run, db: Path, tmp_path: Path):
    target = tmp_path / "keep.db"
    target.write_bytes(b"an older backup")
    proc = run("backup", str(target))
    err = failed(proc)
    assert proc.returncode == EXIT_STORE and "--force" in err and err.count("\n") == 1
    assert target.read_bytes() == b"an older backup"
    ok(run("backup", "--force", str(target)))
    assert pragma(target, "integrity_check") == "ok"
    assert not list(tmp_path.glob(".*.tmp"))
    err = failed(run("backup", str(db)))  # the live database itself, even with --force
    assert "live database" in err or "--force" in err


def test_backup_while_another_process_keeps_adding(db_path: Path, tmp_path: Path):
    facts_before, _, _ = snapshot(db_path)
    revision_before = int(meta(db_path, "revision"))
    stop = tmp_path / "stop"
    writer = start("add", db_path, "live", stop, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while snapshot(db_path)[0] < facts_before + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        store = Store(db_path)
        try:
            made = []
            for i in range(4):
                made.append(backups.backup(store, tmp_path / f"b{i}.db"))
                time.sleep(0.15)
        finally:
            store.close()
        ok(run_cli(["backup", str(tmp_path / "cli.db")], db=db_path, cwd=tmp_path))
    finally:
        stop.touch()
    added = result(writer)["added"]

    seen = []
    for path in [s.path for s in made] + [tmp_path / "cli.db"]:
        assert pragma(path, "integrity_check") == "ok"
        facts, _, stray = snapshot(path)
        assert stray == 0, "every fact in a backup has its audit entry"
        n = facts - facts_before
        # One point in time: the writer adds in order, so a backup holds its first n facts,
        # their n audit entries and n revision steps, and nothing more.
        live = sorted(r[0] for r in rows(path, "facts") if r[0].startswith("live-"))
        assert live == sorted(added[:n])
        assert sum(1 for r in rows(path, "audit") if r[2] == "test:live") == n
        assert int(meta(path, "revision")) == revision_before + n
        seen.append(n)
    assert seen == sorted(seen) and seen[0] < seen[-1] <= len(added), "writes went on"
    assert [s.facts - facts_before for s in made] == seen[:-1]


# --- restore ------------------------------------------------------------------------------


def test_restore_round_trip(run: Run, db: Path, tmp_path: Path):
    saved = make_backup(db, tmp_path / "saved.db")
    store = Store(db)
    store.add_fact(replace(store.fact("offer-pay"), id="after-backup"), None, actor="t")
    store.update_fact("offer-pay", {"status": "retracted"}, actor="t", action="retract")
    store.close()
    changed, revision = rows(db, "facts"), int(meta(db, "revision"))
    assert changed != rows(saved, "facts")

    out = ok(run("restore", str(saved)))
    assert rows(db, "facts") == rows(saved, "facts")
    assert rows(db, "audit") == rows(saved, "audit")
    assert int(meta(db, "revision")) > revision, "a running bot must see a new revision"
    [before] = tmp_path.glob("*.before-restore")
    assert str(before) in out and "restored" in out
    assert rows(before, "facts") == changed and pragma(before, "integrity_check") == "ok"
    assert "active" in ok(run("facts", "show", "offer-pay"))
    assert ok(run("ask", DURATION_Q)).strip()


def test_restore_into_a_running_bot(bot: StrikeBot, db_path: Path, tmp_path: Path):
    saved = make_backup(db_path, tmp_path / "saved.db")
    ok(run_cli(add_args("Only in the live database."), db=db_path, cwd=tmp_path))
    bot.refresh()
    assert "misc-restore-1" in bot.knowledge.facts
    stop = tmp_path / "stop"
    readers = start_readers(db_path, stop, 2, tmp_path)
    counts = {snapshot(saved)[0], snapshot(db_path)[0]}
    backups.restore(db_path, saved)
    time.sleep(0.3)
    stop.touch()
    polls = [p for r in readers for p in result(r)["polls"]]
    assert {p[1] for p in polls} == counts, "readers see the old or the new database"
    assert all(p[3] == 0 for p in polls)
    bot.refresh()  # the bot's own connection, opened before the restore
    assert "misc-restore-1" not in bot.knowledge.facts
    assert bot.answer(DURATION_Q).answered


def test_restore_where_there_was_no_database(run: Run, db: Path, tmp_path: Path):
    saved = make_backup(db, tmp_path / "saved.db")
    fresh = tmp_path / "new" / "strikebot.db"
    out = ok(run("restore", str(saved), db=fresh))
    assert "before-restore" not in out
    assert rows(fresh, "facts") == rows(saved, "facts")
    assert ok(run("ask", DURATION_Q, db=fresh)).strip()


def test_restore_over_a_damaged_database_keeps_its_bytes(run: Run, db: Path, tmp_path: Path):
    saved = make_backup(db, tmp_path / "saved.db")
    garbage = random.Random(3).randbytes(20_000)
    for part in db.parent.glob(db.name + "-*"):
        part.unlink()
    db.write_bytes(garbage)
    out = ok(run("restore", str(saved)))
    [before] = tmp_path.glob("*.before-restore")
    assert before.read_bytes() == garbage and "damaged" in out
    assert rows(db, "facts") == rows(saved, "facts")
    assert ok(run("ask", DURATION_Q)).strip()


def _random(path: Path, good: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(8192))


def _empty(path: Path, good: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path, good: Path) -> None:
    path.write_text("facts:\n  - id: not-a-database\n", encoding="utf-8")


def _foreign(path: Path, good: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table facts (id text, text text)")  # a name in common is not enough
    conn.execute("insert into facts values ('x', 'y')")
    conn.commit()
    conn.close()


def _empty_sqlite(path: Path, good: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table t (x)")
    conn.execute("drop table t")
    conn.commit()
    conn.close()


def _truncated(path: Path, good: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt(path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + 4 * page] = random.Random(2).randbytes(4 * page)
    path.write_bytes(bytes(data))


def _newer(path: Path, good: Path) -> None:
    shutil.copyfile(good, path)
    conn = sqlite3.connect(path)
    conn.execute(
        "insert into schema_migrations (version, applied_at) values (?, 'later')",
        [len(MIGRATIONS) + 1],
    )
    conn.commit()
    conn.close()


BAD: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "random bytes": (_random, "not even an SQLite file"),
    "empty file": (_empty, "empty"),
    "text file": (_text, "not even an SQLite file"),
    "foreign SQLite": (_foreign, "not a strikebot one"),
    "SQLite without tables": (_empty_sqlite, "not a strikebot one"),
    "truncated strikebot": (_truncated, "damaged"),
    "corrupt strikebot": (_corrupt, "integrity check"),
    "newer strikebot": (_newer, "newer strikebot"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_restore_refuses_what_is_not_a_healthy_strikebot_database(
    run: Run, db: Path, tmp_path: Path, kind: str
):
    good = make_backup(db, tmp_path / "good.db")
    bad = tmp_path / "bad.db"
    make, says = BAD[kind]
    make(bad, good)
    source = bad.read_bytes()
    live, live_mtime = db.read_bytes(), db.stat().st_mtime_ns
    proc = run("restore", str(bad))
    err = failed(proc)
    assert proc.returncode == EXIT_STORE
    assert err.count("\n") == 1 and says in err and "restored" in err, err
    assert db.read_bytes() == live and db.stat().st_mtime_ns == live_mtime
    assert bad.read_bytes() == source
    assert not list(tmp_path.glob("*.before-restore"))


def test_restore_refuses_the_live_database_itself(run: Run, db: Path, tmp_path: Path):
    live = db.read_bytes()
    err = failed(run("restore", str(db)))
    assert "itself" in err and db.read_bytes() == live
    assert not list(tmp_path.glob("*.before-restore"))


# --- restore checks the whole schema before anything is touched (issue 12, item 1) --------


def _edit(path: Path, good: Path, *sql: str) -> None:
    shutil.copyfile(good, path)
    conn = sqlite3.connect(path)
    try:
        for statement in sql:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _old_version(path: Path, good: Path) -> None:
    """A healthy backup from schema version 3 (before rate_events and packs): migrated on
    restore."""
    _edit(
        path,
        good,
        "drop table rate_events",
        "drop table packs",
        "drop table channel_packs",
        "delete from schema_migrations where version >= 4",
    )


# What each candidate lacks, as SQL run on a copy of a good backup; and what the refusal names.
INCOMPLETE: dict[str, tuple[tuple[str, ...], str]] = {
    "no topics table": (("drop table topics",), "table topics"),
    "facts without as_of": (
        ("drop index idx_facts_topic_as_of", "alter table facts drop column as_of"),
        "facts.as_of",
    ),
    "facts with wrong columns": (
        ("drop table facts_fts", "drop table facts", "create table facts (id text primary key)"),
        "facts.text",
    ),
    "missing index": (
        ("drop index idx_subscriptions_platform_channel",),
        "index idx_subscriptions_platform_channel",
    ),
    "missing search trigger": (("drop trigger facts_au",), "trigger facts_au"),
}


@pytest.mark.parametrize("kind", list(INCOMPLETE))
def test_restore_refuses_a_database_missing_part_of_the_schema(
    run: Run, db: Path, tmp_path: Path, kind: str
):
    good = make_backup(db, tmp_path / "good.db")
    bad = tmp_path / "bad.db"
    sql, says = INCOMPLETE[kind]
    _edit(bad, good, *sql)
    source = bad.read_bytes()
    live, live_mtime = db.read_bytes(), db.stat().st_mtime_ns
    proc = run("restore", str(bad))
    err = failed(proc)
    assert proc.returncode == EXIT_STORE
    assert err.count("\n") == 1 and says in err and "Nothing was restored" in err, err
    assert db.read_bytes() == live and db.stat().st_mtime_ns == live_mtime
    assert bad.read_bytes() == source, "the candidate is checked on a copy"
    assert not list(tmp_path.glob("*.before-restore"))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert ok(run("status")).strip(), "the bot still works"


def test_restore_migrates_an_older_backup_on_a_copy_first(run: Run, db: Path, tmp_path: Path):
    good = make_backup(db, tmp_path / "good.db")
    old = tmp_path / "old.db"
    _old_version(old, good)
    source = old.read_bytes()
    out = ok(run("restore", str(old)))
    assert "restored" in out
    assert old.read_bytes() == source, "the backup itself is not migrated in place"
    assert max(v for v, _ in rows(db, "schema_migrations")) == len(MIGRATIONS)
    assert rows(db, "facts") == rows(good, "facts")
    assert ok(run("ask", DURATION_Q)).strip()
