"""Online backup and restore of the database, through SQLite's backup API.

A backup is a consistent snapshot even while the bot keeps writing (WAL readers do not block
writers); it is written beside its target, checked, and only then renamed into place. A
restore checks a copy of the file first (integrity, and the complete current schema after
migrating the copy if it is older), saves the current database beside it, and copies the
checked copy in as one transaction, so a running bot reads either the old or the new database."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import sqlite_utils

from bot.store.checks import connect_read_only, inspect, schema_gaps
from bot.store.db import LOCK_TIMEOUT_S, Store
from bot.store.errors import (
    SQLITE_BUSY,
    SQLITE_LOCKED,
    CannotOpen,
    DatabaseDamaged,
    DatabaseLocked,
    ForeignDatabase,
    NewerDatabase,
    StoreError,
    explain,
)
from bot.store.migrations import migrate


class BackupExists(StoreError):
    """The backup file is there already and --force was not given."""


@dataclass(frozen=True, slots=True)
class Summary:
    """A checked database file: where, how big, what is in it."""

    path: Path
    size: int
    facts: int
    active: int
    audit: int
    version: int


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: the file it read, and where the replaced database was saved."""

    summary: Summary
    source: Path
    saved: Path | None  # None when there was no database to save
    saved_raw: bool  # the replaced database was damaged: saved byte for byte, unchecked


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _summary(conn: sqlite3.Connection, path: Path) -> Summary:
    facts, active, audit = conn.execute(
        "select count(*), count(*) filter (where status = 'active'), (select count(*) from audit)"
        " from facts"
    ).fetchone()
    version = conn.execute("select max(version) from schema_migrations").fetchone()[0] or 0
    return Summary(path, path.stat().st_size, facts, active, audit, version)


def _verify(conn: sqlite3.Connection, what: str) -> None:
    """DatabaseDamaged unless SQLite's full integrity check passes."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as exc:  # too damaged to check at all
        problems = [str(exc)]
    if problems != ["ok"]:
        raise DatabaseDamaged(f"{what} failed its integrity check ({problems[0]}).")


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, timeout: float) -> None:
    """Copy every page in one step (one consistent snapshot, one write transaction).

    Python retries a busy step forever; giving up after `timeout` turns that into an error."""
    deadline = time.monotonic() + timeout

    class GaveUp(Exception):
        pass

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (SQLITE_BUSY, SQLITE_LOCKED) and time.monotonic() > deadline:
            raise GaveUp

    try:
        source.backup(target, progress=progress, sleep=0.05)
    except GaveUp:
        raise sqlite3.OperationalError("database is locked") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_checked(
    source: sqlite3.Connection, target: Path, *, force: bool, timeout: float, what: str
) -> Summary:
    """Copy `source` to a temporary file beside `target`, check it, then move it into place
    (atomically; never over an existing file unless `force`)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            _copy(source, conn, timeout)
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _verify(conn, what)
            summary = _summary(conn, tmp)
        finally:
            conn.close()
        _fsync(tmp)
        if force:
            if target.exists():
                shutil.copymode(target, tmp)  # a replaced database keeps its permissions
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # unlike a rename, fails if target exists meanwhile
            except FileExistsError:
                raise BackupExists(f"{target} already exists; use --force to replace it.") from None
            except OSError:  # a file system without hard links
                if target.exists():
                    raise BackupExists(f"{target} already exists; use --force.") from None
                os.replace(tmp, target)
        _fsync(target.parent)
        return replace(summary, path=target)
    finally:
        tmp.unlink(missing_ok=True)
        for extra in ("-journal", "-wal", "-shm"):
            tmp.with_name(tmp.name + extra).unlink(missing_ok=True)


def _target(target: Path, live: Path) -> Path:
    if target.is_dir():
        target = target / f"strikebot-{_stamp()}.db"
    if not target.parent.is_dir():
        raise CannotOpen(
            f"Cannot write the backup {target}: the folder {target.parent} is missing."
        )
    if target.exists() and live.exists() and target.samefile(live):
        raise CannotOpen(f"{target} is the live database; give another file for the backup.")
    return target


def backup(store: Store, target: Path, *, force: bool = False) -> Summary:
    """Copy the live database to `target` (a file, or a folder to put a dated file in) and
    check the copy. Safe while the bot runs: writes go on, the copy is one point in time."""
    target = _target(Path(target).absolute(), store.path)
    if target.exists() and not force:
        raise BackupExists(f"{target} already exists; use --force to replace it.")
    try:
        with store._lock:
            return _write_checked(
                store.db.conn,
                target,
                force=force,
                timeout=store.busy_timeout,
                what=f"The copy of {store.path} (nothing was written to {target})",
            )
    except sqlite3.Error as exc:
        raise explain(target, exc) from None
    except OSError as exc:
        raise CannotOpen(f"Cannot write the backup {target}: {exc.strerror}.") from None


# --- restore ------------------------------------------------------------------------------


def _check_backup(source: Path, timeout: float) -> None:
    """Refuse anything but a healthy strikebot database this code can read."""
    if not source.is_file():
        raise CannotOpen(f"{source} is not a file; nothing was restored.")
    if source.stat().st_size == 0:
        raise DatabaseDamaged(f"{source} is empty, not a strikebot database; nothing was restored.")
    try:
        found = inspect(source, timeout)
    except StoreError as exc:
        raise type(exc)(f"Nothing was restored: {exc}") from None
    if found.version == 0:
        raise ForeignDatabase(
            f"{source} is an empty SQLite database, not a strikebot one; nothing was restored."
        )


