"""Is a file a strikebot database? Answered by reading only, before anything writes to it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bot.store.errors import (
    SQLITE_CANTOPEN,
    SQLITE_NOTADB,
    DatabaseDamaged,
    ForeignDatabase,
    NewerDatabase,
    StoreError,
    explain,
)
from bot.store.migrations import MIGRATIONS

OUR_TABLES = {"schema_migrations", "facts", "sources", "audit", "meta"}


@dataclass(frozen=True, slots=True)
class Inspection:
    """What an existing database file holds."""

    version: int  # the schema version; 0 for an SQLite file with nothing in it yet
    immutable: bool  # readable only as an immutable file (a read-only folder, no -shm file)


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def connect_read_only(path: Path, timeout: float) -> tuple[sqlite3.Connection, bool]:
    """A read-only connection, and whether it had to treat the file as immutable.

    A WAL database needs its -shm file; in a read-only folder without one, SQLite can only
    read the file as immutable (it then ignores other writers, and there can be none)."""
    conn = sqlite3.connect(uri(path, mode="ro"), uri=True, timeout=timeout)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn, False
    except sqlite3.OperationalError as exc:
        conn.close()
        if _code(exc) != SQLITE_CANTOPEN:
            raise
    conn = sqlite3.connect(uri(path, immutable="1"), uri=True, timeout=timeout)
    return conn, True


def inspect(path: Path, timeout: float = 5.0) -> Inspection:
    """Check an existing, non-empty file is a strikebot database this code can use.

    Only SQLite reads the file: opening and closing it directly would drop the locks of this
    process's other connections to it (POSIX locks belong to the process), and SQLite finds
    a file that is not a database, or one cut short, as soon as it reads it."""
    sidecars = [path.with_name(path.name + end) for end in ("-wal", "-shm")]
    existed = [p.exists() for p in sidecars]
    try:
        return _inspect(path, timeout)
    except StoreError:
        # Reading a WAL-mode file made an empty -wal and a -shm beside it; a refused file
        # is left as it was found. (Had any program had it open, they would have existed.)
        for sidecar, was_there in zip(sidecars, existed, strict=True):
            made = not was_there and sidecar.exists()
            if made and (sidecar.name.endswith("-shm") or sidecar.stat().st_size == 0):
                sidecar.unlink(missing_ok=True)
        raise


def _inspect(path: Path, timeout: float) -> Inspection:
    try:
        conn, immutable = connect_read_only(path, timeout)
        try:
            tables = {
                row[0] for row in conn.execute("select name from sqlite_master where type='table'")
            }
            if not tables or tables == {"schema_migrations"}:
                return Inspection(0, immutable)
            if not tables >= OUR_TABLES:
                raise ForeignDatabase(
                    f"The database {path} is an SQLite database but not a strikebot one "
                    "(it has none of strikebot's tables); it was left as it was."
                )
            version = conn.execute("select max(version) from schema_migrations").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if _code(exc) == SQLITE_NOTADB:
            raise DatabaseDamaged(
                f"The database {path} is damaged or not a strikebot database (not even an "
                "SQLite file); it was left as it was."
            ) from None
        raise explain(path, exc) from None
    if (version or 0) > len(MIGRATIONS):
        raise NewerDatabase(
            f"The database {path} was written by a newer strikebot (schema version {version}; "
            f"this one knows up to {len(MIGRATIONS)}); upgrade strikebot to use it."
        )
    return Inspection(version or 0, immutable)
