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
from bot.core.english import is_noun, is_word, not_only_noun, rarity, spelled
from bot.core.language import (
    Language,
    answer_markers,
    contains,
    counted,
    is_number,
    stem,
    tokens,
)
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
PARAPHRASE_SHARE = 0.5  # of an unknown word's weight, when it is likely a paraphrase
ANSWER_TYPE_PENALTY = 0.7
FUTURE_PENALTY = 0.5
COUNT_PENALTY = 0.45
SUBJECT_PENALTY = 0.7
SIDE_PENALTY = 0.7
NAMING_BONUS = 1.05  # in the pre-filter, for a fact whose alias or label holds the concept
SIDE_SHARE = 0.08  # of the facts that name a party, for it to be a main party
IMPLIED_SHARE = 0.5  # of the facts naming a party, for a fact without it to imply it
MAIN_SIDE = 0.5  # ... and of the facts naming the most named party
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
    counts: tuple[str, ...] | None = None  # "how many members": what a figure may count
    wants_name: bool = False  # "who ...?", "what's the name of ...": a name must answer
    timeline: bool = False  # "how has the offer changed?": the topic's facts in date order
    future: bool = False  # "when will the strike end?": a fact must say what lies ahead
    setting: frozenset[str] = frozenset()  # "after the strike ended, when ...": only context

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
    features: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(slots=True)
