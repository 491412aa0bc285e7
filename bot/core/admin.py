"""Admin actions: add, edit, retract, restore, import, audit. Each checks the permission it
is handed, writes in one transaction with its audit entry, then refreshes the index."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.core.limits import in_seconds
from bot.core.models import Fact, Source
from bot.core.packs import PACK_ID_RE, SEPARATOR, Pack, pack_of, qualify
from bot.core.rules import as_of_problem, clean_text, hints_problem, url_problem
from bot.core.service import StrikeBot
from bot.store.db import SourceChanged
from bot.store.knowledge_files import (
    FACT_KEYS,
    ID_RE,
    MAX_TEXT,
    TOPIC_RE,
    dump_knowledge,
    load_fact_files,
)
from bot.store.packs import PackStore


class PermissionDenied(PermissionError):
    """The actor may not run admin actions."""


class SlowDown(PermissionDenied):
    """The admin ran too many admin commands in the last minute; nothing was done."""


class AdminInputError(ValueError):
    """An admin request with a field that is missing or wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for an admin action, as the adapter identified them. Build one per command:
    the admin rate counts each Actor object once, however many actions it runs."""

    id: str
    platform: str = "cli"
    is_admin: bool = False
    name: str | None = None

    @property
    def audit_name(self) -> str:
        return f"{self.platform}:{self.id}"


def parse_date(value: str | dt.date, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise AdminInputError(f"{field} must be a date like 2023-09-11, not {value!r}.") from None


def check_topic(topic: str) -> str:
    """The topic, normalised (`offer.pay`, or `pack/offer.pay` naming its dispute), or
    AdminInputError saying what a topic must look like."""
    topic = (topic or "").strip().lower()
    pack, sep, local_id = topic.rpartition(SEPARATOR)
    if not TOPIC_RE.match(local_id) or (sep and not PACK_ID_RE.match(pack)):
        raise AdminInputError(
            "The topic must be short lowercase words joined by dots, e.g. offer.pay "
            "(or wga-2023/offer.pay to name the dispute)."
        )
    return topic


def check_as_of(as_of: dt.date, published: dt.date | None) -> dt.date:
    """The as-of date, or AdminInputError when it is in the future or after its source."""
    problem = as_of_problem(as_of, published)
    if problem:
        raise AdminInputError(problem[:1].upper() + problem[1:] + "; nothing was changed.")
    return as_of


def check_hints(key: str, values: Any) -> tuple[str, ...]:
    """Example questions (or aliases, or keywords) as stored: cleaned, empty ones dropped;
    AdminInputError when there are too many or one is too long."""
    cleaned = tuple(v for v in (clean_text(str(value)) for value in values) if v)
    problem = hints_problem(key, cleaned)
    if problem:
        raise AdminInputError(problem[:1].upper() + problem[1:] + "; nothing was changed.")
    return cleaned


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50].strip("-") or "source"


class AdminService:
    """Changes to the knowledge, for people allowed to make them."""

    def __init__(self, bot: StrikeBot):
        self.bot = bot
        self.store = bot.store
        # Called after a fact is added or edited, with the fact and the fact that was current
        # on its topic before (None if the topic was new): status updates subscribe here.
        self.on_fact_changed: list[Callable[[Fact, Fact | None, Actor], None]] = []

    def _current(self, topic: str) -> Fact | None:
        self.bot.refresh()
        return self.bot.knowledge.current(topic)

    def _notify(self, fact: Fact, previous: Fact | None, actor: Actor) -> None:
        for listener in self.on_fact_changed:
            listener(fact, previous, actor)

    def require(self, actor: Actor) -> None:
        """PermissionDenied unless the actor is an admin; SlowDown (nothing done) when the
        admin is over STRIKEBOT_ADMIN_RATE."""
        if not actor.is_admin:
            raise PermissionDenied("Sorry, only strikebot admins can do that.")
        wait = self.bot.limits.admit_admin(actor.platform, actor.id, actor)
        if wait > 0:
            rate = self.bot.limits.admins.limit
            raise SlowDown(
                f"That's more than {rate} admin commands in a minute; nothing was changed. "
                f"Please try again in {in_seconds(wait)}."
            )

    def _done(self) -> None:
        self.bot.refresh(force=True)

    def scoped_topic(self, topic: str, pack: str | None = None) -> str:
        """A topic id as stored: qualified with its dispute (`pack`, else the one the topic
        names, else the bot's default pack)."""
        topic = check_topic(topic)
        named, sep, local_id = topic.rpartition(SEPARATOR)
        pid = named if sep else pack or self.bot.default_pack()
        packs = PackStore(self.store)
        if pid is None:
            known = ", ".join(p.id for p in packs.packs()) or "none"
            raise AdminInputError(
                f"Which dispute is this about? Name it as PACK/{local_id} (packs: {known})."
            )
        if pid not in {p.id for p in packs.packs()}:
            if packs.packs():
                raise AdminInputError(f"There is no dispute (pack) called '{pid}'.")
            packs.add(Pack(pid, pid))  # the first fact of a new deployment starts its pack
        return qualify(pid, local_id)

    def find_or_make_source(
        self, title: str, published: dt.date, url: str | None, publisher: str | None
    ) -> tuple[str, Source | None]:
        """An existing source with this title and date, or a new one to create."""
        title = clean_text(title or "")
        publisher = clean_text(publisher) if publisher else None
        if not title:
            raise AdminInputError("The source needs a title.")
        problem = url_problem(url) if url else None
        if problem:
            raise AdminInputError(f"The source URL is refused: {problem}.")
        sources = self.store.sources()
        for src in sources.values():
            if src.title.casefold() == title.casefold() and src.published == published:
                return src.id, None
        base = f"{_slug(title)}-{published.isoformat()}"
        sid, n = base, 2
        while sid in sources:
            sid, n = f"{base}-{n}", n + 1
        return sid, Source(sid, title[:300], published, url or None, publisher or None)

    def add(
        self,
        actor: Actor,
        *,
        text: str,
        topic: str,
        as_of: str | dt.date,
        source_title: str | None = None,
        published: str | dt.date | None = None,
        source_id: str | None = None,
        url: str | None = None,
        publisher: str | None = None,
        questions: tuple[str, ...] = (),
        fact_id: str | None = None,
        review_by: str | dt.date | None = None,
    ) -> Fact:
        """Add a fact, creating its source when it is new."""
        self.require(actor)
        text = clean_text(text or "")
        topic = self.scoped_topic(topic)
        if not text:
            raise AdminInputError("The fact needs some text.")
        if len(text) > MAX_TEXT:
            raise AdminInputError(f"The fact text is longer than {MAX_TEXT} characters.")
        as_of_date = parse_date(as_of, "as-of")
        new_source = None
        if source_id:
            known = self.store.sources().get(source_id)
            if known is None:
                raise AdminInputError(f"No source with id '{source_id}'.")
            published_date = known.published
        else:
            if not source_title or published is None:
                raise AdminInputError("Give a source: its title and published date.")
            published_date = parse_date(published, "published")
            source_id, new_source = self.find_or_make_source(
                source_title, published_date, url, publisher
            )
        check_as_of(as_of_date, published_date)
        if fact_id is not None and not ID_RE.match(fact_id):
            raise AdminInputError(f"A fact id must match {ID_RE.pattern}.")
        fact = Fact(
            id=fact_id or "",  # without one, the store picks it as it writes
            text=text,
            topic=topic,
            as_of=as_of_date,
            source=source_id,
            questions=check_hints("questions", questions),
            review_by=parse_date(review_by, "review-by") if review_by else None,
        )
        previous = self._current(topic)
        try:
            fact = self.store.add_fact(
                fact,
                new_source,
                actor=actor.audit_name,
                platform=actor.platform,
                auto_id=fact_id is None,
            )
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        self._done()
        self._notify(fact, previous, actor)
        return fact

    def edit(self, actor: Actor, fact_id: str, **changes: Any) -> Fact:
        """Change a fact's text, topic, as-of date, source or matching hints."""
        self.require(actor)
        allowed = FACT_KEYS - {"id", "status"}  # status changes are retract / restore
        unknown = set(changes) - allowed
        if unknown:
            raise AdminInputError(f"Cannot edit {', '.join(sorted(unknown))}.")
        clean: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        if "as_of" in clean:
            clean["as_of"] = parse_date(clean["as_of"], "as-of")
        if "review_by" in clean:
            clean["review_by"] = parse_date(clean["review_by"], "review-by")
        if "text" in clean:
            clean["text"] = clean_text(clean["text"])
            if not clean["text"] or len(clean["text"]) > MAX_TEXT:
                raise AdminInputError("The fact text must be 1 to 2000 characters.")
        if "topic" in clean:
            pack = pack_of(self.store.fact(fact_id).topic) or None
            clean["topic"] = self.scoped_topic(clean["topic"], pack)
        for key in ("questions", "aliases", "keywords"):
            if key in clean:
                clean[key] = check_hints(key, clean[key])
        if not clean:
            raise AdminInputError("Nothing to change.")
        before = self.store.fact(fact_id)
        if "as_of" in clean or "source" in clean:
            source = self.store.sources().get(clean.get("source", before.source))
            if source is None:
                raise AdminInputError(f"No source with id '{clean['source']}'.")
            check_as_of(clean.get("as_of", before.as_of), source.published)
        previous = self._current(clean.get("topic", before.topic))
        try:
            fact = self.store.update_fact(
                fact_id, clean, actor=actor.audit_name, platform=actor.platform
            )
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        self._done()
        self._notify(fact, previous, actor)
        return fact

    def retract(self, actor: Actor, fact_id: str, reason: str) -> Fact:
        """Mark a fact retracted (never deleted); it stops appearing in answers."""
        self.require(actor)
        reason = clean_text(reason or "")
        if not reason:
            raise AdminInputError("Say why the fact is retracted (a reason is required).")
        if self.store.fact(fact_id).status == "retracted":
            raise AdminInputError(f"Fact '{fact_id}' is already retracted.")
        return self._set_status(actor, fact_id, "retracted", "retract", reason[:500])

    def restore(self, actor: Actor, fact_id: str, reason: str | None = None) -> Fact:
        """Undo a retraction."""
        self.require(actor)
        if self.store.fact(fact_id).status == "active":
            raise AdminInputError(f"Fact '{fact_id}' is not retracted.")
        note = clean_text(reason)[:500] if reason else None
        return self._set_status(actor, fact_id, "active", "restore", note or None)

    def _set_status(
        self, actor: Actor, fact_id: str, status: str, action: str, note: str | None
    ) -> Fact:
        try:
            fact = self.store.update_fact(
                fact_id,
                {"status": status},
                actor=actor.audit_name,
                platform=actor.platform,
                action=action,
                note=note,
            )
        except ValueError as exc:  # changed by someone else in the meantime
            raise AdminInputError(str(exc)) from None
        self._done()
        return fact

    def audit(self, actor: Actor, limit: int = 20, fact_id: str | None = None) -> list[dict]:
        self.require(actor)
        return self.store.audit(limit=limit, fact_id=fact_id)

    def unanswered(self, actor: Actor, limit: int = 20) -> list[dict]:
        self.require(actor)
        return self.store.unanswered(limit=limit)

    def import_file(
        self, actor: Actor, path: Path, *, update_sources: bool = False
    ) -> dict[str, int]:
        """Load a knowledge YAML file: all of it or (on any problem) none of it. A file that
        changes an existing source is refused unless `update_sources` (then each change is
        counted and audited)."""
        self.require(actor)
        knowledge = load_fact_files([path], known_sources=self.store.sources().values())
        topics = [
            replace(
                t,
                id=self.scoped_topic(t.id),
                compare_with=tuple(self.scoped_topic(c) for c in t.compare_with),
            )
            for t in knowledge.topics
        ]
        scoped = {f.topic: self.scoped_topic(f.topic) for f in knowledge.facts}
        known = {t.id for t in topics} | set(self.store.topics())
        unknown = sorted({t for t in scoped.values() if t not in known})
        if unknown:
            raise AdminInputError(
                f"{path}: no topic {', '.join(unknown[:5])}: list it under 'topics:' in the "
                "file (id, label, description), or use a topic the pack has."
            )
        knowledge.facts = [replace(f, topic=scoped[f.topic]) for f in knowledge.facts]
        try:
            counts = self.store.import_knowledge(
                knowledge,
                actor=actor.audit_name,
                topics=topics,
                platform=actor.platform,
                update_sources=update_sources,
            )
        except SourceChanged as exc:
            raise AdminInputError(str(exc)) from None
        self._done()
        return counts

    def export_text(self, *, include_retracted: bool = True, as_json: bool = False) -> str:
        """Every fact and source as one knowledge document (YAML, or JSON for bulk)."""
        facts = self.store.facts(include_retracted=include_retracted)
        used = {f.source for f in facts}
        sources = [s for s in self.store.sources().values() if s.id in used]
        on = {f.topic for f in facts}
        topics = [t for tid, t in sorted(self.store.topics().items()) if tid in on]
        return dump_knowledge(sources, facts, as_json=as_json, topics=topics)
