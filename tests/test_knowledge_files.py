"""Loading and rejecting knowledge files: file and line in every problem, nothing partial."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.admin import AdminService
from bot.core.language import tokens
from bot.core.packs import pack_language
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.knowledge_files import (
    KnowledgeError,
    dump_knowledge,
    load_fact_files,
    load_language,
)
from bot.store.pack_files import general_language, load_pack, load_packs

GOOD = """\
sources:
  - id: test-source
    title: A test article
    published: 2023-10-01
    url: https://example.org/a
facts:
  - id: test-fact
    topic: strike.duration
    text: The strike had lasted 150 days.
    as_of: 2023-10-01
    source: test-source
    questions: [how long now]
"""


def write(tmp_path: Path, text: str, name: str = "x.facts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_knowledge_is_valid_and_large_enough():
    [wga] = load_packs(BUNDLED_KNOWLEDGE)
    assert wga.pack.id == "wga-2023"
    assert len(wga.knowledge.facts) >= 20
    topics = {t.id for t in wga.topics}
    assert {f.topic for f in wga.knowledge.facts} <= topics
    sources = {s.id for s in wga.knowledge.sources}
    assert all(f.source in sources for f in wga.knowledge.facts)
    assert all(isinstance(f.as_of, dt.date) for f in wga.knowledge.facts)


def test_the_wga_pack_has_the_synonyms_the_issue_names():
    [wga] = load_packs(BUNDLED_KNOWLEDGE)
    lang = pack_language(general_language(), wga.pack)
    assert lang.concepts(["writers"]) == lang.concepts(["guild"]) == lang.concepts(["wga"])
    assert lang.concepts(["studios"]) == lang.concepts(["producers"]) == ["amptp"]
    assert lang.concepts(["artificial", "intelligence"]) == ["ai"]
    assert lang.concepts(["salary"]) == lang.concepts(["raise"]) == lang.concepts(["wage"])
    assert lang.concepts(["directors", "guild"]) == ["dga"]


def _example_packs():
    return [load_pack(p) for p in sorted((BUNDLED_KNOWLEDGE / "examples").iterdir())]


def test_general_language_names_no_party_of_any_pack():
    """The language shipped with the code is dispute-neutral: no party, person or company
    of the bundled or the example packs appears in it."""
    general = general_language()
    words = {w for key in general.phrases for w in key} | general.surface_words()
    packs = [*load_packs(BUNDLED_KNOWLEDGE), *_example_packs()]
    assert len(packs) >= 4
    for files in packs:
        for party in files.pack.parties:
            name = tuple(tokens(party.name))
            assert name not in general.phrases, (files.pack.id, party.name)
            distinctive = [w for w in name if len(w) > 3 and w not in {"union", "guild"}]
            assert not (set(distinctive) and set(distinctive) <= words), (files.pack.id, name)


def test_general_language_reads_labour_words_alike():
    lang = general_language()
    assert lang.concepts(["pay", "bump"]) == lang.concepts(["raise"]) == lang.concepts(["wages"])
    assert lang.concepts(["walkout"]) == lang.concepts(["strike"])
    assert lang.concepts(["ta"]) == lang.concepts(["tentative", "agreement"])
    assert lang.concepts(["strike", "pay"]) != lang.concepts(["pay"])
    # a role word is the role, not a party of one strike
    assert lang.concepts(["union"]) == ["union"] and lang.concepts(["companies"]) == ["employer"]


def test_a_good_file_loads(tmp_path):
    knowledge = load_fact_files([write(tmp_path, GOOD)])
    assert [f.id for f in knowledge.facts] == ["test-fact"]
    assert knowledge.facts[0].as_of == dt.date(2023, 10, 1)
    assert knowledge.sources[0].url == "https://example.org/a"


@pytest.mark.parametrize(
    ("broken", "line", "message"),
    [
        (GOOD.replace("    text: The strike had lasted 150 days.\n", ""), 7, "missing required field 'text'"),
        (GOOD.replace("as_of: 2023-10-01", "as_of: last tuesday"), 10, "ISO date"),
        (GOOD.replace("source: test-source\n    questions", "source: nowhere\n    questions"), 7, "'nowhere' is not defined"),
        (GOOD.replace("questions: [how long now]", "questionz: [how long now]"), 12, "unknown field 'questionz'"),
        (GOOD.replace("id: test-fact", "id: Test Fact!"), 7, "must match"),
        (GOOD.replace("url: https://example.org/a", "url: example.org"), 5, "http"),
        (GOOD + "  - id: test-fact\n    topic: a\n    text: b\n    as_of: 2023-01-01\n    source: test-source\n", 13, "already used"),
        (GOOD.replace("facts:\n  - id", "facts:\n - id\n   bad"), 8, "invalid YAML"),
        ("", 1, "empty"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)  # fmt: skip
def test_problems_name_file_and_line(tmp_path, broken, line, message):
    path = write(tmp_path, broken)
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    text = str(caught.value)
    assert f"{path}:{line}:" in text, text
    assert message in text


def test_one_bad_fact_rejects_the_whole_set(tmp_path):
    good = write(tmp_path, GOOD, "a.facts.yaml")
    bad = write(
        tmp_path,
        GOOD.replace("test-source", "other")
        .replace("test-fact", "f2")
        .replace("2023-10-01\n    source", "nope\n    source"),
        "b.facts.yaml",
    )
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([good, bad])
    assert "b.facts.yaml" in str(caught.value)


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "bin.facts.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(KnowledgeError, match="not UTF-8"):
        load_fact_files([path])


def test_a_failed_import_changes_nothing(bot, tmp_path, root):
    admin = AdminService(bot)
    before = bot.store.facts()
    audit_before = bot.store.audit(limit=1000)
    broken = (
        GOOD
        + "  - id: second\n    topic: x\n    text: y\n    as_of: 2023-13-45\n    source: test-source\n"
    )
    with pytest.raises(KnowledgeError):
        admin.import_file(root, write(tmp_path, broken))
    assert bot.store.facts() == before
    assert bot.store.audit(limit=1000) == audit_before


def test_export_reads_back_identically(bot, tmp_path):
    text = dump_knowledge(bot.store.sources().values(), bot.store.facts())
    path = write(tmp_path, text, "export.facts.yaml")
    again = load_fact_files([path])
    assert sorted(again.facts, key=lambda f: f.id) == sorted(bot.store.facts(), key=lambda f: f.id)


def test_yaml_booleans_in_word_lists_stay_words(tmp_path):
    path = write(tmp_path, "stopwords: [on, no, yes, off]\n", "language.yaml")
    lang = load_language(path)
    assert {"on", "no", "yes", "off"} <= lang.stopwords


def test_json_knowledge_reads_fast_and_still_reports_lines(bot, tmp_path):
    text = dump_knowledge(bot.store.sources().values(), bot.store.facts(), as_json=True)
    good = write(tmp_path, text, "export.facts.json")
    again = load_fact_files([good])
    assert sorted(again.facts, key=lambda f: f.id) == sorted(bot.store.facts(), key=lambda f: f.id)
    broken = write(
        tmp_path, text.replace('"as_of": "2023-09-11"', '"as_of": "soon"', 1), "bad.facts.json"
    )
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([broken])
    problem = str(caught.value)
    assert "bad.facts.json:" in problem and ":0:" not in problem and "ISO date" in problem


# Every required field of a fact and of a source: without it the file is refused, at the
# line of the fact or source (were a field optional, the fact would be dropped silently).
REQUIRED = [
    ("    as_of: 2023-10-01\n", "", 7, "as_of"),
    ("    text: The strike had lasted 150 days.\n", "", 7, "text"),
    ("    topic: strike.duration\n", "", 7, "topic"),
    ("    source: test-source\n", "", 7, "source"),
    ("  - id: test-fact\n    topic", "  - topic", 7, "id"),
    ("    title: A test article\n", "", 2, "title"),
    ("    published: 2023-10-01\n", "", 2, "published"),
    ("  - id: test-source\n    title", "  - title", 2, "id"),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    REQUIRED,
    ids=["fact-as_of", "fact-text", "fact-topic", "fact-source", "fact-id", "source-title",
         "source-published", "source-id"],
)  # fmt: skip
def test_a_missing_required_field_is_refused_with_file_and_line(
    tmp_path, old: str, new: str, line: int, field: str
):
    assert GOOD.count(old) == 1
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    assert f"{path}:{line}: missing required field '{field}'" in caught.value.problems