class _Entry:
    fact: Fact
    concepts: frozenset[str]
    numbers: frozenset[str]
    docs: list[str]
    aliases: list[tuple[str, ...]]
    markers: frozenset[str]
    counted: frozenset[str] = frozenset()
    in_text: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()  # the names its text holds


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
    sides: frozenset[str] = frozenset()  # the names most facts mention: the main parties
    naming: dict[str, set[int]] = field(default_factory=dict)  # concept -> facts it names
    implied: frozenset[str] = frozenset()  # names in most facts: the dispute's own party
    acronyms: frozenset[str] = frozenset()  # names written in capitals: organisations
    _repairs: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        language: Language,
        facts: Iterable[Fact],
        topics: dict[str, Topic] | None = None,
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
            if "#number" in markers and _CURRENCY.search(fact.text):
                markers.add("#amount")
            # The other texts go through in one piece, kept apart by a separator word (no
            # phrase spans it): a third of the calls, which is what indexing time is made of.
            description = topic.description if topic else ""
            others = [*fact.questions, *fact.aliases, " ".join(fact.keywords), label, description]
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
            # What names the fact (its aliases, keywords and topic label) wins a tie in the
            # pre-filter: "what is the wga" keeps the fact whose alias is "wga" when every
            # fact mentions the WGA.
            naming = {
                c
                for seg in segments[first_alias : first_alias + len(fact.aliases) + 2]
                for c in seg.split()
            }
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
                    counted=frozenset(counted(text_concepts, text_tokens)),
                    in_text=frozenset(in_text),
                )
            )
            for concept in elsewhere:
                strong[concept].append(index)
            for concept in naming:
                matcher.naming.setdefault(concept, set()).add(index)
            for concept in in_text - elsewhere:
                weak[concept].append(index)
        frequency.pop(_SEPARATOR, None)
        matcher.names = language.entities | names_in(
            (e.fact.text for e in matcher.entries), language
        )
        for entry in matcher.entries:
            entry.names = entry.in_text & matcher.names
        matcher.acronyms = acronyms_in((e.fact.text for e in matcher.entries), language)
        n = max(len(matcher.entries), 1)
        matcher.postings = {c: strong.get(c, []) + weak.get(c, []) for c in strong.keys() | weak}
        # The parties of a dispute are named about as often as each other; a place or a person
        # named in a few facts ("California") is not one.
        most = max((len(matcher.postings.get(c, ())) for c in matcher.names), default=0)
        often = max(3.0, SIDE_SHARE * n, MAIN_SIDE * most)
        matcher.sides = frozenset(
            c for c in matcher.names if len(matcher.postings.get(c, ())) >= often
        ) | frozenset(language.roles)
        matcher.implied = frozenset(
            c for c in matcher.names if len(matcher.postings.get(c, ())) >= IMPLIED_SHARE * n
        )
        matcher.idf = {c: math.log(1 + n / len(ids)) for c, ids in matcher.postings.items()}
        matcher.max_idf = max(matcher.idf.values(), default=1.0)
        if "duration" in language.subjects:
            # "A 10-day notice" tells how many days, though not in the words of the question
            # ("how many days notice?"); it is not indexed under them, so weights stay put.
            spans = [e for e in matcher.entries if "#duration" in e.markers]
            for entry in spans:
                entry.concepts = entry.concepts | {"duration"}
            if spans and "duration" not in matcher.idf:
                matcher.idf["duration"] = math.log(1 + n / len(spans))
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
        # ... unless only vowels differ ("studoes" for "studios"): the consonants carry a word.
        reach = 2 if 5 <= size <= 7 else allowed
        lengths = range(size, size + 2) if size <= 4 else range(size - reach, size + reach + 1)
        best: tuple[tuple[float, int, bool], str] | None = None
        for length in lengths:
            words = [
                *self.buckets.get((length, "1" + token[0]), ()),
                *self.buckets.get((length, "2" + token[1]), ()),
            ]
            if not words:
                continue
            for word, distance, _ in process.extract(
                token, words, scorer=OSA.distance, score_cutoff=reach, limit=8
            ):
                if size <= 4 and not _insertion_or_swap(token, word):
                    continue
                if distance > allowed and _consonants(word) != _consonants(token):
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
            # A typo of a word the knowledge lacks is still that word ("threatend"): weighed
            # as English, not as an unknown subject.
            repair = self._correct(tok) or spelled(tok)
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
        cue_words = lang.cue_words
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
            elif rarity(concept) < 0.5 and concept not in lang.subjects and not is_noun(concept):
                weight = GENERIC_WEIGHT  # everyday English ("anywhere"): not another subject
            else:
                unknown.add(concept)
                weight = max_idf * UNKNOWN_WEIGHT
            if concept in corrected.values():
                weight *= 0.9
            weights[concept] = weight
        # An English word the facts do not use that is a verb or an adjective too, on its
        # own, is often a paraphrase ("where can patients check ...", "the raise schedule");
        # a noun only ("slogan"), or several unknown words in a row ("video game voice
        # actors"), name another subject.
        for pos, concept in enumerate(concepts):
            if concept in unknown and not_only_noun(concept):
                near = concepts[max(0, pos - 1) : pos] + concepts[pos + 1 : pos + 2]
                if not any(c in unknown for c in near):
                    weights[concept] *= PARAPHRASE_SHARE
        if len(unknown) > 1:
            # Context around a question ("honestly lost count lol") should not drown it: the
            # unknown words together weigh as much as sqrt(n) of them, not n.
            scale = math.sqrt(len(unknown)) / len(unknown)
            for concept in unknown:
                weights[concept] *= scale
        compare = lang.wants_comparison(fixed)
        counts = None
        for i in range(len(fixed) - 1):
            if fixed[i] == "count" and i > 0 and fixed[i - 1] not in lang.stopwords:
                words = fixed[i - 1 : i]  # "the exact vote count": a figure of votes
            elif i < len(fixed) - 2 and (
                (fixed[i] == "how" and fixed[i + 1] == "many")
                or (fixed[i] in _COUNT_NOUNS and fixed[i + 1] == "of")
            ):
                # "how many SEIU-UHW members", "the number of writers": the figure counts
                # one of the next words, but not a name; "how many people" fits any figure
                # of people. What is counted ends at the first function word: "how many
                # unions are bargaining" counts unions, not bargaining.
                words = fixed[i + 2 : i + 5]
            else:
                continue
            stop = next((j for j, w in enumerate(words) if w in lang.stopwords), len(words))
            words = words[:stop]
            named = [c for c in lang.concepts(words) if not is_number(c)]
            # ... a name counts only when nothing else does ("how many studios are in the
            # AMPTP", where "studios" names a party).
            following = [c for c in named if c not in self.names] or named
            if following and not any(c in lang.generic for c in following):
                counts = (*following, *map(stem, words))
            break
        return Analysis(
            setting=self._setting(fixed),
            concepts=concepts,
            weights=weights,
            numbers=frozenset(c for c in concepts if is_number(c)),
            unknown=frozenset(unknown),
            corrected=corrected,
            compare=compare,
            text=" ".join(c for c in concepts if c not in cue_words),
            expects=tuple(lang.expected_answers(fixed)),
            counts=counts,
            wants_name=bool(_NAME_CUES.intersection(fixed[:4])) or "name" in fixed,
            timeline=lang.wants_timeline(fixed),
            future=_asks_future(raw),
        )

    def _setting(self, fixed: list[str]) -> frozenset[str]:
        """The subjects of a leading clause of time ("after the strike ended, when were
        talks to resume?"): they set the scene, so a fact need not repeat them."""
        if not fixed or fixed[0] not in _SETTING_WORDS:
            return frozenset()
        end = next((i for i, w in enumerate(fixed) if w in _CLAUSE_QUESTION), None)
        if end is None or end < 2:
            return frozenset()
        lang = self.language
        return frozenset(lang.concepts(fixed[1:end])) - set(lang.concepts(fixed[end:]))

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
                named = self.naming.get(concept, ())
                for idx in ids:
                    scores[idx] += weight * NAMING_BONUS if idx in named else weight
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

    def fuzzy(self, analysis: Analysis, indexes: list[int]) -> list[tuple[float, float, float]]:
        """Fuzzy similarity of the question to each candidate: the mean of the best
        token_set_ratio and the best token_sort_ratio over its example questions, aliases
        and text; then the best token_set_ratio to its text alone and to the rest alone.
        One rapidfuzz call per scorer over all candidates' texts."""
        docs: list[str] = []
        owner: list[int] = []
        first: list[bool] = []
        for pos, idx in enumerate(indexes):
            entry_docs = self.entries[idx].docs
            docs.extend(entry_docs)
            owner.extend([pos] * len(entry_docs))
            first.extend(i == 0 for i in range(len(entry_docs)))
        n = len(indexes)
        best_set, best_sort, text_set, other_set = ([0.0] * n for _ in range(4))
        if not analysis.text or not docs:
            return [(0.0, 0.0, 0.0)] * n
        for _, value, i in process.extract(
            analysis.text, docs, scorer=fuzz.token_set_ratio, limit=None
        ):
            pos = owner[i]
            best_set[pos] = max(best_set[pos], value)
            if first[i]:
                text_set[pos] = value
            else:
                other_set[pos] = max(other_set[pos], value)
        for _, value, i in process.extract(
            analysis.text, docs, scorer=fuzz.token_sort_ratio, limit=None
        ):
            best_sort[owner[i]] = max(best_sort[owner[i]], value)
        return [
            ((a + b) / 200, t / 100, o / 100)
            for a, b, t, o in zip(best_set, best_sort, text_set, other_set, strict=True)
        ]

    def score(self, analysis: Analysis, index: int, fuzzy: tuple[float, float, float]) -> Match:
        """How well one candidate answers the question (0 to 1), with the features it is
        weighed from (for the composer and for debugging)."""
        entry = self.entries[index]
        lang = self.language
        weights = analysis.weights
        total = sum(weights.values()) or 1.0
        covered = sum(w for c, w in weights.items() if c in entry.concepts)
        # An everyday word the fact lacks is not held against it.
        missing_generic = sum(
            w for c, w in weights.items() if c in lang.generic and c not in entry.concepts
        )
        coverage = covered / ((total - missing_generic) or 1.0)
        in_text = sum(w for c, w in weights.items() if c in entry.in_text) / (
            (total - missing_generic) or 1.0
        )
        fuzzy_all, fuzzy_text, fuzzy_other = fuzzy
        score = COVERAGE_SHARE * coverage**COVERAGE_POWER + (1 - COVERAGE_SHARE) * fuzzy_all
        concepts = analysis.concepts
        alias_hit = any(contains(concepts, alias) for alias in entry.aliases)
        if alias_hit:
            score += 0.08
        numbers_missing = bool(analysis.numbers - entry.numbers)
        if numbers_missing:
            score *= 0.45  # a figure or year the fact does not contain: another event
        # A party the fact does not mention at all; but the dispute's own party, named in
        # most facts, goes without saying ("who mediated the Kaiser talks?").
        implied = self.implied
        names_missing = sum(
            1 for c in concepts if c in self.names and c not in entry.concepts and c not in implied
        )
        if names_missing:
            score *= 0.7
        # "Who is the WGA president?" against a fact about the AMPTP's president: the fact
        # names another main party, not the one asked about.
        other_side = any(c in self.sides and c not in entry.concepts for c in concepts) and any(
            c in self.sides and c not in concepts for c in entry.in_text
        )
        if other_side:
            score *= SIDE_PENALTY
        type_missing = sum(1 for wanted in analysis.expects if not wanted & entry.markers)
        score *= ANSWER_TYPE_PENALTY**type_missing  # "when ...?" but the fact holds no date
        subjects_missing = 0
        if not analysis.compare:  # "compare the offer with the demand": one side each
            subjects_missing = sum(
                1
                for c in concepts
                if c in lang.subjects
                and c not in entry.concepts
                and c not in analysis.setting
                and c not in lang.generic
                and not is_number(c)
            )
        # A subject of its own ("strike pay") the fact leaves out.
        score *= SUBJECT_PENALTY ** min(subjects_missing, 2)
        # "Who mediated?": the fact must name someone the question does not already name.
        named = entry.names - set(concepts)
        role = bool(_ROLES.intersection(concepts))
        if role:
            # "What's the name of the CEO?": a person, not an organisation ("SEIU-UHW says").
            named -= self.acronyms
        name_missing = analysis.wants_name and not named
        if name_missing:
            # The name is all that is asked of a role; a fact about its holder's pay is not it.
            score *= ANSWER_TYPE_PENALTY ** (2 if role else 1)
        # "When will the strike end?", "when is the next session?": a fact telling of the past
        # (talks that ended without a deal) does not say when.
        future_missing = analysis.future and entry.markers.isdisjoint(_FUTURE_MARKERS)
        if future_missing:
            score *= FUTURE_PENALTY
        count_missing = bool(analysis.counts) and entry.counted.isdisjoint(analysis.counts)
        if count_missing:
            score *= COUNT_PENALTY  # "how many members" but no figure of members
        unknown = sum(weights[c] for c in analysis.unknown) / total
        score *= 1 - UNKNOWN_PENALTY * unknown  # words no fact uses: likely another subject
        evidence = sum(
            self.idf[c]
            for c in weights
            if c in entry.concepts
            and c not in lang.question_words
            and c not in lang.generic  # "what time is it" is not about "first time"
            and not (is_number(c) and len(c) == 1)  # "2+2" is not about "two weeks"
        )
        if evidence < MIN_EVIDENCE:
            score *= evidence / MIN_EVIDENCE
        lacking = max(
            (w for c, w in weights.items() if c not in entry.concepts and c not in lang.generic),
            default=0.0,
        )
        features = {
            "heuristic": min(score, 1.0),
            "coverage": coverage,
            "coverage_text": in_text,
            "fuzzy": fuzzy_all,
            "fuzzy_text": fuzzy_text,
            "fuzzy_other": fuzzy_other,
            "alias": float(alias_hit),
            "numbers_missing": float(numbers_missing),
            "names_missing": float(min(names_missing, 2)),
            "other_side": float(other_side),
            "type_missing": float(type_missing),
            "subjects_missing": float(min(subjects_missing, 2)),
            "count_missing": float(count_missing),
            "name_missing": float(name_missing),
            "future_missing": float(future_missing),
            "unknown": unknown,
            "evidence": min(evidence / self.max_idf, 3.0),
            "lacking": lacking / self.max_idf,
            "length": math.log1p(len(weights)),
        }
        return Match(entry.fact, min(score, 1.0), coverage, fuzzy_all, entry.concepts, features)

    def match(self, text: str, limit: int = 12) -> tuple[Analysis, list[Match]]:
        """The best facts for a question, best first."""
        analysis = self.analyse(text)
        if analysis.empty:
            return analysis, []
        indexes = self.candidates(analysis)
        fuzzy = self.fuzzy(analysis, indexes)
        scored = [self.score(analysis, idx, f) for idx, f in zip(indexes, fuzzy, strict=True)]
        scored = self._relative(scored)
        scored.sort(key=lambda m: m.score, reverse=True)
        return analysis, scored[:limit]

    @staticmethod
    def _relative(scored: list[Match]) -> list[Match]:
        """Add how far each candidate stands above the best candidate of another topic."""
        best: dict[str, float] = {}
        for m in scored:
            best[m.fact.topic] = max(best.get(m.fact.topic, 0.0), m.score)
        leaders = heapq.nlargest(2, best.items(), key=lambda item: item[1])
        for m in scored:
            other = next((score for topic, score in leaders if topic != m.fact.topic), 0.0)
            m.features["margin"] = m.score - other
        return scored


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


