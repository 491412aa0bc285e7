"""The SQLite store (through sqlite-utils): sources, facts, topics, audit, question and
feedback logs. Every write is one transaction that also appends its audit entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.core.bulk import paused_gc
from bot.core.models import Fact, Source, Topic
from bot.core.packs import local, pack_of
from bot.store.checks import inspect, uri
from bot.store.errors import DatabaseReadOnly, StoreError, explain
from bot.store.knowledge_files import KnowledgeSet
from bot.store.migrations import migrate

log = logging.getLogger(__name__)

BUNDLED = "bundled"
LOCK_TIMEOUT_S = 5.0
BULK_ROWS = 500  # from this many fact rows in one write, the FTS index is rebuilt once
MAX_ROWS = 100_000  # the most rows one listing returns, whatever limit a caller passes
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id matches no row


def row_limit(limit: int) -> int:
    """A caller's limit as SQLite can take it: 0 to MAX_ROWS."""
    return max(0, min(int(limit), MAX_ROWS))


@dataclass(slots=True)
class _Batch:
    """Rows collected for one bulk write."""

    stamp: str
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    audits: list[tuple] = field(default_factory=list)


class NotFound(KeyError):
    """No fact or source with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class Conflict(ValueError):
    """The change was already made (by someone else in the meantime)."""


class SourceChanged(ValueError):
    """An import would change existing sources and was not allowed to; nothing was written."""


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _json(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _fact_row(fact: Fact) -> dict[str, Any]:
    return {
        "id": fact.id,
        "text": fact.text,
        "topic": fact.topic,
        "as_of": fact.as_of.isoformat(),
        "source": fact.source,
        "questions": _json(fact.questions),
        "aliases": _json(fact.aliases),
        "keywords": _json(fact.keywords),
        "review_by": fact.review_by.isoformat() if fact.review_by else None,
        "status": fact.status,
    }


def _row_fact(row: dict[str, Any]) -> Fact:
    return Fact(
        id=row["id"],
        text=row["text"],
        topic=row["topic"],
        as_of=dt.date.fromisoformat(row["as_of"]),
        source=row["source"],
        questions=tuple(json.loads(row["questions"] or "[]")),
        aliases=tuple(json.loads(row["aliases"] or "[]")),
        keywords=tuple(json.loads(row["keywords"] or "[]")),
        review_by=dt.date.fromisoformat(row["review_by"]) if row["review_by"] else None,
        status=row["status"],
    )


def _row_source(row: dict[str, Any]) -> Source:
    return Source(
        id=row["id"],
        title=row["title"],
        published=dt.date.fromisoformat(row["published"]),
        url=row["url"] or None,
        publisher=row["publisher"] or None,
    )


def fact_json(fact: Fact) -> dict[str, Any]:
    """A fact as plain JSON values (for audit entries and `--json` output)."""
    return {
        "id": fact.id,
        "text": fact.text,
        "topic": local(fact.topic),
        "pack": pack_of(fact.topic),
        "as_of": fact.as_of.isoformat(),
        "source": fact.source,
        "questions": list(fact.questions),
        "aliases": list(fact.aliases),
        "keywords": list(fact.keywords),
        "review_by": fact.review_by.isoformat() if fact.review_by else None,
        "status": fact.status,
    }


def source_json(source: Source) -> dict[str, Any]:
    """A source as plain JSON values (for audit entries)."""
    return {
        "id": source.id,
        "title": source.title,
        "published": source.published.isoformat(),
        "url": source.url,
        "publisher": source.publisher,
    }


def _source_audit_row(
    actor: str, action: str, before: Source, after: Source, platform: str
) -> tuple:
    def dump(source: Source) -> str:
        return json.dumps(source_json(source), ensure_ascii=False)

    return (now(), actor, platform, action, None, dump(before), dump(after), f"source {after.id}")


def _source_change(before: Source, after: Source) -> str:
    """What an update changes in a source, for a person to read."""

    def show(value: Any) -> str:
        return repr(value.isoformat() if isinstance(value, dt.date) else value)

    parts = [
        f"{key} {show(getattr(before, key))} -> {show(getattr(after, key))}"
        for key in ("title", "published", "url", "publisher")
        if getattr(before, key) != getattr(after, key)
    ]
    return f"{after.id}: " + ", ".join(parts)


def _audit_row(
    actor: str,
    action: str,
    fact_id: str | None,
    before: Fact | None,
    after: Fact | None,
    platform: str,
    note: str | None = None,
) -> tuple:
    def dump(fact: Fact | None) -> str | None:
        return json.dumps(fact_json(fact), ensure_ascii=False) if fact else None

    return (now(), actor, platform, action, fact_id, dump(before), dump(after), note)


def bundle_hash(fact: Fact) -> str:
    data = fact_json(fact)
    del data["pack"]  # the topic's pack: hashes made before packs stay the same
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class Store:
    """One SQLite database file, opened in WAL mode and migrated to the current schema."""

    def __init__(self, path: Path | str, *, busy_timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        # One connection shared by the adapters' threads: every use goes through this lock.
        self._lock = threading.RLock()
        self.busy_timeout = busy_timeout
        self.read_only = False  # opened as an immutable file: answers only, no writes
        memory = str(path) == ":memory:"
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise StoreError(f"Cannot create the database {path}: {self.path.parent} is a file.")
        try:
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.is_file() and self.path.stat().st_size:
                    # Refuse a damaged, foreign or newer file before anything writes to it.
                    self.read_only = inspect(self.path, busy_timeout).immutable
            target = uri(self.path, immutable="1") if self.read_only else str(path)
            conn = sqlite3.connect(
                target, uri=self.read_only, timeout=busy_timeout, check_same_thread=False
            )
            self.db = sqlite_utils.Database(conn)
            try:
                if not memory and not self.read_only:
                    self._enable_wal()
                self.db.execute("PRAGMA foreign_keys=ON")
                migrate(self.db)
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None
        except OSError as exc:
            raise StoreError(f"Cannot create the database {path}: {exc.strerror}") from None
        if self.read_only:
            log.info("the database %s can only be read: answering, but no changes", path)

    def _enable_wal(self) -> None:
        try:
            self.db.enable_wal()
        except sqlite3.OperationalError as exc:
            # A read-only file still answers questions; writes will say why they failed.
            if not isinstance(explain(self.path, exc), DatabaseReadOnly):
                raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One atomic write; database errors come out as StoreError.

        `BEGIN IMMEDIATE` takes the write lock up front, so a writer in another process makes
        this wait (up to the busy timeout) instead of failing half-way through."""
        with self._lock:
            conn = self.db.conn
            try:
                if conn.in_transaction:
                    with self.db.atomic():  # nested: a savepoint
                        yield self.db
                    return
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
            except sqlite3.Error as exc:
                raise explain(self.path, exc) from None

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # A failed COMMIT (disk full, I/O) may already have rolled back; a ROLLBACK that
        # fails too must not hide the first error.
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def knowledge_revision(self) -> int:
        """A counter every change to facts, sources or topics moves on, in any process.

        Question logs, feedback and the review queue do not move it, so a bot does not
        re-index because another process logged a question."""
        rows = self._read("select value from meta where key = 'revision'")
        return int(rows[0]["value"]) if rows else 0

    def note_restore(self, source: str, revision_before: int) -> None:
        """After a restore: move the revision past the replaced database's, so that every
        running bot re-reads its knowledge, and note where the data came from."""
        with self.transaction() as db:
            row = db.execute("select value from meta where key = 'revision'").fetchone()
            revision = max(int(row[0]) if row else 0, revision_before) + 1
            db["meta"].upsert({"key": "revision", "value": str(revision)}, pk="key")
            db["meta"].upsert({"key": "restored_from", "value": f"{source} at {now()}"}, pk="key")

    @staticmethod
    def _bump_revision(db: sqlite_utils.Database) -> None:
        db.execute(
            "insert into meta (key, value) values ('revision', '1') on conflict(key)"
            " do update set value = cast(value as integer) + 1"
        )

    # --- reads ---------------------------------------------------------------------------

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                return list(self.db.query(sql, list(params)))
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None

    def sources(self) -> dict[str, Source]:
        return {r["id"]: _row_source(r) for r in self._read("select * from sources order by id")}

    def facts(self, *, include_retracted: bool = True) -> list[Fact]:
        sql = "select * from facts"
        if not include_retracted:
            sql += " where status = 'active'"
        return [_row_fact(r) for r in self._read(sql + " order by topic, as_of, id")]

    def fact(self, fact_id: str) -> Fact:
        rows = self._read("select * from facts where id = ?", [fact_id])
        if not rows:
            raise NotFound(f"No fact with id '{fact_id}'.")
        return _row_fact(rows[0])

    def topics(self) -> dict[str, Topic]:
        out = {}
        for r in self._read("select * from topics order by id"):
            out[r["id"]] = Topic(
                id=r["id"],
                label=r["label"],
                description=r["description"] or "",
                status_order=r["status_order"],
                compare_with=tuple(json.loads(r["compare_with"] or "[]")),
            )
        return out

    def search(self, text: str, limit: int = 20) -> list[Fact]:
        """Full-text search over facts (FTS5), for admins looking something up."""
        words = " ".join(w for w in text.replace('"', " ").split() if w)
        if not words:
            return []
        try:
            with self._lock:
                rows = list(self.db["facts"].search(words, limit=limit, quote=True))
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc).lower():
                return []  # words FTS5 cannot parse match nothing
            raise explain(self.path, exc) from None
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None
        return [_row_fact(r) for r in rows]

    def audit(self, limit: int = 50, fact_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("where fact_id = ?", [fact_id]) if fact_id else ("", [])
        rows = self._read(
            f"select * from audit {where} order by id desc limit ?", [*params, row_limit(limit)]
        )
        for row in rows:
            for key in ("before", "after"):
                row[key] = json.loads(row[key]) if row[key] else None
        return rows

    def unanswered(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._read(
            "select question, count(*) as times, max(at) as last_asked from questions_log "
            "where answered = 0 group by lower(question) order by last_asked desc limit ?",
            [row_limit(limit)],
        )

    def feedback(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._read("select * from feedback order by id desc limit ?", [row_limit(limit)])

    def meta(self, key: str) -> str | None:
        rows = self._read("select value from meta where key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db["meta"].upsert({"key": key, "value": value}, pk="key")

    # --- writes --------------------------------------------------------------------------

    def _audit(
        self,
        db: sqlite_utils.Database,
        actor: str,
        action: str,
        fact_id: str | None,
        before: Fact | None,
        after: Fact | None,
        platform: str = "cli",
        note: str | None = None,
    ) -> None:
        self._audit_many(db, [_audit_row(actor, action, fact_id, before, after, platform, note)])

    @staticmethod
    def _audit_many(db: sqlite_utils.Database, rows: list[tuple]) -> None:
        db.conn.executemany(
            "insert into audit (at, actor, platform, action, fact_id, before, after, note)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _upsert_source(self, db: sqlite_utils.Database, source: Source, origin: str) -> None:
        self._upsert_sources(db, [source], origin)

    @staticmethod
    def _upsert_sources(db: sqlite_utils.Database, sources: Iterable[Source], origin: str):
        db.conn.executemany(
            "insert into sources (id, title, published, url, publisher, origin)"
            " values (?, ?, ?, ?, ?, ?) on conflict(id) do update set title = excluded.title,"
            " published = excluded.published, url = excluded.url,"
            " publisher = excluded.publisher",
            [(s.id, s.title, s.published.isoformat(), s.url, s.publisher, origin) for s in sources],
        )

    @staticmethod
    def _upsert_topics(db: sqlite_utils.Database, topics: Iterable[Topic]) -> None:
        db.conn.executemany(
            "insert into topics (id, label, description, status_order, compare_with)"
            " values (?, ?, ?, ?, ?) on conflict(id) do update set label = excluded.label,"
            " description = excluded.description, status_order = excluded.status_order,"
            " compare_with = excluded.compare_with",
            [(t.id, t.label, t.description, t.status_order, _json(t.compare_with)) for t in topics],
        )

    @staticmethod
    def _ensure_topics(db: sqlite_utils.Database, topics: Iterable[str]) -> None:
        """Create a topic, labelled from its id, for each topic not defined yet."""
        rows = []
        for topic in set(topics):
            label = topic.replace(".", ": ").replace("_", " ").replace("-", " ")
            rows.append((topic, label[:1].upper() + label[1:]))
        db.conn.executemany(
            "insert or ignore into topics (id, label, compare_with) values (?, ?, '[]')", rows
        )

    def _ensure_topic(self, db: sqlite_utils.Database, topic: str) -> None:
        self._ensure_topics(db, [topic])

    @staticmethod
    def _existing(db: sqlite_utils.Database, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of these fact ids (looked up in chunks)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in db.query(f"select * from facts where id in ({marks})", chunk):
                found[row["id"]] = row
        return found

    @staticmethod
    @contextmanager
    def _bulk_fts(db: sqlite_utils.Database, rows: int) -> Iterator[None]:
        """For a large write, rebuild the full-text index once instead of per row."""
        if rows < BULK_ROWS:
            yield
            return
        triggers = db.execute(
            "select name, sql from sqlite_master where type = 'trigger' and tbl_name = 'facts'"
        ).fetchall()
        for name, _ in triggers:
            db.execute(f'drop trigger "{name}"')
        yield
        db.execute("insert into facts_fts (facts_fts) values ('rebuild')")
        for _, sql in triggers:
            db.execute(sql)

    @staticmethod
    def _write_facts(
        db: sqlite_utils.Database, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        if inserts:
            columns = list(inserts[0])
            db.conn.executemany(
                f"insert into facts ({', '.join(columns)})"
                f" values ({', '.join('?' * len(columns))})",
                [tuple(row[c] for c in columns) for row in inserts],
            )
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in updates:
            by_columns.setdefault(tuple(c for c in row if c != "id"), []).append(row)
        for columns, rows in by_columns.items():
            db.conn.executemany(
                f"update facts set {', '.join(f'{c} = ?' for c in columns)} where id = ?",
                [(*(row[c] for c in columns), row["id"]) for row in rows],
            )

    @staticmethod
    def _next_fact_id(db: sqlite_utils.Database, topic: str) -> str:
        """`<topic>-<n>` with the lowest n not taken (call it inside the write transaction
        that inserts the fact, so that no other writer takes it meanwhile)."""
        base = "".join(ch if ch.isalnum() else "-" for ch in topic.lower()).strip("-") or "fact"
        taken = {r[0] for r in db.execute("select id from facts where id like ?", [base + "-%"])}
        n = 1
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def new_fact_id(self, topic: str) -> str:
        """The id a fact on `topic` would get now (add_fact(auto_id=True) picks it safely)."""
        with self._lock:
            return self._next_fact_id(self.db, topic)

    @staticmethod
    def _place_source(db: sqlite_utils.Database, source: Source) -> Source:
        """A new source as it can be stored: its own id if that is free (or already holds
        the same source), else the next free `<id>-<n>`; never rewrites another source."""
        sid, n = source.id, 2
        while True:
            row = db.execute("select title, published from sources where id = ?", [sid]).fetchone()
            if row is None or (row[0], row[1]) == (source.title, source.published.isoformat()):
                return replace(source, id=sid)
            sid, n = f"{source.id}-{n}", n + 1

    def add_fact(
        self,
        fact: Fact,
        source: Source | None,
        *,
        actor: str,
        platform: str = "cli",
        origin: str = "admin",
        auto_id: bool = False,
    ) -> Fact:
        """Insert a new fact (and its source if new), with its audit entry, atomically.

        With `auto_id` the fact's id is chosen here, in the write transaction, from its
        topic; a new source whose id another writer took meanwhile gets the next free id.
        Returns the fact as stored."""
        with self.transaction() as db:
            if auto_id:
                fact = replace(fact, id=self._next_fact_id(db, local(fact.topic)))
            if db.execute("select 1 from facts where id = ?", [fact.id]).fetchone():
                raise ValueError(f"A fact with id '{fact.id}' already exists.")
            if source is not None:
                source = self._place_source(db, source)
                fact = replace(fact, source=source.id)
                self._upsert_source(db, source, origin)
            elif not db.execute("select 1 from sources where id = ?", [fact.source]).fetchone():
                raise ValueError(f"No source with id '{fact.source}'.")
            self._ensure_topic(db, fact.topic)
            stamp = now()
            db["facts"].insert(
                {
                    **_fact_row(fact),
                    "origin": origin,
                    "admin_modified": 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            self._audit(db, actor, "add", fact.id, None, fact, platform)
            self._bump_revision(db)
        return fact

    def update_fact(
        self,
        fact_id: str,
        changes: dict[str, Any],
        *,
        actor: str,
        platform: str = "cli",
        action: str = "edit",
        note: str | None = None,
    ) -> Fact:
        """Change fields of a fact; the audit entry keeps before and after."""
        with self.transaction() as db:
            rows = list(db.query("select * from facts where id = ?", [fact_id]))
            if not rows:
                raise NotFound(f"No fact with id '{fact_id}'.")
            before = _row_fact(rows[0])
            if "status" in changes and changes["status"] == before.status:
                # Checked in the write transaction, so two admins cannot both retract it.
                raise Conflict(f"Fact '{fact_id}' is already {before.status}.")
            after = replace(before, **changes)
            if (
                after.source != before.source
                and not db.execute("select 1 from sources where id = ?", [after.source]).fetchone()
            ):
                raise ValueError(f"No source with id '{after.source}'.")
            self._ensure_topic(db, after.topic)
            extra: dict[str, Any] = {"admin_modified": 1, "updated_at": now()}
            if "status" in changes:
                extra.update(status_reason=note, status_by=actor, status_at=now())
            db["facts"].update(fact_id, {**_fact_row(after), **extra})
            self._audit(db, actor, action, fact_id, before, after, platform, note)
            self._bump_revision(db)
        return after

    def log_question(
        self,
        question: str,
        answered: bool,
        confidence: float,
        facts: Iterable[str],
        platform: str,
        user: str | None,
    ) -> int:
        """Append to the question log; returns the entry's id (feedback refers to it)."""
        with self.transaction() as db:
            table = db["questions_log"].insert(
                {
                    "at": now(),
                    "question": question[:1000],
                    "answered": int(answered),
                    "confidence": round(confidence, 4),
                    "facts": _json(facts),
                    "platform": platform,
                    "user": user,
                }
            )
        return int(table.last_pk)

    def logged_question(self, log_id: int) -> dict[str, Any] | None:
        rows = self._read("select * from questions_log where id = ?", [log_id])
        if not rows:
            return None
        row = rows[0]
        row["facts"] = json.loads(row["facts"] or "[]")
        return row

    def record_feedback(
        self, question: str, facts: Iterable[str], helpful: bool, platform: str, user: str | None
    ) -> None:
        with self.transaction() as db:
            db["feedback"].insert(
                {
                    "at": now(),
                    "question": question[:1000],
                    "facts": _json(facts),
                    "helpful": int(helpful),
                    "platform": platform,
                    "user": user,
                }
            )

    def purge_logs(self, older_than_days: int) -> int:
        """Drop question and feedback logs older than the retention period."""
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)).isoformat()
        old = self._read(
            "select (select count(*) from questions_log where at < ?)"
            " + (select count(*) from feedback where at < ?) as n",
            [cutoff, cutoff],
        )[0]["n"]
        if not old:
            return 0  # nothing to do: stay a reader, so read-only use keeps working
        with self.transaction() as db:
            n = db.execute("delete from questions_log where at < ?", [cutoff]).rowcount
            n += db.execute("delete from feedback where at < ?", [cutoff]).rowcount
        return n

    def _merge(
        self,
        db: sqlite_utils.Database,
        knowledge: KnowledgeSet,
        topics: Iterable[Topic],
        origin: str,
        decide: Callable[[Fact, dict[str, Any] | None, _Batch], None],
    ) -> None:
        """Write a knowledge set in bulk; `decide` says what happens to each fact."""
        with paused_gc():
            batch = _Batch(now())
            self._upsert_topics(db, topics)
            self._upsert_sources(db, knowledge.sources, origin)
            self._ensure_topics(db, (f.topic for f in knowledge.facts))
            existing = self._existing(db, [f.id for f in knowledge.facts])
            for fact in knowledge.facts:
                decide(fact, existing.get(fact.id), batch)
            with self._bulk_fts(db, len(batch.inserts) + len(batch.updates)):
                self._write_facts(db, batch.inserts, batch.updates)
            self._audit_many(db, batch.audits)

    def import_knowledge(
        self,
        knowledge: KnowledgeSet,
        *,
        actor: str,
        topics: Iterable[Topic] = (),
        origin: str = "import",
        platform: str = "cli",
        update_sources: bool = False,
    ) -> dict[str, int]:
        """Add or update facts from a validated knowledge set, all in one transaction.

        A source the set changes (title, date, URL or publisher) is counted and audited with
        its before and after; without `update_sources` such a change refuses the whole set
        (SourceChanged), since every answer citing that source would change with it."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        counts.update({"sources added": 0, "sources updated": 0})

        def decide(fact: Fact, row: dict[str, Any] | None, batch: _Batch) -> None:
            if row is None:
                batch.inserts.append(
                    {**_fact_row(fact), "origin": origin, "admin_modified": 1,
                     "created_at": batch.stamp, "updated_at": batch.stamp}
                )  # fmt: skip
                batch.audits.append(_audit_row(actor, "import-add", fact.id, None, fact, platform))
                counts["added"] += 1
                return
            before = _row_fact(row)
            if before == fact:
                counts["unchanged"] += 1
                return
            batch.updates.append(
                {**_fact_row(fact), "admin_modified": 1, "updated_at": batch.stamp}
            )
            batch.audits.append(_audit_row(actor, "import-update", fact.id, before, fact, platform))
            counts["updated"] += 1

        with self.transaction() as db:
            stored = {
                row["id"]: _row_source(row)
                for row in db.query(
                    "select * from sources where id in (select value from json_each(?))",
                    [_json(s.id for s in knowledge.sources)],
                )
            }
            changed = [
                (stored[s.id], s) for s in knowledge.sources if s.id in stored and stored[s.id] != s
            ]
            if changed and not update_sources:
                shown = "; ".join(_source_change(b, a) for b, a in changed[:3])
                more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
                raise SourceChanged(
                    f"The file changes {len(changed)} existing source(s): {shown}{more}. "
                    "Nothing was imported; give --update-sources to change them."
                )
            counts["sources added"] = sum(1 for s in knowledge.sources if s.id not in stored)
            counts["sources updated"] = len(changed)
            self._audit_many(
                db,
                [
                    _source_audit_row(actor, "import-source-update", b, a, platform)
                    for b, a in changed
                ],
            )
            self._merge(db, knowledge, topics, origin, decide)
            self._bump_revision(db)
        return counts

    def sync_bundled(
        self, knowledge: KnowledgeSet, topics: Iterable[Topic], fingerprint: str
    ) -> dict[str, int] | None:
        """Bring in new and changed bundled facts without undoing what admins changed.

        The rule: a bundled fact no admin has touched follows the files; once an admin edits,
        retracts or restores it, the admin's version stays and later file changes to it are
        skipped (and noted in the audit log once). Facts removed from the files are kept.
        Returns None when the bundle is unchanged since the last sync.
        """
        if self.meta("bundle_fingerprint") == fingerprint:
            return None
        counts = {"added": 0, "updated": 0, "kept_admin_version": 0}

        def decide(fact: Fact, row: dict[str, Any] | None, batch: _Batch) -> None:
            digest = bundle_hash(fact)
            if row is None:
                batch.inserts.append(
                    {**_fact_row(fact), "origin": BUNDLED, "bundled_hash": digest,
                     "admin_modified": 0, "created_at": batch.stamp, "updated_at": batch.stamp}
                )  # fmt: skip
                batch.audits.append(_audit_row(BUNDLED, "sync-add", fact.id, None, fact, "bundle"))
                counts["added"] += 1
                return
            if row["bundled_hash"] == digest:
                return
            before = _row_fact(row)
            if row["admin_modified"]:
                # Only the hash moves on, so this skip is noted once per file change.
                batch.updates.append({"id": fact.id, "bundled_hash": digest})
                batch.audits.append(
                    _audit_row(BUNDLED, "sync-skip", fact.id, before, fact, "bundle",
                               "the bundled file changed, but an admin's version is kept")
                )  # fmt: skip
                counts["kept_admin_version"] += 1
                return
            batch.updates.append(
                {**_fact_row(fact), "bundled_hash": digest, "updated_at": batch.stamp}
            )
            batch.audits.append(_audit_row(BUNDLED, "sync-update", fact.id, before, fact, "bundle"))
            counts["updated"] += 1

        with self.transaction() as db:
            self._merge(db, knowledge, topics, BUNDLED, decide)
            db["meta"].upsert({"key": "bundle_fingerprint", "value": fingerprint}, pk="key")
            self._bump_revision(db)
        return counts
