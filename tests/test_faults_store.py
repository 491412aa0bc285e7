"""Faults around the database: a killed import, damaged and foreign files, a read-only file
or folder, a full disk, a lock held too long. Writes fail with a clear message and leave
nothing half-done; answering goes on wherever the database can still be read."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.models import Question
from bot.core.service import BotConfig, StrikeBot
from bot.store.db import Store
from bot.store.errors import (
    CannotOpen,
    DatabaseDamaged,
    DatabaseFull,
    DatabaseLocked,
    DatabaseReadOnly,
    explain,
)
from bot.store.knowledge_files import load_fact_files
from bot.store.migrations import MIGRATIONS
from tests.cli_runner import CLI, Run, cli_env, failed, ok
from tests.store_workers import big_knowledge

DURATION_Q = "how long has the strike lasted?"
EXIT_STORE = 3
WRITING = 4 * 1024 * 1024  # WAL bytes that show the import is well under way
TABLES = ("facts", "sources", "topics", "audit", "meta", "questions_log", "feedback")


@pytest.fixture
def db(db_path: Path) -> Path:
    return db_path


def content(path: Path) -> dict[str, list[tuple]]:
    """Every row of the tables that matter, read through SQLite only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"select * from {t} order by 1").fetchall() for t in TABLES}
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def add_args(text: str) -> list[str]:
    return ["facts", "add", "--text", text, "--topic", "misc.fault", "--as-of", "2023-09-20",
            "--source-title", "T", "--published", "2023-09-20"]  # fmt: skip


def one_line_failure(proc: subprocess.CompletedProcess, *words: str) -> str:
    err = failed(proc)
    assert proc.returncode == EXIT_STORE, err
    assert err.strip().count("\n") == 0, f"one line, not:\n{err}"
    for word in words:
        assert word in err, err
    return err


# --- a kill -9 in the middle of an import -----------------------------------------------


