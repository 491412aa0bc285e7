"""Several processes writing and reading one database at once: no change is lost, each has
exactly one audit entry, and a reader never sees half an import or a change without its
audit entry."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from bot.store.db import Conflict, Store
from tests.cli_runner import CLI, cli_env
from tests.store_workers import big_knowledge, result, snapshot, start, start_readers

WORKERS = 4
PER_WORKER = 12
SHARED = "offer-pay"  # a bundled fact every worker edits, retracts and restores
IMPORTED = 4000


def audit_rows(db: Path, fact_id: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "select action, before, after from audit where fact_id = ? order by id", [fact_id]
        ).fetchall()
    finally:
        conn.close()
    return [
        {"action": a, "before": json.loads(b) if b else None, "after": json.loads(c)}
        for a, b, c in rows
    ]


def test_concurrent_admins_lose_no_change(db_path: Path, tmp_path: Path) -> None:
    store = Store(db_path)
    revision, audit_before = store.knowledge_revision(), len(store.audit(limit=10**6))
    store.close()
    shared_before = len(audit_rows(db_path, SHARED))
    go = tmp_path / "go"
    workers = [
        start("admin", db_path, f"w{k}", PER_WORKER, SHARED, go, cwd=tmp_path)
        for k in range(WORKERS)
    ]
    go.touch()  # each worker waits for this once its database is open: they start together
    shared = [result(w)["shared"] for w in workers]

    own_changes = 0
    store = Store(db_path)
    try:
        for k in range(WORKERS):
            for i in range(PER_WORKER):
                fact = store.fact(f"w{k}-{i}")
                assert fact.text == f"Fact {i} of w{k}, edited."
                retracted = i % 2 == 0 and i % 4 != 0
                assert fact.status == ("retracted" if retracted else "active")
                expected = ["add", "edit"] + ["retract"] * (i % 2 == 0) + ["restore"] * (i % 4 == 0)
                assert [e["action"] for e in audit_rows(db_path, fact.id)] == expected
                own_changes += len(expected)

        # The shared fact: one entry per change that succeeded, and the entries form one
        # chain, each change made on the result of the one before it.
        made = sum(s["edit"] + s["retract"] + s["restore"] for s in shared)
        assert made + sum(s["conflicts"] for s in shared) == WORKERS * PER_WORKER * 3
        history = audit_rows(db_path, SHARED)[shared_before:]
        assert len(history) == made
        for earlier, later in itertools.pairwise(history):
            assert later["before"] == earlier["after"]
        final = store.fact(SHARED)
        assert history[-1]["after"]["text"] == final.text
        assert history[-1]["after"]["status"] == final.status

        total = own_changes + made
        assert len(store.audit(limit=10**6)) == audit_before + total
        assert store.knowledge_revision() == revision + total
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def test_readers_never_see_half_an_import(db_path: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.facts.json"
    big.write_text(big_knowledge(IMPORTED), encoding="utf-8")
    facts_before, audit_before, stray = snapshot(db_path)
    assert stray == 0
    stop, go = tmp_path / "stop", tmp_path / "go"
    readers = start_readers(db_path, stop, 2, tmp_path)
    # An admin changing facts meanwhile: readers must see each change with its audit entry.
    editor = start("editor", db_path, stop, go, cwd=tmp_path)
    go.touch()
    began = time.time()
    importer = subprocess.run(
        [*CLI, "facts", "import", str(big)],
        cwd=tmp_path,
        env=cli_env(db_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    ended = time.time()
    assert importer.returncode == 0, importer.stderr
    assert f"{IMPORTED} added" in importer.stdout
    time.sleep(0.3)
    stop.touch()
    changes = result(editor)["changes"]
    polls = [p for r in readers for p in result(r)["polls"]]

    counts = {facts for _, facts, _, _ in polls}
    assert counts == {facts_before, facts_before + IMPORTED}, sorted(counts)
    assert all(p[3] == 0 for p in polls), "a reader saw a fact change without its audit entry"
    during = [p for p in polls if began < p[0] < ended]
    assert len(during) >= 5, "the readers must have polled while the import ran"
    assert changes > 0
    assert snapshot(db_path) == (facts_before + IMPORTED, audit_before + IMPORTED + changes, 0)


def test_a_retract_that_lost_the_race_changes_nothing(db_path: Path) -> None:
    """Two admins both saw the fact active; the second one's write must not retract it a
    second time (the check is made again inside the write transaction)."""
    first, second = Store(db_path), Store(db_path)
    try:
        assert second.fact(SHARED).status == "active"  # what the second admin checked
        first.update_fact(SHARED, {"status": "retracted"}, actor="a", action="retract")
        entries = len(audit_rows(db_path, SHARED))
        with pytest.raises(Conflict, match="already retracted"):
            second.update_fact(SHARED, {"status": "retracted"}, actor="b", action="retract")
        assert len(audit_rows(db_path, SHARED)) == entries
        assert second.fact(SHARED).status == "retracted"
    finally:
        first.close()
        second.close()


def test_concurrent_adds_on_one_topic_without_ids_all_succeed(db_path: Path, tmp_path: Path):
    """`facts add` without --id from several processes at once: the id is chosen inside the
    write transaction, so none is refused as taken (issue 12, item 4)."""
    go = tmp_path / "go"
    workers = [
        start("auto-add", db_path, f"w{k}", PER_WORKER, "load.same", go, cwd=tmp_path)
        for k in range(WORKERS)
    ]
    go.touch()
    done = [result(w) for w in workers]
    assert [d["refused"] for d in done] == [[]] * WORKERS
    ids = [i for d in done for i in d["ids"]]
    assert len(ids) == len(set(ids)) == WORKERS * PER_WORKER
    assert sorted(ids, key=lambda i: int(i.rsplit("-", 1)[1])) == [
        f"load-same-{n}" for n in range(1, WORKERS * PER_WORKER + 1)
    ]
    store = Store(db_path)
    try:
        texts = {store.fact(i).text for i in ids}
        assert len(texts) == WORKERS * PER_WORKER
        assert [e["action"] for i in ids for e in audit_rows(db_path, i)] == ["add"] * len(ids)
    finally:
        store.close()
