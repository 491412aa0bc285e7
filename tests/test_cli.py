"""End-to-end tests of the `strikebot` command line, run as a subprocess through the console
script (the exact command forms of issue 2 that scripts rely on).

Every test gets its own database file; each subprocess start costs about half a second, so
related checks share one run where they can.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import CLI, Run, failed, ok, run_cli  # noqa: F401
from tests.conftest import need_shared

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DURATION_Q = "how long has the strike lasted?"
PAY_Q = "what did the studios offer on pay"
WORLD_CUP_Q = "who won the 2022 world cup"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def one_json(proc: subprocess.CompletedProcess) -> Any:
    lines = ok(proc).splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {len(lines)}: {proc.stdout[:500]}"
    return json.loads(lines[0])


def check_citation(citation: dict[str, Any]) -> None:
    assert isinstance(citation["title"], str) and citation["title"]
    assert ISO_DATE.match(citation["published"]), citation
    dt.date.fromisoformat(citation["published"])
    for key in ("url", "publisher"):
        if key in citation:
            assert isinstance(citation[key], str) and citation[key]


def check_answer(obj: dict[str, Any]) -> dict[str, Any]:
    """The stable `ask --json` shape of issue 2."""
    assert {"answered", "text", "citations", "facts", "confidence", "suggestions"} <= set(obj)
    assert isinstance(obj["answered"], bool)
    assert isinstance(obj["text"], str) and obj["text"].strip()
    assert isinstance(obj["citations"], list)
    for citation in obj["citations"]:
        check_citation(citation)
    assert isinstance(obj["facts"], list)
    assert all(isinstance(f, str) and f for f in obj["facts"])
    assert isinstance(obj["confidence"], int | float)
    assert 0.0 <= obj["confidence"] <= 1.0
    assert isinstance(obj["suggestions"], list)
    assert all(isinstance(s, str) and s for s in obj["suggestions"])
    if obj["answered"]:
        assert obj["facts"] and obj["citations"]
    return obj


def add_args(**over: str) -> list[str]:
    fields = {
        "--text": "The studios raised their pay offer to 6% in the first year, 5% in the second.",
        "--topic": "offer.pay",
        "--as-of": "2023-09-20",
        "--source-title": "Test source",
        "--published": "2023-09-20",
        "--url": "https://example.org/x",
        "--by": "alice",
    }
    fields.update(over)
    return ["facts", "add", *(x for kv in fields.items() for x in kv), "--json"]


# --- ask ----------------------------------------------------------------------------------


def test_ask_prints_the_figure_and_its_source(run: Run, db: Path) -> None:
    out = ok(run("ask", DURATION_Q))
    assert "130" in out
    assert "Source" in out
    assert "2023" in out  # as of which date
    assert db.exists(), "STRIKEBOT_DB must be the database used"


def test_ask_json_answered(run: Run) -> None:
    answer = check_answer(one_json(run("ask", "--json", PAY_Q)))
    assert answer["answered"] is True
    assert all(p in answer["text"] for p in ("5%", "4%", "3.5%"))
    assert answer["confidence"] >= 0.5
    assert any(c["published"] == "2023-09-11" for c in answer["citations"])


def test_ask_json_unanswerable_is_declined_with_suggestions(run: Run) -> None:
    proc = run("ask", "--json", WORLD_CUP_Q)
    answer = check_answer(one_json(proc))
    assert proc.returncode == 0
    assert answer["answered"] is False
    assert answer["suggestions"]
    assert answer["facts"] == []
    assert answer["citations"] == []


def test_ask_json_stdin_one_object_per_line_in_order(run: Run) -> None:
    questions = [DURATION_Q, "", WORLD_CUP_Q, "what about AI?\r", "   "]
    out = ok(run("ask", "--json", "-", input="\n".join(questions) + "\n"))
    answers = [check_answer(json.loads(line)) for line in out.splitlines()]
    assert len(answers) == len(questions)
    duration, empty, world_cup, ai, blank = answers
    assert duration["answered"] and "130" in duration["text"]
    assert not empty["answered"]
    assert "question" in empty["text"].lower()  # it says a question is needed
    assert empty["suggestions"]
    assert not world_cup["answered"] and world_cup["suggestions"]
    assert ai["answered"] and "artificial intelligence" in ai["text"].lower()
    assert not blank["answered"] and "question" in blank["text"].lower()


def test_python_dash_m_bot_runs_the_same_cli(run: Run) -> None:
    answer = check_answer(
        one_json(run("ask", "--json", DURATION_Q, cmd=[sys.executable, "-m", "bot"]))
    )
    assert answer["answered"] and "130" in answer["text"]


# --- status, chat -------------------------------------------------------------------------


def test_status_text_and_json(run: Run) -> None:
    text = ok(run("status"))
    assert "130" in text
    assert "Source" in text
    status = one_json(run("status", "--json"))
    assert {"text", "as_of", "citations"} <= set(status)
    assert status["as_of"] == "2023-09-11"
    assert "130" in status["text"]
    assert status["citations"]
    for citation in status["citations"]:
        check_citation(citation)
    assert status["text"].strip() == text.strip()


def test_chat_answers_questions_and_commands_then_quits(run: Run) -> None:
    out = ok(run("chat", input=f"{DURATION_Q}\nstatus\ntopics\nquit\n"))
    assert "130" in out
    assert "Latest picture" in out  # status
    assert "I can answer questions about" in out  # topics
    assert "Source" in out


# --- facts --------------------------------------------------------------------------------


def facts_list(run: Run, **kw: Any) -> list[dict[str, Any]]:
    return json.loads(ok(run("facts", "list", "--json", **kw)))


def test_facts_list_json(run: Run) -> None:
    facts = facts_list(run)
    assert len(facts) >= 20
    ids = [f["id"] for f in facts]
    assert len(ids) == len(set(ids))
    for fact in facts:
        assert {"id", "text", "topic", "as_of", "source", "status"} <= set(fact)
        assert fact["text"].strip() and fact["topic"] and fact["source"]
        assert ISO_DATE.match(fact["as_of"])
        assert fact["status"] == "active"


def test_fact_add_supersede_retract_restore_and_audit(run: Run) -> None:
    old_ids = {f["id"] for f in facts_list(run) if f["topic"] == "offer.pay"}
    assert old_ids, "the bundled knowledge has the studios' pay offer"

    added = json.loads(ok(run(*add_args())))
    new_id = added["id"]
    assert new_id and new_id not in old_ids
    assert added["topic"] == "offer.pay" and added["as_of"] == "2023-09-20"

    # The newer fact on the same topic supersedes the old one; the old may show as history.
    newer = check_answer(one_json(run("ask", "--json", PAY_Q)))
    assert newer["answered"]
    assert new_id in newer["facts"]
    assert not old_ids & set(newer["facts"])
    assert "6% in the first year" in newer["text"]
    assert "Test source" in [c["title"] for c in newer["citations"]]
    test_source = next(c for c in newer["citations"] if c["title"] == "Test source")
    assert test_source["published"] == "2023-09-20"
    assert test_source["url"] == "https://example.org/x"

    retracted = ok(run("facts", "retract", new_id, "--reason", "wrong", "--by", "bob"))
    assert new_id in retracted
    older = check_answer(one_json(run("ask", "--json", PAY_Q)))
    assert older["answered"]
    assert new_id not in older["facts"]
    assert old_ids & set(older["facts"])
    assert "Test source" not in [c["title"] for c in older["citations"]]
    assert "3.5%" in older["text"]

    assert new_id in ok(run("facts", "restore", new_id))
    again = check_answer(one_json(run("ask", "--json", PAY_Q)))
    assert new_id in again["facts"]

    entries = json.loads(ok(run("facts", "audit", "--json")))
    for entry in entries:
        assert {"who", "when", "action", "fact_id", "before", "after"} <= set(entry)
        dt.datetime.fromisoformat(entry["when"])
    mine = [e for e in entries if e["fact_id"] == new_id]
    assert [e["action"] for e in mine] == ["restore", "retract", "add"]  # newest first
    restore, retract, add = mine
    assert add["who"] == "cli:alice"
    assert add["before"] is None and add["after"]["status"] == "active"
    assert add["after"]["text"] == added["text"]
    assert retract["who"] == "cli:bob"
    assert retract["before"]["status"] == "active"
    assert retract["after"]["status"] == "retracted"
    assert retract["note"] == "wrong"
    assert restore["who"].startswith("cli:")
    assert restore["before"]["status"] == "retracted"
    assert restore["after"]["status"] == "active"

    listed = {f["id"]: f for f in facts_list(run)}
    assert listed[new_id]["status"] == "active"
    assert listed[new_id]["as_of"] == "2023-09-20"
    assert old_ids <= set(listed)  # superseded, never deleted


def test_facts_errors_are_one_line_messages(run: Run) -> None:
    bad_date = run(*add_args(**{"--as-of": "2023-02-30"}))
    assert "2023-02-30" in failed(bad_date)
    assert bad_date.returncode == 2
    unknown = run("facts", "retract", "no-such-fact", "--reason", "x")
    assert "no-such-fact" in failed(unknown)
    assert unknown.returncode == 5


def test_export_then_import_on_a_fresh_db_round_trips(run: Run, tmp_path: Path) -> None:
    added = json.loads(ok(run(*add_args(**{"--text": 'A "quoted" fact: yes — 130 días'}))))
    ok(run("facts", "retract", "strike-duration-130", "--reason", "test", "--by", "bob"))
    exported = tmp_path / "export.yaml"
    ok(run("facts", "export", str(exported)))
    assert exported.is_file()
    before = facts_list(run)
    assert added["id"] in {f["id"] for f in before}

    fresh = tmp_path / "fresh.db"
    counts = ok(run("facts", "import", str(exported), db=fresh))
    assert "1 added" in counts and "1 updated" in counts
    after = facts_list(run, db=fresh)
    assert after == before  # ids, texts, topics, dates, sources and statuses
    assert "0 added, 0 updated" in ok(run("facts", "import", str(exported), db=fresh))


# --- importing malformed knowledge files --------------------------------------------------

GOOD_PART = """\
sources:
  - id: import-test-source
    title: Import test source
    published: 2023-09-20
