"""Knowledge YAML in and out: facts and sources, topics, and language data.

Every file is validated completely before anything of it is used; a problem is reported as
`file:line: what is wrong`, and a file with any problem contributes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.core.language import Language
from bot.core.models import Fact, Source, Topic
from bot.core.rules import (
    as_of_problem,
    control_problem,
    hints_problem,
    url_problem,
    utc_today,
)

# libyaml's loader when PyYAML was built with it: the same nodes and marks, several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
TOPIC_RE = re.compile(r"^(?:[a-z0-9][a-z0-9-]{0,62}/)?[a-z0-9][a-z0-9_.-]{0,79}$")
MAX_TEXT = 2000
MAX_DEPTH = 16  # knowledge files nest 4 levels; far deeper is a mistake or an attack
FACT_KEYS = {
    "id",
    "text",
    "topic",
    "as_of",
    "source",
    "questions",
    "aliases",
    "keywords",
    "review_by",
    "status",
}
SOURCE_KEYS = {"id", "title", "published", "url", "publisher"}
TOPIC_KEYS = {"id", "label", "description", "status", "compare_with"}


INVALID = object()  # a value already reported as unreadable: not reported again as missing


class KnowledgeError(ValueError):
    """A knowledge file that cannot be loaded; `problems` holds every `file:line: message`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(slots=True)
class KnowledgeSet:
    """What one or more fact files hold, validated."""

    sources: list[Source] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)  # a facts file may bring its topics


@dataclass(slots=True)
class _Node:
    value: Any
    line: int
    raw: str | None = None  # the scalar as written: YAML 1.1 reads a bare `on` or `no` as a bool


