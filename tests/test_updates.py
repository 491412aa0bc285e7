"""Status updates in the core: subscriptions, one queued update per status change, and
delivery that retries failures and never sends anything twice."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter

import pytest

from bot.core.admin import Actor, AdminInputError, AdminService, PermissionDenied
from bot.core.models import Source
from bot.core.packs import local
from bot.core.service import StrikeBot
from bot.core.updates import (
    MAX_ATTEMPTS,
    Deliverer,
    Snapshot,
    StatusUpdate,
    StatusUpdates,
    SubscriptionService,
    change_line,
    shorten,
)
from bot.render.status_updates import discord_update_embed, slack_update_message
from bot.store.db import Store, StoreError
from bot.store.subscriptions import SubscriptionStore

DURATION = "strike.duration"
ENDED = "The strike ended after 148 days."
EXPECTED_LINE = (
    "How long the strike has lasted: The Writers Guild of America (WGA) strike had gone on "
    "for roughly 130 days (11 Sep 2023) -> The strike ended after 148 days (27 Sep 2023)"
)


@pytest.fixture
def subs(bot: StrikeBot) -> SubscriptionService:
    return SubscriptionService(bot.store)


@pytest.fixture
def listener(admin: AdminService) -> StatusUpdates:
    return StatusUpdates.attach(admin)


@pytest.fixture
def records(bot: StrikeBot) -> SubscriptionStore:
    return SubscriptionStore(bot.store)


def add_duration(admin: AdminService, root: Actor, as_of: str = "2023-09-27", text: str = ENDED):
    return admin.add(
        root,
        text=text,
        topic=DURATION,
        as_of=as_of,
        source_title="Writers' strike ends",
        published=as_of,
        url="https://example.org/ended",
        publisher="Example News",
    )


class Recorder:
    """A send callable that records what it posted and fails on demand."""

    def __init__(self, fail: dict[str, int] | None = None, pause: float = 0.0):
        self.sent: list[tuple[str, int]] = []
        self.fail = dict(fail or {})  # channel -> how many more posts to refuse
        self.pause = pause
        self.lock = threading.Lock()

    def __call__(self, channel: str, update: StatusUpdate) -> None:
        if self.pause:
            time.sleep(self.pause)
        with self.lock:
            if self.fail.get(channel, 0) > 0:
                self.fail[channel] -= 1
                raise ConnectionError(f"cannot post to {channel}")
            self.sent.append((channel, update.id))


# --- subscriptions ----------------------------------------------------------------------


def test_only_admins_may_subscribe_or_unsubscribe(subs, member, root) -> None:
    with pytest.raises(PermissionDenied):
        subs.subscribe(member, "slack", "C1")
    assert subs.list() == []
    subs.subscribe(root, "slack", "C1")
    with pytest.raises(PermissionDenied):
        subs.unsubscribe(member, "slack", "C1")
    assert [s.channel for s in subs.list()] == ["C1"]


def test_subscribing_is_idempotent_with_clear_messages(subs, root) -> None:
    first = subs.subscribe(root, "slack", "C1")
    again = subs.subscribe(root, "slack", "C1")
    assert first.changed and "now subscribed" in first.message
    assert not again.changed and "already subscribed" in again.message
    subs.subscribe(root, "discord", "C1")  # the same id on another platform is another channel
    assert sorted((s.platform, s.channel) for s in subs.list()) == [
        ("discord", "C1"),
        ("slack", "C1"),
    ]
    assert [s.channel for s in subs.list("slack")] == ["C1"]
    assert subs.list("slack")[0].added_by == "test:tester"

    gone = subs.unsubscribe(root, "slack", "C1")
    not_there = subs.unsubscribe(root, "slack", "C1")
    assert gone.changed and "no longer" in gone.message
    assert not not_there.changed and "not subscribed" in not_there.message
    assert subs.subscribe(root, "slack", "C1").changed  # and back again
    assert len(subs.list("slack")) == 1


@pytest.mark.parametrize(("platform", "channel"), [("irc", "C1"), ("slack", ""), ("slack", "a b")])
def test_bad_platform_or_channel_is_refused(subs, root, platform: str, channel: str) -> None:
    with pytest.raises(AdminInputError):
        subs.subscribe(root, platform, channel)
    assert subs.list() == []


# --- queuing ----------------------------------------------------------------------------


def test_change_line_wording() -> None:
    before = Snapshot("about 130 days", dt.date(2023, 9, 11))
    after = Snapshot("strike ended after 148 days", dt.date(2023, 9, 27))
    assert change_line("Day count", before, after) == (
        "Day count: about 130 days (11 Sep 2023) -> strike ended after 148 days (27 Sep 2023)"
    )
    assert change_line("Day count", None, after) == (
        "Day count: strike ended after 148 days (27 Sep 2023)"
    )
    long = shorten("As of 1 May 2023, " + "word " * 60)
    assert long.startswith("word") and long.endswith("…") and len(long) <= 120


def test_a_newer_status_fact_queues_one_update_for_each_subscribed_channel(
    admin, listener, subs, records, root
) -> None:
    for platform, channel in [
        ("slack", "C1"),
        ("slack", "C2"),
        ("discord", "111"),
        ("slack", "C3"),
    ]:
        subs.subscribe(root, platform, channel)
    subs.unsubscribe(root, "slack", "C3")

    fact = add_duration(admin, root)

    (update,) = records.updates()
    assert update["fact_id"] == fact.id and local(update["topic"]) == DURATION
    line, source = update["message"].split("\n")
    assert line == EXPECTED_LINE
    assert "Writers' strike ends" in source and "27 Sep 2023" in source
    assert "https://example.org/ended" in source
    assert update["details"]["previous_fact_id"] == "strike-duration-130"
    deliveries = records.deliveries(update_id=update["id"])
    assert sorted((d["platform"], d["channel"]) for d in deliveries) == [
        ("discord", "111"),
        ("slack", "C1"),
        ("slack", "C2"),
    ]
    assert {d["status"] for d in deliveries} == {"pending"}


@pytest.mark.parametrize("as_of", ["2023-09-11", "2023-09-01"])
def test_a_same_date_or_older_fact_queues_nothing(admin, listener, subs, records, root, as_of):
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root, as_of=as_of, text="Roughly 130 days, said another report.")
    assert records.updates() == [] and records.deliveries() == []


def test_a_fact_outside_the_status_queues_nothing(admin, listener, subs, records, root) -> None:
    subs.subscribe(root, "slack", "C1")
    for topic in ("wga.identity", "picket.locations"):
        admin.add(
            root,
            text="Something new.",
            topic=topic,
            as_of="2023-10-01",
            source_title="Report",
            published="2023-10-01",
        )
    assert records.updates() == []


def test_edits_queue_an_update_only_when_they_move_the_date_forward(
    admin, listener, subs, records, root
) -> None:
    subs.subscribe(root, "slack", "C1")
    admin.edit(root, "strike-duration-130", text="About 130 days of strike.")
    assert records.updates() == []
    later = Source("later-report", "A later report", dt.date(2023, 9, 13))
    with admin.store.transaction() as db:
        admin.store._upsert_source(db, later, "admin")
    # A later as-of needs a source published that late (issue 12, item 3).
    admin.edit(root, "strike-duration-130", as_of="2023-09-13", source=later.id)
    (update,) = records.updates()
    assert "(11 Sep 2023) -> About 130 days of strike (13 Sep 2023)" in update["message"]


def test_attaching_twice_registers_one_listener(admin, records, subs, root) -> None:
    assert StatusUpdates.attach(admin) is StatusUpdates.attach(admin)
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root)
    assert len(records.updates()) == 1 and len(records.deliveries()) == 1


def test_a_failure_to_queue_does_not_undo_the_fact(
    admin, listener, subs, root, monkeypatch, caplog
) -> None:
    def broken(*_args):
        raise StoreError("The database is locked")

    monkeypatch.setattr(listener.records, "add_update", broken)
    subs.subscribe(root, "slack", "C1")
    with caplog.at_level(logging.ERROR, logger="bot.core.updates"):
        fact = add_duration(admin, root)
    assert admin.store.fact(fact.id).text == ENDED
    assert "not queued" in caplog.text


# --- delivering -------------------------------------------------------------------------


def test_delivery_sends_each_update_once_per_platform(admin, listener, subs, records, root):
    for platform, channel in [("slack", "C1"), ("slack", "C2"), ("discord", "111")]:
        subs.subscribe(root, platform, channel)
    add_duration(admin, root)
    deliverer = Deliverer(admin.store)
    slack, discord = Recorder(), Recorder()

    assert deliverer.deliver_pending("slack", slack) == {"sent": 2, "failed": 0}
    assert [c for c, _ in slack.sent] == ["C1", "C2"]
    assert deliverer.deliver_pending("discord", discord) == {"sent": 1, "failed": 0}
    assert [c for c, _ in discord.sent] == ["111"]
    for _ in range(2):  # later rounds send nothing again
        assert deliverer.deliver_pending("slack", slack) == {"sent": 0, "failed": 0}
        assert deliverer.deliver_pending("discord", discord) == {"sent": 0, "failed": 0}
    assert len(slack.sent) == 2 and len(discord.sent) == 1
    rows = records.deliveries()
    assert {r["status"] for r in rows} == {"sent"} and all(r["sent_at"] for r in rows)
    assert {r["attempts"] for r in rows} == {1}


def test_the_update_handed_to_send_carries_its_parts(admin, listener, subs, root) -> None:
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root)
    seen: list[StatusUpdate] = []
    Deliverer(admin.store).deliver_pending("slack", lambda _c, u: seen.append(u))
    (update,) = seen
    assert update.label == "How long the strike has lasted"
    assert update.before is not None and update.before.as_of == dt.date(2023, 9, 11)
    assert update.after == Snapshot(ENDED, dt.date(2023, 9, 27))
    assert update.source is not None and update.source.url == "https://example.org/ended"


def test_a_failed_post_is_retried_next_round_and_sent_once(
    admin, listener, subs, records, root
) -> None:
    subs.subscribe(root, "slack", "C1")
    subs.subscribe(root, "slack", "C2")
    add_duration(admin, root)
    deliverer = Deliverer(admin.store)
    send = Recorder(fail={"C1": 1})

    assert deliverer.deliver_pending("slack", send) == {"sent": 1, "failed": 1}
    failed = next(r for r in records.deliveries() if r["channel"] == "C1")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "cannot post to C1" in failed["last_error"]

    assert deliverer.deliver_pending("slack", send) == {"sent": 1, "failed": 0}
    assert deliverer.deliver_pending("slack", send) == {"sent": 0, "failed": 0}
    assert Counter(c for c, _ in send.sent) == {"C1": 1, "C2": 1}
    retried = next(r for r in records.deliveries() if r["channel"] == "C1")
    assert retried["status"] == "sent" and retried["attempts"] == 2


def test_a_channel_that_keeps_failing_is_given_up_after_max_attempts(
    admin, listener, subs, records, root
) -> None:
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root)
    deliverer = Deliverer(admin.store)
    attempts = []

    def refuse(channel: str, _update: StatusUpdate) -> None:
        attempts.append(channel)
        raise RuntimeError("channel_not_found")

    for _ in range(MAX_ATTEMPTS + 2):
        deliverer.deliver_pending("slack", refuse)
    assert len(attempts) == MAX_ATTEMPTS
    (row,) = records.deliveries()
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)


def test_updates_to_a_failing_channel_keep_their_order(admin, listener, subs, root) -> None:
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root, as_of="2023-09-20", text="Day 140 of the strike.")
    add_duration(admin, root, as_of="2023-09-27")
    deliverer = Deliverer(admin.store)
    send = Recorder(fail={"C1": 1})
    assert deliverer.deliver_pending("slack", send) == {"sent": 0, "failed": 1}
    assert deliverer.deliver_pending("slack", send) == {"sent": 2, "failed": 0}
    ids = [u for _, u in send.sent]
    assert ids == sorted(ids) and len(set(ids)) == 2


def test_unsubscribing_cancels_what_was_not_sent(admin, listener, subs, records, root) -> None:
    subs.subscribe(root, "slack", "C1")
    subs.subscribe(root, "slack", "C2")
    add_duration(admin, root)
    subs.unsubscribe(root, "slack", "C2")
    send = Recorder()
    Deliverer(admin.store).deliver_pending("slack", send)
    assert [c for c, _ in send.sent] == ["C1"]
    statuses = {r["channel"]: r["status"] for r in records.deliveries()}
    assert statuses == {"C1": "sent", "C2": "cancelled"}
    subs.subscribe(root, "slack", "C2")  # coming back does not resurrect old updates
    assert Deliverer(admin.store).deliver_pending("slack", send) == {"sent": 0, "failed": 0}


def test_a_claimed_delivery_cannot_be_claimed_by_another_worker(
    admin, listener, subs, root, db_path
) -> None:
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root)
    other = Store(db_path)  # another connection, as another process would have
    try:
        mine = Deliverer(admin.store).round("slack")
        theirs = Deliverer(other).round("slack")
        claimed = mine.next()
        assert claimed is not None and claimed.channel == "C1"
        assert theirs.next() is None  # 'sending': not theirs to send
        mine.sent(claimed)
        assert Deliverer(other).deliver_pending("slack", Recorder()) == {"sent": 0, "failed": 0}
    finally:
        other.close()


def test_concurrent_workers_send_every_delivery_exactly_once(
    admin, listener, subs, root, db_path
) -> None:
    channels = [f"C{n}" for n in range(12)]
    for channel in channels:
        subs.subscribe(root, "slack", channel)
    add_duration(admin, root)
    send = Recorder(pause=0.005)
    stores = [Store(db_path) for _ in range(3)]
    try:
        workers = [
            threading.Thread(target=Deliverer(s).deliver_pending, args=("slack", send))
            for s in [*stores, admin.store]
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=20)
    finally:
        for store in stores:
            store.close()
    assert sorted(c for c, _ in send.sent) == sorted(channels)


# --- rendering --------------------------------------------------------------------------


def test_updates_render_without_pings(admin, listener, subs, root) -> None:
    subs.subscribe(root, "slack", "C1")
    add_duration(admin, root, text="<!channel> @here @everyone <@U123> ended after 148 days.")
    seen: list[StatusUpdate] = []
    Deliverer(admin.store).deliver_pending("slack", lambda _c, u: seen.append(u))
    slack = slack_update_message(seen[0])
    dumped = json.dumps(slack, ensure_ascii=False)
    for forbidden in ("<!channel>", "<@U123>", "@here", "@everyone"):
        assert forbidden not in dumped
    assert "&lt;!channel&gt;" in slack["text"] and "@\u2060here" in slack["text"]
    assert "<https://example.org/ended|" in dumped
    embed = discord_update_embed(seen[0])
    assert "@everyone" not in embed["description"] and "@\u200beveryone" in embed["description"]
    assert embed["title"].startswith("Status update: How long the strike has lasted")
    assert "Example News" in embed["fields"][0]["value"]


def test_an_update_queued_by_another_process_is_sent_by_the_running_bot(
    bot, subs, root, db_path
) -> None:
    """What `strikebot facts add` does once its AdminService has the listener attached."""
    subs.subscribe(root, "slack", "C1")
    cli_store = Store(db_path)
    try:
        cli_admin = AdminService(StrikeBot(cli_store, bot.config, sync_bundled=False))
        StatusUpdates.attach(cli_admin)
        add_duration(cli_admin, root)
    finally:
        cli_store.close()
    send = Recorder()
    assert Deliverer(bot.store).deliver_pending("slack", send) == {"sent": 1, "failed": 0}
    assert [c for c, _ in send.sent] == ["C1"]