facts:
  - id: import-good-fact
    text: A valid fact that must not be loaded when the file has a problem.
    topic: misc.import-test
    as_of: 2023-09-20
    source: import-test-source
"""  # 10 lines: the bad fact starts on line 11

BAD_FACTS = {
    # case: (the bad fact, line the error must name, words the message must contain)
    "bad-indentation": (
        "  - id: import-bad-fact\n"
        "    topic: misc.import-test\n"
        "     text: indented one space too far\n"
        "    as_of: 2023-09-20\n"
        "    source: import-test-source\n",
        13,
        "invalid YAML",
    ),
    "missing-text": (
        "  - id: import-bad-fact\n"
        "    topic: misc.import-test\n"
        "    as_of: 2023-09-20\n"
        "    source: import-test-source\n",
        11,
        "'text'",
    ),
    "unknown-source": (
        "  - id: import-bad-fact\n"
        "    text: A fact citing a source nobody defined.\n"
        "    topic: misc.import-test\n"
        "    as_of: 2023-09-20\n"
        "    source: no-such-source\n",
        11,
        "no-such-source",
    ),
    "bad-date": (
        "  - id: import-bad-fact\n"
        "    text: A fact with an impossible date.\n"
        "    topic: misc.import-test\n"
        "    as_of: 2023-02-30\n"
        "    source: import-test-source\n",
        14,
        "day is out of range",
    ),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A database with the bundled knowledge loaded, and its `facts list --json`."""
    folder = tmp_path_factory.mktemp("seed")
    db = folder / "seed.db"
    proc = run_cli(["facts", "list", "--json"], db=db, cwd=folder)
    return db, json.loads(ok(proc))