class _Reader:
    """Turns a YAML node tree into plain values, keeping the line of every mapping/sequence."""

    def __init__(self, path: Path, *, fast: bool = False):
        self.path = path
        self.fast = fast
        self.problems: list[str] = []

    def fail(self, line: int, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {message}")

    def load(self, text: str) -> _Node | None:
        if self.fast and text.lstrip().startswith("{"):
            # JSON is YAML too, and the json module reads it many times faster. Lines are
            # not known on this path: any problem sends the caller back to the YAML reader.
            try:
                return _plain(json.loads(text))
            except (ValueError, RecursionError):  # nested too deeply: reported with its line
                pass
        try:
            if not self._shape_is_safe(text):
                return None
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.fail(line, f"invalid YAML: {exc.problem or exc}")
            return None
        except yaml.YAMLError as exc:
            self.fail(1, f"invalid YAML: {exc}")
            return None
        if root is None:
            self.fail(1, "the file is empty")
            return None
        return self._convert(root)

    def _shape_is_safe(self, text: str) -> bool:
        """Refuse, before anything is built, what would make building it explode: anchors
        and aliases (a few hundred bytes of nested aliases expand to gigabytes) and nesting
        deeper than MAX_DEPTH. Reads the event stream, which takes no recursion."""
        depth = 0
        for event in yaml.parse(text, Loader=_LOADER):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                self.fail(
                    line,
                    "YAML anchors and aliases (&name, *name) are not allowed in knowledge "
                    "files; write each value out",
                )
                return False
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    self.fail(line, f"nested more than {MAX_DEPTH} levels deep")
                    return False
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return True

    def _convert(self, node: yaml.Node) -> _Node:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, _Node] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    self.fail(key_node.start_mark.line + 1, "keys must be plain words")
                    continue
                if key in out:
                    self.fail(key_node.start_mark.line + 1, f"duplicate key '{key}'")
                out[key] = self._convert(value_node)
            return _Node(out, line)
        if isinstance(node, yaml.SequenceNode):
            return _Node([self._convert(child) for child in node.value], line)
        constructor = yaml.SafeLoader("")
        try:
            value = constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self.fail(line, f"invalid value: {exc}")
            value = INVALID
        finally:
            constructor.dispose()
        return _Node(value, line, node.value if isinstance(node.value, str) else None)

    # --- typed field readers -------------------------------------------------------------

    def mapping(self, node: _Node, what: str) -> dict[str, _Node] | None:
        if not isinstance(node.value, dict):
            self.fail(node.line, f"{what} must be a mapping of keys to values")
            return None
        return node.value

    def sequence(self, node: _Node, what: str) -> list[_Node]:
        if not isinstance(node.value, list):
            self.fail(node.line, f"'{what}' must be a list")
            return []
        return node.value

    def string(
        self, item: dict[str, _Node], key: str, line: int, *, required: bool = True
    ) -> str | None:
        node = item.get(key)
        if node is not None and node.value is INVALID:
            return None
        if node is None or node.value is None:
            if required:
                self.fail(line, f"missing required field '{key}'")
            return None
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(node.line, f"'{key}' must be text")
            return None
        value = value.strip()
        if required and not value:
            self.fail(node.line, f"'{key}' must not be empty")
            return None
        if len(value) > MAX_TEXT:
            self.fail(node.line, f"'{key}' is longer than {MAX_TEXT} characters")
            return None
        problem = control_problem(value)
        if problem:
            self.fail(node.line, f"'{key}' {problem}")
            return None
        return value

    def date(
        self, item: dict[str, _Node], key: str, line: int, *, required: bool = True
    ) -> dt.date | None:
        node = item.get(key)
        if node is not None and node.value is INVALID:
            return None
        if node is None or node.value is None:
            if required:
                self.fail(line, f"missing required field '{key}'")
            return None
        value = node.value
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(node.line, f"'{key}' must be an ISO date like 2023-09-11, not {value!r}")
            return None

    def strings(self, item: dict[str, _Node], key: str) -> tuple[str, ...]:
        node = item.get(key)
        if node is None or node.value is None:
            return ()
        out: list[str] = []
        for child in self.sequence(node, key):
            if isinstance(child.value, bool) and child.raw:
                child = _Node(child.raw, child.line)
            if not isinstance(child.value, (str, int, float)) or isinstance(child.value, bool):
                self.fail(child.line, f"every entry of '{key}' must be text")
                continue
            text = str(child.value).strip()
            problem = control_problem(text)
            if problem:
                self.fail(child.line, f"an entry of '{key}' {problem}")
                continue
            if text:
                out.append(text)
        return tuple(out)

    def hints(self, item: dict[str, _Node], key: str) -> tuple[str, ...]:
        """A fact's example questions, aliases or keywords, within their caps."""
        values = self.strings(item, key)
        problem = hints_problem(key, values)
        if problem:
            self.fail(item[key].line, problem)
        return values

    def unknown_keys(self, item: dict[str, _Node], allowed: set[str], line: int, what: str):
        for key in sorted(set(item) - allowed):
            self.fail(item[key].line, f"unknown field '{key}' in {what}")


def _plain(value: Any) -> _Node:
    """A JSON value as reader nodes (line 0: unknown)."""
    if isinstance(value, dict):
        return _Node({str(k): _plain(v) for k, v in value.items()}, 0)
    if isinstance(value, list):
        return _Node([_plain(v) for v in value], 0)
    return _Node(value, 0, value if isinstance(value, str) else None)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{path}:1: not UTF-8 text ({exc.reason})"]) from None
    except OSError as exc:
        raise KnowledgeError([f"{path}:1: cannot read the file ({exc.strerror})"]) from None


def parse_source(reader: _Reader, node: _Node) -> Source | None:
    item = reader.mapping(node, "a source")
    if item is None:
        return None
    reader.unknown_keys(item, SOURCE_KEYS, node.line, "a source")
    sid = reader.string(item, "id", node.line)
    if sid is not None and not ID_RE.match(sid):
        reader.fail(item["id"].line, f"source id {sid!r} must match {ID_RE.pattern}")
    title = reader.string(item, "title", node.line)
    published = reader.date(item, "published", node.line)
    url = reader.string(item, "url", node.line, required=False)
    problem = url_problem(url) if url else None
    if problem:
        reader.fail(item["url"].line, f"{problem}, not {url[:100]!r}")
    publisher = reader.string(item, "publisher", node.line, required=False)
    if sid is None or title is None or published is None:
        return None
    return Source(id=sid, title=title, published=published, url=url, publisher=publisher)


