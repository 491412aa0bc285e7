"""Find the facts a question is about.

Two stages keep the cost flat as the knowledge grows:

1. a candidate pre-filter: an inverted index from concepts (synonym-canonical, stemmed words)
   to facts, visited rarest concept first, so that common words never walk long lists;
2. rapidfuzz scoring of the few candidates: weighted concept coverage of the question, fuzzy
   similarity to the fact's example questions, aliases and text (several scorers), with
   penalties for numbers the fact does not contain (a question about 2007 is not about 2023).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.core.bulk import paused_gc
from bot.core.english import is_noun, is_word, rarity
from bot.core.language import Language, answer_markers, counted, is_number, tokens
from bot.core.models import Fact, Topic

CANDIDATES = 16
COMMON_POSTINGS = 2000
_SEPARATOR = "zqxsepzqx"
# Suffixes and what a base form may end in instead: mention-ing, hop-ed -> hope, stud-ies ->
# study. A doubled last consonant is undone too (plann-ing -> plan).
_INFLECTIONS = (
    ("ing", ("", "e")),
    ("ed", ("", "e")),
    ("ies", ("y",)),
    ("es", ("", "e")),
    ("s", ("",)),
    ("ly", ("",)),
)
RESCORED = 300  # leaders a common concept re-ranks
GENERIC_WEIGHT = 0.3
UNKNOWN_WEIGHT = 0.8  # times the highest idf: a word no fact uses weighs more than any other
UNKNOWN_PENALTY = 0.2
ANSWER_TYPE_PENALTY = 0.7
COUNT_PENALTY = 0.45
SUBJECT_PENALTY = 0.7
COVERAGE_SHARE = 0.72
COVERAGE_POWER = 1.5
MIN_EVIDENCE = 1.2  # summed idf of matched concepts below which a match is too thin to trust


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the matcher understood of a question."""

    concepts: tuple[str, ...]
    weights: dict[str, float]
    numbers: frozenset[str]
    unknown: frozenset[str]
    corrected: dict[str, str]
    compare: bool
    text: str
    expects: tuple[frozenset[str], ...] = ()
    counts: str | None = None  # "how many members ...": the concept a figure must count

    @property
    def empty(self) -> bool:
        return not self.concepts


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate fact and how well it answers the question (0 to 1)."""

    fact: Fact
    score: float
    coverage: float
    fuzzy: float
    concepts: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Entry:
    fact: Fact
    concepts: frozenset[str]
    numbers: frozenset[str]
    docs: list[str]
    aliases: list[tuple[str, ...]]
    markers: frozenset[str]
    counted: frozenset[str] = frozenset()


@dataclass(slots=True)
class Matcher:
    """An in-memory index over the active facts, rebuilt when they change."""

    language: Language
    entries: list[_Entry] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    vocabulary: set[str] = field(default_factory=set)
    # Vocabulary words by (length, first letter) and (length, second letter): a typo keeps
    # one of its first two letters, so repair only searches two small buckets.
    buckets: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    frequency: dict[str, int] = field(default_factory=dict)
    max_idf: float = 1.0
    names: frozenset[str] = frozenset()  # the parties, people and places the facts name
    _repairs: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls, language: Language, facts: Iterable[Fact], topics: dict[str, Topic] | None = None
    ) -> Matcher:
        """Index the active facts."""
        with paused_gc():
            return cls._build(language, facts, topics or {})

    @classmethod
    def _build(cls, language: Language, facts: Iterable[Fact], topics: dict[str, Topic]) -> Matcher:
        matcher = cls(language)
        # A concept a fact names in its questions, aliases or keywords comes first in its
        # posting list: when a common word's list is cut short, those facts are kept.
        strong: defaultdict[str, list[int]] = defaultdict(list)
        weak: defaultdict[str, list[int]] = defaultdict(list)
        frequency: Counter[str] = Counter()
        split = language.split_concepts
        for fact in facts:
            if fact.status != "active":
                continue
            topic = topics.get(fact.topic)
            label = topic.label if topic else fact.topic.replace(".", " ").replace("_", " ")
            text_tokens = tokens(fact.text)
            text_concepts, parts = split(text_tokens)
            in_text = {*text_concepts, *parts}
            markers = answer_markers(text_tokens, text_concepts)
            # The other texts go through in one piece, kept apart by a separator word (no
            # phrase spans it): a third of the calls, which is what indexing time is made of.
            others = [*fact.questions, *fact.aliases, " ".join(fact.keywords), label]
            other_tokens = tokens(f" {_SEPARATOR} ".join(others))
            other_concepts, parts = split(other_tokens)
            elsewhere = {*other_concepts, *parts}
            elsewhere.discard(_SEPARATOR)
            segments = [seg.strip() for seg in " ".join(other_concepts).split(_SEPARATOR)]
            first_alias = len(fact.questions)
            aliases = [
                tuple(seg.split())
                for seg in segments[first_alias : first_alias + len(fact.aliases)]
                if seg
            ]
            docs = [" ".join(text_concepts), *segments]
            frequency.update(text_tokens)
            frequency.update(other_tokens)
            index = len(matcher.entries)
            # A fact naming a party is about its role too: "the union" finds the UAW's facts.
            in_text.update(language.roles[c] for c in in_text & language.roles.keys())
            concepts = frozenset(in_text | elsewhere)
            matcher.entries.append(
                _Entry(
                    fact=fact,
                    concepts=concepts,
                    numbers=frozenset(c for c in concepts if c[:1].isdigit()),
                    docs=[d for d in dict.fromkeys(docs) if d],
                    aliases=aliases,
                    markers=frozenset(markers),
                    counted=frozenset(counted(text_concepts)),
                )
            )
            for concept in elsewhere:
                strong[concept].append(index)
            for concept in in_text - elsewhere:
                weak[concept].append(index)
        frequency.pop(_SEPARATOR, None)
        matcher.names = language.entities | names_in(
            (e.fact.text for e in matcher.entries), language
        )
        n = max(len(matcher.entries), 1)
        matcher.postings = {c: strong.get(c, []) + weak.get(c, []) for c in strong.keys() | weak}
        matcher.idf = {c: math.log(1 + n / len(ids)) for c, ids in matcher.postings.items()}
        matcher.max_idf = max(matcher.idf.values(), default=1.0)
        vocabulary = language.surface_words() | frequency.keys()
        matcher.vocabulary = {w for w in vocabulary if w and not is_number(w)}
        matcher.frequency = dict(frequency)
        buckets: defaultdict[tuple[int, str], list[str]] = defaultdict(list)
        for word in sorted(matcher.vocabulary):
            buckets[len(word), "1" + word[0]].append(word)
            if len(word) > 1:
                buckets[len(word), "2" + word[1]].append(word)
        matcher.buckets = dict(buckets)
        return matcher

    def __len__(self) -> int:
        return len(self.entries)

    # --- understanding the question ------------------------------------------------------

    def _correct(self, token: str) -> str | None:
        """The vocabulary word a misspelt token most likely meant, or None (cached)."""
        if token in self._repairs:
            return self._repairs[token]
        if len(self._repairs) > 10_000:
            self._repairs.clear()
        repair = self._repairs[token] = self._nearest_word(token)
        return repair

    def _base_form(self, token: str) -> str | None:
        """A known word this one is an inflection of ("mentioning" -> "mention", "saying" ->
        "say", "planned" -> "plan"), tried before typo repair so a real word is never
        "corrected" into another."""
        known = self.vocabulary
        ignorable = self.language.ignorable
        for word in _base_candidates(token):
            if word in known or word in ignorable:
                return word
        return None

    def _nearest_word(self, token: str) -> str | None:
        size = len(token)
        if size < 3:
            return None
        # Short words are easily real words of their own ("wait" is not "want"): up to four
        # letters only a missing letter or two swapped letters count as a typo.
        allowed = 1 if size <= 7 else 2  # "weather" is not a typo for "whether"
        lengths = range(size, size + 2) if size <= 4 else range(size - allowed, size + allowed + 1)
        best: tuple[tuple[float, int, bool], str] | None = None
        for length in lengths:
            words = [
                *self.buckets.get((length, "1" + token[0]), ()),
                *self.buckets.get((length, "2" + token[1]), ()),
            ]
            if not words:
                continue
            for word, distance, _ in process.extract(
                token, words, scorer=OSA.distance, score_cutoff=allowed, limit=8
            ):
                if size <= 4 and not _insertion_or_swap(token, word):
                    continue
                if word in self.language.ignorable and size > 4:
                    continue  # a long word is not a typo for a function word
                if word in self.language.generic and word not in self.language.question_words:
                    continue  # nor "fund" for "find"
                # Closest first; among equals the word the knowledge uses most.
                rank = (distance, -self.frequency.get(word, 0), word[:1] != token[:1])
                if best is None or rank < best[0]:
                    best = (rank, word)
        return best[1] if best else None

    def analyse(self, text: str) -> Analysis:
        """Tokens, typo repair, synonyms and weights for one question."""
        raw = tokens(text)
        corrected: dict[str, str] = {}
        fixed: list[str] = []
        for tok in raw:
            if tok in self.vocabulary or is_number(tok) or tok in self.language.ignorable:
                fixed.append(tok)
                continue
            base = self._base_form(tok)
            if base is not None:
                fixed.append(base)
                continue
            if is_word(tok):  # a real word the knowledge does not use is not a typo
                fixed.append(tok)
                continue
            repair = self._correct(tok)
            if repair:
                corrected[tok] = repair
                fixed.append(repair)
            else:
                fixed.append(tok)
        concepts = tuple(dict.fromkeys(self.language.concepts(fixed)))
        max_idf = self.max_idf
        lang = self.language
        weights: dict[str, float] = {}
        unknown: set[str] = set()
        cue_words = {w for cue in lang.compare_cues if len(cue) == 1 for w in cue}
        for concept in concepts:
            if concept in cue_words:
                continue  # structure, not subject: handled by `compare`
            if concept in lang.question_words:
                weight = 0.25
            elif concept in self.idf:
                weight = self.idf[concept]
                if concept in lang.generic:
                    weight = min(weight, GENERIC_WEIGHT)
                if concept in self.names:
                    # Naming a party is never incidental: "WGA president" is not "AMPTP president".
                    weight = max(weight, 0.5 * max_idf)
            elif concept in lang.generic:
                weight = GENERIC_WEIGHT
            elif len(concept) <= 3 and not is_number(concept):
                weight = 0.2  # stray letters and chat abbreviations ("rn", "nah", "tbh")
            elif (
                (rare := rarity(concept)) < 0.5
                and concept not in lang.subjects
                and not is_noun(concept)
            ):
                weight = GENERIC_WEIGHT  # everyday English ("anywhere"): not another subject
            else:
                unknown.add(concept)
                weight = max_idf * UNKNOWN_WEIGHT * max(rare, 0.5)
            if concept in corrected.values():
                weight *= 0.9
            weights[concept] = weight
        if len(unknown) > 1:
            # Context around a question ("honestly lost count lol") should not drown it: the
            # unknown words together weigh as much as sqrt(n) of them, not n.
            scale = math.sqrt(len(unknown)) / len(unknown)
            for concept in unknown:
                weights[concept] *= scale
        compare = lang.wants_comparison(fixed)
        counts = None
        for i in range(len(fixed) - 2):
            if fixed[i] == "how" and fixed[i + 1] == "many":
                following = lang.concepts(fixed[i + 2 : i + 4])
                if following and following[0] not in lang.generic:
                    counts = following[0]
                break
        return Analysis(
            concepts=concepts,
            weights=weights,
            numbers=frozenset(c for c in concepts if is_number(c)),
            unknown=frozenset(unknown),
            corrected=corrected,
            compare=compare,
            text=" ".join(c for c in concepts if c not in cue_words),
            expects=tuple(lang.expected_answers(fixed)),
            counts=counts,
        )

    # --- candidates and scores -----------------------------------------------------------

    def candidates(self, analysis: Analysis, limit: int | None = None) -> list[int]:
        """Facts sharing the question's concepts, best first (the pre-filter).

        Concepts are visited rarest first. A rare concept's facts are all counted; a common
        one (more than COMMON_POSTINGS facts) only adds to the leaders found so far, or, when
        nothing rarer was asked, contributes its first COMMON_POSTINGS facts (those naming it
        in their questions and aliases come first). The cost stays flat as the facts grow."""
        limit = limit or CANDIDATES
        scores: defaultdict[int, float] = defaultdict(float)
        known = [c for c in analysis.weights if c in self.postings]
        known.sort(key=lambda c: len(self.postings[c]))
        for concept in known:
            ids = self.postings[concept]
            weight = analysis.weights[concept]
            if len(ids) <= COMMON_POSTINGS:
                for idx in ids:
                    scores[idx] += weight
            elif scores:
                leaders = heapq.nlargest(RESCORED, scores, key=scores.__getitem__)
                entries = self.entries
                for idx in leaders:
                    if concept in entries[idx].concepts:
                        scores[idx] += weight
            else:
                for idx in ids[:COMMON_POSTINGS]:
                    scores[idx] += weight
        if len(scores) <= limit:
            return sorted(scores, key=scores.__getitem__, reverse=True)
        return heapq.nlargest(limit, scores, key=scores.__getitem__)

    def fuzzy(self, analysis: Analysis, indexes: list[int]) -> list[float]:
        """Fuzzy similarity of the question to each candidate's best example question, alias
        or text: the mean of the best token_set_ratio and the best token_sort_ratio, from
        one rapidfuzz call per scorer over all candidates' texts."""
        docs: list[str] = []
        owner: list[int] = []
        for pos, idx in enumerate(indexes):
            docs.extend(self.entries[idx].docs)
            owner.extend([pos] * len(self.entries[idx].docs))
        best_set = [0.0] * len(indexes)
        best_sort = [0.0] * len(indexes)
        if not analysis.text or not docs:
            return best_set
        for scorer, best in ((fuzz.token_set_ratio, best_set), (fuzz.token_sort_ratio, best_sort)):
            for _, value, i in process.extract(analysis.text, docs, scorer=scorer, limit=None):
                if value > best[owner[i]]:
                    best[owner[i]] = value
        return [(a + b) / 200 for a, b in zip(best_set, best_sort, strict=True)]

    def score(self, analysis: Analysis, index: int, fuzzy: float) -> Match:
        entry = self.entries[index]
        total = sum(analysis.weights.values()) or 1.0
        covered = sum(w for c, w in analysis.weights.items() if c in entry.concepts)
        # An everyday word the fact lacks is not held against it.
        missing_generic = sum(
            w
            for c, w in analysis.weights.items()
            if c in self.language.generic and c not in entry.concepts
        )
        coverage = covered / ((total - missing_generic) or 1.0)
        score = COVERAGE_SHARE * coverage**COVERAGE_POWER + (1 - COVERAGE_SHARE) * fuzzy
        concepts = analysis.concepts
        for alias in entry.aliases:
            if _contains(concepts, alias):
                score += 0.08
                break
        if analysis.numbers - entry.numbers:
            score *= 0.45  # a figure or year the fact does not contain: another event
        if any(c in self.names and c not in entry.concepts for c in concepts):
            score *= 0.7  # a party the fact does not mention at all
        for wanted in analysis.expects:
            if not wanted & entry.markers:
                score *= ANSWER_TYPE_PENALTY  # "when ...?" but the fact holds no date
        missing = [
            c
            for c in concepts
            if not analysis.compare  # "compare the offer with the demand": one side each
            and c in self.language.subjects
            and c not in entry.concepts
            and c not in self.language.generic
            and not is_number(c)
        ]
        for _ in missing[:2]:
            score *= SUBJECT_PENALTY  # a subject of its own ("strike pay") the fact leaves out
        if analysis.counts and analysis.counts not in entry.counted:
            score *= COUNT_PENALTY  # "how many members" but no figure of members
        if analysis.unknown:
            unknown = sum(analysis.weights[c] for c in analysis.unknown) / total
            score *= 1 - UNKNOWN_PENALTY * unknown  # words no fact uses: likely another subject
        evidence = sum(
            self.idf[c]
            for c in analysis.weights
            if c in entry.concepts
            and c not in self.language.question_words
            and c not in self.language.generic  # "what time is it" is not about "first time"
            and not (is_number(c) and len(c) == 1)  # "2+2" is not about "two weeks"
        )
        if evidence < MIN_EVIDENCE:
            score *= evidence / MIN_EVIDENCE
        return Match(entry.fact, min(score, 1.0), coverage, fuzzy, entry.concepts)

    def match(self, text: str, limit: int = 12) -> tuple[Analysis, list[Match]]:
        """The best facts for a question, best first."""
        analysis = self.analyse(text)
        if analysis.empty:
            return analysis, []
        indexes = self.candidates(analysis)
        fuzzy = self.fuzzy(analysis, indexes)
        scored = [self.score(analysis, idx, f) for idx, f in zip(indexes, fuzzy, strict=True)]
        scored.sort(key=lambda m: m.score, reverse=True)
        return analysis, scored[:limit]


