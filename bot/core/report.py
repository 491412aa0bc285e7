"""What users could not get answered: questions without an answer or with a "not helpful"
vote, grouped by similarity, each with the closest fact; the facts served most; the answer
rate over time. A group can be promoted in one step: its questions become example questions
of an existing fact, or of a new one."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from bot.core.admin import Actor, AdminInputError, AdminService
from bot.core.language import fold, is_number, tokens
from bot.core.models import Fact
from bot.core.rules import MAX_HINT_CHARS
from bot.core.service import StrikeBot, check_question
from bot.store.logs import feedback_since, questions_since

SIMILARITY = 80  # token_set_ratio of the concept forms, to join a group
MIN_ORDER_SIMILARITY = 50  # token_sort_ratio: "strike?" is not "how long was the 2007 strike"
TOP_FACTS = 10
MAX_PROMOTED = 20
DAILY_UP_TO = 31  # longer reports show the answer rate per ISO week
MAX_DAYS = 36_500  # a longer look-back is clamped (the logs are far younger anyway)


@dataclass(frozen=True, slots=True)
class Asked:
    """One question as typed, how often, and how it went."""

    text: str
    unanswered: int = 0
    not_helpful: int = 0

    @property
    def count(self) -> int:
        return self.unanswered + self.not_helpful


@dataclass(frozen=True, slots=True)
class Group:
    """Questions that mean the same, with the fact that comes closest to answering them."""

    number: int
    questions: tuple[Asked, ...]
    closest_fact: str | None = None
    closest_text: str | None = None
    closest_score: float = 0.0
    answered_now: bool = False

    @property
    def count(self) -> int:
        return sum(q.count for q in self.questions)

    @property
    def texts(self) -> list[str]:
        return [q.text for q in self.questions]

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.number,
            "count": self.count,
            "unanswered": sum(q.unanswered for q in self.questions),
            "not_helpful": sum(q.not_helpful for q in self.questions),
            "questions": [
                {"text": q.text, "unanswered": q.unanswered, "not_helpful": q.not_helpful}
                for q in self.questions
            ],
            "closest_fact": self.closest_fact,
            "closest_text": self.closest_text,
            "closest_score": round(self.closest_score, 4),
            "answered_now": self.answered_now,
        }


@dataclass(frozen=True, slots=True)
class Rate:
    """Questions asked and answered in one day or week."""

    period: str
    asked: int
    answered: int

    @property
    def rate(self) -> float:
        return self.answered / self.asked if self.asked else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    since: dt.datetime
    until: dt.datetime
    per: str
    groups: list[Group]
    top_facts: list[tuple[str, int, str]]  # fact id, times served, text
    rates: list[Rate]

    def group(self, number: int) -> Group:
        if not 1 <= number <= len(self.groups):
            raise AdminInputError(f"No group {number}: the report has {len(self.groups)} group(s).")
        return self.groups[number - 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "per": self.per,
            "groups": [g.to_json() for g in self.groups],
            "top_facts": [{"id": i, "served": n, "text": t} for i, n, t in self.top_facts],
            "answer_rate": [
                {"period": r.period, "asked": r.asked, "answered": r.answered,
                 "rate": round(r.rate, 4)}
                for r in self.rates
            ],
        }  # fmt: skip


def same_question(a: str, b: str) -> bool:
    """Whether two normalised questions (concept forms) ask the same thing."""
    if {t for t in a.split() if is_number(t)} != {t for t in b.split() if is_number(t)}:
        return False  # "the 2007 strike" is not "the 2023 strike"
    return (
        fuzz.token_set_ratio(a, b) >= SIMILARITY
        and fuzz.token_sort_ratio(a, b) >= MIN_ORDER_SIMILARITY
    )


def cluster(asked: Iterable[Asked], normalise: Callable[[str], str]) -> list[list[Asked]]:
    """Greedy grouping: most frequent question first; each joins the first group whose
    leader it matches, else leads a new one. Groups come most frequent first; ties are
    broken by text, so the numbering is stable for the same data."""
    items = sorted(asked, key=lambda q: (-q.count, q.text.casefold(), q.text))
    groups: list[tuple[str, list[Asked]]] = []
    for q in items:
        key = normalise(q.text)
        for leader, members in groups:
            if same_question(leader, key):
                members.append(q)
                break
        else:
            groups.append((key, [q]))
    ordered = [members for _, members in groups]
    ordered.sort(key=lambda ms: (-sum(q.count for q in ms), ms[0].text.casefold(), ms[0].text))
    return ordered


class ReportService:
    """Builds the report over the logs and promotes its groups, for admins."""

    def __init__(self, bot: StrikeBot, admin: AdminService):
        self.bot = bot
        self.admin = admin

    def normalise(self, text: str) -> str:
        """A question's concepts (synonyms, stems, no stopwords), for grouping paraphrases."""
        concepts, _ = self.bot.language.split_concepts(tokens(text))
        return " ".join(dict.fromkeys(concepts)) or fold(text)

    def build(
        self,
        actor: Actor,
        days: int = 30,
        *,
        per: str | None = None,
        now: dt.datetime | None = None,
    ) -> Report:
        """The report over the last `days` days."""
        self.admin.require(actor)
        if days < 1:
            raise AdminInputError("--days must be at least 1.")
        days = min(days, MAX_DAYS)
        if per not in (None, "day", "week"):
            raise AdminInputError("--per must be day or week.")
        until = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        since = until - dt.timedelta(days=days)
        store = self.bot.store
        logged = questions_since(store, since.isoformat())
        unhelpful = feedback_since(store, since.isoformat(), helpful=False)
        self.bot.refresh()
        per = per or ("day" if days <= DAILY_UP_TO else "week")
        return Report(
            since=since,
            until=until,
            per=per,
            groups=self._groups(logged, unhelpful),
            top_facts=self._top_facts(logged),
            rates=_rates(logged, per),
        )

    def _groups(self, logged: list[dict], unhelpful: list[dict]) -> list[Group]:
        unanswered = Counter(r["question"] for r in logged if not r["answered"])
        not_helpful = Counter(r["question"] for r in unhelpful)
        asked = [
            Asked(text, unanswered.get(text, 0), not_helpful.get(text, 0))
            for text in sorted(unanswered.keys() | not_helpful.keys())
        ]
        return [
            self._group(number, members)
            for number, members in enumerate(cluster(asked, self.normalise), start=1)
        ]

    def _group(self, number: int, members: list[Asked]) -> Group:
        lead, _ = check_question(members[0].text)
        if not lead:
            return Group(number, tuple(members))
        _, matches = self.bot.matcher.match(lead)
        best = matches[0] if matches else None
        return Group(
            number,
            tuple(members),
            closest_fact=best.fact.id if best else None,
            closest_text=best.fact.text if best else None,
            closest_score=best.score if best else 0.0,
            answered_now=self.bot.answer(lead).answered,
        )

    def _top_facts(self, logged: list[dict]) -> list[tuple[str, int, str]]:
        served = Counter(f for r in logged if r["answered"] for f in r["facts"])
        facts = self.bot.knowledge.facts
        top = sorted(served.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FACTS]
        return [(fid, n, facts[fid].text if fid in facts else "") for fid, n in top]

    def promote(
        self,
        actor: Actor,
        number: int,
        *,
        days: int = 30,
        now: dt.datetime | None = None,
        fact_id: str | None = None,
        **new_fact: Any,
    ) -> Fact:
        """Turn group `number` into example questions: of fact `fact_id`, or of a new fact
        made from `new_fact` (text, topic, as_of, source_title, published, url, publisher)."""
        self.admin.require(actor)
        new_fact = {k: v for k, v in new_fact.items() if v is not None}
        if bool(fact_id) == bool(new_fact.get("text")):
            raise AdminInputError(
                "Promote to an existing fact (its id) or to a new fact (its text), not both."
            )
        group = self.build(actor, days, now=now).group(number)
        # A logged question may be too long to be an example question: it is left out.
        questions = [q for q in group.texts if len(q) <= MAX_HINT_CHARS][:MAX_PROMOTED]
        if not questions:
            raise AdminInputError(
                f"Group {number}'s questions are longer than {MAX_HINT_CHARS} characters; "
                "none can be an example question."
            )
        if fact_id:
            fact = self.bot.store.fact(fact_id)
            known = {q.casefold() for q in fact.questions}
            added = [q for q in questions if q.casefold() not in known]
            if not added:
                raise AdminInputError(
                    f"Group {number}'s questions are already example questions of {fact_id}."
                )
            return self.admin.edit(actor, fact_id, questions=(*fact.questions, *added))
        return self.admin.add(actor, questions=tuple(questions), **new_fact)


def _rates(logged: list[dict], per: str) -> list[Rate]:
    asked: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for row in logged:
        period = _period(row["at"], per)
        asked[period] += 1
        answered[period] += int(bool(row["answered"]))
    return [Rate(p, asked[p], answered[p]) for p in sorted(asked)]


def _period(at: str, per: str) -> str:
    day = dt.date.fromisoformat(at[:10])
    if per == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
