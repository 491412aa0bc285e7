"""Reads of the question and feedback logs for reports (see `bot.core.report`)."""

from __future__ import annotations

import json
from typing import Any

from bot.store.db import Store


def _with_facts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["facts"] = json.loads(row["facts"] or "[]")
    return rows


def questions_since(store: Store, since: str) -> list[dict[str, Any]]:
    """Logged questions at or after the ISO time `since`, oldest first."""
    return _with_facts(
        store._read(
            "select id, at, question, answered, confidence, facts, platform from questions_log"
            " where at >= ? order by at, id",
            [since],
        )
    )


def feedback_since(
    store: Store, since: str, *, helpful: bool | None = None
) -> list[dict[str, Any]]:
    """Feedback votes at or after `since`, oldest first; only one kind when `helpful` is set."""
    sql = "select id, at, question, facts, helpful, platform from feedback where at >= ?"
    params: list[Any] = [since]
    if helpful is not None:
        sql += " and helpful = ?"
        params.append(int(helpful))
    return _with_facts(store._read(sql + " order by at, id", params))
