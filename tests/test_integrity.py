"""Data integrity (issue 12, items 2-5): an import that changes a source says so and needs
--update-sources; no fact dated in the future or after its source; concurrent adds on one
topic all succeed; an export replaces the old file atomically."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.core.admin import Actor, AdminInputError, AdminService
from bot.core.service import StrikeBot
from bot.store.db import Store
from tests.cli_runner import Run, failed, ok

BUNDLED_SOURCE = "wga-breakaway-2023-09-11"
PHISH = f"""\
sources:
  - id: {BUNDLED_SOURCE}
    title: "Studios concede everything"
    published: 2023-09-11
    url: https://evil.example/phish
"""


@pytest.fixture
def db(db_path: Path) -> Path:
    return db_path


def audit_entries(db: Path, action: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "select fact_id, before, after, note from audit where action = ?", [action]
        ).fetchall()
    finally:
        conn.close()
    return [
        {"fact_id": f, "before": json.loads(b), "after": json.loads(a), "note": n}
        for f, b, a, n in rows
    ]


# --- 2. an import that changes an existing source -----------------------------------------


def test_import_refuses_to_change_a_source_without_the_flag(
    admin: AdminService, root: Actor, tmp_path: Path
) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    before, audit = admin.store.sources(), admin.store.audit(limit=10_000)
    with pytest.raises(AdminInputError) as caught:
        admin.import_file(root, path)
    message = str(caught.value)
    assert BUNDLED_SOURCE in message and "--update-sources" in message
    assert "https://evil.example/phish" in message, "the refusal shows what would change"
    assert admin.store.sources() == before
    assert admin.store.audit(limit=10_000) == audit


def test_import_with_the_flag_counts_and_audits_a_source_change(
    admin: AdminService, root: Actor, tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    old = admin.store.sources()[BUNDLED_SOURCE]
    counts = admin.import_file(root, path, update_sources=True)
    assert counts["sources updated"] == 1
    assert admin.store.sources()[BUNDLED_SOURCE].url == "https://evil.example/phish"
    [entry] = audit_entries(db_path, "import-source-update")
    assert entry["before"]["title"] == old.title and entry["before"]["url"] is None
    assert entry["after"]["url"] == "https://evil.example/phish"
    assert BUNDLED_SOURCE in entry["note"]
    again = admin.import_file(root, path, update_sources=True)
    assert again["sources updated"] == 0, "the same file again changes nothing"


def test_cli_import_shows_source_changes(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "phish.facts.yaml"
    path.write_text(PHISH, encoding="utf-8")
    proc = run("facts", "import", str(path))
    err = failed(proc)
    assert proc.returncode == 2 and "--update-sources" in err
    assert "evil.example" not in ok(run("sources"))
    out = ok(run("facts", "import", "--update-sources", str(path)))
    assert "1 sources updated" in out
    assert "evil.example" in ok(run("sources"))
    audit = json.loads(ok(run("facts", "audit", "--json")))
    assert audit[0]["action"] == "import-source-update"
    assert audit[0]["before"]["url"] is None
    assert audit[0]["after"]["url"] == "https://evil.example/phish"
    assert "None" not in ok(run("facts", "audit")).splitlines()[0]


def test_import_of_an_unchanged_source_needs_no_flag(
    admin: AdminService, root: Actor, tmp_path: Path, bot: StrikeBot
) -> None:
    same = admin.export_text()
    path = tmp_path / "same.facts.yaml"
    path.write_text(same, encoding="utf-8")
    counts = admin.import_file(root, path)
    assert counts["sources updated"] == 0 and counts["added"] == 0
    assert isinstance(bot.store, Store)