def _consonants(word: str) -> str:
    return word.translate(_VOWELS)


_VOWELS = str.maketrans("", "", "aeiouy")


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
_NAME_CUES = frozenset(("who", "whom", "whose"))
_CURRENCY = re.compile(r"[$€£¥]\s?\d")
# After "when": the question asks what lies ahead ("when will", "when's it gonna", "when is
# the next"). A fact answers it only if it tells of the future in one of these words.
_FUTURE_CUES = frozenset(("will", "ll", "gonna", "next", "upcoming"))
_FUTURE_MARKERS = frozenset(
    (
        *("will", "next", "upcoming", "scheduled", "planned", "plans", "expected", "expects"),
        *("until", "due", "resume", "resumes", "deadline", "soon", "later", "future"),
        *("tomorrow", "set"),
    )
)


def _asks_future(toks: list[str]) -> bool:
    """True for "when will ...?", "when's the strike gonna end", "when is the next ...?"."""
    if "when" not in toks[:3]:
        return False
    after = toks[toks.index("when") + 1 :]
    return bool(_FUTURE_CUES.intersection(after)) or contains(tuple(after), ("going", "to"))


_COUNT_NOUNS = frozenset({"number", "count", "tally"})
_ROLES = frozenset({"president", "leader", "mediator", "negotiators"})
_SETTING_WORDS = frozenset({"after", "before", "once", "since", "during"})
_CLAUSE_QUESTION = frozenset({"when", "what", "whats", "who", "which", "how", "where", "why"})
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
            if count == 1 and is_word(low) and not_only_noun(low):
                continue  # once, in a title ("the TV/Theatrical Committee"): not a name
            concept = language.concepts([low])
            if concept and concept[0] not in language.subjects:
                found.add(concept[0])
    return frozenset(found)


def acronyms_in(texts: Iterable[str], language: Language) -> frozenset[str]:
    """The concepts of the words written in capitals in the facts ("SEIU", "AMPTP"): the
    names of organisations, not of people."""
    found: set[str] = set()
    for text in texts:
        for match in _WORD_RE.finditer(text):
            word = match.group()
            if len(word) > 1 and word.isupper():
                found.update(language.concepts([word.lower()]))
    return frozenset(found)
