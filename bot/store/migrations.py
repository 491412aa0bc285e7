"""Schema migrations: each step runs once, in order, inside one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    db["sources"].create(
        {
            "id": str,
            "title": str,
            "published": str,
            "url": str,
            "publisher": str,
            "origin": str,
        },
        pk="id",
    )
    db["topics"].create(
        {
            "id": str,
            "label": str,
            "description": str,
            "status_order": int,
            "compare_with": str,
        },
        pk="id",
    )
    db["facts"].create(
        {
            "id": str,
            "text": str,
            "topic": str,
            "as_of": str,
            "source": str,
            "questions": str,
            "aliases": str,
            "keywords": str,
            "review_by": str,
            "status": str,
            "status_reason": str,
            "status_by": str,
            "status_at": str,
            "origin": str,
            "bundled_hash": str,
            "admin_modified": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "id")],
        not_null={"text", "topic", "as_of", "source", "status"},
    )
    db["facts"].create_index(["topic", "as_of"])
    db["facts"].enable_fts(
        ["text", "questions", "aliases", "keywords"], create_triggers=True, tokenize="porter"
    )
    db["audit"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "platform": str,
            "action": str,
            "fact_id": str,
            "before": str,
            "after": str,
            "note": str,
        },
        pk="id",
    )
    db["audit"].create_index(["fact_id"])
    db["questions_log"].create(
        {
            "id": int,
            "at": str,
            "question": str,
            "answered": int,
            "confidence": float,
            "facts": str,
            "platform": str,
            "user": str,
        },
        pk="id",
    )
    db["questions_log"].create_index(["answered", "at"])
    db["feedback"].create(
        {
            "id": int,
            "at": str,
            "question": str,
            "facts": str,
            "helpful": int,
            "platform": str,
            "user": str,
        },
        pk="id",
    )
    db["meta"].create({"key": str, "value": str}, pk="key")


def _v2(db: sqlite_utils.Database) -> None:
    """Keeping the knowledge current: article intake with a review queue, channel
    subscriptions to status updates, and their deliveries."""
    db["articles"].create(
        {
            "id": int,
            "title": str,
            "published": str,
            "url": str,
            "publisher": str,
            "text": str,
            "source_id": str,
            "added_by": str,
            "added_at": str,
        },
        pk="id",
    )
    db["candidates"].create(
        {
            "id": int,
            "article_id": int,
            "sentence": str,
            "text": str,
            "topic": str,
            "as_of": str,
            "status": str,  # pending, accepted, rejected
            "fact_id": str,
            "reviewed_by": str,
            "reviewed_at": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["candidates"].create_index(["status", "article_id"])
    db["subscriptions"].create(
        {
            "id": int,
            "platform": str,
            "channel": str,
            "added_by": str,
            "added_at": str,
            "active": int,
        },
        pk="id",
    )
    db["subscriptions"].create_index(["platform", "channel"], unique=True)
    db["status_updates"].create(
        {
            "id": int,
            "created_at": str,
            "fact_id": str,
            "topic": str,
            "message": str,
        },
        pk="id",
    )
    db["deliveries"].create(
        {
            "id": int,
            "update_id": int,
            "subscription_id": int,
            "status": str,  # pending, sent, failed
            "attempts": int,
            "last_error": str,
            "sent_at": str,
        },
        pk="id",
        foreign_keys=[
            ("update_id", "status_updates", "id"),
            ("subscription_id", "subscriptions", "id"),
        ],
    )
    db["deliveries"].create_index(["update_id", "subscription_id"], unique=True)
    db["deliveries"].create_index(["status"])


def _v3(db: sqlite_utils.Database) -> None:
    """Status updates as data (for per-platform rendering), who unsubscribed a channel, and
    when a delivery was claimed for sending."""
    db["status_updates"].add_column("details", str)  # JSON: label, before, after, source
    db["subscriptions"].add_column("removed_by", str)
    db["subscriptions"].add_column("removed_at", str)
    db["deliveries"].add_column("claimed_at", str)
    db["deliveries"].create_index(["subscription_id", "status"])


def _v4(db: sqlite_utils.Database) -> None:
    """Rate-limit events shared by several processes on one database (Slack HTTP workers):
    one row per admitted question or admin command, deleted once out of every window."""
    db["rate_events"].create({"scope": str, "key": str, "at": float})
    db["rate_events"].create_index(["scope", "key", "at"])


LEGACY_PACK = "wga-2023"  # the one dispute a database held before packs


def _v5(db: sqlite_utils.Database) -> None:
    """Knowledge packs: one row per dispute (its parties and terms as JSON), channels bound
    to a pack, and topic ids scoped to their pack ("offer.pay" -> "wga-2023/offer.pay").
    What a database held before is the bundled WGA strike's."""
    db["packs"].create(
        {
            "id": str,
            "name": str,
            "description": str,
            "parties": str,  # JSON: [{"name", "role", "aliases"}]
            "terms": str,  # JSON: [[word, ...]]
            "origin": str,  # bundled | admin
            "status": str,  # active | retired
            "present": int,  # a bundled pack still in the knowledge folder
            "folder": str,
            "updated_at": str,
        },
        pk="id",
    )
    db["channel_packs"].create(
        {"platform": str, "channel": str, "pack": str, "bound_by": str, "bound_at": str},
        pk=("platform", "channel"),
    )
    scoped = f"'{LEGACY_PACK}/' || "
    if (
        db.execute("select count(*) from topics").fetchone()[0]
        or db.execute("select count(*) from facts").fetchone()[0]
    ):
        db["packs"].insert(
            {
                "id": LEGACY_PACK,
                "name": "WGA writers' strike, 2023",
                "description": "",
                "parties": "[]",
                "terms": "[]",
                "origin": "bundled",
                "status": "active",
                "present": 1,
                "folder": "",
                "updated_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
    for table, column in (
        ("topics", "id"),
        ("facts", "topic"),
        ("candidates", "topic"),
        ("status_updates", "topic"),
    ):
        db.execute(
            f"update {table} set {column} = {scoped}{column}"
            f" where {column} is not null and {column} != '' and instr({column}, '/') = 0"
        )
    db.execute(
        "update topics set compare_with = (select json_group_array("
        f"case when instr(value, '/') = 0 then {scoped}value else value end)"
        " from json_each(topics.compare_with)) where compare_with is not null"
        " and json_valid(compare_with)"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5]


def current_version(db: sqlite_utils.Database) -> int:
    if "schema_migrations" not in db.table_names():
        return 0
    row = db.execute("select max(version) from schema_migrations").fetchone()
    return row[0] or 0


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema up to date; returns the version now in force."""
    if "schema_migrations" not in db.table_names():
        with db.atomic():
            db["schema_migrations"].create({"version": int, "applied_at": str}, pk="version")
    version = current_version(db)
    for number, step in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        with db.atomic():
            step(db)
            db["schema_migrations"].insert(
                {"version": number, "applied_at": dt.datetime.now(dt.UTC).isoformat()}
            )
        version = number
    return version
