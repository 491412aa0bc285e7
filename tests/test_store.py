"""The SQLite store: schema, WAL, transactions, audit, retraction, and the bundle sync rule."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace

import pytest

from bot.core.models import Fact, Source
from bot.core.service import BotConfig, StrikeBot, knowledge_fingerprint
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import NotFound, Store, StoreError
from bot.store.knowledge_files import KnowledgeSet
from bot.store.migrations import MIGRATIONS, current_version

SOURCE = Source("s1", "Source one", dt.date(2023, 9, 1), "https://example.org/1", "Example")
FACT = Fact("f1", "Writers asked for more.", "demand.pay", dt.date(2023, 9, 1), "s1")


def test_fresh_store_is_migrated_and_in_wal_mode(fresh_store):
    assert current_version(fresh_store.db) == len(MIGRATIONS)
    assert fresh_store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = set(fresh_store.db.table_names())
    assert {"sources", "facts", "facts_fts", "audit", "questions_log", "feedback"} <= tables


def test_reopening_does_not_migrate_twice(db_path):
    Store(db_path).close()
    store = Store(db_path)
    rows = store.db.execute("select count(*) from schema_migrations").fetchone()[0]
    assert rows == len(MIGRATIONS)


def test_add_writes_fact_source_and_audit_together(fresh_store):
    fresh_store.add_fact(FACT, SOURCE, actor="alice")
    assert fresh_store.fact("f1") == FACT
    assert fresh_store.sources()["s1"] == SOURCE
    [entry] = fresh_store.audit()
    assert (entry["actor"], entry["action"], entry["fact_id"]) == ("alice", "add", "f1")
    assert entry["before"] is None and entry["after"]["text"] == FACT.text


def test_a_failing_write_leaves_nothing_behind(fresh_store):
    fresh_store.add_fact(FACT, SOURCE, actor="alice")
    with pytest.raises(ValueError):
        fresh_store.add_fact(replace(FACT, text="dup"), None, actor="alice")
    with pytest.raises(ValueError):
        fresh_store.add_fact(replace(FACT, id="f2", source="missing"), None, actor="alice")
    assert [f.id for f in fresh_store.facts()] == ["f1"]
    assert len(fresh_store.audit()) == 1


def test_retract_and_restore_keep_the_fact_and_record_who_and_why(fresh_store):
    fresh_store.add_fact(FACT, SOURCE, actor="alice")
    fresh_store.update_fact(
        "f1", {"status": "retracted"}, actor="bob", action="retract", note="wrong"
    )
    assert fresh_store.fact("f1").status == "retracted"
    assert fresh_store.facts(include_retracted=False) == []
    row = fresh_store.db["facts"].get("f1")
    assert (row["status_by"], row["status_reason"]) == ("bob", "wrong")
    fresh_store.update_fact("f1", {"status": "active"}, actor="carol", action="restore")
    assert fresh_store.fact("f1").status == "active"
    actions = [e["action"] for e in fresh_store.audit()]
    assert actions == ["restore", "retract", "add"]


def test_unknown_fact_is_not_found(fresh_store):
    with pytest.raises(NotFound):
        fresh_store.fact("nope")
    with pytest.raises(NotFound):
        fresh_store.update_fact("nope", {"text": "x"}, actor="a")


def test_full_text_search(fresh_store):
    fresh_store.add_fact(FACT, SOURCE, actor="alice")
    assert [f.id for f in fresh_store.search("writers")] == ["f1"]
    assert fresh_store.search('"unbalanced quote') == []


def test_question_log_and_feedback(fresh_store):
    log_id = fresh_store.log_question("q?", True, 0.9, ["f1"], "test", None)
    entry = fresh_store.logged_question(log_id)
    assert entry["facts"] == ["f1"] and entry["question"] == "q?"
    fresh_store.log_question("nothing?", False, 0.1, [], "test", None)
    assert [r["question"] for r in fresh_store.unanswered()] == ["nothing?"]
    fresh_store.record_feedback("q?", ["f1"], False, "test", None)
    assert fresh_store.feedback()[0]["helpful"] == 0


def test_sync_rule_follows_files_until_an_admin_touches_a_fact(fresh_store):
    first = KnowledgeSet([SOURCE], [FACT, replace(FACT, id="f2", text="Second.")])
    assert fresh_store.sync_bundled(first, [], "v1") == {
        "added": 2,
        "updated": 0,
        "kept_admin_version": 0,
    }
    assert fresh_store.sync_bundled(first, [], "v1") is None  # unchanged bundle: no work
    fresh_store.update_fact("f2", {"text": "Admin wording."}, actor="admin")
    second = KnowledgeSet(
        [SOURCE],
        [
            replace(FACT, text="File v2."),
            replace(FACT, id="f2", text="File v2 of f2."),
            replace(FACT, id="f3"),
        ],
    )
    counts = fresh_store.sync_bundled(second, [], "v2")
    assert counts == {"added": 1, "updated": 1, "kept_admin_version": 1}
    assert fresh_store.fact("f1").text == "File v2."
    assert fresh_store.fact("f2").text == "Admin wording."
    assert fresh_store.fact("f3").id == "f3"
    # Removing a fact from the files never deletes it.
    fresh_store.sync_bundled(KnowledgeSet([SOURCE], []), [], "v3")
    assert {f.id for f in fresh_store.facts()} == {"f1", "f2", "f3"}


def test_restart_keeps_admin_retraction_of_bundled_fact(db_path):
    config = BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)
    bot = StrikeBot(Store(db_path), config)
    bot.store.update_fact("offer-pay", {"status": "retracted"}, actor="a", action="retract")
    bot.store.db["meta"].upsert({"key": "bundle_fingerprint", "value": "old"}, pk="key")
    again = StrikeBot(Store(db_path), config)
    assert again.store.fact("offer-pay").status == "retracted"
    assert again.store.meta("bundle_fingerprint") == knowledge_fingerprint(BUNDLED_KNOWLEDGE)


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="damaged or not a strikebot database"):
        Store(path)


def test_locked_database_gives_a_clear_error(db_path):
    store = Store(db_path)
    holder = sqlite3.connect(db_path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store.db.conn.execute("PRAGMA busy_timeout = 100")
        with pytest.raises(StoreError, match="locked"):
            store.add_fact(FACT, SOURCE, actor="alice")
    finally:
        holder.rollback()
        holder.close()
    store.add_fact(FACT, SOURCE, actor="alice")  # works again once released


def test_knowledge_revision_moves_with_fact_changes_from_any_connection(db_path):
    a, b = Store(db_path), Store(db_path)
    before = a.knowledge_revision()
    b.add_fact(FACT, SOURCE, actor="other process")
    after_add = a.knowledge_revision()
    assert after_add != before
    b.log_question("q?", False, 0.0, [], "test", None)  # logs do not force a re-index
    assert a.knowledge_revision() == after_add


def test_logs_past_retention_are_purged(fresh_store):
    fresh_store.log_question("old?", False, 0.0, [], "test", None)
    fresh_store.db.execute("update questions_log set at = '2000-01-01T00:00:00+00:00'")
    fresh_store.log_question("new?", False, 0.0, [], "test", None)
    assert fresh_store.purge_logs(90) == 1
    assert [r["question"] for r in fresh_store.unanswered()] == ["new?"]


def test_bulk_import_rebuilds_full_text_index_and_keeps_its_triggers(fresh_store):
    facts = [
        replace(FACT, id=f"bulk-{i}", text=f"Bulk fact number {i} about pensions.")
        for i in range(600)
    ]
    counts = fresh_store.import_knowledge(KnowledgeSet([SOURCE], facts), actor="loader")
    assert counts == {
        "added": 600,
        "updated": 0,
        "unchanged": 0,
        "sources added": 1,
        "sources updated": 0,
    }
    assert len(fresh_store.search("pensions", limit=1000)) == 600
    triggers = {
        r[0]
        for r in fresh_store.db.execute("select name from sqlite_master where type = 'trigger'")
    }
    assert {"facts_ai", "facts_ad", "facts_au"} <= triggers
    fresh_store.update_fact("bulk-7", {"text": "Now about zeppelins."}, actor="admin")
    assert [f.id for f in fresh_store.search("zeppelins")] == ["bulk-7"]
    assert len(fresh_store.audit(limit=1000)) == 601