def parse_fact(reader: _Reader, node: _Node) -> Fact | None:
    item = reader.mapping(node, "a fact")
    if item is None:
        return None
    reader.unknown_keys(item, FACT_KEYS, node.line, "a fact")
    fid = reader.string(item, "id", node.line)
    if fid is not None and not ID_RE.match(fid):
        reader.fail(item["id"].line, f"fact id {fid!r} must match {ID_RE.pattern}")
    text = reader.string(item, "text", node.line)
    topic = reader.string(item, "topic", node.line)
    if topic is not None and not TOPIC_RE.match(topic):
        reader.fail(item["topic"].line, f"topic {topic!r} must match {TOPIC_RE.pattern}")
    as_of = reader.date(item, "as_of", node.line)
    source = reader.string(item, "source", node.line)
    review_by = reader.date(item, "review_by", node.line, required=False)
    status = reader.string(item, "status", node.line, required=False) or "active"
    if status not in ("active", "retracted"):
        reader.fail(item["status"].line, "status must be 'active' or 'retracted'")
    questions = reader.hints(item, "questions")
    aliases = reader.hints(item, "aliases")
    keywords = reader.hints(item, "keywords")
    if None in (fid, text, topic, as_of, source):
        return None
    return Fact(
        id=fid,  # type: ignore[arg-type]
        text=text,  # type: ignore[arg-type]
        topic=topic,  # type: ignore[arg-type]
        as_of=as_of,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        questions=questions,
        aliases=aliases,
        keywords=keywords,
        review_by=review_by,
        status=status,
    )


def fact_node_line(node: _Node, key: str) -> int:
    """The line of a fact's field (the fact's own line when the field's is not known)."""
    field_node = node.value.get(key) if isinstance(node.value, dict) else None
    return field_node.line if field_node is not None and field_node.line else node.line


def _root_mapping(
    path: Path, allowed: set[str], *, fast: bool = False
) -> tuple[_Reader, dict[str, _Node] | None]:
    reader = _Reader(path, fast=fast)
    root = reader.load(_read_text(path))
    if root is None:
        return reader, None
    top = reader.mapping(root, "the top level")
    if top is not None:
        for key in sorted(set(top) - allowed):
            reader.fail(top[key].line, f"unknown top-level key '{key}'")
    return reader, top


def load_fact_files(
    paths: Iterable[Path],
    known_sources: Iterable[Source | str] = (),
    *,
    today: dt.date | None = None,
) -> KnowledgeSet:
    """Read and validate fact files together; raise KnowledgeError listing every problem
    (each with its file and line). Facts may cite `known_sources` (already stored: Source
    objects, whose dates are checked too, or bare ids). Files in JSON form are read fast;
    if anything is wrong, everything is read again the slow way, which knows the lines."""
    paths = list(paths)
    known = {
        s.id if isinstance(s, Source) else s: s.published if isinstance(s, Source) else None
        for s in known_sources
    }
    today = today or utc_today()
    try:
        return _load_fact_files(paths, known, today, fast=True)
    except KnowledgeError:
        return _load_fact_files(paths, known, today, fast=False)


