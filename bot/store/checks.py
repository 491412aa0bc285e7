"""Is a file a strikebot database? Answered by reading only, before anything writes to it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

import sqlite_utils

from bot.store.errors import (
    SQLITE_CANTOPEN,
    SQLITE_NOTADB,
    DatabaseDamaged,
    ForeignDatabase,
    NewerDatabase,
    StoreError,
    explain,
)
from bot.store.migrations import MIGRATIONS, migrate

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


# --- the schema, complete ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schema:
    """What a database's schema consists of, in comparable form."""

    # table -> column -> (declared type, primary-key position)
    tables: dict[str, dict[str, tuple[str, int]]]
    indexes: dict[str, tuple[str, tuple[str, ...], bool]]  # name -> (table, columns, unique)
    triggers: dict[str, str]  # name -> table
    foreign_keys: dict[str, frozenset[tuple[str, str, str]]]  # table -> (from, table, to)


def read_schema(conn: sqlite3.Connection) -> Schema:
    """The schema of an open database (its tables, columns, indexes, triggers and keys)."""
    objects = conn.execute("select type, name, tbl_name from sqlite_master").fetchall()
    tables: dict[str, dict[str, tuple[str, int]]] = {}
    indexes: dict[str, tuple[str, tuple[str, ...], bool]] = {}
    keys: dict[str, frozenset[tuple[str, str, str]]] = {}
    for kind, name, table in objects:
        if kind == "table" and not name.startswith("sqlite_"):
            columns = conn.execute(f'PRAGMA table_xinfo("{name}")').fetchall()
            tables[name] = {c[1]: ((c[2] or "").upper(), c[5]) for c in columns if not c[6]}
            found = conn.execute(f'PRAGMA foreign_key_list("{name}")').fetchall()
            keys[name] = frozenset((k[3], k[2], k[4] or "") for k in found)
        elif kind == "index" and not name.startswith("sqlite_"):
            cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{name}")'))
            unique = any(
                r[1] == name and r[2] for r in conn.execute(f'PRAGMA index_list("{table}")')
            )
            indexes[name] = (table, cols, unique)
    triggers = {name: table for kind, name, table in objects if kind == "trigger"}
    return Schema(tables, indexes, triggers, keys)


@cache
def expected_schema() -> Schema:
    """The schema this code's migrations build."""
    db = sqlite_utils.Database(memory=True)
    try:
        migrate(db)
        return read_schema(db.conn)
    finally:
        db.close()


def schema_gaps(conn: sqlite3.Connection) -> list[str]:
    """What the database lacks of the current schema (empty when it has all of it): every
    table, column (with its type and key), index, trigger and foreign key. Extra tables and
    columns are allowed."""
    want, have = expected_schema(), read_schema(conn)
    gaps: list[str] = []
    for table, columns in want.tables.items():
        if table not in have.tables:
            gaps.append(f"table {table}")
            continue
        for column, shape in columns.items():
            found = have.tables[table].get(column)
            if found is None:
                gaps.append(f"column {table}.{column}")
            elif found != shape:
                gaps.append(f"column {table}.{column} as {shape[0] or 'untyped'}")
        if not want.foreign_keys[table] <= have.foreign_keys.get(table, frozenset()):
            gaps.append(f"the foreign keys of {table}")
    for name, shape in want.indexes.items():
        if have.indexes.get(name) != shape:
            gaps.append(f"index {name}")
    for name, table in want.triggers.items():
        if have.triggers.get(name) != table:
            gaps.append(f"trigger {name}")
    return gaps
