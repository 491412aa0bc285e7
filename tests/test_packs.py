"""Knowledge packs: loading, scoped topics, which dispute a question is about, and each
example pack answering its own blind question set when run alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.core.evaluate import evaluate, read_cases
from bot.core.models import Question
from bot.core.packs import local, pack_of
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store
from bot.store.knowledge_files import KnowledgeError
from bot.store.pack_files import load_pack, load_packs, pack_folders
from bot.store.packs import PackStore
from tests.cli_runner import ok, run_cli
from tests.conftest import DATA

EXAMPLES = BUNDLED_KNOWLEDGE / "examples"
WGA = BUNDLED_KNOWLEDGE / "packs" / "wga-2023"
TODAY = dt.date(2026, 12, 4)


def make_bot(tmp_path: Path, knowledge: Path, **config) -> StrikeBot:
    store = Store(tmp_path / "packs.db")
    return StrikeBot(store, BotConfig(knowledge_dir=knowledge, **config), today=lambda: TODAY)


def knowledge_dir(tmp_path: Path, *packs: Path, plain: bool = False) -> Path:
    """A knowledge folder holding copies of `packs` (without pack.yaml when `plain`)."""
    root = tmp_path / "knowledge"
    for pack in packs:
        target = root / "packs" / pack.name
        target.mkdir(parents=True)
        for path in pack.glob("*.yaml"):
            if not (plain and path.name == "pack.yaml"):
                shutil.copy(path, target / path.name)
    return root


# --- files --------------------------------------------------------------------------------


def test_a_pack_folder_loads_with_its_topics_scoped_to_it() -> None:
    files = load_pack(EXAMPLES / "kaiser-2023")
    assert files.pack.id == "kaiser-2023" and files.pack.parties
    assert {pack_of(t.id) for t in files.topics} == {"kaiser-2023"}
    assert {pack_of(f.topic) for f in files.knowledge.facts} == {"kaiser-2023"}
    compared = [t for t in files.topics if t.compare_with]
    assert compared and all(pack_of(c) == "kaiser-2023" for t in compared for c in t.compare_with)


def test_a_folder_of_facts_and_topics_only_is_a_pack_named_after_it(tmp_path: Path) -> None:
    folder = tmp_path / "UAW Local 12"
    folder.mkdir()
    for name in ("topics.yaml", "kaiser-2023.facts.yaml"):
        shutil.copy(EXAMPLES / "kaiser-2023" / name, folder / name)
    assert pack_folders(folder) == [folder]
    files = load_pack(folder)
    assert files.pack.id == "uaw-local-12" and not files.pack.parties


def test_a_fact_on_a_topic_not_listed_is_refused_with_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.copytree(EXAMPLES / "kaiser-2023", folder)
    facts = folder / "kaiser-2023.facts.yaml"
    facts.write_text(facts.read_text().replace("topic: vote.seiu-uhw", "topic: made.up", 1))
    with pytest.raises(KnowledgeError, match=r"topics\.yaml:1: topic 'made\.up'"):
        load_pack(folder)


def test_a_malformed_pack_file_names_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.copytree(EXAMPLES / "kaiser-2023", folder)
    (folder / "pack.yaml").write_text("id: p\nparties:\n  - name: X\n    role: boss\n")
    with pytest.raises(KnowledgeError, match=r"pack\.yaml:4: role must be one of"):
        load_pack(folder)


def test_two_packs_may_not_share_an_id(tmp_path: Path) -> None:
    root = knowledge_dir(tmp_path, EXAMPLES / "kaiser-2023")
    shutil.copytree(EXAMPLES / "kaiser-2023", root / "packs" / "again")
    with pytest.raises(KnowledgeError, match="pack id 'kaiser-2023' is also used"):
        load_packs(root)


# --- several disputes in one bot ----------------------------------------------------------


@pytest.fixture
def two(tmp_path: Path) -> StrikeBot:
    """The WGA writers and the SAG-AFTRA actors: both packs have a `strike.duration`."""
    return make_bot(tmp_path, knowledge_dir(tmp_path, WGA, EXAMPLES / "sag-aftra-2023"))


def test_the_same_topic_id_in_two_packs_never_mixes(two: StrikeBot) -> None:
    topics = two.knowledge.topics
    assert {"wga-2023/strike.duration", "sag-aftra-2023/strike.duration"} <= set(topics)
    wga = two.answer("how long has the WGA been on strike?")
    assert "130" in wga.text and wga.dispute == "WGA writers' strike, 2023"
    sag = two.answer("how many days did the SAG-AFTRA strike last?")
    assert "118" in sag.text and "130" not in sag.text


def test_a_question_fitting_two_disputes_gets_both_answers_labelled(two: StrikeBot) -> None:
    answer = two.answer("how long did the strike last?")
    assert answer.answered
    labels = [st.label for st in answer.statements]
    assert any(label.startswith("WGA writers") for label in labels), labels
    assert any(label.startswith("SAG-AFTRA") for label in labels), labels
    assert "130" in answer.text and "118" in answer.text


def test_a_channel_bound_to_a_pack_answers_from_it(two: StrikeBot) -> None:
    PackStore(two.store).bind("slack", "C1", "sag-aftra-2023", "slack:UADMIN")
    answer = two.ask(Question("how long did the strike last?", "slack", "U1", "C1"))
    assert "118" in answer.text and "130" not in answer.text
    # a party of the other dispute, named, still goes there
    other = two.ask(Question("how long has the WGA been on strike?", "slack", "U1", "C1"))
    assert "130" in other.text


def test_status_shows_one_dispute_or_each_labelled(two: StrikeBot) -> None:
    sag = two.status(pack="sag-aftra-2023")
    assert {pack_of(st.fact.topic) for st in sag.statements} == {"sag-aftra-2023"}
    both = two.status()
    assert {pack_of(st.fact.topic) for st in both.statements} == {"wga-2023", "sag-aftra-2023"}
    assert all(" - " in st.label for st in both.statements)
    unknown = two.status(pack="nope")
    assert not unknown.answered and "no dispute called 'nope'" in unknown.text


def test_the_default_pack_answers_unless_another_party_is_named(tmp_path: Path) -> None:
    root = knowledge_dir(tmp_path, WGA, EXAMPLES / "sag-aftra-2023")
    bot = make_bot(tmp_path, root, default_pack="wga-2023")
    assert "130" in bot.answer("how long did the strike last?").text
    assert "118" in bot.answer("how long did the SAG-AFTRA strike last?").text


def test_a_pack_gone_from_the_folder_stops_answering_but_keeps_its_facts(
    tmp_path: Path,
) -> None:
    root = knowledge_dir(tmp_path, WGA, EXAMPLES / "sag-aftra-2023")
    make_bot(tmp_path, root).store.close()
    shutil.rmtree(root / "packs" / "sag-aftra-2023")
    bot = make_bot(tmp_path, root)
    assert list(bot.router.indexes) == ["wga-2023"]
    assert any(pack_of(f.topic) == "sag-aftra-2023" for f in bot.store.facts())
    assert "118" not in bot.answer("how many days did the SAG-AFTRA strike last?").text


# --- each example pack, alone, on its blind questions ------------------------------------

# Scored at first contact (before any change made for them; the engine as it was then) and
# now: kaiser 36 -> 54, sag-aftra 43 -> 52 (both used for tuning since), ila-ports 40 -> 42,
# canada-post 46 -> 49 (never tuned on: changes came from the other packs). The floors keep
# what was reached; see the README.
FLOORS = {
    "kaiser-2023": 0.95,
    "sag-aftra-2023": 0.88,
    "ila-ports-2024": 0.68,
    "canada-post-2024": 0.8,
}


@pytest.mark.parametrize("pack", sorted(FLOORS))
def test_an_example_pack_run_alone_meets_its_floor(tmp_path: Path, pack: str) -> None:
    """As a new admin would run it: only its facts and topics, on a fresh database."""
    folder = tmp_path / pack
    folder.mkdir()
    for path in (EXAMPLES / pack).glob("*.yaml"):
        if path.name != "pack.yaml":
            shutil.copy(path, folder / path.name)
    bot = make_bot(tmp_path, folder)
    cases = read_cases(DATA / "packs" / f"{pack}.jsonl")
    assert len(cases) >= 50
    assert sum(not c.answerable for c in cases) >= 10
    report = evaluate(cases, bot.answer)
    misses = "\n".join(f"{m.case.question!r}: {m.why}" for m in report.misses)
    assert report.rate >= FLOORS[pack], f"{report.passed}/{report.total}\n{misses}"


def test_eval_reports_per_dispute(two: StrikeBot, tmp_path: Path) -> None:
    file = tmp_path / "q.jsonl"
    file.write_text(
        '{"q": "how long did the strike last?", "expect": [["118"]], "pack": "sag-aftra-2023"}\n'
        '{"q": "how long did the strike last?", "expect": [["130"]], "pack": "wga-2023"}\n'
    )
    report = evaluate(read_cases(file), two.answer)
    assert report.passed == 2
    assert report.by_pack == {"sag-aftra-2023": [1, 1], "wga-2023": [1, 1]}


def test_local_topic_ids_are_shown_to_admins() -> None:
    assert local("wga-2023/offer.pay") == "offer.pay" and pack_of("offer.pay") == ""


# --- the packs commands -------------------------------------------------------------------


def test_packs_commands_add_show_bind_export_and_retire(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"

    def cli(*args: str) -> str:
        return ok(run_cli(list(args), db=db, cwd=tmp_path))

    listed = json.loads(cli("packs", "list", "--json"))
    assert [p["id"] for p in listed] == ["wga-2023"] and listed[0]["in_use"]
    assert "kaiser-2023: 71 added" in cli("packs", "add", "kaiser-2023")  # an example, by name
    shown = json.loads(cli("packs", "show", "kaiser-2023", "--json"))
    assert shown["facts"] == 71 and shown["parties"][0]["role"] == "union"
    cli("packs", "bind", "slack", "C42", "kaiser-2023")
    assert json.loads(cli("packs", "show", "kaiser-2023", "--json"))["channels"] == ["slack:C42"]
    cli("packs", "export", "kaiser-2023", str(tmp_path / "out"))
    again = load_pack(tmp_path / "out")
    original = load_pack(EXAMPLES / "kaiser-2023")
    assert again.pack.parties == original.pack.parties
    assert {f.id: f.topic for f in again.knowledge.facts} == {
        f.id: f.topic for f in original.knowledge.facts
    }
    assert "71 facts retracted" in cli("packs", "retire", "kaiser-2023", "--reason", "over")
    audit = json.loads(cli("facts", "audit", "--json", "--limit", "5"))
    assert all(e["action"] == "retract" and "kaiser-2023 retired" in e["note"] for e in audit)
    assert "retired" in cli("packs", "list")
    refused = run_cli(["packs", "add", str(WGA)], db=db, cwd=tmp_path)
    assert refused.returncode == 2 and "bundled pack" in refused.stderr


def test_a_database_from_before_packs_moves_into_the_bundled_pack(tmp_path: Path) -> None:
    """Migration v5: the topics of an older database are the bundled WGA strike's."""
    path = tmp_path / "old.db"
    store = Store(path)
    StrikeBot(store, BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)).store.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "drop table packs; drop table channel_packs;"
        " delete from schema_migrations where version >= 5;"
        " update topics set id = substr(id, 10), compare_with = replace(compare_with,"
        " 'wga-2023/', '') where id like 'wga-2023/%';"
        " update facts set topic = substr(topic, 10) where topic like 'wga-2023/%';"
    )
    conn.close()
    assert "offer.pay" in {r[0] for r in sqlite3.connect(path).execute("select id from topics")}
    bot = make_bot(tmp_path, BUNDLED_KNOWLEDGE)
    assert "wga-2023/offer.pay" in bot.store.topics()
    assert bot.store.topics()["wga-2023/offer.pay"].compare_with == ("wga-2023/demand.pay",)
    assert all(pack_of(f.topic) == "wga-2023" for f in bot.store.facts())
    assert [p.id for p in PackStore(bot.store).packs()] == ["wga-2023"]
    assert "130" in bot.answer("how long has the WGA been on strike?").text


