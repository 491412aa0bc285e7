"""A status change made from the command line is queued for the subscribed channels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bot.core.admin import Actor
from bot.core.updates import Deliverer, SubscriptionService
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


def test_cli_subscriptions_show_failed_deliveries(tmp_path):
    db = tmp_path / "s.db"
    assert strikebot(db, "status").returncode == 0
    store = Store(db)
    service = SubscriptionService(store)
    service.subscribe(Actor("U1", "slack", is_admin=True), "slack", "C9")
    service.subscribe(Actor("U1", "slack", is_admin=True), "slack", "C10")
    records = SubscriptionStore(store)
    records.add_update("f1", "strike.duration", "The strike ended.", {})

    def send(channel, _update):
        if channel == "C10":
            raise RuntimeError("not_in_channel")

    assert Deliverer(store).deliver_pending("slack", send) == {"sent": 1, "failed": 1}
    out = strikebot(db, "subscriptions")
    assert out.returncode == 0, out.stderr
    line_c9, line_c10 = out.stdout.splitlines()
    assert "slack  C9" in line_c9 and "not delivered" not in line_c9
    assert "slack  C10" in line_c10 and "1 update not delivered" in line_c10
    assert "not_in_channel" in line_c10
    listed = strikebot(db, "subscriptions", "--json")
    rows = {r["channel"]: r for r in json.loads(listed.stdout)}
    assert rows["C10"]["failed"] == 1 and "not_in_channel" in rows["C10"]["last_error"]
    assert rows["C9"]["failed"] == 0
