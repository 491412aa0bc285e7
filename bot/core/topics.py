"""Suggest the topic a new statement belongs to: the closest existing topic (by its label,
description and the texts and questions of its facts, compared through the bot's concepts
and rapidfuzz), or a new dotted topic id when nothing is close."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.core.language import Language, is_number, tokens
from bot.core.models import Fact, Topic


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MIN_SCORE = 0.35  # below this, no existing topic is close: propose a new one
FUZZY_SHARE = 0.35
FUZZY_FLOOR = 0.3  # token_sort_ratio of unrelated texts is seldom below this
COVERAGE_POWER = 0.75
GENERIC_WEIGHT = 0.2
UNKNOWN_WEIGHT = 0.3  # times the highest idf
DEFAULT_PREFIX = "news"
NEAR_PREFIX = 0.25  # a new topic takes the prefix of an existing one at least this close
# Calendar words say when, not what: they weigh like generic words.
_CALENDAR = _words(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december"
)


@dataclass(frozen=True, slots=True)
class TopicSuggestion:
    """The suggested topic, how close it is (0 to 1), and whether it is new."""

    topic: str
    score: float
    new: bool
    closest_fact: str | None = None


@dataclass(slots=True)
class TopicGuide:
    """Concept profiles of the existing topics, for suggesting a topic for a sentence."""

    language: Language
    profiles: dict[str, Counter[str]] = field(default_factory=dict)
    docs: list[tuple[str, str, str | None]] = field(default_factory=list)  # topic, doc, fact
    idf: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls, language: Language, topics: dict[str, Topic], facts: Iterable[Fact] = ()
    ) -> TopicGuide:
        guide = cls(language)
        texts: defaultdict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for topic in topics.values():
            texts[topic.id].extend([(topic.label, None), (topic.description, None)])
        for fact in facts:
            if fact.status != "active":
                continue
            texts[fact.topic].append((fact.text, fact.id))
            texts[fact.topic].extend((q, fact.id) for q in (*fact.questions, *fact.aliases))
        for topic_id, items in texts.items():
            profile: Counter[str] = Counter()
            for text, fact_id in items:
                concepts = guide.concepts(text)
                profile.update(set(concepts))
                if concepts:
                    guide.docs.append((topic_id, " ".join(concepts), fact_id))
            guide.profiles[topic_id] = profile
        df = Counter(c for profile in guide.profiles.values() for c in profile)
        n = max(len(guide.profiles), 1)
        guide.idf = {c: math.log(1 + n / k) for c, k in df.items()}
        return guide

    def concepts(self, text: str) -> list[str]:
        """The concepts of a text, question words left out."""
        cs, _ = self.language.split_concepts(tokens(text))
        return [c for c in cs if c not in self.language.question_words]

    def _weight(self, concept: str) -> float:
        weight = self.idf.get(concept, 0.0)
        if concept in self.language.generic or concept in _CALENDAR:
            weight *= GENERIC_WEIGHT
        return weight

    def scores(self, sentence: str) -> dict[str, float]:
        """Every topic's closeness to the sentence, 0 to 1."""
        concepts = list(dict.fromkeys(self.concepts(sentence)))
        known = [c for c in concepts if c in self.idf]
        # Words no topic uses count against every topic: the sentence may be about
        # something new (figures do not count: a new figure on a known topic is common).
        unknown = [c for c in concepts if c not in self.idf and not is_number(c) and len(c) > 2]
        max_idf = max(self.idf.values(), default=1.0)
        total = sum(self._weight(c) for c in known) + UNKNOWN_WEIGHT * max_idf * len(unknown)
        total = total or 1.0
        fuzzy = self._fuzzy(" ".join(concepts))
        out: dict[str, float] = {}
        for topic_id, profile in self.profiles.items():
            covered = sum(self._weight(c) for c in known if c in profile)
            coverage = covered / total
            # A topic covering the sentence's rare concepts beats one sharing common words.
            near = max(0.0, fuzzy.get(topic_id, 0.0) - FUZZY_FLOOR) / (1 - FUZZY_FLOOR)
            out[topic_id] = (1 - FUZZY_SHARE) * coverage**COVERAGE_POWER + FUZZY_SHARE * near
        return out

    def _fuzzy(self, text: str) -> dict[str, float]:
        best: dict[str, float] = {}
        if not text or not self.docs:
            return best
        choices = [doc for _, doc, _ in self.docs]
        for _, value, i in process.extract(text, choices, scorer=fuzz.token_sort_ratio, limit=None):
            topic = self.docs[i][0]
            best[topic] = max(best.get(topic, 0.0), value / 100)
        return best

    def closest_fact(self, sentence: str, topic: str) -> str | None:
        """The fact of `topic` whose text or questions are most like the sentence."""
        docs = [(doc, fact) for t, doc, fact in self.docs if t == topic and fact]
        if not docs:
            return None
        text = " ".join(self.concepts(sentence))
        found = process.extractOne(text, [d for d, _ in docs], scorer=fuzz.token_set_ratio)
        return docs[found[2]][1] if found else None

    def suggest(self, sentence: str) -> TopicSuggestion:
        """The closest existing topic, or a new dotted id when none is close enough."""
        scores = self.scores(sentence)
        if scores:
            topic, score = max(sorted(scores.items()), key=lambda kv: kv[1])
            if score >= MIN_SCORE:
                return TopicSuggestion(topic, score, False, self.closest_fact(sentence, topic))
        else:
            topic, score = "", 0.0
        return TopicSuggestion(self.new_topic(sentence, topic, score), score, True)

    def new_topic(self, sentence: str, near: str = "", near_score: float = 0.0) -> str:
        """A new `prefix.word` topic id: the party the sentence names (else the prefix of a
        somewhat near topic, else "news"), and the sentence's most distinctive word."""
        concepts = self.concepts(sentence)
        lang = self.language
        parties = [c for c in concepts if c in lang.entities]
        if parties:
            prefix = parties[0]
        elif near and near_score >= NEAR_PREFIX:
            prefix = near.split(".")[0]
        else:
            prefix = DEFAULT_PREFIX
        names = {t for w in sentence.split() if w[:1].isupper() for t in tokens(w)}
        words = [
            c
            for c in concepts
            if not is_number(c)
            and len(c) >= 4
            and c not in names
            and c not in lang.generic
            and c not in lang.entities
            and c != prefix
        ]
        # The rarest word (one no topic uses yet is most telling), earliest first.
        words.sort(key=lambda c: -self.idf.get(c, 99.0))
        word = _slug(words[0]) if words else "item"
        base = f"{_slug(prefix) or DEFAULT_PREFIX}.{word}"
        topic, n = base, 2
        while topic in self.profiles:
            topic, n = f"{base}-{n}", n + 1
        return topic


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
