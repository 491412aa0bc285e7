"""Status that stays current: channels subscribe to status updates, a newer fact on a status
topic queues one update for every subscribed channel, and a deliverer posts them, each once.

Platform-neutral: adapters pass a `send(channel, update)` callable and render the
`StatusUpdate` themselves. Facts added from another process (the CLI) only queue the update;
the running bot sends it on its next delivery round."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.admin import Actor, AdminInputError, AdminService, PermissionDenied
from bot.core.models import Citation, Fact
from bot.core.service import StrikeBot
from bot.render.text import citation_line, human_date
from bot.store.db import Store, StoreError
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

PLATFORMS = ("slack", "discord")
MAX_ATTEMPTS = 5
MAX_CHANNEL_CHARS = 100
SHORT_TEXT_CHARS = 120
ARROW = "->"
ADMINS_ONLY = "Sorry, only strikebot admins can subscribe or unsubscribe a channel."
_AS_OF_PREFIX = re.compile(r"^as of\s+[^,]{3,40},\s*", re.IGNORECASE)


# --- the data -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A fact's words and date as they were when the update was made."""

    text: str
    as_of: dt.date

    @classmethod
    def of(cls, fact: Fact) -> Snapshot:
        return cls(fact.text, fact.as_of)

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "as_of": self.as_of.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Snapshot | None:
        if not data:
            return None
        return cls(str(data["text"]), dt.date.fromisoformat(data["as_of"]))


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One change to the status, as every subscribed channel is told about it."""

    id: int
    fact_id: str
    topic: str
    label: str
    after: Snapshot
    before: Snapshot | None
    source: Citation | None
    message: str  # the whole update as plain text

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StatusUpdate:
        details = row.get("details") or {}
        source = details.get("source")
        after = Snapshot.from_json(details.get("after"))
        if after is None:  # an update without details: its message says it all
            after = Snapshot(row["message"], dt.date.fromisoformat(row["created_at"][:10]))
        return cls(
            id=int(row.get("update_id") or row["id"]),
            fact_id=row["fact_id"],
            topic=row["topic"],
            label=details.get("label") or row["topic"],
            after=after,
            before=Snapshot.from_json(details.get("before")),
            source=_citation_from_json(source) if source else None,
            message=row["message"],
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One update on its way to one channel."""

    id: int
    subscription_id: int
    platform: str
    channel: str
    attempts: int
    update: StatusUpdate


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel that gets status updates, and the updates it has not been given (posts the
    platform refused, still retried or given up), with the newest refusal."""

    platform: str
    channel: str
    added_by: str | None
    added_at: str | None
    failed: int = 0
    last_error: str | None = None
    last_failed_at: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionResult:
    """What a subscribe/unsubscribe did, and what to tell the admin."""

    changed: bool
    message: str


def _citation_json(citation: Citation) -> dict[str, Any]:
    return {"id": citation.source_id, **citation.to_json()}


def _citation_from_json(data: dict[str, Any]) -> Citation:
    return Citation(
        source_id=str(data.get("id") or ""),
        title=str(data["title"]),
        published=dt.date.fromisoformat(data["published"]),
        url=data.get("url"),
        publisher=data.get("publisher"),
    )


# --- wording ------------------------------------------------------------------------------


def shorten(text: str, limit: int = SHORT_TEXT_CHARS) -> str:
    """A fact's text for a one-line change: no leading 'As of <date>,' (the date is shown
    anyway), no final full stop, cut at a word boundary."""
    text = " ".join(text.split())
    text = _AS_OF_PREFIX.sub("", text).rstrip(".")
    if len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"
    return text


def change_line(label: str, before: Snapshot | None, after: Snapshot) -> str:
    """'Day count: about 130 days (11 Sep 2023) -> strike ended after 148 days (27 Sep 2023)'."""
    now = f"{shorten(after.text)} ({human_date(after.as_of)})"
    if before is None:
        return f"{label}: {now}"
    return f"{label}: {shorten(before.text)} ({human_date(before.as_of)}) {ARROW} {now}"


def plain_message(
    label: str, before: Snapshot | None, after: Snapshot, source: Citation | None
) -> str:
    """The whole update as plain text: the change, then its source."""
    lines = [change_line(label, before, after)]
    if source is not None:
        lines.append(f"Source: {citation_line(source)}")
    return "\n".join(lines)


# --- subscriptions ------------------------------------------------------------------------


def _check_target(platform: str, channel: str) -> tuple[str, str]:
    platform = (platform or "").strip().lower()
    channel = (channel or "").strip()
    if platform not in PLATFORMS:
        raise AdminInputError(f"Unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}.")
    if not channel or len(channel) > MAX_CHANNEL_CHARS or any(c.isspace() for c in channel):
        raise AdminInputError("That is not a channel I can post to.")
    return platform, channel


class SubscriptionService:
    """Which channels get status updates; only admins may change it."""

    def __init__(self, store: Store):
        self.records = SubscriptionStore(store)

    def subscribe(self, actor: Actor, platform: str, channel: str) -> SubscriptionResult:
        """Subscribe a channel (again); says so when it already was."""
        _require(actor)
        platform, channel = _check_target(platform, channel)
        if not self.records.subscribe(platform, channel, actor.audit_name):
            return SubscriptionResult(False, "This channel is already subscribed to updates.")
        log.info("an admin subscribed %s channel %s", platform, channel)  # never the user id
        return SubscriptionResult(
            True,
            "This channel is now subscribed: it will get a message when the status changes.",
        )

    def unsubscribe(self, actor: Actor, platform: str, channel: str) -> SubscriptionResult:
        """Unsubscribe a channel; updates not yet sent to it are cancelled."""
        _require(actor)
        platform, channel = _check_target(platform, channel)
        if not self.records.unsubscribe(platform, channel, actor.audit_name):
            return SubscriptionResult(False, "This channel is not subscribed to updates.")
        log.info("an admin unsubscribed %s channel %s", platform, channel)
        return SubscriptionResult(True, "This channel will no longer get status updates.")

    def is_subscribed(self, platform: str, channel: str) -> bool:
        row = self.records.subscription(platform, channel)
        return bool(row and row["active"])

    def list(self, platform: str | None = None) -> list[Subscription]:
        """The active subscriptions (of one platform, or all), with their failed deliveries."""
        failures = self.records.failures(platform)
        subscriptions = []
        for row in self.records.subscriptions(platform):
            failed = failures.get(int(row["id"])) or {}
            subscriptions.append(
                Subscription(
                    row["platform"],
                    row["channel"],
                    row["added_by"],
                    row["added_at"],
                    failed=int(failed.get("failed") or 0),
                    last_error=failed.get("last_error"),
                    last_failed_at=failed.get("last_failed_at"),
                )
            )
        return subscriptions


def _require(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied(ADMINS_ONLY)


# --- queuing updates ----------------------------------------------------------------------


class StatusUpdates:
    """Listens to `AdminService.on_fact_changed` and queues one update per status change."""

    def __init__(self, bot: StrikeBot):
        self.bot = bot
        self.records = SubscriptionStore(bot.store)

    @classmethod
    def attach(cls, admin: AdminService) -> StatusUpdates:
        """Register on the admin service (once, however often it is called)."""
        for listener in admin.on_fact_changed:
            if isinstance(listener, cls):
                return listener
        listener = cls(admin.bot)
        admin.on_fact_changed.append(listener)
        return listener

    def __call__(self, fact: Fact, previous: Fact | None, actor: Actor) -> None:
        """The listener: the fact is already saved, so a failure here is logged, not raised."""
        try:
            self.record(fact, previous)
        except StoreError as exc:
            log.error("status update for fact %s not queued: %s", fact.id, exc)

    def record(self, fact: Fact, previous: Fact | None) -> int | None:
        """Queue the update if `fact` moves a status topic forward; returns its id."""
        self.bot.refresh()
        knowledge = self.bot.knowledge
        if fact.topic not in knowledge.status_topics():
            return None
        if previous is not None and fact.as_of <= previous.as_of:
            return None
        current = knowledge.current(fact.topic)
        if current is None or current.id != fact.id:
            return None
        label = knowledge.label(fact.topic)
        before = Snapshot.of(previous) if previous is not None else None
        after = Snapshot.of(current)
        src = knowledge.sources.get(current.source)
        source = Citation.of(src) if src is not None else None
        details = {
            "label": label,
            "before": before.to_json() if before else None,
            "after": after.to_json(),
            "source": _citation_json(source) if source else None,
            "previous_fact_id": previous.id if previous is not None else None,
        }
        message = plain_message(label, before, after, source)
        update_id, queued = self.records.add_update(current.id, current.topic, message, details)
        log.info("status update %d for %s queued to %d channel(s)", update_id, fact.id, queued)
        return update_id


# --- delivering ---------------------------------------------------------------------------

Send = Callable[[str, StatusUpdate], None]


class DeliveryFailed(Exception):
    """The platform refused a post; the message says why in its own words (kept as the
    delivery's last error and shown to admins)."""


def _describe(error: BaseException) -> str:
    if isinstance(error, DeliveryFailed):
        return str(error)[:500]
    return f"{type(error).__name__}: {error}"[:500]


class DeliveryRound:
    """One pass over a platform's pending deliveries, in order. A channel whose post failed
    is skipped for the rest of the round, so its updates stay in order."""

    def __init__(self, records: SubscriptionStore, platform: str, max_attempts: int):
        self.records = records
        self.platform = platform
        self.max_attempts = max_attempts
        self.counts = {"sent": 0, "failed": 0}
        self._after = 0
        self._blocked: set[int] = set()

    def next(self) -> Delivery | None:
        """Claim the next delivery (no other worker can then send it), or None when done."""
        row = self.records.claim(
            self.platform,
            after_id=self._after,
            skip_subscriptions=self._blocked,
            max_attempts=self.max_attempts,
        )
        if row is None:
            return None
        self._after = int(row["id"])
        return Delivery(
            id=int(row["id"]),
            subscription_id=int(row["subscription_id"]),
            platform=row["platform"],
            channel=row["channel"],
            attempts=int(row["attempts"]),
            update=StatusUpdate.from_row(row),
        )

    def sent(self, delivery: Delivery) -> None:
        self.records.mark_sent(delivery.id)
        self.counts["sent"] += 1

    def failed(self, delivery: Delivery, error: BaseException) -> None:
        self.records.mark_failed(delivery.id, _describe(error))
        self._blocked.add(delivery.subscription_id)
        self.counts["failed"] += 1
        final = " (giving up)" if delivery.attempts >= self.max_attempts else ""
        log.warning(
            "status update %d to %s channel %s failed, attempt %d%s: %s",
            delivery.update.id,
            delivery.platform,
            delivery.channel,
            delivery.attempts,
            final,
            _describe(error),
        )


class Deliverer:
    """Sends queued status updates: each delivery at most once, failures retried next round
    up to `max_attempts` times."""

    def __init__(self, store: Store, *, max_attempts: int = MAX_ATTEMPTS):
        self.records = SubscriptionStore(store)
        self.max_attempts = max_attempts

    def round(self, platform: str) -> DeliveryRound:
        """A round to drive step by step (the Discord adapter does, between awaits)."""
        return DeliveryRound(self.records, platform, self.max_attempts)

    def deliver_pending(self, platform: str, send: Send) -> dict[str, int]:
        """Send every pending (or failed, retryable) delivery of `platform` once; returns
        how many were sent and how many failed."""
        current = self.round(platform)
        while (delivery := current.next()) is not None:
            try:
                send(delivery.channel, delivery.update)
            except Exception as exc:
                current.failed(delivery, exc)
            else:
                current.sent(delivery)
        return dict(current.counts)
