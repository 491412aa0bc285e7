"""Admin actions on whole packs: add one from its folder, export it, retire it, and bind a
channel to it. Each checks the admin's permission; fact changes are audited one by one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.admin import Actor, AdminInputError, AdminService
from bot.core.models import Topic
from bot.core.packs import Pack, local, pack_of
from bot.store.db import NotFound
from bot.store.knowledge_files import dump_knowledge, topic_json, write_text_atomic
from bot.store.pack_files import PACK_FILE, TOPICS_FILE, load_pack
from bot.store.packs import PackStore


@dataclass(frozen=True, slots=True)
class PackSummary:
    """A pack with what it holds, for `packs list` and `packs show`."""

    pack: Pack
    facts: int
    topics: int
    in_use: bool
    bound: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.pack.id,
            "name": self.pack.name,
            "description": self.pack.description,
            "status": self.pack.status,
            "origin": self.pack.origin,
            "in_use": self.in_use,
            "facts": self.facts,
            "topics": self.topics,
            "parties": [
                {"name": p.name, "role": p.role, "aliases": list(p.aliases)}
                for p in self.pack.parties
            ],
            "terms": [list(t) for t in self.pack.terms],
            "channels": list(self.bound),
        }


UNBIND_WORDS = frozenset({"none", "default", "off", "unbind", "-"})


class PackAdmin:
    """Packs as a whole, for admins."""

    def __init__(self, admin: AdminService):
        self.admin = admin
        self.bot = admin.bot
        self.packs = PackStore(admin.store)

    def summaries(self) -> list[PackSummary]:
        """Every pack with its counts (no permission needed: nothing is changed)."""
        facts = self.admin.store.facts(include_retracted=False)
        topics = self.admin.store.topics()
        in_use = {p.id for p in self.packs.packs(in_use=True)}
        bindings = self.packs.bindings()
        return [
            PackSummary(
                pack,
                sum(1 for f in facts if pack_of(f.topic) == pack.id),
                sum(1 for t in topics if pack_of(t) == pack.id),
                pack.id in in_use,
                tuple(f"{pl}:{ch}" for (pl, ch), p in sorted(bindings.items()) if p == pack.id),
            )
            for pack in self.packs.packs()
        ]

    def summary(self, pack_id: str) -> PackSummary:
        for item in self.summaries():
            if item.pack.id == pack_id:
                return item
        raise NotFound(f"no pack with id '{pack_id}'")

    def add(self, actor: Actor, path: Path) -> tuple[Pack, dict[str, int]]:
        """Add (or update) a pack from its folder: all of it, or (on any problem) none."""
        self.admin.require(actor)
        files = load_pack(path, origin="admin")
        known = {p.id: p for p in self.packs.packs()}
        if files.pack.id in known and known[files.pack.id].origin == "bundled":
            raise AdminInputError(
                f"'{files.pack.id}' is a bundled pack; give yours another id in its pack.yaml."
            )
        owners = {f.id: pack_of(f.topic) for f in self.admin.store.facts()}
        clash = [
            f.id for f in files.knowledge.facts if owners.get(f.id, files.pack.id) != files.pack.id
        ]
        if clash:
            raise AdminInputError(
                f"Fact ids already used by another pack: {', '.join(sorted(clash)[:5])}."
            )
        self.packs.add(files.pack, str(path))
        counts = self.admin.store.import_knowledge(
            files.knowledge, actor=actor.audit_name, topics=files.topics, platform=actor.platform
        )
        self.admin._done()
        return files.pack, counts

    def retire(self, actor: Actor, pack_id: str, reason: str) -> int:
        """Stop answering from a pack: every active fact of it is retracted (each audited,
        nothing deleted) and the pack is marked retired. Returns how many facts."""
        self.admin.require(actor)
        pack = self.packs.pack(pack_id)
        facts = [
            f
            for f in self.admin.store.facts(include_retracted=False)
            if pack_of(f.topic) == pack.id
        ]
        for fact in facts:
            self.admin.retract(actor, fact.id, f"pack {pack.id} retired: {reason}")
        self.packs.set_status(pack.id, "retired")
        self.admin._done()
        return len(facts)

    def export(self, pack_id: str, folder: Path) -> list[Path]:
        """Write the pack as a folder `packs add` reads back (pack.yaml, topics.yaml and its
        facts with their sources), each file written whole or not at all."""
        pack = self.packs.pack(pack_id)
        facts = [f for f in self.admin.store.facts() if pack_of(f.topic) == pack.id]
        sources = self.admin.store.sources()
        used = [sources[s] for s in sorted({f.source for f in facts}) if s in sources]
        topics = [
            t for tid, t in sorted(self.admin.store.topics().items()) if pack_of(tid) == pack.id
        ]
        folder.mkdir(parents=True, exist_ok=True)
        local_facts = [dataclasses.replace(f, topic=local(f.topic)) for f in facts]
        files = {
            folder / PACK_FILE: _pack_yaml(pack),
            folder / TOPICS_FILE: _topics_yaml(topics),
            folder / f"{pack.id}.facts.yaml": dump_knowledge(used, local_facts),
        }
        for path, text in files.items():
            write_text_atomic(path, text)
        return list(files)

    def channel_pack(
        self, actor: Actor, platform: str, channel: str | None, pack_id: str | None
    ) -> str:
        """`/strike-admin pack [ID|none]` in a channel: bind it to a pack (or unbind it), or,
        with no id, say which pack it answers from and which packs there are."""
        self.admin.require(actor)
        if channel is None:
            raise AdminInputError("Bind a pack in a channel, not in a direct message.")
        in_use = self.packs.packs(in_use=True)
        listing = "; ".join(f"{p.id} ({p.name})" for p in in_use) or "none"
        if pack_id is None:
            current = self.packs.bindings().get((platform, channel))
            fallback = self.bot.default_pack() or "whichever dispute a question fits"
            return (
                f"This channel answers from {current or fallback}. Packs in use: {listing}. "
                "Bind one with `/strike-admin pack ID`; `/strike-admin pack none` unbinds."
            )
        target = None if pack_id.strip().lower() in UNBIND_WORDS else pack_id.strip()
        self.bind(actor, platform, channel, target)
        if target is None:
            return "This channel no longer has a pack of its own; it follows the default."
        name = next(p.name for p in in_use if p.id == target)
        return f"This channel now answers from {target} ({name})."

    def bind(self, actor: Actor, platform: str, channel: str, pack_id: str | None) -> None:
        """Answer questions asked in `channel` from `pack_id` (None: from the default)."""
        self.admin.require(actor)
        if pack_id is not None and pack_id not in {p.id for p in self.packs.packs(in_use=True)}:
            known = ", ".join(p.id for p in self.packs.packs(in_use=True)) or "none"
            raise AdminInputError(f"There is no dispute (pack) '{pack_id}' in use. Known: {known}.")
        self.packs.bind(platform, channel, pack_id, actor.audit_name)
        self.admin._done()


def _pack_yaml(pack: Pack) -> str:
    data = {
        "id": pack.id,
        "name": pack.name,
        "description": pack.description,
        "parties": [
            {"name": p.name, "role": p.role, "aliases": list(p.aliases)} for p in pack.parties
        ],
        "terms": [list(t) for t in pack.terms],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _topics_yaml(topics: list[Topic]) -> str:
    local_topics = [
        dataclasses.replace(t, id=local(t.id), compare_with=tuple(map(local, t.compare_with)))
        for t in topics
    ]
    items = [topic_json(t) for t in local_topics]
    return yaml.safe_dump({"topics": items}, sort_keys=False, allow_unicode=True)
