"""SQL for knowledge packs and the channels bound to one (the rules are in `bot.core`).
Every write is one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from bot.core.packs import Pack, Party
from bot.store.db import NotFound, Store, now


def _row(pack: Pack, folder: str = "") -> dict[str, Any]:
    return {
        "id": pack.id,
        "name": pack.name,
        "description": pack.description,
        "parties": json.dumps(
            [{"name": p.name, "role": p.role, "aliases": list(p.aliases)} for p in pack.parties]
        ),
        "terms": json.dumps([list(t) for t in pack.terms]),
        "origin": pack.origin,
        "status": pack.status,
        "folder": folder,
    }


def _pack(row: dict[str, Any]) -> Pack:
    parties = tuple(
        Party(p["name"], p.get("role", "other"), tuple(p.get("aliases", ())))
        for p in json.loads(row["parties"] or "[]")
    )
    terms = tuple(tuple(t) for t in json.loads(row["terms"] or "[]"))
    return Pack(
        row["id"],
        row["name"] or row["id"],
        row["description"] or "",
        parties,
        terms,
        row["status"] or "active",
        row["origin"] or "admin",
    )


class PackStore:
    """The `packs` and `channel_packs` tables of one store."""

    def __init__(self, store: Store):
        self.store = store

    def packs(self, *, in_use: bool = False) -> list[Pack]:
        """Every pack; with `in_use`, only those answering: active, and (if bundled) still
        in the knowledge folder."""
        sql = "select * from packs"
        if in_use:
            sql += " where status = 'active' and (origin != 'bundled' or present = 1)"
        return [_pack(r) for r in self.store._read(sql + " order by id")]

    def pack(self, pack_id: str) -> Pack:
        rows = self.store._read("select * from packs where id = ?", [pack_id])
        if not rows:
            raise NotFound(f"no pack with id '{pack_id}'")
        return _pack(rows[0])

    def sync_bundled(self, packs: Iterable[tuple[Pack, str]]) -> None:
        """Record the bundled packs found in the knowledge folder (pack, folder); bundled
        packs no longer there stop answering but keep their facts. A pack an admin retired
        stays retired."""
        with self.store.transaction() as db:
            db.execute("update packs set present = 0 where origin = 'bundled'")
            for pack, folder in packs:
                self._upsert(db, pack, folder)
            self.store._bump_revision(db)

    def add(self, pack: Pack, folder: str = "") -> None:
        """Add or update an admin's pack (`strikebot packs add`)."""
        with self.store.transaction() as db:
            self._upsert(db, pack, folder)
            self.store._bump_revision(db)

    @staticmethod
    def _upsert(db: sqlite_utils.Database, pack: Pack, folder: str) -> None:
        """Write a pack's row; a pack an admin retired stays retired."""
        row = db.execute("select status from packs where id = ?", [pack.id]).fetchone()
        values = {**_row(pack, folder), "present": 1, "updated_at": now()}
        if row is not None:
            values["status"] = row[0]
        db["packs"].upsert(values, pk="id")

    def set_status(self, pack_id: str, status: str) -> None:
        with self.store.transaction() as db:
            if db.execute("select 1 from packs where id = ?", [pack_id]).fetchone() is None:
                raise NotFound(f"no pack with id '{pack_id}'")
            db.execute(
                "update packs set status = ?, updated_at = ? where id = ?",
                [status, now(), pack_id],
            )
            self.store._bump_revision(db)

    # --- channels ------------------------------------------------------------------------

    def bind(self, platform: str, channel: str, pack_id: str | None, by: str) -> None:
        """Answer questions in `channel` from `pack_id` (None: unbind)."""
        with self.store.transaction() as db:
            if pack_id is None:
                db.execute(
                    "delete from channel_packs where platform = ? and channel = ?",
                    [platform, channel],
                )
            else:
                db["channel_packs"].upsert(
                    {
                        "platform": platform,
                        "channel": channel,
                        "pack": pack_id,
                        "bound_by": by,
                        "bound_at": now(),
                    },
                    pk=("platform", "channel"),
                )
            self.store._bump_revision(db)

    def bindings(self) -> dict[tuple[str, str], str]:
        """Every channel's pack, by (platform, channel)."""
        rows = self.store._read("select platform, channel, pack from channel_packs")
        return {(r["platform"], r["channel"]): r["pack"] for r in rows}
