"""SQL for channel subscriptions, status updates and their deliveries (the logic is in
`bot.core.updates`). Every write is one transaction; rows come back as plain dicts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.store.db import Store, now

RETRYABLE = ("pending", "failed")


class SubscriptionStore:
    """The `subscriptions`, `status_updates` and `deliveries` tables of one store."""

    def __init__(self, store: Store):
        self.store = store

    # --- subscriptions -------------------------------------------------------------------

    def subscription(self, platform: str, channel: str) -> dict[str, Any] | None:
        rows = self.store._read(
            "select * from subscriptions where platform = ? and channel = ?", [platform, channel]
        )
        return rows[0] if rows else None

    def subscribe(self, platform: str, channel: str, by: str) -> bool:
        """Make the channel an active subscriber; False when it already was one."""
        with self.store.transaction() as db:
            row = db.execute(
                "select id, active from subscriptions where platform = ? and channel = ?",
                [platform, channel],
            ).fetchone()
            if row is not None and row[1]:
                return False
            if row is None:
                db.execute(
                    "insert into subscriptions (platform, channel, added_by, added_at, active)"
                    " values (?, ?, ?, ?, 1)",
                    [platform, channel, by, now()],
                )
            else:
                db.execute(
                    "update subscriptions set active = 1, added_by = ?, added_at = ?,"
                    " removed_by = null, removed_at = null where id = ?",
                    [by, now(), row[0]],
                )
        return True

    def unsubscribe(self, platform: str, channel: str, by: str) -> bool:
        """Stop the channel's subscription and cancel what it has not been sent yet; False
        when it was not subscribed."""
        with self.store.transaction() as db:
            row = db.execute(
                "select id from subscriptions where platform = ? and channel = ? and active = 1",
                [platform, channel],
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "update subscriptions set active = 0, removed_by = ?, removed_at = ? where id = ?",
                [by, now(), row[0]],
            )
            db.execute(
                "update deliveries set status = 'cancelled' where subscription_id = ?"
                " and status in ('pending', 'failed')",
                [row[0]],
            )
        return True

    def subscriptions(self, platform: str | None = None) -> list[dict[str, Any]]:
        """Active subscriptions, oldest first."""
        where, params = ("and platform = ?", [platform]) if platform else ("", [])
        return self.store._read(
            f"select * from subscriptions where active = 1 {where} order by id", params
        )

    def failures(self, platform: str | None = None) -> dict[int, dict[str, Any]]:
        """For each active subscription with deliveries not made (status 'failed': still
        retried, or given up): how many, and the newest one's error and time."""
        where, params = ("and s.platform = ?", [platform]) if platform else ("", [])
        rows = self.store._read(
            "select d.subscription_id, count(*) as failed,"
            " (select d2.last_error from deliveries d2 where d2.subscription_id ="
            "  d.subscription_id and d2.status = 'failed' order by d2.id desc limit 1)"
            "  as last_error,"
            " max(d.claimed_at) as last_failed_at"
            " from deliveries d join subscriptions s on s.id = d.subscription_id"
            f" where d.status = 'failed' and s.active = 1 {where} group by d.subscription_id",
            params,
        )
        return {int(r["subscription_id"]): r for r in rows}

    # --- updates -------------------------------------------------------------------------

    def add_update(
        self, fact_id: str, topic: str, message: str, details: dict[str, Any]
    ) -> tuple[int, int]:
        """One status update and a pending delivery to every active subscription, at once.

        Returns the update's id and how many deliveries were queued."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "insert into status_updates (created_at, fact_id, topic, message, details)"
                " values (?, ?, ?, ?, ?)",
                [now(), fact_id, topic, message, json.dumps(details, ensure_ascii=False)],
            )
            update_id = int(cursor.lastrowid)
            queued = db.execute(
                "insert into deliveries (update_id, subscription_id, status, attempts)"
                " select ?, id, 'pending', 0 from subscriptions where active = 1 order by id",
                [update_id],
            ).rowcount
        return update_id, queued

    def updates(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent status updates, newest first."""
        return [
            _with_details(r)
            for r in self.store._read(
                "select * from status_updates order by id desc limit ?", [limit]
            )
        ]

    def deliveries(
        self, *, update_id: int | None = None, platform: str | None = None
    ) -> list[dict[str, Any]]:
        """Deliveries with their channel, oldest first."""
        clauses, params = [], []
        if update_id is not None:
            clauses.append("d.update_id = ?")
            params.append(update_id)
        if platform is not None:
            clauses.append("s.platform = ?")
            params.append(platform)
        where = f"where {' and '.join(clauses)}" if clauses else ""
        return self.store._read(
            "select d.*, s.platform, s.channel from deliveries d"
            f" join subscriptions s on s.id = d.subscription_id {where} order by d.id",
            params,
        )

    # --- delivering ----------------------------------------------------------------------

    def claim(
        self,
        platform: str,
        *,
        after_id: int,
        skip_subscriptions: Iterable[int],
        max_attempts: int,
    ) -> dict[str, Any] | None:
        """Take the next delivery to send (status 'sending', one more attempt), or None.

        The select and the update run under the write lock (BEGIN IMMEDIATE), so no other
        thread or process can claim the same row."""
        skip = sorted(set(skip_subscriptions))
        not_in = f"and d.subscription_id not in ({', '.join('?' * len(skip))})" if skip else ""
        sql = (
            "select d.id from deliveries d join subscriptions s on s.id = d.subscription_id"
            " where s.platform = ? and s.active = 1 and d.status in ('pending', 'failed')"
            f" and d.attempts < ? and d.id > ? {not_in} order by d.id limit 1"
        )
        params = [platform, max_attempts, after_id, *skip]
        if not self.store._read(sql, params):
            return None  # nothing to do: stay a reader, no write lock taken
        with self.store.transaction() as db:
            row = db.execute(sql, params).fetchone()  # again, now under the write lock
            if row is None:
                return None
            db.execute(
                "update deliveries set status = 'sending', attempts = attempts + 1,"
                " claimed_at = ? where id = ?",
                [now(), row[0]],
            )
            claimed = list(
                db.query(
                    "select d.id, d.subscription_id, d.attempts, s.platform, s.channel,"
                    " u.id as update_id, u.created_at, u.fact_id, u.topic, u.message, u.details"
                    " from deliveries d join subscriptions s on s.id = d.subscription_id"
                    " join status_updates u on u.id = d.update_id where d.id = ?",
                    [row[0]],
                )
            )
        return _with_details(claimed[0])

    def mark_sent(self, delivery_id: int) -> None:
        with self.store.transaction() as db:
            db.execute(
                "update deliveries set status = 'sent', sent_at = ?, last_error = null"
                " where id = ? and status = 'sending'",
                [now(), delivery_id],
            )

    def mark_failed(self, delivery_id: int, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "update deliveries set status = 'failed', last_error = ?"
                " where id = ? and status = 'sending'",
                [error[:500], delivery_id],
            )


def _with_details(row: dict[str, Any]) -> dict[str, Any]:
    row["details"] = json.loads(row["details"]) if row.get("details") else {}
    return row