def _load_fact_files(
    paths: list[Path], known_sources: dict[str, dt.date | None], today: dt.date, *, fast: bool
) -> KnowledgeSet:
    problems: list[str] = []
    result = KnowledgeSet()
    source_lines: dict[str, str] = {}
    published: dict[str, dt.date | None] = dict(known_sources)
    fact_lines: dict[str, str] = {}
    pending_refs: list[tuple[Fact, str]] = []
    for path in paths:
        reader, top = _root_mapping(path, {"sources", "facts", "topics", "pack"}, fast=fast)
        if top is not None:
            if "sources" not in top and "facts" not in top:
                reader.fail(1, "a knowledge file needs a 'sources:' or 'facts:' list")
            result.topics.extend(parse_topics(reader, top))
            for node in reader.sequence(top["sources"], "sources") if "sources" in top else []:
                source = parse_source(reader, node)
                if source is None:
                    continue
                where = f"{path}:{node.line}"
                if source.id in source_lines:
                    reader.fail(
                        node.line,
                        f"source id '{source.id}' is already used at {source_lines[source.id]}",
                    )
                    continue
                source_lines[source.id] = where
                published[source.id] = source.published
                result.sources.append(source)
            for node in reader.sequence(top["facts"], "facts") if "facts" in top else []:
                fact = parse_fact(reader, node)
                if fact is None:
                    continue
                where = f"{path}:{node.line}"
                if fact.id in fact_lines:
                    reader.fail(
                        node.line, f"fact id '{fact.id}' is already used at {fact_lines[fact.id]}"
                    )
                    continue
                fact_lines[fact.id] = where
                where_as_of = f"{path}:{fact_node_line(node, 'as_of')}"
                pending_refs.append((fact, where_as_of))
                result.facts.append(fact)
        problems.extend(reader.problems)
    for fact, where_as_of in pending_refs:
        where = fact_lines[fact.id]
        if fact.source not in published:
            problems.append(
                f"{where}: the fact's source '{fact.source}' is not defined in any 'sources:'"
            )
            continue
        problem = as_of_problem(fact.as_of, published[fact.source], today)
        if problem:
            problems.append(f"{where_as_of}: {problem}")
    if problems:
        raise KnowledgeError(problems)
    return result


def load_topics(path: Path) -> list[Topic]:
    """Read `topics.yaml`."""
    reader, top = _root_mapping(path, {"topics"})
    topics: list[Topic] = []
    if top is not None:
        if "topics" not in top:
            reader.fail(1, "topics.yaml needs a 'topics:' list")
        topics = parse_topics(reader, top)
    if reader.problems:
        raise KnowledgeError(reader.problems)
    return topics


def parse_topics(reader: _Reader, top: dict[str, _Node]) -> list[Topic]:
    """The `topics:` list of a file (topics.yaml, or a facts file that brings its topics)."""
    topics: list[Topic] = []
    seen: set[str] = set()
    for node in reader.sequence(top["topics"], "topics") if "topics" in top else []:
        item = reader.mapping(node, "a topic")
        if item is None:
            continue
        reader.unknown_keys(item, TOPIC_KEYS, node.line, "a topic")
        tid = reader.string(item, "id", node.line)
        if tid is not None and not TOPIC_RE.match(tid):
            reader.fail(item["id"].line, f"topic {tid!r} must match {TOPIC_RE.pattern}")
        label = reader.string(item, "label", node.line)
        description = reader.string(item, "description", node.line, required=False) or ""
        order = item.get("status")
        status_order = order.value if order is not None else None
        if status_order is not None and (
            not isinstance(status_order, int) or isinstance(status_order, bool)
        ):
            reader.fail(order.line, "'status' must be a whole number (its order in status)")
            status_order = None
        compare = item.get("compare_with")
        if compare is not None and isinstance(compare.value, str):
            compare_with: tuple[str, ...] = (compare.value,)
        else:
            compare_with = reader.strings(item, "compare_with")
        if tid is None or label is None:
            continue
        if tid in seen:
            reader.fail(node.line, f"topic '{tid}' is listed twice")
        seen.add(tid)
        topics.append(Topic(tid, label, description, status_order, compare_with))
    return topics


