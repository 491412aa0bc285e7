"""Knowledge packs on disk: a folder per dispute (`pack.yaml`, `topics.yaml`,
`*.facts.yaml`), validated completely before anything of it is used.

A folder holding only `*.facts.yaml` and `topics.yaml` (the older layout) is a pack too; its
id comes from the folder's name. Topic ids in the files are local to their pack; they are
returned qualified (`pack/topic`), so two packs never share one."""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

from bot.core.language import Language
from bot.core.models import Fact, Topic
from bot.core.packs import PACK_ID_RE, ROLES, Pack, Party, qualify
from bot.store import knowledge_files as kf
from bot.store.knowledge_files import KnowledgeError, KnowledgeSet

PACK_FILE = "pack.yaml"
TOPICS_FILE = "topics.yaml"
PACK_KEYS = {"id", "name", "description", "parties", "terms"}
PARTY_KEYS = {"name", "role", "aliases"}
PACKS_FOLDER = "packs"  # inside a knowledge folder: one sub-folder per pack
PACK_FILE_SUFFIX = ".pack.yaml"  # a whole pack in one file
GENERAL_LANGUAGE = "general.yaml"


@dataclass(slots=True)
class PackFiles:
    """One pack as read from its folder: the pack, its topics and its facts and sources."""

    pack: Pack
    topics: list[Topic]
    knowledge: KnowledgeSet
    folder: Path


def is_pack_folder(folder: Path) -> bool:
    """True when `folder` itself holds a pack's files."""
    return folder.is_dir() and (
        (folder / PACK_FILE).is_file()
        or (folder / TOPICS_FILE).is_file()
        or bool(kf.fact_files(folder))
    )


def pack_folders(directory: Path) -> list[Path]:
    """The packs of a knowledge folder: the folder itself when it holds pack files, else each
    of its sub-folders (and those of its `packs/` folder) that does, and each `*.pack.yaml`
    file there, in name order."""
    if not directory.is_dir():
        return []
    if is_pack_folder(directory):
        return [directory]
    found: list[Path] = []
    for folder in (directory, directory / PACKS_FOLDER):
        if folder.is_dir():
            found.extend(
                p for p in sorted(folder.iterdir()) if is_pack_folder(p) or _is_pack_file(p)
            )
    return found


def _is_pack_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(PACK_FILE_SUFFIX)


def pack_paths(directory: Path) -> list[Path]:
    """Every file that makes up the packs of `directory` (for a fingerprint of them)."""
    paths: list[Path] = []
    for folder in pack_folders(directory):
        if folder.is_file():
            paths.append(folder)
            continue
        paths.extend(p for p in (folder / PACK_FILE, folder / TOPICS_FILE) if p.is_file())
        paths.extend(kf.fact_files(folder))
    return paths


def slug(name: str) -> str:
    """A pack id made from a folder name: "UAW 2023" -> "uaw-2023"."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    return text or "pack"


def _party(reader: kf._Reader, node: kf._Node) -> Party | None:
    item = reader.mapping(node, "a party")
    if item is None:
        return None
    reader.unknown_keys(item, PARTY_KEYS, node.line, "a party")
    name = reader.string(item, "name", node.line)
    role = reader.string(item, "role", node.line, required=False) or "other"
    if role not in ROLES:
        reader.fail(item["role"].line, f"role must be one of {', '.join(ROLES)}, not {role!r}")
    aliases = tuple(a.lower() for a in reader.strings(item, "aliases"))
    if name is None:
        return None
    return Party(name, role, aliases)


def load_pack_file(path: Path, default_id: str) -> Pack:
    """Read `pack.yaml`: the pack's id, name, description, parties and terms."""
    reader, top = kf._root_mapping(path, PACK_KEYS)
    pack = _pack_meta(reader, top, default_id)
    if reader.problems:
        raise KnowledgeError(reader.problems)
    return pack


def _pack_meta(reader: kf._Reader, top: dict[str, kf._Node] | None, default_id: str) -> Pack:
    pack = Pack(default_id, default_id)
    if top is not None:
        line = 1
        pid = reader.string(top, "id", line, required=False) or default_id
        if not PACK_ID_RE.match(pid):
            reader.fail(top["id"].line, f"pack id {pid!r} must match {PACK_ID_RE.pattern}")
        name = reader.string(top, "name", line, required=False) or pid
        description = reader.string(top, "description", line, required=False) or ""
        parties = []
        for node in reader.sequence(top["parties"], "parties") if "parties" in top else []:
            party = _party(reader, node)
            if party is not None:
                parties.append(party)
        terms = []
        for node in reader.sequence(top["terms"], "terms") if "terms" in top else []:
            words = tuple(
                str(c.value).strip().lower()
                for c in reader.sequence(node, "a term group")
                if c.value is not None and str(c.value).strip()
            )
            if len(words) < 2:
                reader.fail(node.line, "a term group needs at least two entries")
                continue
            terms.append(words)
        pack = Pack(pid, name, description, tuple(parties), tuple(terms))
    return pack