def _check_live(db_path: Path, timeout: float) -> tuple[bool, int]:
    """Whether the database being replaced is damaged, and its knowledge revision."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        return False, 0
    try:
        inspect(db_path, timeout)
    except DatabaseDamaged:
        return True, 0
    except NewerDatabase:
        return False, 0
    except ForeignDatabase:
        raise ForeignDatabase(
            f"The configured database {db_path} is not a strikebot database; it was not "
            "replaced (move it aside, or point STRIKEBOT_DB elsewhere)."
        ) from None
    conn, _ = connect_read_only(db_path, timeout)
    try:
        row = conn.execute("select value from meta where key = 'revision'").fetchone()
        return False, int(row[0]) if row else 0
    except sqlite3.DatabaseError:
        return True, 0
    finally:
        conn.close()


def _free_name(path: Path) -> Path:
    n, candidate = 2, path
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


def _save_current(db_path: Path, damaged: bool, timeout: float) -> tuple[Path | None, bool]:
    """Keep the database about to be replaced beside it: a checked copy, or (if it is
    damaged) its bytes as they are, with its WAL."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        return None, False
    saved = _free_name(db_path.with_name(f"{db_path.name}.{_stamp()}.before-restore"))
    if not damaged:
        try:
            conn, _ = connect_read_only(db_path, timeout)
            try:
                copy = _write_checked(conn, saved, force=False, timeout=timeout, what="")
                return copy.path, False
            finally:
                conn.close()
        except DatabaseLocked:
            raise
        except (DatabaseDamaged, sqlite3.DatabaseError):
            pass  # damaged beyond what opening it showed: keep its bytes instead
    shutil.copyfile(db_path, saved)
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.is_file():
        shutil.copyfile(wal, saved.with_name(saved.name + "-wal"))
    return saved, True


@contextmanager
def _checked_candidate(source: Path, beside: Path, timeout: float) -> Iterator[Path]:
    """A copy of the backup `source`, made beside `beside`, checked in full: SQLite's
    integrity check, then (migrated to this version's schema if it is older) every table,
    column, index and trigger the current schema has. Nothing else is touched before this
    passes; the copy is removed afterwards."""
    refused = f"Nothing was restored: {source}"
    fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".restore.tmp", dir=beside.parent)
    os.close(fd)
    copy = Path(name)
    try:
        conn, _ = connect_read_only(source, timeout)
        try:
            _verify(conn, refused)
            target = sqlite3.connect(copy, timeout=timeout)
            try:
                _copy(conn, target, timeout)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            conn.close()
        db = sqlite_utils.Database(sqlite3.connect(copy, timeout=timeout))
        try:
            try:
                db.execute("PRAGMA foreign_keys=ON")
                migrate(db)
            except sqlite3.Error as exc:
                raise DatabaseDamaged(
                    f"{refused} cannot be brought up to this version's schema ({exc})."
                ) from None
            gaps = schema_gaps(db.conn)
        finally:
            db.close()
        if gaps:
            shown = ", ".join(gaps[:6]) + (f" and {len(gaps) - 6} more" if len(gaps) > 6 else "")
            raise DatabaseDamaged(
                f"{refused} lacks part of the strikebot schema ({shown}); it is not a "
                "complete strikebot database."
            )
        yield copy
    finally:
        for extra in ("", "-journal", "-wal", "-shm"):
            copy.with_name(copy.name + extra).unlink(missing_ok=True)


def _copy_in(source: sqlite3.Connection, db_path: Path, damaged: bool, timeout: float) -> None:
    """Write the backup into the live database as one transaction; a damaged file, which
    SQLite cannot write into, is replaced whole instead."""
    if not damaged:
        conn = sqlite3.connect(db_path, timeout=timeout)
        try:
            _copy(source, conn, timeout)
            return
        except sqlite3.DatabaseError as exc:
            if not isinstance(explain(db_path, exc), DatabaseDamaged):
                raise
        finally:
            conn.close()
    for extra in ("-wal", "-shm"):  # they belong to the damaged file, not to the backup
        db_path.with_name(db_path.name + extra).unlink(missing_ok=True)
    _write_checked(source, db_path, force=True, timeout=timeout, what=f"The copy into {db_path}")


def restore(db_path: Path, source: Path, *, timeout: float = LOCK_TIMEOUT_S) -> Restored:
    """Replace the database at `db_path` with the backup `source`, after checking the backup
    and saving the current database beside it as `<name>.<time>.before-restore`."""
    db_path, source = Path(db_path), Path(source)
    if db_path.exists() and source.exists() and source.samefile(db_path):
        raise CannotOpen(f"{source} is the configured database itself; nothing was restored.")
    _check_backup(source, timeout)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _checked_candidate(source, db_path, timeout) as candidate:
            conn, _ = connect_read_only(candidate, timeout)
            try:
                damaged, revision = _check_live(db_path, timeout)
                saved, raw = _save_current(db_path, damaged, timeout)
                _copy_in(conn, db_path, damaged, timeout)
            finally:
                conn.close()
    except sqlite3.Error as exc:
        raise explain(db_path, exc) from None
    except OSError as exc:
        raise CannotOpen(f"Cannot restore into {db_path}: {exc.strerror}.") from None
    store = Store(db_path, busy_timeout=timeout)
    try:
        store.note_restore(str(source), revision)
        with store._lock:
            summary = _summary(store.db.conn, db_path)
    except sqlite3.Error as exc:
        raise explain(db_path, exc) from None
    finally:
        store.close()
    return Restored(summary, source, saved, raw)