def copy_db(source: Path, target: Path) -> None:
    for part in source.parent.glob(source.name + "*"):  # the database and any WAL files
        shutil.copy(part, target.parent / part.name.replace(source.name, target.name))


@pytest.mark.parametrize("case", BAD_FACTS)
def test_import_malformed_file_is_rejected_whole(
    case: str, run: Run, db: Path, tmp_path: Path, seeded: tuple[Path, list]
) -> None:
    seed_db, baseline = seeded
    copy_db(seed_db, db)
    bad_fact, line, words = BAD_FACTS[case]
    path = tmp_path / f"{case}.facts.yaml"
    path.write_text(GOOD_PART + bad_fact, encoding="utf-8")

    err = failed(run("facts", "import", str(path)))
    assert f"{path}:{line}:" in err, err
    assert words in err
    assert facts_list(run) == baseline, "a rejected file must change nothing"


def test_import_bad_date_reports_only_the_real_problem(
    run: Run, db: Path, tmp_path: Path, seeded: tuple[Path, list]
) -> None:
    copy_db(seeded[0], db)
    bad_fact = BAD_FACTS["bad-date"][0]
    path = tmp_path / "bad-date.facts.yaml"
    path.write_text(GOOD_PART + bad_fact, encoding="utf-8")
    err = failed(run("facts", "import", str(path)))
    assert "missing required field 'as_of'" not in err, err


# --- eval ---------------------------------------------------------------------------------


def test_eval_development_set_passes(run: Run) -> None:
    out = ok(run("eval", str(need_shared("eval", "questions.jsonl"))))
    assert "passed 28/28" in out


@pytest.mark.parametrize(
    ("lines", "bad_line", "words"),
    [
        (['{"q": "how long?", "expect": [["130"]]}', "{not json"], 2, "not JSON"),
        (
            [
                '{"q": "how long?", "expect": [["130"]]}',
                "",
                '{"question": "no q key", "expect": [["x"]]}',
            ],
            3,
            '"q"',
        ),
        (['{"q": "how long?", "expect": "130"}'], 1, '"expect"'),
    ],
    ids=["bad-json", "missing-q", "bad-expect"],
)
def test_eval_malformed_file_names_the_line(
    lines: list[str], bad_line: int, words: str, run: Run, tmp_path: Path
) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run("eval", str(path))
    err = failed(proc)
    assert f"{path}:{bad_line}:" in err
    assert words in err
    assert "passed" not in proc.stdout


# --- choosing the database ----------------------------------------------------------------


def test_db_option_wins_over_the_environment(run: Run, tmp_path: Path) -> None:
    from_env = tmp_path / "env.db"
    chosen = tmp_path / "sub" / "chosen.db"
    added = json.loads(ok(run("--db", str(chosen), *add_args(), db=from_env)))
    assert chosen.exists()
    assert not from_env.exists()
    listed = facts_list(run, db=chosen)
    assert added["id"] in {f["id"] for f in listed}