def load_pack_in_one_file(path: Path, *, origin: str = "admin") -> PackFiles:
    """A whole pack in one file: `pack:` (id, name, description, parties, terms),
    `topics:`, `sources:` and `facts:`."""
    reader, top = kf._root_mapping(path, {"pack", "topics", "sources", "facts"})
    default_id = slug(path.name.split(".")[0])
    meta = None
    if top is not None and "pack" in top:
        meta = reader.mapping(top["pack"], "pack")
        if meta is not None:
            reader.unknown_keys(meta, PACK_KEYS, top["pack"].line, "pack")
    pack = _pack_meta(reader, meta, default_id)
    if reader.problems:
        raise KnowledgeError(reader.problems)
    knowledge = kf.load_fact_files([path])
    files = PackFiles(dataclasses.replace(pack, origin=origin), knowledge.topics, knowledge, path)
    return qualified(files, check_topics=bool(knowledge.topics))


def load_pack(folder: Path, *, origin: str = "bundled") -> PackFiles:
    """Read one pack (a folder, or one file); raise KnowledgeError listing every problem
    (file:line)."""
    if folder.is_file():
        return load_pack_in_one_file(folder, origin=origin)
    problems: list[str] = []
    default_id = slug(folder.name)
    pack = Pack(default_id, default_id, origin=origin)
    topics: list[Topic] = []
    knowledge = KnowledgeSet()
    try:
        if (folder / PACK_FILE).is_file():
            pack = dataclasses.replace(
                load_pack_file(folder / PACK_FILE, default_id), origin=origin
            )
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    try:
        if (folder / TOPICS_FILE).is_file():
            topics = kf.load_topics(folder / TOPICS_FILE)
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    try:
        knowledge = kf.load_fact_files(kf.fact_files(folder))
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    if problems:
        raise KnowledgeError(problems)
    return qualified(PackFiles(pack, topics, knowledge, folder), check_topics=bool(topics))


def qualified(files: PackFiles, *, check_topics: bool) -> PackFiles:
    """The pack's topic ids qualified with its id; with `check_topics`, a fact whose topic is
    not listed in topics.yaml is an error (no label is invented for it)."""
    pid = files.pack.id
    listed = {t.id for t in files.topics}
    if check_topics:
        unknown = sorted({f.topic for f in files.knowledge.facts} - listed)
        if unknown:
            where = files.folder / TOPICS_FILE if files.folder.is_dir() else files.folder
            raise KnowledgeError(
                [f"{where}:1: topic '{t}' is used by a fact but not listed here" for t in unknown]
            )
    else:  # no topics.yaml: each topic is labelled from its id
        files.topics = [
            Topic(t, t.replace(".", " ").replace("-", " ").capitalize())
            for t in sorted({f.topic for f in files.knowledge.facts})
        ]
    topics = [
        dataclasses.replace(
            t, id=qualify(pid, t.id), compare_with=tuple(qualify(pid, c) for c in t.compare_with)
        )
        for t in files.topics
    ]
    facts: list[Fact] = [
        dataclasses.replace(f, topic=qualify(pid, f.topic)) for f in files.knowledge.facts
    ]
    knowledge = KnowledgeSet(sources=files.knowledge.sources, facts=facts)
    return PackFiles(files.pack, topics, knowledge, files.folder)


def load_packs(directory: Path, *, origin: str = "bundled") -> list[PackFiles]:
    """Every pack of a knowledge folder, all or nothing: one problem anywhere raises
    KnowledgeError with every problem of every pack. Two packs may not share an id, nor a
    fact or source id with different contents."""
    problems: list[str] = []
    packs: list[PackFiles] = []
    for folder in pack_folders(directory):
        try:
            packs.append(load_pack(folder, origin=origin))
        except KnowledgeError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    facts: dict[str, str] = {}
    sources: dict[str, tuple[str, object]] = {}
    for files in packs:
        for source in files.knowledge.sources:
            owner, same = sources.setdefault(source.id, (files.pack.id, source))
            if owner != files.pack.id and same != source:
                problems.append(
                    f"{files.folder}:1: source id '{source.id}' is also used, differently,"
                    f" by pack '{owner}'"
                )
        if files.pack.id in seen:
            problems.append(
                f"{files.folder}:1: pack id '{files.pack.id}' is also used by {seen[files.pack.id]}"
            )
        seen[files.pack.id] = files.folder
        for fact in files.knowledge.facts:
            owner = facts.setdefault(fact.id, files.pack.id)
            if owner != files.pack.id:
                problems.append(
                    f"{files.folder}:1: fact id '{fact.id}' is also used by pack '{owner}';"
                    " fact ids must be unique across packs"
                )
    if problems:
        raise KnowledgeError(problems)
    return packs


def general_language(extra: Path | None = None) -> Language:
    """The dispute-neutral English shipped with the package, plus a deployment's own
    `language.yaml` (more synonyms, stopwords...) when there is one."""
    resource = importlib.resources.files("bot.core").joinpath("data", GENERAL_LANGUAGE)
    with importlib.resources.as_file(resource) as path:
        general = kf.load_language(path)
    if extra is None or not extra.is_file():
        return general
    more = kf.load_language(extra)
    groups = [tuple(g) for g in more.recipe.get("synonyms", ())]
    names = [(e,) for e in more.recipe.get("entities", ())]
    language = general.extended(names, groups)
    for key in ("stopwords", "filler", "generic"):
        extra_words = more.recipe.get(key) or ()
        if extra_words:
            recipe = dict(language.recipe)
            recipe[key] = (*recipe.get(key, ()), *extra_words)
            language = Language.build(**recipe)
    return language
