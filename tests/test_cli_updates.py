"""A status change made from the command line is queued for the subscribed channels."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.core.admin import Actor
from bot.core.updates import SubscriptionService
from bot.store.db import Store
from bot.store.subscriptions import SubscriptionStore
from tests.cli_runner import run_cli


def strikebot(db: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(args, db=db, cwd=db.parent)


def test_cli_fact_add_queues_one_delivery_per_subscribed_channel(tmp_path):
    db = tmp_path / "s.db"
    assert strikebot(db, "status").returncode == 0  # first run loads the bundled knowledge
    store = Store(db)
    service = SubscriptionService(store)
    admin = Actor("U1", "slack", is_admin=True)
    service.subscribe(admin, "slack", "C1")
    service.subscribe(Actor("9", "discord", is_admin=True), "discord", "42")
    added = strikebot(
        db, "facts", "add", "--text", "The strike ended after 148 days.", "--topic", "strike.duration",
        "--as-of", "2023-09-27", "--source-title", "Later report", "--published", "2023-09-27",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    deliveries = SubscriptionStore(store).deliveries()
    assert sorted((d["platform"], d["channel"], d["status"]) for d in deliveries) == [
        ("discord", "42", "pending"),
        ("slack", "C1", "pending"),
    ]
    [update] = SubscriptionStore(store).updates()
    assert "148 days" in update["message"] and "130 days" in update["message"]


def test_cli_lists_subscriptions(tmp_path):
    db = tmp_path / "s.db"
    store = Store(db)
    SubscriptionService(store).subscribe(Actor("U1", "slack", is_admin=True), "slack", "C9")
    out = strikebot(db, "subscriptions")
    assert out.returncode == 0 and "slack  C9" in out.stdout
    listed = strikebot(db, "subscriptions", "--platform", "discord", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