def load_language(path: Path) -> Language:
    """Read `language.yaml`: synonyms, stopwords, filler and comparison cues."""
    keys = {
        "synonyms",
        "numbers",
        "stopwords",
        "filler",
        "question_words",
        "compare_cues",
        "timeline_cues",
        "followup_cues",
        "source_cues",
        "entities",
        "generic",
        "answer_types",
    }
    reader, top = _root_mapping(path, keys)
    groups: list[tuple[str, ...]] = []
    lists: dict[str, tuple[str, ...]] = {}
    answer_types: dict[str, tuple[str, ...]] = {}
    if top is not None:
        group_nodes = [
            node
            for key in ("synonyms", "numbers")
            if key in top
            for node in reader.sequence(top[key], key)
        ]
        for node in group_nodes:
            words = tuple(
                str(c.raw if c.raw is not None else c.value).strip().lower()
                for c in reader.sequence(node, "synonym group")
                if c.value is not None
            )
            if len(words) < 2:
                reader.fail(node.line, "a synonym group needs at least two entries")
                continue
            groups.append(words)
        for key in keys - {"synonyms", "numbers", "answer_types"}:
            lists[key] = tuple(w.lower() for w in reader.strings(top, key))
        if "answer_types" in top:
            kinds = reader.mapping(top["answer_types"], "answer_types") or {}
            answer_types = {cue: reader.strings(kinds, cue) for cue in kinds}
    if reader.problems:
        raise KnowledgeError(reader.problems)
    return Language.build(
        synonyms=groups,
        stopwords=lists.get("stopwords", ()),
        filler=lists.get("filler", ()),
        question_words=lists.get("question_words", ()),
        compare_cues=lists.get("compare_cues", ()),
        timeline_cues=lists.get("timeline_cues", ()),
        followup_cues=lists.get("followup_cues", ()),
        source_cues=lists.get("source_cues", ()),
        entities=lists.get("entities", ()),
        generic=lists.get("generic", ()),
        answer_types=answer_types,
    )


def fact_files(directory: Path) -> list[Path]:
    """The fact files of a knowledge directory, in a stable order."""
    return sorted(directory.glob("*.facts.yaml"))


def _date(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def dump_knowledge(
    sources: Iterable[Source],
    facts: Iterable[Fact],
    *,
    as_json: bool = False,
    topics: Iterable[Topic] = (),
) -> str:
    """A knowledge document that `load_fact_files` reads back to the same facts (and
    `topics`, when given): YAML, or JSON (which is YAML too, and reads many times faster at
    100k facts)."""
    doc: dict[str, Any] = {"sources": [], "facts": []}
    listed = [topic_json(t) for t in topics]
    if listed:
        doc = {"topics": listed, **doc}
    for s in sources:
        entry: dict[str, Any] = {"id": s.id, "title": s.title, "published": _date(s.published)}
        if s.url:
            entry["url"] = s.url
        if s.publisher:
            entry["publisher"] = s.publisher
        doc["sources"].append(entry)
    for f in facts:
        entry = {
            "id": f.id,
            "topic": f.topic,
            "text": f.text,
            "as_of": _date(f.as_of),
            "source": f.source,
        }
        for key in ("questions", "aliases", "keywords"):
            if getattr(f, key):
                entry[key] = list(getattr(f, key))
        if f.review_by:
            entry["review_by"] = _date(f.review_by)
        if f.status != "active":
            entry["status"] = f.status
        doc["facts"].append(entry)
    if as_json:
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)


def topic_json(topic: Topic) -> dict[str, Any]:
    """A topic as written in a knowledge file."""
    item: dict[str, Any] = {"id": topic.id, "label": topic.label}
    if topic.description:
        item["description"] = topic.description
    if topic.status_order is not None:
        item["status"] = topic.status_order
    if topic.compare_with:
        item["compare_with"] = list(topic.compare_with)
    return item


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader (or a crash, or a full disk) sees the old
    file or the whole new one, never a part: a temporary file beside it, flushed to disk,
    then renamed over it. The replaced file's permissions are kept; OSError on failure,
    with the old file untouched and the temporary file gone."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
