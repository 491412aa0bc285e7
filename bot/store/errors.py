"""What can go wrong with the database file, as exceptions whose message is one plain line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Primary SQLite result codes (the low byte of an extended code).
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


class StoreError(RuntimeError):
    """The database cannot be used; the message says why in plain words."""


class DatabaseLocked(StoreError):
    """Another program held the write lock for longer than the busy timeout."""


class DatabaseFull(StoreError):
    """The disk (or the database's size limit) is full."""


class DatabaseReadOnly(StoreError):
    """The file or its folder cannot be written."""


class DatabaseDamaged(StoreError):
    """Not an SQLite file at all, truncated, or failing its integrity check."""


class ForeignDatabase(StoreError):
    """A healthy SQLite database, but not one strikebot made."""


class NewerDatabase(StoreError):
    """A strikebot database from a newer version, with a schema this code does not know."""


class CannotOpen(StoreError):
    """The path cannot be opened or created (missing folder, permissions, a folder)."""


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def explain(path: Path, exc: sqlite3.Error) -> StoreError:
    """The StoreError for an sqlite3 error on `path`, by result code (or, for an error made
    without one, by its message)."""
    code, text = _code(exc), str(exc).lower()
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in text or "busy" in text:
        return DatabaseLocked(
            f"The database {path} is locked by another program; nothing was changed, "
            "try again shortly."
        )
    if code == SQLITE_FULL or "disk is full" in text:
        return DatabaseFull(
            f"The disk holding the database {path} is full; nothing was changed. "
            "Free some space and try again."
        )
    if code in (SQLITE_READONLY, SQLITE_PERM) or "readonly" in text or "read-only" in text:
        return DatabaseReadOnly(
            f"The database {path} is read-only (the file or its folder cannot be written); "
            "nothing was changed. Questions can still be answered."
        )
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "not a database" in text or "malformed" in text:
        return DatabaseDamaged(
            f"The database {path} is damaged or not a strikebot database ({exc}). "
            "Move it aside and restore a backup, or point STRIKEBOT_DB elsewhere."
        )
    if code == SQLITE_CANTOPEN or "unable to open" in text:
        return CannotOpen(
            f"Cannot open the database {path}: check the folder exists and is writable."
        )
    if code == SQLITE_IOERR:
        return StoreError(f"A disk error on the database {path} ({exc}).")
    return StoreError(f"Database error on {path}: {exc}")