def test_kill_9_during_import_leaves_the_database_as_before(run: Run, db: Path, tmp_path: Path):
    big = tmp_path / "big.facts.json"
    big.write_text(big_knowledge(30_000), encoding="utf-8")
    before = content(db)
    wal = db.with_name(db.name + "-wal")
    proc = subprocess.Popen(
        [*CLI, "facts", "import", str(big)],
        cwd=tmp_path,
        env=cli_env(db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Under way means writing: the import's transaction spills pages into the WAL long
        # before it commits (parsing the file comes first and writes nothing). 4 MB is a
        # fifth of what this import writes before its commit.
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > WRITING:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the import ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert wal.stat().st_size > WRITING, "the kill came while the import was writing"

    assert content(db) == before
    assert integrity(db) == "ok"
    assert "day" in ok(run("ask", DURATION_Q)).lower()
    ok(run(*add_args("Written after the crash.")))  # and it takes writes again


# --- damaged, foreign and newer files ------------------------------------------------------


def _random(path: Path, good: Path) -> None:
    path.write_bytes(random.Random(5).randbytes(16_384))


def _header_then_garbage(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes()[:100] + random.Random(6).randbytes(16_284))


def _truncated(path: Path, good: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _foreign(path: Path, good: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table invoices (id integer primary key, total real)")
    conn.execute("insert into invoices (total) values (12.5)")
    conn.commit()
    conn.close()


def _foreign_with_wal(path: Path, good: Path) -> None:
    """A WAL database whose last writes are still only in its -wal file."""
    origin = path.with_name("origin.db")
    conn = sqlite3.connect(origin)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("create table invoices (id integer primary key, total real)")
    conn.execute("insert into invoices (total) values (12.5)")
    conn.commit()
    shutil.copyfile(origin, path)
    shutil.copyfile(origin.with_name("origin.db-wal"), path.with_name(path.name + "-wal"))
    conn.close()
    origin.unlink()


def _newer(path: Path, good: Path) -> None:
    shutil.copyfile(good, path)
    conn = sqlite3.connect(path)
    conn.execute("insert into schema_migrations values (?, 'later')", [len(MIGRATIONS) + 1])
    conn.commit()
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()


BAD_FILES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "random bytes": (_random, "not even an SQLite file"),
    "SQLite header, garbage after": (_header_then_garbage, "damaged"),
    "truncated": (_truncated, "damaged"),
    "foreign SQLite": (_foreign, "not a strikebot one"),
    "foreign SQLite with a WAL": (_foreign_with_wal, "not a strikebot one"),
    "newer strikebot": (_newer, "newer strikebot"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_database_file_is_refused_and_left_untouched(
    run: Run, db: Path, tmp_path: Path, kind: str
):
    bad = tmp_path / "other.db"
    make, says = BAD_FILES[kind]
    make(bad, db)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("other.db*")}
    for args in (["ask", DURATION_Q], add_args("Must not be written.")):
        one_line_failure(run(*args, db=bad), str(bad), says)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("other.db*")}
    assert after == files, "the file (and its WAL) as it was, nothing new beside it"


# --- read-only file or folder --------------------------------------------------------------


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder unwritable, for root too (which ignores permission bits: the
    immutable attribute stops it), and undo that afterwards."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root without chattr +i: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def settle(db: Path) -> None:
    """Close the database as a stopped bot leaves it: no -wal or -shm file beside it (or a
    read-only folder would still take writes into them)."""
    conn = sqlite3.connect(db)
    conn.execute("select count(*) from meta").fetchone()
    conn.close()
    assert not list(db.parent.glob(db.name + "-*"))


def logged_question(db: Path, config: BotConfig) -> int:
    store = Store(db)
    try:
        answer = StrikeBot(store, config).ask(Question(DURATION_Q, platform="test"))
        assert answer.log_id is not None
        return answer.log_id
    finally:
        store.close()


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_database_answers_but_refuses_writes(
    run: Run, db: Path, tmp_path: Path, config: BotConfig, what: str
):
    log_id = logged_question(db, config)
    small = tmp_path / "small.facts.json"
    small.write_text(big_knowledge(3, "small"), encoding="utf-8")
    before = content(db)
    settle(db)
    with read_only(db if what == "file" else db.parent):
        assert "day" in ok(run("ask", DURATION_Q)).lower()
        one_line_failure(run(*add_args("Cannot be written.")), "read-only", str(db))
        one_line_failure(run("facts", "import", str(small)), "read-only")
        store = Store(db)
        try:
            bot = StrikeBot(store, config)
            assert bot.ask(Question(DURATION_Q, platform="test")).answered
            with pytest.raises(DatabaseReadOnly, match="read-only"):
                bot.feedback(log_id, True, "test", None)
        finally:
            store.close()
    assert content(db) == before


def test_query_only_connection_reports_read_only(admin: AdminService, root: Actor):
    admin.store.db.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    with pytest.raises(DatabaseReadOnly, match="nothing was changed"):
        admin.add(root, text="No.", topic="misc.fault", as_of="2023-09-20",
                  source_title="T", published="2023-09-20")  # fmt: skip
    assert admin.bot.answer(DURATION_Q).answered


# --- a full disk ---------------------------------------------------------------------------


def fill(store: Store) -> None:
    """Cap the database at its present size, as a full disk would (SQLITE_FULL)."""
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")


def until_full(write: Callable[[int], object], limit: int = 2000) -> int:
    """Repeat a write until the disk is full; returns how many went in."""
    for n in range(limit):
        try:
            write(n)
        except DatabaseFull:
            return n
    raise AssertionError(f"{limit} writes and the database never filled up")


def test_full_disk_refuses_writes_cleanly_and_keeps_answering(
    bot: StrikeBot, admin: AdminService, root: Actor, db_path: Path, tmp_path: Path
):
    log_id = bot.ask(Question(DURATION_Q, platform="test")).log_id
    fill(bot.store)

    def add(n: int) -> None:
        admin.add(root, text=f"Filler fact {n}. " + "x" * 1500, topic="misc.fault",
                  as_of="2023-09-20", source_title="T", published="2023-09-20",
                  fact_id=f"filler-{n}")  # fmt: skip

    added = until_full(add)
    state = content(db_path)
    with pytest.raises(DatabaseFull) as full:
        add(added)
    assert content(db_path) == state, "the refused add left nothing behind"
    message = str(full.value)
    assert "full" in message and str(db_path) in message and "\n" not in message

    big = tmp_path / "big.facts.json"
    big.write_text(big_knowledge(2000), encoding="utf-8")
    with pytest.raises(DatabaseFull):
        admin.import_file(root, big)
    assert content(db_path) == state, "the refused import left nothing behind"

    votes = until_full(lambda n: bot.feedback(log_id, n % 2 == 0, "test", None))
    state = content(db_path)
    with pytest.raises(DatabaseFull):
        bot.feedback(log_id, True, "test", None)
    assert content(db_path) == state
    assert len(state["feedback"]) == votes

    answer = bot.ask(Question(DURATION_Q, platform="test"))  # its log entry is best effort
    assert answer.answered and "day" in answer.text.lower()
    assert integrity(db_path) == "ok"

    bot.store.db.execute("PRAGMA max_page_count = 1073741823")  # space again
    admin.import_file(root, big)
    assert len(content(db_path)["facts"]) == len(state["facts"]) + 2000


# --- a lock held too long ------------------------------------------------------------------


def test_a_write_that_cannot_get_the_lock_fails_clearly_and_loses_nothing(
    db_path: Path, config: BotConfig, root: Actor, tmp_path: Path
):
    store = Store(db_path, busy_timeout=0.3)
    bot = StrikeBot(store, config)
    admin = AdminService(bot)
    log_id = bot.ask(Question(DURATION_Q, platform="test")).log_id
    small = tmp_path / "small.facts.json"
    small.write_text(big_knowledge(5, "small"), encoding="utf-8")
    fields = dict(text="Written once the lock is free.", topic="misc.fault", as_of="2023-09-20",
                  source_title="T", published="2023-09-20", fact_id="after-lock")  # fmt: skip
    before = content(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock...
    holder.execute("insert into meta values ('held', 'by another program')")
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseLocked, match="locked") as locked:
            admin.add(root, **fields)
        assert time.monotonic() - started >= 0.25, "it waited the busy timeout first"
        assert "\n" not in str(locked.value) and str(db_path) in str(locked.value)
        with pytest.raises(DatabaseLocked):
            admin.import_file(root, small)
        with pytest.raises(DatabaseLocked):
            bot.feedback(log_id, True, "test", None)
        assert bot.ask(Question(DURATION_Q, platform="test")).answered  # reads go on
    finally:
        holder.execute("ROLLBACK")  # ...and gives up without writing
        holder.close()
    assert content(db_path) == before
    admin.add(root, **fields)
    assert [e["action"] for e in store.audit(fact_id="after-lock")] == ["add"]
    store.close()


# --- the messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (sqlite3.OperationalError("database or disk is full"), DatabaseFull, "full"),
        (sqlite3.OperationalError("attempt to write a readonly database"), DatabaseReadOnly,
         "read-only"),
        (sqlite3.OperationalError("database is locked"), DatabaseLocked, "locked"),
        (sqlite3.DatabaseError("database disk image is malformed"), DatabaseDamaged, "damaged"),
        (sqlite3.DatabaseError("file is not a database"), DatabaseDamaged, "damaged"),
        (sqlite3.OperationalError("unable to open database file"), CannotOpen, "Cannot open"),
    ],
)  # fmt: skip
def test_sqlite_errors_become_one_line_messages(error, kind, says, tmp_path: Path):
    """Errors made without a result code (as a test or a driver might raise them) are read
    by their text."""
    explained = explain(tmp_path / "x.db", error)
    assert type(explained) is kind
    assert says in str(explained) and str(tmp_path / "x.db") in str(explained)
    assert "\n" not in str(explained)


def test_an_injected_full_disk_error_in_a_write(fresh_store: Store, monkeypatch):
    """The error a full disk gives, raised from inside a write: the transaction rolls back
    and the caller gets a DatabaseFull."""
    facts = load_fact_files([])  # nothing to write but the revision counter
    revision = fresh_store.knowledge_revision()

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_bump_revision", staticmethod(full))
    with pytest.raises(DatabaseFull):
        fresh_store.import_knowledge(facts, actor="t")
    monkeypatch.undo()
    assert fresh_store.knowledge_revision() == revision
    assert not fresh_store.db.conn.in_transaction
