"""Worker processes for the store's fault and concurrency tests, and the helpers they share.

Run as `python -m tests.store_workers KIND DB ...`; each worker prints one JSON line with
what it did, for the test to check against the database."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.core.admin import Actor, AdminInputError, AdminService
from bot.core.models import Fact, Source, Topic
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.knowledge_files import dump_knowledge

REPO = Path(__file__).resolve().parent.parent
WORDS = ["picket", "studio", "writer", "residual", "streaming"]
WORDS += ["minimum", "staffing", "contract", "vote", "union"]

# One statement, so one snapshot: counts, and facts whose latest audit entry does not show
# them as they are (a change without its audit entry would appear here).
SNAPSHOT_SQL = """
select
  (select count(*) from facts),
  (select count(*) from audit),
  (select count(*) from facts f
     where not exists (select 1 from audit a where a.fact_id = f.id)
        or (select json_extract(a.after, '$.text') || '|' || json_extract(a.after, '$.status')
            from audit a where a.fact_id = f.id order by a.id desc limit 1)
           is not f.text || '|' || f.status)
"""


def big_knowledge(n: int, prefix: str = "bulk") -> str:
    """A JSON knowledge file of `n` new facts (the format `facts export FILE.json` writes)."""
    source = Source(f"{prefix}-source", "Bulk source", dt.date(2023, 9, 20))
    facts = [
        Fact(
            id=f"{prefix}-{i}",
            text=f"Bulk fact {i}: the {WORDS[i % 10]} {WORDS[(i * 7) % 10]} figure is {i}.",
            topic=f"{prefix}.t{i % 40}",
            as_of=dt.date(2023, 9, 20),
            source=source.id,
            questions=(f"what is the {WORDS[i % 10]} figure {i}?",),
        )
        for i in range(n)
    ]
    topics = [Topic(f"{prefix}.t{i}", f"Bulk topic {i}") for i in range(min(n, 40))]
    return dump_knowledge([source], facts, as_json=True, topics=topics)


def snapshot(db: Path) -> tuple[int, int, int]:
    """(facts, audit entries, facts out of step with their audit) at one point in time."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(SNAPSHOT_SQL).fetchone()
    finally:
        conn.close()


def start(kind: str, db: Path, *args: Any, cwd: Path) -> subprocess.Popen:
    """Start a worker process; its stdout is one JSON line at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIKEBOT_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store_workers", kind, str(db), *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_readers(db: Path, stop: Path, n: int, cwd: Path) -> list[subprocess.Popen]:
    """Start `n` reader processes and wait until each has taken its first snapshot."""
    readers = [start("reader", db, stop, cwd / f"ready-{i}", cwd=cwd) for i in range(n)]
    for i in range(n):
        wait_for(cwd / f"ready-{i}")
    return readers


def result(proc: subprocess.Popen, timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{err}"
    return json.loads(out.strip().splitlines()[-1])


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.01)


def _admin(db: Path) -> AdminService:
    from bot.store.db import Store

    store = Store(db, busy_timeout=30)
    return AdminService(StrikeBot(store, BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)))


def adder(db: Path, prefix: str, stop: Path) -> dict[str, Any]:
    """Add facts one by one until `stop` exists."""
    admin, actor, added = _admin(db), Actor(prefix, "test", is_admin=True), []
    while not stop.exists():
        fact = admin.add(
            actor,
            text=f"Added while backing up, number {len(added)}.",
            topic="load.backup",
            as_of="2023-09-20",
            source_title="Load",
            published="2023-09-20",
            fact_id=f"{prefix}-{len(added)}",
        )
        added.append(fact.id)
    return {"added": added}


def auto_adder(db: Path, worker: str, n: int, topic: str, go: Path) -> dict[str, Any]:
    """Add n facts on one topic without choosing their ids (the store picks the next free
    one), as `strikebot facts add` without --id does; report the ids and any refusal."""
    admin, actor = _admin(db), Actor(worker, "test", is_admin=True)
    ids, refused = [], []
    wait_for(go)
    for i in range(n):
        try:
            fact = admin.add(
                actor,
                text=f"Fact {i} of {worker}.",
                topic=topic,
                as_of="2023-09-20",
                source_title=f"Report by {worker}",
                published="2023-09-20",
            )
            ids.append(fact.id)
        except AdminInputError as exc:
            refused.append(str(exc))
    return {"ids": ids, "refused": refused}


def admin_mix(db: Path, worker: str, n: int, shared: str, go: Path) -> dict[str, Any]:
    """Add n facts of one's own, edit each, retract every second one and restore every
    fourth; meanwhile edit, retract and restore one fact every worker shares."""
    admin, actor = _admin(db), Actor(worker, "test", is_admin=True)
    done = {"edit": 0, "retract": 0, "restore": 0, "conflicts": 0}
    wait_for(go)
    for i in range(n):
        fact_id = f"{worker}-{i}"
        admin.add(
            actor,
            text=f"Fact {i} of {worker}.",
            topic=f"load.{worker}",
            as_of="2023-09-20",
            source_title="Load",
            published="2023-09-20",
            fact_id=fact_id,
        )
        admin.edit(actor, fact_id, text=f"Fact {i} of {worker}, edited.")
        if i % 2 == 0:
            admin.retract(actor, fact_id, "wrong")
        if i % 4 == 0:
            admin.restore(actor, fact_id)
        admin.edit(actor, shared, text=f"Shared fact, edit {i} by {worker}.")
        done["edit"] += 1
        for action in ("retract", "restore"):
            try:
                if action == "retract":
                    admin.retract(actor, shared, f"{worker} retracts")
                else:
                    admin.restore(actor, shared)
                done[action] += 1
            except AdminInputError:  # another worker got there first: no change, no audit
                done["conflicts"] += 1
    return {"shared": done}


def editor(db: Path, stop: Path, go: Path) -> dict[str, Any]:
    """Edit, retract and restore bundled facts until `stop` exists; count the changes."""
    admin, actor = _admin(db), Actor("editor", "test", is_admin=True)
    ids = [f.id for f in admin.store.facts(include_retracted=False)][:8]
    changes = 0
    wait_for(go)
    while not stop.exists():
        fact_id = ids[changes % len(ids)]
        admin.edit(actor, fact_id, text=f"Edited during the import, change {changes}.")
        admin.retract(actor, fact_id, "checking")
        admin.restore(actor, fact_id)
        changes += 3
    return {"changes": changes}


def reader(db: Path, stop: Path, ready: Path) -> dict[str, Any]:
    """Take snapshots until `stop` exists (touching `ready` after the first); report each
    with the time it was taken."""
    polls = [[time.time(), *snapshot(db)]]
    ready.touch()
    while not stop.exists():
        polls.append([time.time(), *snapshot(db)])
    polls.append([time.time(), *snapshot(db)])
    return {"polls": polls}


def main(argv: list[str]) -> None:
    kind, db, *args = argv
    path = Path(db)
    if kind == "add":
        out = adder(path, args[0], Path(args[1]))
    elif kind == "auto-add":
        out = auto_adder(path, args[0], int(args[1]), args[2], Path(args[3]))
    elif kind == "admin":
        out = admin_mix(path, args[0], int(args[1]), args[2], Path(args[3]))
    elif kind == "editor":
        out = editor(path, Path(args[0]), Path(args[1]))
    elif kind == "reader":
        out = reader(path, Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown worker {kind}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
