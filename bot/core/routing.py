"""Which dispute a question is about, when a deployment answers for several packs.

In order: the pack the caller names (a channel bound to a pack, `/strike status ID`), else a
pack whose party the question names (when the question names no party of the first choice),
else the default pack, else every pack in use. Each pack is read with its own language and
index; two packs that fit about equally both answer, each labelled."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.language import Language, contains, tokens
from bot.core.matcher import Analysis, Match, Matcher
from bot.core.packs import Pack
from bot.core.reading import best_reading

TIE_MARGIN = 0.05  # two packs' best answers this close are both given


@dataclass(slots=True)
class PackIndex:
    """One pack's language and question index, and the names that point at it: its
    parties (from pack.yaml) and the names its facts use."""

    pack: Pack
    language: Language
    matcher: Matcher
    parties: frozenset[tuple[str, ...]] = frozenset()
    mentions: frozenset[tuple[str, ...]] = frozenset()

    @classmethod
    def build(cls, pack: Pack, language: Language, matcher: Matcher) -> PackIndex:
        parties = {tuple(tokens(n)) for party in pack.parties for n in party.names}
        mentions = {(n,) for n in matcher.names}
        return cls(pack, language, matcher, frozenset(p for p in parties if p), frozenset(mentions))


@dataclass(frozen=True, slots=True)
class Reading:
    """A question as read against one pack."""

    pack: str
    analysis: Analysis
    matches: list[Match] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.matches[0].score if self.matches else 0.0


class Router:
    """Chooses the packs a question is read against and reads it."""

    def __init__(self, indexes: dict[str, PackIndex], default: str | None = None):
        self.indexes = indexes
        self.default = default if default in indexes else None
        # A name the facts of every pack use ("union", "California") tells no pack apart.
        counts: dict[tuple[str, ...], int] = {}
        for index in indexes.values():
            for name in index.mentions:
                counts[name] = counts.get(name, 0) + 1
        self.distinctive = {
            pid: frozenset(n for n in index.mentions if counts[n] < len(indexes))
            for pid, index in indexes.items()
        }

    def named(self, text: str) -> list[str]:
        """The packs whose parties the question names; else those whose facts alone use a
        name it contains."""
        words = tokens(text)
        for names in (
            {pid: index.parties for pid, index in self.indexes.items()},
            self.distinctive,
        ):
            found = [pid for pid, ns in names.items() if any(contains(words, n) for n in ns)]
            if found:
                return found
        return []

    def scope(self, text: str, pack: str | None = None) -> list[str]:
        """The packs to read `text` against, first choice first: the asker's (or default)
        pack, with the packs the question names; a question naming only another dispute's
        party ("and the Kaiser strike?" in the WGA channel) goes there."""
        if not self.indexes:
            return []
        chosen = pack if pack in self.indexes else self.default
        named = self.named(text) if len(self.indexes) > 1 else []
        if chosen is None:
            return named or list(self.indexes)
        if not named or named == [chosen]:
            return [chosen]
        if chosen in named:
            return [chosen, *(p for p in named if p != chosen)]
        return named

    def read(self, text: str, pack: str | None = None) -> list[Reading]:
        """The question read against each pack in scope, best reading first."""
        readings = [
            Reading(pid, *best_reading(self.indexes[pid].matcher, text))
            for pid in self.scope(text, pack)
        ]
        readings.sort(key=lambda r: r.score, reverse=True)
        return readings

    @staticmethod
    def tied(readings: list[Reading], floor: float) -> list[Reading]:
        """The readings to answer from: the best, and a second pack's when it fits about as
        well (both at least `floor`)."""
        if not readings:
            return []
        best = readings[0]
        close = [r for r in readings[1:] if r.score >= floor and r.score >= best.score - TIE_MARGIN]
        return [best, *close[:1]]
