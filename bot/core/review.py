"""The review queue: an admin adds an article, intake proposes candidate facts, and each
candidate is accepted (reworded, as a fact with the article as its source) or rejected.
Candidates never reach answers: only accepted ones become facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.admin import (
    Actor,
    AdminInputError,
    AdminService,
    check_as_of,
    parse_date,
)
from bot.core.intake import Candidate, propose
from bot.core.models import Fact
from bot.core.packs import local, pack_of, qualify
from bot.core.rules import clean_block, clean_text
from bot.core.service import StrikeBot
from bot.store.db import NotFound
from bot.store.knowledge_files import MAX_TEXT
from bot.store.review_queue import (
    PENDING,
    CandidateRecord,
    NewCandidate,
    ReviewQueue,
    closed_reason,
    same_words,
)

MAX_ARTICLE_CHARS = 200_000
MAX_REASON = 500
DRAFT_NOTE = "draft in the article's words: reword before accepting"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A candidate as shown to reviewers: the stored record, and what intake saw in it."""

    record: CandidateRecord
    new_topic: bool = False
    signals: tuple[str, ...] = field(default=())

    @property
    def id(self) -> int:
        return self.record.id

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "id": r.id,
            "article_id": r.article_id,
            "article": r.article_title,
            "topic": local(r.topic),
            "pack": pack_of(r.topic),
            "new_topic": self.new_topic,
            "text": r.text,
            "draft": r.draft,
            "sentence": r.sentence,
            "as_of": r.as_of.isoformat() if r.as_of else None,
            "status": r.status,
            "fact_id": r.fact_id,
            "note": r.note,
            "signals": list(self.signals),
        }


def candidate_fact_id(topic: str, candidate_id: int) -> str:
    """The id an accepted candidate's fact gets: stable, so a retried accept is detected."""
    base = "".join(ch if ch.isalnum() else "-" for ch in local(topic).lower()).strip("-")[:60]
    return f"{base or 'fact'}-c{candidate_id}"


