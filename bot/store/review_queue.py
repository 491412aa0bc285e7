"""Articles and the candidate facts proposed from them, waiting for review. Every write is
one transaction; accepting or rejecting a candidate appends its audit entry in the same one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.core.models import Fact
from bot.store.db import MAX_ID, NotFound, Store, now, row_limit

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


@dataclass(frozen=True, slots=True)
class Article:
    """An article as stored for intake."""

    id: int
    title: str
    published: dt.date
    url: str | None
    publisher: str | None
    text: str
    source_id: str | None
    added_by: str
    added_at: str


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A stored candidate fact and where it stands in review."""

    id: int
    article_id: int
    sentence: str
    text: str
    topic: str
    as_of: dt.date | None
    status: str
    fact_id: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    note: str | None = None
    article_title: str = ""

    @property
    def draft(self) -> bool:
        """True while the text is still the article's own sentence."""
        return same_words(self.text, self.sentence)


@dataclass(frozen=True, slots=True)
class NewCandidate:
    """What is stored for one proposed candidate."""

    sentence: str
    text: str
    topic: str
    as_of: dt.date | None


def same_words(a: str, b: str) -> bool:
    """Equal up to case, whitespace and the style of quotation marks."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
    return " ".join(a.translate(table).casefold().split()) == " ".join(
        b.translate(table).casefold().split()
    )


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _article(row: dict[str, Any]) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        published=dt.date.fromisoformat(row["published"]),
        url=row["url"] or None,
        publisher=row["publisher"] or None,
        text=row["text"],
        source_id=row["source_id"] or None,
        added_by=row["added_by"],
        added_at=row["added_at"],
    )


def _candidate(row: dict[str, Any]) -> CandidateRecord:
    return CandidateRecord(
        id=row["id"],
        article_id=row["article_id"],
        sentence=row["sentence"],
        text=row["text"],
        topic=row["topic"],
        as_of=_date(row["as_of"]),
        status=row["status"],
        fact_id=row["fact_id"] or None,
        reviewed_by=row["reviewed_by"] or None,
        reviewed_at=row["reviewed_at"] or None,
        note=row["note"] or None,
        article_title=row.get("article_title") or "",
    )


_SELECT = (
    "select c.*, a.title as article_title from candidates c join articles a on a.id = c.article_id"
)


class ReviewQueue:
    """Reads and writes of the `articles` and `candidates` tables."""

    def __init__(self, store: Store):
        self.store = store

    # --- reads ---------------------------------------------------------------------------

    def article(self, article_id: int) -> Article:
        rows = self.store._read("select * from articles where id = ?", [article_id])
        if not rows:
            raise NotFound(f"No article with id {article_id}.")
        return _article(rows[0])

    def candidate(self, candidate_id: int) -> CandidateRecord:
        if not 0 < candidate_id <= MAX_ID:
            raise NotFound(f"No candidate with id {candidate_id}.")
        rows = self.store._read(f"{_SELECT} where c.id = ?", [candidate_id])
        if not rows:
            raise NotFound(f"No candidate with id {candidate_id}.")
        return _candidate(rows[0])

    def candidates(
        self, *, status: str | None = PENDING, article_id: int | None = None, limit: int = 50
    ) -> list[CandidateRecord]:
        """Candidates in article order, oldest article first."""
        where, params = [], []
        if status is not None:
            where.append("c.status = ?")
            params.append(status)
        if article_id is not None:
            where.append("c.article_id = ?")
            params.append(article_id)
        sql = _SELECT + (f" where {' and '.join(where)}" if where else "")
        rows = self.store._read(f"{sql} order by c.id limit ?", [*params, row_limit(limit)])
        return [_candidate(r) for r in rows]

    # --- writes --------------------------------------------------------------------------

    def add_article(
        self,
        *,
        title: str,
        published: dt.date,
        text: str,
        url: str | None,
        publisher: str | None,
        source_id: str | None,
        candidates: Iterable[NewCandidate],
        actor: str,
        platform: str,
    ) -> tuple[int, list[int]]:
        """Store an article with its candidates; returns their ids."""
        candidates = list(candidates)
        with self.store.transaction() as db:
            article_id = (
                db["articles"]
                .insert(
                    {
                        "title": title,
                        "published": published.isoformat(),
                        "url": url,
                        "publisher": publisher,
                        "text": text,
                        "source_id": source_id,
                        "added_by": actor,
                        "added_at": now(),
                    }
                )
                .last_pk
            )
            ids = []
            for c in candidates:
                cursor = db.execute(
                    "insert into candidates (article_id, sentence, text, topic, as_of, status)"
                    " values (?, ?, ?, ?, ?, ?)",
                    [
                        article_id,
                        c.sentence,
                        c.text,
                        c.topic,
                        c.as_of.isoformat() if c.as_of else None,
                        PENDING,
                    ],
                )
                ids.append(int(cursor.lastrowid))
            note = f"article {article_id} “{title}”: {len(ids)} candidates"
            self.store._audit(db, actor, "article-add", None, None, None, platform, note)
        return int(article_id), ids

    def edit(
        self, candidate_id: int, changes: dict[str, Any], *, actor: str, platform: str
    ) -> CandidateRecord:
        """Change a pending candidate's text, topic or as-of date (audited as
        `candidate-edit`, the changed fields in the note)."""
        allowed = {"text", "topic", "as_of"}
        values = {k: v for k, v in changes.items() if k in allowed and v is not None}
        if "as_of" in values:
            values["as_of"] = values["as_of"].isoformat()
        if not values:
            raise ValueError("Nothing to change.")
        with self.store.transaction() as db:
            row = self._pending(db, candidate_id)
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(
                f"update candidates set {sets} where id = ?", [*values.values(), candidate_id]
            )
            note = f"candidate {candidate_id} of article {row['article_id']}: " + "; ".join(
                f"{k}: {row[k]!r} -> {v!r}" for k, v in values.items()
            )
            self.store._audit(db, actor, "candidate-edit", None, None, None, platform, note)
        return self.candidate(candidate_id)

    def mark_accepted(
        self, candidate_id: int, fact: Fact, *, actor: str, platform: str
    ) -> CandidateRecord:
        """Record that the candidate became `fact`, with a `candidate-accept` audit entry."""
        with self.store.transaction() as db:
            row = self._pending(db, candidate_id)
            db.execute(
                "update candidates set status = ?, fact_id = ?, text = ?, topic = ?, as_of = ?,"
                " reviewed_by = ?, reviewed_at = ? where id = ?",
                [
                    ACCEPTED,
                    fact.id,
                    fact.text,
                    fact.topic,
                    fact.as_of.isoformat(),
                    actor,
                    now(),
                    candidate_id,
                ],
            )
            db.execute(
                "update articles set source_id = ? where id = ? and source_id is null",
                [fact.source, row["article_id"]],
            )
            note = f"candidate {candidate_id} of article {row['article_id']}"
            self.store._audit(db, actor, "candidate-accept", fact.id, None, fact, platform, note)
        return self.candidate(candidate_id)

    def mark_rejected(
        self, candidate_id: int, reason: str, *, actor: str, platform: str
    ) -> CandidateRecord:
        """Reject a pending candidate, with a `candidate-reject` audit entry."""
        with self.store.transaction() as db:
            row = self._pending(db, candidate_id)
            db.execute(
                "update candidates set status = ?, note = ?, reviewed_by = ?, reviewed_at = ?"
                " where id = ?",
                [REJECTED, reason, actor, now(), candidate_id],
            )
            note = f"candidate {candidate_id} of article {row['article_id']}: {reason}"
            self.store._audit(db, actor, "candidate-reject", None, None, None, platform, note)
        return self.candidate(candidate_id)

    @staticmethod
    def _pending(db: Any, candidate_id: int) -> dict[str, Any]:
        """The candidate's row, inside the write transaction; it must still be pending."""
        rows = list(db.query("select * from candidates where id = ?", [candidate_id]))
        if not rows:
            raise NotFound(f"No candidate with id {candidate_id}.")
        row = rows[0]
        if row["status"] != PENDING:
            raise ValueError(closed_reason(row["id"], row["status"], row["fact_id"], row["note"]))
        return row


def closed_reason(candidate_id: int, status: str, fact_id: str | None, note: str | None) -> str:
    """Why a candidate that is no longer pending cannot be reviewed again."""
    if status == ACCEPTED:
        return f"Candidate {candidate_id} was already accepted as fact '{fact_id}'."
    return f"Candidate {candidate_id} was rejected ({note or 'no reason given'})."
