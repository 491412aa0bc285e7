"""Knowledge packs: one labour dispute each, with its own parties, terms and topics.

A topic id is scoped to its pack: stored and used as `pack/topic` ("wga-2023/offer.pay"), so
two packs never share a topic. Facts belong to the pack of their topic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.language import Language

SEPARATOR = "/"
PACK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ROLES = ("union", "employer", "mediator", "government", "other")
# The general words for a role: a question about "the union" is about the pack's union.


@dataclass(frozen=True, slots=True)
class Party:
    """A side of the dispute (or another actor in it) and the ways people name it."""

    name: str
    role: str = "other"
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The name first, then every alias."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Pack:
    """One dispute: what it is called, its parties and its own vocabulary."""

    id: str
    name: str
    description: str = ""
    parties: tuple[Party, ...] = ()
    terms: tuple[tuple[str, ...], ...] = ()
    status: str = "active"  # "active" or "retired"
    origin: str = "admin"  # "bundled" (shipped files) or "admin"

    @property
    def active(self) -> bool:
        return self.status == "active"


def qualify(pack: str, topic: str) -> str:
    """The stored id of `topic` in `pack` ("offer.pay" -> "wga-2023/offer.pay"); a topic
    already qualified is returned as it is."""
    return topic if SEPARATOR in topic else f"{pack}{SEPARATOR}{topic}"


def pack_of(topic: str) -> str:
    """The pack a stored topic id belongs to ("" for an unscoped id)."""
    head, sep, _ = topic.partition(SEPARATOR)
    return head if sep else ""


def local(topic: str) -> str:
    """The topic id as written inside its pack ("wga-2023/offer.pay" -> "offer.pay")."""
    return topic.rpartition(SEPARATOR)[2]


def pack_language(general: Language, pack: Pack | None) -> Language:
    """The general language with `pack`'s parties and terms: each party's name and aliases
    read as that party, its terms as one meaning each."""
    if pack is None or not (pack.parties or pack.terms):
        return general
    names = [tuple(p.names) for p in pack.parties]
    terms = [tuple(t) for t in pack.terms if len(t) > 1]
    roles = {p.name: p.role for p in pack.parties if p.role in ROLES[:4]}
    return general.extended(names, terms, roles)