class ReviewService:
    """Article intake and the review of its candidates, for admins."""

    def __init__(self, bot: StrikeBot, admin: AdminService):
        self.bot = bot
        self.admin = admin
        self.queue = ReviewQueue(bot.store)

    # --- intake --------------------------------------------------------------------------

    def check_article(
        self,
        title: str,
        published: str | dt.date,
        url: str | None = None,
        publisher: str | None = None,
    ) -> tuple[str, dt.date]:
        """An article's title and date as stored, or AdminInputError on a bad title, date or
        URL (adapters call this before asking for the text; the source itself is created by
        the first accepted candidate)."""
        published_date = parse_date(published, "published")
        title = clean_text(title or "")
        self.admin.find_or_make_source(title, published_date, url, publisher)
        return title, published_date

    def add_article(
        self,
        actor: Actor,
        text: str,
        title: str,
        published: str | dt.date,
        url: str | None = None,
        publisher: str | None = None,
        pack: str | None = None,
    ) -> tuple[int, list[ReviewItem]]:
        """Store an article and propose its candidate facts (none is published), with topics
        of `pack` (else the default pack) only."""
        self.admin.require(actor)
        text = clean_block(text or "").strip()
        if not text:
            raise AdminInputError("The article has no text.")
        if len(text) > MAX_ARTICLE_CHARS:
            raise AdminInputError(
                f"The article is longer than {MAX_ARTICLE_CHARS:,} characters; split it."
            )
        title, published_date = self.check_article(title, published, url, publisher)
        self.bot.refresh()
        knowledge = self.bot.knowledge
        pack = pack or self.bot.default_pack()
        if pack is None:
            raise AdminInputError("Which dispute is this article about? Give its pack.")
        # The pack's own topics, by their local ids: new ids are made from them.
        topics = {
            local(t): replace(v, id=local(t), compare_with=tuple(map(local, v.compare_with)))
            for t, v in knowledge.topics.items()
            if pack_of(t) == pack
        }
        facts = [
            replace(f, topic=local(f.topic))
            for f in knowledge.facts.values()
            if pack_of(f.topic) == pack
        ]
        proposals = [
            replace(c, topic=qualify(pack, c.topic))
            for c in propose(text, self.bot.language_for(pack), topics, facts, as_of=published_date)
        ]
        article_id, ids = self.queue.add_article(
            title=title[:300],
            published=published_date,
            text=text,
            url=url or None,
            publisher=clean_text(publisher) if publisher else None,
            source_id=None,
            candidates=[NewCandidate(c.sentence, c.draft, c.topic, c.as_of) for c in proposals],
            actor=actor.audit_name,
            platform=actor.platform,
        )
        records = {r.id: r for r in self.queue.candidates(article_id=article_id, limit=len(ids))}
        return article_id, [self._item(records[i], c) for i, c in zip(ids, proposals, strict=True)]

    def _item(self, record: CandidateRecord, proposal: Candidate | None = None) -> ReviewItem:
        if proposal is not None:
            return ReviewItem(record, proposal.new_topic, proposal.signals)
        return ReviewItem(record, record.topic not in self.bot.knowledge.topics)

    # --- the queue -----------------------------------------------------------------------

    def pending(self, limit: int = 50) -> list[ReviewItem]:
        """Candidates waiting for review, oldest first."""
        self.bot.refresh()
        return [self._item(r) for r in self.queue.candidates(status=PENDING, limit=limit)]

    def candidate(self, candidate_id: int) -> ReviewItem:
        self.bot.refresh()
        return self._item(self.queue.candidate(candidate_id))

    def _open(self, candidate_id: int) -> CandidateRecord:
        record = self.queue.candidate(candidate_id)
        if record.status != PENDING:
            raise AdminInputError(
                closed_reason(record.id, record.status, record.fact_id, record.note)
            )
        return record

    def edit(
        self,
        actor: Actor,
        candidate_id: int,
        text: str | None = None,
        topic: str | None = None,
        as_of: str | dt.date | None = None,
    ) -> ReviewItem:
        """Reword a pending candidate, or change its topic or as-of date, before accepting."""
        self.admin.require(actor)
        record = self._open(candidate_id)
        pack = pack_of(record.topic) or None
        when = None
        if as_of is not None:
            published = self.queue.article(record.article_id).published
            when = check_as_of(parse_date(as_of, "as-of"), published)
        changes: dict[str, Any] = {
            "text": _check_text(text) if text is not None else None,
            "topic": self.admin.scoped_topic(topic, pack) if topic is not None else None,
            "as_of": when,
        }
        try:
            record = self.queue.edit(
                candidate_id, changes, actor=actor.audit_name, platform=actor.platform
            )
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        return self._item(record)

    def accept(
        self,
        actor: Actor,
        candidate_id: int,
        text: str | None = None,
        topic: str | None = None,
        as_of: str | dt.date | None = None,
        questions: tuple[str, ...] = (),
    ) -> Fact:
        """Make the candidate a fact, sourced to its article (status listeners fire), with
        the example `questions` people ask for it.

        The text must be in the admin's words: the draft (the article's sentence) is refused."""
        self.admin.require(actor)
        record = self._open(candidate_id)
        final_text = _check_text(text if text is not None else record.text)
        if same_words(final_text, record.sentence):
            raise AdminInputError(
                f"Candidate {candidate_id} is still the article's own sentence; give the fact "
                "in your own words."
            )
        final_topic = self.admin.scoped_topic(topic or record.topic, pack_of(record.topic) or None)
        article = self.queue.article(record.article_id)
        when = parse_date(as_of, "as-of") if as_of else record.as_of or article.published
        check_as_of(when, article.published)
        fact_id = candidate_fact_id(final_topic, candidate_id)
        fact = self._interrupted(fact_id, final_text)
        if fact is None:
            fact = self.admin.add(
                actor,
                text=final_text,
                topic=final_topic,
                as_of=when,
                source_title=article.title,
                published=article.published,
                url=article.url,
                publisher=article.publisher,
                fact_id=fact_id,
                questions=questions,
            )
        try:
            self.queue.mark_accepted(
                candidate_id, fact, actor=actor.audit_name, platform=actor.platform
            )
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        return fact

    def _interrupted(self, fact_id: str, text: str) -> Fact | None:
        """The fact an earlier accept of this candidate created before it was interrupted."""
        try:
            fact = self.bot.store.fact(fact_id)
        except NotFound:
            return None
        if fact.text != text:
            raise AdminInputError(f"A fact with id '{fact_id}' already exists.")
        return fact

    def reject(self, actor: Actor, candidate_id: int, reason: str) -> ReviewItem:
        """Take the candidate out of the queue; the reason is kept and audited."""
        self.admin.require(actor)
        reason = clean_text(reason or "")
        if not reason:
            raise AdminInputError("Say why the candidate is rejected (a reason is required).")
        self._open(candidate_id)
        try:
            record = self.queue.mark_rejected(
                candidate_id,
                reason[:MAX_REASON],
                actor=actor.audit_name,
                platform=actor.platform,
            )
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        return self._item(record)


def _check_text(text: str) -> str:
    text = clean_text(text or "")
    if not text:
        raise AdminInputError("The fact needs some text.")
    if len(text) > MAX_TEXT:
        raise AdminInputError(f"The fact text is longer than {MAX_TEXT} characters.")
    return text
