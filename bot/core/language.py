"""Text normalisation: unicode clean-up, tokens, synonyms, stopwords. The word lists are data
(`knowledge/language.yaml`); this module only applies them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from bot.core.english import is_word, lemma

_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_MISS = object()
_FIGURE_RE = re.compile(r"(?<!\S)\d[\d.]*(?!\S)")
_BREAKS = frozenset(("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
_ASCII_BREAKS = {i: " " for i in [*range(32), 127]}
_PERCENT_RE = re.compile(r"(\d)\s*%")
# Units a figure of time ends in: "130 days", "three years" hold a duration.
_UNITS = frozenset(
    [
        "second",
        "seconds",
        "minute",
        "minutes",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "duration",
    ]
)

# Words that make a figure an amount of money or a share: "how much ...?" wants one.
_AMOUNTS = frozenset(
    ("percent", "dollars", "dollar", "cents", "million", "billion", "thousand", "bn", "usd")
)


def clean(text: str) -> str:
    """NFKC, no control or format characters, collapsed whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    # Format characters (zero-width space, soft hyphen, direction marks) vanish inside words;
    # other control characters separate words.
    text = "".join(
        "" if (cat := unicodedata.category(ch)) == "Cf" else " " if cat in _BREAKS else ch
        for ch in text
    )
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lower-case and strip accents, for matching only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Word and number tokens of `text`, folded; '%' after a figure becomes 'percent'."""
    # Plain ASCII needs no unicode normalisation: the fast path for bulk indexing.
    folded = text.translate(_ASCII_BREAKS).lower() if text.isascii() else fold(clean(text))
    if "%" in folded:
        folded = _PERCENT_RE.sub(_percent, folded)
    if "'" in folded:
        folded = _CONTRACTION_RE.sub(_expand, _POSSESSIVE_RE.sub("", folded))
    out = _TOKEN_RE.findall(folded)
    if "," in folded:
        # "3,5" is a decimal comma, "100,000" a thousands separator.
        out = [_number(t) if "," in t else t for t in out]
    return out


_POSSESSIVE_RE = re.compile(r"'s\b")
_CONTRACTION_RE = re.compile(r"\b(won|can|shan|ain)'t\b|n't\b")
_CONTRACTIONS = {"won": "will not", "can": "can not", "shan": "shall not", "ain": "is not"}


def _expand(match: re.Match[str]) -> str:
    """ "won't" -> "will not", "didn't" -> "did not": "won" is not a word of "won't"."""
    head = match.group(1)
    return " " + _CONTRACTIONS[head] if head else " not"


def _percent(match: re.Match[str]) -> str:
    return match.group(1) + " percent "


def _number(token: str) -> str:
    if token.count(",") == 1 and len(token) < 6:
        return token.replace(",", ".")
    return token.replace(",", "")


def stem(token: str) -> str:
    """The base form of a word ("offers" -> "offer", "struck" -> "strike"); a light plural
    stripper for words English does not know ("amptps")."""
    if len(token) <= 3 or token[0].isdigit():
        return token
    base = lemma(token)
    if base != token:
        return base
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("s") and not token.endswith(("ss", "us", "is")) and not is_word(token):
        return token[:-1]
    return token


def is_number(token: str) -> bool:
    return token[:1].isdigit()


def answer_markers(toks: list[str], concepts: list[str]) -> set[str]:
    """The words of a text plus `#number` / `#year` when it holds a figure or a year
    (number words count: their concepts are figures), `#amount` when a figure is a sum or a
    share ("$16 million", "21%"), `#duration` when it is a span of time."""
    marks = set(toks)
    marks.update(concepts)
    numbers = _FIGURE_RE.findall(" ".join(concepts))
    if numbers:
        marks.add("#number")
    if any(len(t) == 4 and t.isdigit() and 1900 <= int(t) <= 2100 for t in numbers):
        marks.add("#year")
    if numbers and not _AMOUNTS.isdisjoint(toks):
        marks.add("#amount")  # "21 percent", "$16 million", "300 dollars"
    if numbers and any(
        is_number(t) and _UNITS.intersection(seq[i + 1 : i + 3])
        for seq in (toks, concepts)
        for i, t in enumerate(seq)
    ):
        marks.add("#duration")
    return marks


def counted(*sequences: list[str]) -> set[str]:
    """The words a figure counts in a text (its concepts and its words' base forms): "six
    WGA staff members" counts "wga", "staff" and "member" ("how many members ...?" wants
    such a figure); "a 10-day notice" counts "day"."""
    out: set[str] = set()
    for seq in sequences:
        for i, word in enumerate(seq):
            if is_number(word):
                following = [w for w in seq[i + 1 : i + 4] if not is_number(w)]
                out.update(following)
                out.update(map(stem, following))
    return out


def contains(haystack: Sequence[str], needle: tuple[str, ...]) -> bool:
    """True when the words of `needle` stand together, in order, in `haystack`."""
    size = len(needle)
    return any(tuple(haystack[i : i + size]) == needle for i in range(len(haystack) - size + 1))


def _has_cue(toks: list[str], cues: frozenset[tuple[str, ...]]) -> bool:
    return any(contains(toks, cue) for cue in cues)


def _phrase_lengths(phrases: dict[tuple[str, ...], str]) -> dict[str, tuple[int, ...]]:
    """For each word that starts a multi-word phrase, the phrase lengths, longest first."""
    lengths: dict[str, set[int]] = {}
    for key in phrases:
        if len(key) > 1:
            lengths.setdefault(key[0], set()).add(len(key))
    return {word: tuple(sorted(sizes, reverse=True)) for word, sizes in lengths.items()}


@dataclass(slots=True)
class Language:
    """Synonym phrases, stopwords and cue words, ready for fast lookup."""

    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    filler: frozenset[str] = frozenset()
    question_words: frozenset[str] = frozenset()
    compare_cues: frozenset[tuple[str, ...]] = frozenset()
    timeline_cues: frozenset[tuple[str, ...]] = frozenset()
    followup_cues: tuple[tuple[str, ...], ...] = ()  # longest first
    source_cues: frozenset[tuple[str, ...]] = frozenset()
    entities: frozenset[str] = frozenset()
    generic: frozenset[str] = frozenset()
    answer_types: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    subjects: frozenset[str] = frozenset()  # canonical words of the synonym groups
    roles: dict[str, str] = field(default_factory=dict)  # a party's concept -> its role's
    phrase_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict, repr=False)
    _words: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        synonyms: list[tuple[str, ...]] = (),  # type: ignore[assignment]
        stopwords: tuple[str, ...] = (),
        filler: tuple[str, ...] = (),
        question_words: tuple[str, ...] = (),
        compare_cues: tuple[str, ...] = (),
        timeline_cues: tuple[str, ...] = (),
        followup_cues: tuple[str, ...] = (),
        source_cues: tuple[str, ...] = (),
        entities: tuple[str, ...] = (),
        generic: tuple[str, ...] = (),
        answer_types: dict[str, tuple[str, ...]] | None = None,
        roles: dict[str, str] | None = None,
    ) -> Language:
        recipe = {
            "synonyms": list(synonyms),
            "stopwords": stopwords,
            "filler": filler,
            "question_words": question_words,
            "compare_cues": compare_cues,
            "timeline_cues": timeline_cues,
            "followup_cues": followup_cues,
            "source_cues": source_cues,
            "entities": entities,
            "generic": generic,
            "answer_types": answer_types,
        }
        generic_words = frozenset(stem(t) for w in generic for t in tokens(w))
        phrases: dict[tuple[str, ...], str] = {}
        for group in synonyms:
            canonical = "_".join(tokens(group[0])) or group[0]
            for entry in group:
                key = tuple(tokens(entry))
                if key and key not in phrases:
                    phrases[key] = canonical
                    if len(key) == 1 and stem(key[0]) not in generic_words:
                        # "days" -> duration makes "days" count, not every "day".
                        phrases.setdefault((stem(key[0]),), canonical)
        return cls(
            phrases=phrases,
            stopwords=frozenset(t for w in stopwords for t in tokens(w)),
            filler=frozenset(t for w in filler for t in tokens(w)),
            question_words=frozenset(t for w in question_words for t in tokens(w)),
            compare_cues=frozenset(tuple(tokens(w)) for w in compare_cues if tokens(w)),
            timeline_cues=frozenset(tuple(tokens(w)) for w in timeline_cues if tokens(w)),
            followup_cues=tuple(
                sorted(
                    {tuple(tokens(w)) for w in followup_cues if tokens(w)}, key=len, reverse=True
                )
            ),
            source_cues=frozenset(tuple(tokens(w)) for w in source_cues if tokens(w)),
            entities=frozenset(
                phrases.get(tuple(tokens(w)), "_".join(tokens(w))) for w in entities
            ),
            generic=generic_words,
            answer_types={
                tuple(tokens(cue)): frozenset(
                    w if w.startswith("#") else t for w in words for t in (tokens(w) or [w])
                )
                for cue, words in (answer_types or {}).items()
                if tokens(cue)
            },
            subjects=frozenset(phrases.values()),
            roles={
                phrases.get(tuple(tokens(name)), "_".join(tokens(name))): role
                for name, role in (roles or {}).items()
            },
            phrase_lengths=_phrase_lengths(phrases),
            recipe=recipe,
        )

    def extended(
        self,
        names: list[tuple[str, ...]],
        terms: list[tuple[str, ...]] = (),  # type: ignore[assignment]
        roles: dict[str, str] | None = None,
    ) -> Language:
        """This language with a pack's own vocabulary in front: each party's `names` read
        as that party (they win over the general words: "the studios" is that dispute's
        employer), and its `terms`, each group one meaning. A term group that shares an
        entry with a general group joins that group ("raise" stays a word for pay)."""
        joined = []
        for group in terms:
            general = next(
                (
                    self.phrases[key]
                    for key in map(tuple, map(tokens, group))
                    if key in self.phrases
                ),
                None,
            )
            joined.append(group if general is None else (general.replace("_", " "), *group))
        recipe = dict(self.recipe)
        recipe["synonyms"] = [*names, *joined, *recipe.get("synonyms", ())]
        entities = tuple(group[0] for group in names)
        recipe["entities"] = (*entities, *recipe.get("entities", ()))
        return Language.build(**recipe, roles=roles)

    @property
    def ignorable(self) -> frozenset[str]:
        return self.stopwords | self.filler

    def surface_words(self) -> set[str]:
        """Every single word that appears in a synonym entry or a word list."""
        words = {w for key in self.phrases for w in key}
        cues = {w for cue in self.compare_cues | self.timeline_cues for w in cue}
        lists = self.stopwords | self.filler | self.question_words | cues
        return words | lists | self.generic

    def expected_answers(self, toks: list[str]) -> list[frozenset[str]]:
        """For each answer-type cue that opens the question ("when ...", "so how many ..."),
        the words of which a fitting fact contains at least one. A cue further in ("what
        about AI when it comes to ...") does not ask for that type."""
        lead = 0  # skip opening filler and function words: "so, um, when did ..."
        while lead < min(3, len(toks)) and toks[lead] in self.ignorable:
            lead += 1
        return [
            words
            for cue, words in self.answer_types.items()
            if any(tuple(toks[i : i + len(cue)]) == cue for i in range(lead + 1))
        ]

    def wants_comparison(self, toks: list[str]) -> bool:
        """True when the tokens contain a comparison cue ("compare", "side by side", "vs")."""
        return _has_cue(toks, self.compare_cues)

    def wants_timeline(self, toks: list[str]) -> bool:
        """True when the tokens ask how something went over time ("timeline", "how has the
        offer changed", "history of the offer")."""
        return _has_cue(toks, self.timeline_cues)

    def follow_up(self, toks: list[str]) -> tuple[bool, list[str]]:
        """Whether a message opens like a follow-up ("and ...", "what about ..."), and its
        words after that opening (filler and function words dropped)."""
        for cue in self.followup_cues:
            if tuple(toks[: len(cue)]) == cue:
                return True, [t for t in toks[len(cue) :] if t not in self.ignorable]
        return False, [t for t in toks if t not in self.ignorable]

    def asks_for_source(self, toks: list[str]) -> bool:
        """True for a message that only asks where the last answer came from ("source?")."""
        content = tuple(t for t in toks if t not in self.ignorable)
        return bool(content) and content in self.source_cues

    @property
    def cue_words(self) -> frozenset[str]:
        """The one-word cues: structure of a question, not its subject."""
        return frozenset(cue[0] for cue in self.compare_cues | self.timeline_cues if len(cue) == 1)

    def _word(self, token: str) -> str | None:
        """One token's concept (synonym, else its stem), or None for a stopword; cached."""
        try:
            return self._words[token]
        except KeyError:
            pass
        base = stem(token)
        concept = self.phrases.get((token,)) or self.phrases.get((base,))
        if concept is None and token not in self.stopwords and token not in self.filler:
            concept = None if base in self.stopwords else base
        if len(self._words) < 200_000:
            self._words[token] = concept
        return concept

    def split_concepts(self, toks: list[str]) -> tuple[list[str], list[str]]:
        """Map tokens to concepts: synonym phrases (longest first) to their canonical word,
        other words stemmed, stopwords and filler dropped.

        The second list holds the words inside matched phrases (but not inside names), which
        fact texts are also indexed under: "viewership data" still answers "the data"."""
        word = self._word
        # Every token's own concept, looked up in C; misses (new words) are filled in once.
        mapped = list(map(self._words.get, toks, repeat(_MISS)))
        if _MISS in mapped:
            mapped = [word(t) if m is _MISS else m for t, m in zip(toks, mapped, strict=True)]
        lengths = self.phrase_lengths
        out: list[str] = []
        parts: list[str] = []
        done, n = 0, len(toks)
        phrases = self.phrases
        for start in [i for i, t in enumerate(toks) if t in lengths]:
            if start < done:
                continue
            for size in lengths[toks[start]]:
                if start + size > n:
                    continue
                canonical = phrases.get(tuple(toks[start : start + size]))
                if canonical is not None:
                    out.extend(filter(None, mapped[done:start]))
                    out.append(canonical)
                    if canonical not in self.entities:
                        parts.extend(filter(None, mapped[start : start + size]))
                    done = start + size
                    break
        out.extend(filter(None, mapped[done:]))
        return out, parts

    def concepts(self, toks: list[str]) -> list[str]:
        """The concepts of a question's tokens (see `split_concepts`)."""
        return self.split_concepts(toks)[0]