def _base_candidates(token: str) -> list[str]:
    out = []
    for suffix, endings in _INFLECTIONS:
        if token.endswith(suffix) and len(token) > len(suffix) + 2:
            stem = token[: -len(suffix)]
            out.extend(stem + ending for ending in endings)
            if len(stem) > 2 and stem[-1] == stem[-2]:
                out.append(stem[:-1])
    return out


def _insertion_or_swap(token: str, word: str) -> bool:
    """`word` is `token` with one letter added, or with two neighbouring letters swapped."""
    if len(word) == len(token) + 1:
        return any(word[:i] + word[i + 1 :] == token for i in range(len(word)))
    if len(word) == len(token):
        diff = [i for i, (a, b) in enumerate(zip(token, word, strict=True)) if a != b]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and token[diff[0]] == word[diff[1]]
    return False


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    return any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


_WORD_RE = re.compile(r"[^\W\d_]+")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(]\s*)$")
_CALENDAR = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
NAME_SHARE = 0.8  # of a word's uses capitalised mid-sentence, for it to be a name


def names_in(texts: Iterable[str], language: Language) -> frozenset[str]:
    """The concepts of the names in the facts: words written capitalised (or in capitals)
    nearly every time they are used mid-sentence ("WGA", "Lombardini", "Netflix"), not
    calendar words. A pack needs no list of its parties for a question naming one to be
    read as about that one."""
    capital: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for text in texts:
        for match in _WORD_RE.finditer(text):
            word = match.group()
            start = match.start()
            if _SENTENCE_START.search(text[max(0, start - 3) : start]):
                continue
            low = word.lower()
            seen[low] += 1
            if word[0].isupper():
                capital[low] += 1
    found = set()
    for low, count in capital.items():
        if count >= NAME_SHARE * seen[low] and low not in _CALENDAR and len(low) > 1:
            concept = language.concepts([low])
            if concept and concept[0] not in language.subjects:
                found.add(concept[0])
    return frozenset(found)
