"""The platform-neutral data model: sources, facts, questions, citations and answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Source:
    """Where facts come from: an article, a statement, a report."""

    id: str
    title: str
    published: dt.date
    url: str | None = None
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """One statement in our own words, true as of a date, backed by a source."""

    id: str
    text: str
    topic: str
    as_of: dt.date
    source: str
    questions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    review_by: dt.date | None = None
    status: str = "active"  # "active" or "retracted"


@dataclass(frozen=True, slots=True)
class Topic:
    """A subject facts are grouped under; newer facts on a topic supersede older ones."""

    id: str
    label: str
    description: str = ""
    status_order: int | None = None
    compare_with: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Question:
    """A question as an adapter hands it to the core."""

    text: str
    platform: str = "console"
    user: str | None = None
    channel: str | None = None  # None in a direct message
    private: bool = False  # the reply is seen only by the asker (an ephemeral slash reply)
    command: bool = False  # a slash command: the platform expects a reply to the asker
    thread: str | None = None  # the thread it was asked in (a conversation), if any


@dataclass(frozen=True, slots=True)
class Citation:
    """A source as shown under an answer."""

    source_id: str
    title: str
    published: dt.date
    url: str | None = None
    publisher: str | None = None

    @classmethod
    def of(cls, source: Source) -> Citation:
        return cls(source.id, source.title, source.published, source.url, source.publisher)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "published": self.published.isoformat(),
        }
        if self.url:
            data["url"] = self.url
        if self.publisher:
            data["publisher"] = self.publisher
        return data


@dataclass(frozen=True, slots=True)
class Statement:
    """One fact as it appears in an answer, with the earlier figure it superseded, if any."""

    fact: Fact
    label: str
    history: Fact | None = None


@dataclass(slots=True)
class Answer:
    """What the core says back, before any platform renders it.

    `text` is the whole answer as a person reads it in plain text; renderers for Slack and
    Discord rebuild their own layout from `statements`, `citations` and `as_of`. The kinds
    of `bot.core.limits` are notices: `slow_down` (over a rate; `retry_after`), `repeat`
    (answered here a moment ago; `text` is the sentence, `link` where, when known) and
    `ignored` (already told: adapters post nothing).
    """

    answered: bool
    text: str
    question: str = ""
    statements: list[Statement] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    confidence: float = 0.0
    suggestions: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    stale_warning: str | None = None
    kind: str = "answer"  # "answer", "status", "refusal", "invalid", or a limits notice
    log_id: int | None = None  # the question-log entry; feedback buttons refer to it
    retry_after: int | None = None  # slow_down: seconds until the asker may ask again
    link: str | None = None  # repeat: a URL of the earlier answer
    earlier: str | None = None  # repeat: the platform's id of the earlier answer (Slack ts)
    private: bool = False  # show only to the asker where the platform can
    repeat_key: tuple[str, ...] | None = None  # a later repeat may point here (posted())
    dispute: str | None = None  # the pack's name, when the bot answers for several disputes
    understood: str | None = None  # a follow-up as the bot read it ("what is GM offering?")

    @property
    def fact_ids(self) -> list[str]:
        return [s.fact.id for s in self.statements]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form printed by `strikebot ask --json`."""
        return {
            "answered": self.answered,
            "text": self.text,
            "citations": [c.to_json() for c in self.citations],
            "facts": self.fact_ids,
            "confidence": round(self.confidence, 4),
            "suggestions": list(self.suggestions),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "kind": self.kind,
            "dispute": self.dispute,
        }