# --- timelines ----------------------------------------------------------------------------


def test_how_has_the_offer_changed_gets_the_topics_facts_in_date_order(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, knowledge_dir(tmp_path, EXAMPLES / "kaiser-2023", plain=True))
    answer = bot.answer("how has kaiser's pay offer changed?")
    assert answer.kind == "timeline" and len(answer.statements) >= 3
    dates = [st.fact.as_of for st in answer.statements]
    assert dates == sorted(dates)
    assert answer.statements[-1].label.endswith("(current)")
    assert "21%" in answer.text and "10%" in answer.text
    assert len(answer.citations) >= 2
    # a question about one moment is not a timeline
    assert bot.answer("what is kaiser offering now?").kind == "answer"


def test_strikebot_timeline_takes_a_topic_id_or_label(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, knowledge_dir(tmp_path, EXAMPLES / "kaiser-2023"))
    by_id = bot.timeline("offer.pay")
    assert by_id.kind == "timeline"
    by_label = bot.timeline(bot.knowledge.label("kaiser-2023/offer.pay"))
    assert by_label.fact_ids == by_id.fact_ids
    unknown = bot.timeline("no such thing")
    assert unknown.kind == "invalid" and "topics" in unknown.text
    db = tmp_path / "cli.db"
    out = ok(run_cli(["timeline", "offer.pay"], db=db, cwd=tmp_path,
                     env={"STRIKEBOT_KNOWLEDGE_DIR": str(EXAMPLES / "kaiser-2023")}))  # fmt: skip
    assert "(current)" in out and out.index("21 Sep 2023") < out.index("13 Oct 2023")


