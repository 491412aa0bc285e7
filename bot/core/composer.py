"""Turn matched facts into an Answer: supersession by topic, composition of several facts,
citations, as-of dates, stale warnings, and honest refusals with suggestions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.core.matcher import Analysis, Match
from bot.core.models import Answer, Citation, Fact, Source, Statement, Topic
from bot.core.packs import local, pack_of
from bot.render.text import human_date, render_plain

MAX_STATEMENTS = 3
AMBIGUITY_MARGIN = 0.04  # facts this close are equally good answers: the headline leads
NEAR_MARGIN = 0.12  # ... this close: also answered beside the best


@dataclass(slots=True)
class Knowledge:
    """The active facts grouped by topic, newest first, with their sources and topics."""

    facts: dict[str, Fact]
    by_topic: dict[str, list[Fact]]
    sources: dict[str, Source]
    topics: dict[str, Topic]
    status_order: list[str]

    @classmethod
    def build(
        cls, facts: Iterable[Fact], sources: dict[str, Source], topics: dict[str, Topic]
    ) -> Knowledge:
        by_topic: defaultdict[str, list[Fact]] = defaultdict(list)
        active = {}
        for fact in facts:
            if fact.status == "active":
                active[fact.id] = fact
                by_topic[fact.topic].append(fact)
        for group in by_topic.values():
            group.sort(key=lambda f: (f.as_of, f.id), reverse=True)
        ordered = sorted(
            (t for t in topics.values() if t.status_order is not None and t.id in by_topic),
            key=lambda t: t.status_order or 0,
        )
        return cls(active, dict(by_topic), sources, topics, [t.id for t in ordered])

    def current(self, topic: str) -> Fact | None:
        group = self.by_topic.get(topic)
        return group[0] if group else None

    def previous(self, topic: str) -> Fact | None:
        """The figure the current fact superseded, if it says something different."""
        group = self.by_topic.get(topic, [])
        for fact in group[1:]:
            if fact.as_of < group[0].as_of:
                return fact
        return None

    def label(self, topic: str) -> str:
        t = self.topics.get(topic)
        return t.label if t else topic

    def status_topics(self, pack: str | None = None) -> list[str]:
        """The topics of `/strike status`, in their order (of one pack, when given)."""
        if pack is None:
            return self.status_order
        return [t for t in self.status_order if pack_of(t) == pack]

    def packs(self) -> list[str]:
        """The packs that have an active fact, in id order."""
        return sorted({pack_of(t) for t in self.by_topic})


def _sentence(question: str) -> str:
    q = question.strip()
    q = q[:1].upper() + q[1:]
    return q if q.endswith(("?", ".", "!")) else q + "?"


class Composer:
    """Builds answers from a Knowledge snapshot."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        min_confidence: float,
        stale_days: int,
        today: Callable[[], dt.date] = dt.date.today,
    ):
        self.knowledge = knowledge
        self.min_confidence = min_confidence
        self.stale_days = stale_days
        self.today = today

    # --- pieces --------------------------------------------------------------------------

    def _statement(self, fact: Fact, asked: Fact | None = None) -> Statement:
        """The topic's current `fact`, with the earlier fact the question was about
        (`asked`: "when did the strike start?" on a topic now saying it ended), else the
        figure it superseded."""
        history = asked if asked is not None and asked.id != fact.id else None
        return Statement(
            fact=fact,
            label=self.knowledge.label(fact.topic),
            history=history or self.knowledge.previous(fact.topic),
        )

    def _citations(self, statements: list[Statement]) -> list[Citation]:
        seen: dict[str, Citation] = {}
        for st in statements:
            for fact in (st.fact, st.history):
                if fact is None or fact.source in seen:
                    continue
                src = self.knowledge.sources.get(fact.source)
                if src is None:
                    continue
                seen[src.id] = Citation.of(src)
        return list(seen.values())

    def _stale(self, newest_source: dt.date | None) -> str | None:
        if newest_source is None:
            return None
        if (self.today() - newest_source).days <= self.stale_days:
            return None
        return (
            f"My latest source on this is from {human_date(newest_source)}; it may be out of date."
        )

    def _finish(self, answer: Answer) -> Answer:
        if answer.statements:
            answer.as_of = max(s.fact.as_of for s in answer.statements)
            answer.stale_warning = self._stale(max(c.published for c in answer.citations))
        answer.text = render_plain(answer)
        return answer

    def suggestions(self, near: Iterable[Match] = ()) -> list[str]:
        """Questions the bot can answer: close misses first, then the status topics."""
        out: list[str] = []
        for match in near:
            if match.fact.questions:
                out.append(_sentence(match.fact.questions[0]))
        for topic in self.knowledge.status_topics():
            fact = self.knowledge.current(topic)
            if fact and fact.questions:
                out.append(_sentence(fact.questions[0]))
        return list(dict.fromkeys(out))[:5]

    def topic_labels(self) -> list[str]:
        status = self.knowledge.status_topics()
        others = sorted(
            (t for t in self.knowledge.by_topic if t not in status), key=self.knowledge.label
        )
        return [self.knowledge.label(t) for t in [*status, *others]]

    # --- answers -------------------------------------------------------------------------

    def refuse(self, question: str, near: Iterable[Match] = (), confidence: float = 0.0) -> Answer:
        answer = Answer(
            answered=False,
            text="",
            question=question,
            confidence=confidence,
            suggestions=self.suggestions(near),
            kind="refusal",
        )
        return self._finish(answer)

    def invalid(self, question: str, reason: str) -> Answer:
        answer = Answer(
            answered=False,
            text=reason,
            question=question,
            suggestions=self.suggestions(),
            kind="invalid",
        )
        answer.text = render_plain(answer, reason=reason)
        return answer

    def answer(self, question: str, analysis: Analysis, matches: list[Match]) -> Answer:
        """Compose an answer from ranked matches, or refuse when they are not good enough."""
        if not matches or matches[0].score < self.min_confidence:
            near = [m for m in matches[:2] if m.score >= self.min_confidence * 0.8]
            return self.refuse(question, near, matches[0].score if matches else 0.0)
        if analysis.timeline and not analysis.compare:
            lead = matches[0].fact.topic
            if len(self.knowledge.by_topic.get(lead, ())) > 1:
                return self.timeline(lead, question, confidence=matches[0].score)
        # One entry per topic: the newest fact answers for the whole topic.
        best_by_topic: dict[str, Match] = {}
        for m in matches:
            if m.fact.topic not in best_by_topic:
                best_by_topic[m.fact.topic] = m
        ranked = list(best_by_topic.values())
        best = ranked[0]
        if analysis.compare:
            # "Compare ..." wants a pair: lead with the best topic that has a counterpart.
            # Prefer a pair whose both sides matched, then one side that matched well.
            present = {m.fact.topic for m in ranked}
            pair = next(
                (
                    m
                    for m in ranked
                    if m.score >= self.min_confidence
                    and any(t in present for t in self._counterparts(m))
                ),
                None,
            ) or next(
                (m for m in ranked if m.score >= 0.6 * best.score and self._counterparts(m)),
                None,
            )
            if pair is not None:
                ranked.remove(pair)
                ranked.insert(0, pair)
        lead = ranked[0]
        topics = [lead.fact.topic]
        if analysis.compare:
            topics.extend(t for t in self._counterparts(lead) if t not in topics)
        for m in ranked[1:]:
            if len(topics) >= MAX_STATEMENTS or m.fact.topic in topics:
                continue
            close = m.score >= self.min_confidence and m.score >= best.score - NEAR_MARGIN
            if close or self._adds_coverage(analysis, best, m):
                topics.append(m.fact.topic)
        tied = all(
            t in best_by_topic and best_by_topic[t].score >= best.score - AMBIGUITY_MARGIN
            for t in topics
        )
        if not analysis.compare and len(topics) > 1 and tied:
            # Several facts answer about equally well: the headline (status) ones lead.
            headline = set(self.knowledge.status_topics())
            topics.sort(key=lambda t: t not in headline)
        statements = []
        for topic in topics:
            fact = self.knowledge.current(topic)
            if fact is not None:
                matched = best_by_topic.get(topic)
                statements.append(self._statement(fact, matched.fact if matched else None))
        answer = Answer(
            answered=True,
            text="",
            question=question,
            statements=statements,
            citations=self._citations(statements),
            confidence=best.score,
        )
        return self._finish(answer)

    def _counterparts(self, match: Match) -> list[str]:
        topic = self.knowledge.topics.get(match.fact.topic)
        return [t for t in (topic.compare_with if topic else ()) if t in self.knowledge.by_topic]

    def _adds_coverage(self, analysis: Analysis, best: Match, other: Match) -> bool:
        """True when `other` answers a part of the question that `best` leaves out."""
        if other.score < self.min_confidence * 0.9:
            return False
        best_concepts, other_concepts = best.concepts, other.concepts
        missing = {
            c: w
            for c, w in analysis.weights.items()
            if c not in best_concepts and c not in analysis.unknown
        }
        if not missing:
            return False
        gained = sum(w for c, w in missing.items() if c in other_concepts)
        return gained >= 0.5 * sum(missing.values()) and gained >= 0.2 * sum(
            analysis.weights.values()
        )

    def status(self, pack: str | None = None) -> Answer:
        """The latest picture: the newest fact of every status topic, in order (of one
        pack's, when given)."""
        statements = []
        for topic in self.knowledge.status_topics(pack):
            fact = self.knowledge.current(topic)
            if fact is not None:
                statements.append(self._statement(fact))
        if not statements:
            return self.refuse("status")
        answer = Answer(
            answered=True,
            text="",
            question="status",
            statements=statements,
            citations=self._citations(statements),
            confidence=1.0,
            kind="status",
        )
        return self._finish(answer)

    def timeline(self, topic: str, question: str = "", *, confidence: float = 1.0) -> Answer:
        """Every active fact on `topic`, oldest first, each with its date and source; the
        newest is marked current ("how has the offer changed?", `/strike timeline`)."""
        facts = sorted(self.knowledge.by_topic.get(topic, ()), key=lambda f: (f.as_of, f.id))
        if not facts:
            return self.refuse(question or "timeline")
        label = self.knowledge.label(topic)
        statements = [
            Statement(
                fact=f,
                label=f"{label}, {human_date(f.as_of)}" + (" (current)" if f is facts[-1] else ""),
            )
            for f in facts
        ]
        answer = Answer(
            answered=True,
            text="",
            question=question or f"timeline {topic}",
            statements=statements,
            citations=self._citations(statements),
            confidence=confidence,
            kind="timeline",
        )
        return self._finish(answer)

    def sources_of(self, previous: Answer, asked: str, question: str) -> Answer:
        """ "Source?" after an answer: that answer again, with where it came from."""
        answer = Answer(
            answered=True,
            text="",
            question=question,
            statements=list(previous.statements),
            citations=list(previous.citations),
            confidence=previous.confidence,
            kind=previous.kind,
            dispute=previous.dispute,
            understood=f"where my answer to “{asked}” came from",
        )
        return self._finish(answer)

    def find_topic(self, words: str, pack: str | None = None) -> str | None:
        """The topic `words` names: its id (local or qualified) or its label, else the topic
        whose label holds every word; None when none or several fit."""
        wanted = words.strip().casefold()
        topics = [t for t in self.knowledge.by_topic if pack is None or pack_of(t) == pack]
        for topic in topics:
            if wanted in (topic, local(topic), self.knowledge.label(topic).casefold()):
                return topic
        parts = wanted.split()
        fitting = [t for t in topics if all(p in self.knowledge.label(t).casefold() for p in parts)]
        return fitting[0] if len(fitting) == 1 else None

    def combine(self, answers: list[Answer], disputes: list[str]) -> Answer:
        """Answers from several packs as one, each statement labelled with its dispute
        ("Kaiser Permanente strike, 2023 - Kaiser's pay offer: ...")."""
        answered = [(a, d) for a, d in zip(answers, disputes, strict=True) if a.answered]
        if not answered:
            return answers[0]
        first = answered[0][0]
        if len(answered) == 1 and not first.dispute:
            first.dispute = answered[0][1]
            first.text = render_plain(first)
            return first
        statements = [
            replace(st, label=f"{dispute} - {st.label}")
            for answer, dispute in answered
            for st in answer.statements
        ]
        combined = Answer(
            answered=True,
            text="",
            question=first.question,
            statements=statements,
            citations=self._citations(statements),
            confidence=max(a.confidence for a, _ in answered),
            kind=first.kind,
        )
        return self._finish(combined)