# --- one file, and facts import with topics -----------------------------------------------

ONE_FILE = """\
pack:
  id: riverside-2025
  name: Riverside nurses' strike, 2025
  parties:
    - name: Riverside Health
      role: employer
      aliases: [the hospital]
topics:
  - id: offer.pay
    label: The hospital's pay offer
    status: 1
sources:
  - id: ledger-2025-03-10
    title: Riverside nurses enter second week of strike
    published: 2025-03-10
facts:
  - id: rh-offer-3
    topic: offer.pay
    text: Riverside Health offered raises of 3% a year for three years.
    as_of: 2025-03-10
    source: ledger-2025-03-10
    questions: [what is the hospital offering]
"""


def test_a_pack_in_one_file_loads_and_is_added(tmp_path: Path) -> None:
    path = tmp_path / "riverside.pack.yaml"
    path.write_text(ONE_FILE)
    files = load_pack(path)
    assert files.pack.id == "riverside-2025" and files.pack.parties[0].aliases == ("the hospital",)
    assert [t.id for t in files.topics] == ["riverside-2025/offer.pay"]
    db = tmp_path / "cli.db"
    assert "riverside-2025: 1 added" in ok(
        run_cli(["packs", "add", str(path)], db=db, cwd=tmp_path)
    )
    out = ok(run_cli(["ask", "what is the hospital offering"], db=db, cwd=tmp_path))
    assert "3%" in out and "Riverside nurses' strike, 2025" in out
    root = tmp_path / "k"
    root.mkdir()
    shutil.copy(path, root / path.name)
    assert [p.pack.id for p in load_packs(root)] == ["riverside-2025"]


def test_facts_import_takes_topics_and_refuses_unknown_ones(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    with_topics = tmp_path / "new.facts.yaml"
    text = "topics:" + ONE_FILE.split("topics:", 1)[1]
    with_topics.write_text(text.replace("rh-offer-3", "rh-offer-three"))
    done = run_cli(["facts", "import", str(with_topics)], db=db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    facts = json.loads(ok(run_cli(["facts", "list", "--json"], db=db, cwd=tmp_path)))
    added = next(f for f in facts if f["id"] == "rh-offer-three")
    assert (added["pack"], added["topic"]) == ("wga-2023", "offer.pay")
    topics = ok(run_cli(["topics"], db=db, cwd=tmp_path))
    assert "The hospital's pay offer" in topics or "Studios' pay offer" in topics
    unknown = tmp_path / "unknown.facts.yaml"
    unknown.write_text(
        text.split("sources:", 1)[1]
        .join(["sources:", ""])
        .replace("topic: offer.pay", "topic: made.up")
        .replace("rh-offer-3", "rh-offer-x")
    )
    refused = run_cli(["facts", "import", str(unknown)], db=db, cwd=tmp_path)
    assert refused.returncode == 2 and "made.up" in refused.stderr
