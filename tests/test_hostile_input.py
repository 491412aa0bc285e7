"""Input made to hurt (issue 12, items 6-9): YAML alias bombs, deep nesting, huge integers
on the command line, and URLs, control characters and example questions that pass a loose
check. Each is refused with a clear message (`file:line` for files) or cleaned, on every
path it can arrive by."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import Bounded, cli
from bot.core.admin import AdminInputError
from bot.core.evaluate import EvalFileError, read_cases
from bot.core.models import Question
from bot.core.report import ReportService
from bot.core.review import ReviewService
from bot.store.db import NotFound
from bot.store.knowledge_files import KnowledgeError, load_fact_files, load_language
from tests.cli_runner import Run, failed

EXIT_KNOWLEDGE = 4

GOOD_SOURCE = """\
sources:
  - id: test-source
    title: A test article
    published: 2023-09-11
"""

# The 351-byte file of the issue, in spirit: nine levels of nine aliases, 9**9 strings once
# expanded (hundreds of millions of nodes, gigabytes) from a few hundred bytes.
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
facts: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

ALIASED_QUESTIONS = (
    GOOD_SOURCE
    + """\
facts:
  - id: one
    topic: strike.duration
    text: The strike had lasted 130 days.
    as_of: 2023-09-11
    source: test-source
    questions: &asked [how long, how many days]
  - id: two
    topic: strike.start
    text: The strike began on 2 May 2023.
    as_of: 2023-09-11
    source: test-source
    questions: *asked
"""
)


@pytest.fixture
def db(db_path: Path) -> Path:
    return db_path


def write(tmp_path: Path, text: str, name: str = "x.facts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- 6. YAML anchors and aliases ----------------------------------------------------------


def test_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    began = time.monotonic()
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    assert time.monotonic() - began < 2
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:1:") and "alias" in problem


def test_cli_import_of_an_alias_bomb_exits_4_with_file_and_line(run: Run, tmp_path: Path):
    path = write(tmp_path, BOMB)
    proc = run("facts", "import", str(path))
    err = failed(proc)
    assert proc.returncode == EXIT_KNOWLEDGE and f"{path}:1:" in err and "alias" in err


def test_any_anchor_or_alias_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, ALIASED_QUESTIONS)
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    assert str(caught.value).startswith(f"{path}:11:"), caught.value
    assert "alias" in str(caught.value)
    language = write(tmp_path, "stopwords: &w [a, b]\nfiller: *w\n", "language.yaml")
    with pytest.raises(KnowledgeError, match=r"language.yaml:1: .*alias"):
        load_language(language)


def test_an_ampersand_or_asterisk_in_text_is_fine(tmp_path: Path) -> None:
    text = ALIASED_QUESTIONS.replace("&asked ", "").replace("*asked", '["AT&T *and* more"]')
    knowledge = load_fact_files([write(tmp_path, text)])
    assert knowledge.facts[1].questions == ("AT&T *and* more",)


# --- 7. deep nesting ----------------------------------------------------------------------

DEPTHS = [600, 5000]  # the depth, and one past Python's recursion limit


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_mappings(depth: int) -> str:
    return "{a: " * depth + "1" + "}" * depth


SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    "yaml": ("x.facts.yaml", lambda d: "facts:\n  - " + nested_lists(d) + "\n"),
    "json": ("x.facts.json", lambda d: '{"facts":\n' + nested_lists(d) + "}\n"),
    "yaml-mappings": ("x.facts.yaml", lambda d: "facts:\n  - " + nested_mappings(d) + "\n"),
}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_deep_nesting_exits_4_with_file_and_line(
    run: Run, tmp_path: Path, shape: str, depth: int
) -> None:
    name, make = SHAPES[shape]
    path = write(tmp_path, make(depth), name)
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    # "nested more than 16 levels", or libyaml's own "exceeded maximum nesting depth"
    assert str(caught.value).startswith(f"{path}:2:") and "nest" in str(caught.value)
    proc = run("facts", "import", str(path))
    err = failed(proc)
    assert proc.returncode == EXIT_KNOWLEDGE and f"{path}:2:" in err and "nest" in err
    assert "RecursionError" not in err


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_nesting_on_an_eval_line(run: Run, tmp_path: Path, depth: int) -> None:
    path = write(
        tmp_path,
        '{"q": "how long?", "expect": [["130"]]}\n{"q": "x", "expect": '
        + nested_lists(depth)
        + "}\n",
        "questions.jsonl",
    )
    with pytest.raises(EvalFileError, match=rf"{path}:2: "):  # too deep, or not a question
        read_cases(path)
    proc = run("eval", str(path))
    err = failed(proc)
    assert proc.returncode == EXIT_KNOWLEDGE and f"{path}:2:" in err
    assert "RecursionError" not in err


# --- 8. huge integers on the command line -------------------------------------------------

HUGE = "99999999999999999999"


@pytest.fixture
def invoke(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """invoke(*args) -> click Result: the CLI in this process (fast), on this test's database,
    without the caller's settings; an exception escaping the CLI fails the test."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("STRIKEBOT_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STRIKEBOT_DB", str(db))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


CLAMPED = {
    "audit-limit": ("facts", "audit", "--limit", HUGE),
    "unanswered-limit": ("facts", "unanswered", "--json", "--limit", HUGE),
    "review-list-limit": ("review", "list", "--limit", HUGE),
    "review-limit": ("review", "--limit", HUGE),
    "report-days": ("report", "--days", "999999999"),
    "report-days-huge": ("report", "--json", "--days", HUGE),
}


@pytest.mark.parametrize("args", CLAMPED.values(), ids=CLAMPED.keys())
def test_huge_limits_and_days_are_clamped(invoke, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output


def test_promote_with_huge_days_is_clamped(invoke) -> None:
    result = invoke("report", "promote", "1", "--days", HUGE, "--fact", "offer-pay")
    assert (
        result.exit_code == 2 and result.stderr == "Error: No group 1: the report has 0 group(s).\n"
    )


REFUSED_NUMBERS = {
    "accept-id": ("review", "accept", HUGE, "--text", "Words of my own."),
    "edit-id": ("review", "edit", HUGE, "--text", "Words of my own."),
    "reject-id": ("review", "reject", HUGE, "--reason", "no"),
    "zero-id": ("review", "reject", "0", "--reason", "no"),
    "promote-group": ("report", "promote", HUGE, "--fact", "offer-pay"),
    "zero-limit": ("facts", "audit", "--limit", "0"),
    "negative-limit": ("facts", "unanswered", "--limit", "-5"),
    "word-limit": ("review", "list", "--limit", "lots"),
    "negative-days": ("report", "--days", "-3"),
    "slack-port": ("slack", "--port", HUGE),
    "slack-workers": ("slack", "--workers", "999"),
    "min-rate": ("eval", "questions.jsonl", "--min-rate", "1e999"),
    "min-rate-nan": ("eval", "questions.jsonl", "--min-rate", "nan"),
}


@pytest.mark.parametrize("args", REFUSED_NUMBERS.values(), ids=REFUSED_NUMBERS.keys())
def test_out_of_range_numbers_are_refused_in_one_line(
    invoke, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "questions.jsonl").write_text('{"q": "how long?", "expect": [["130"]]}\n')
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ") and ("from" in line or "between" in line), line


def _numeric(param: click.Parameter) -> bool:
    kind = param.type
    return isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)) or (
        getattr(kind, "name", "") in ("integer", "float", "number")
    )


def _all_params(command: click.Command, path: str = "strikebot"):
    for param in command.params:
        yield f"{path} {param.name}", param
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _all_params(sub, f"{path} {name}")


def test_every_number_option_of_the_cli_is_bounded() -> None:
    numeric = [(where, p) for where, p in _all_params(cli) if _numeric(p)]
    assert len(numeric) >= 12
    unbounded = [where for where, p in numeric if not isinstance(p.type, Bounded)]
    assert unbounded == [], f"numbers without a range: {unbounded}"


def test_the_core_takes_huge_numbers_from_any_caller(bot, admin, root) -> None:
    """The chat parsers clamp too; the core does not rely on it."""
    assert admin.audit(root, limit=10**20)
    assert admin.unanswered(root, limit=10**20) == []
    review = ReviewService(bot, admin)
    assert review.pending(limit=10**20) == []
    with pytest.raises(NotFound):
        review.accept(root, 10**20, text="Words of my own.")
    with pytest.raises(NotFound):
        review.candidate(-1)
    assert ReportService(bot, admin).build(root, 10**9).groups == []


# --- 9. URLs, control characters, example questions ---------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\x00"  # clear screen, set title, C1 CSI, RLO


def clean(text: str) -> bool:
    """No control character (C0, DEL, C1) and no bidi override."""
    return not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch == "\u202e" for ch in text)


def add_fact(admin, root, **over):
    fields = {
        "text": "The strike had lasted 131 days.",
        "topic": "strike.duration",
        "as_of": "2023-09-12",
        "source_title": "A later report",
        "published": "2023-09-12",
    }
    fields.update(over)
    return admin.add(root, **fields)


@pytest.mark.parametrize(
    "url", ["https://example.org/a\n", "https://example.org/\x1b[31m", "https://", "ftp://x.org"]
)
def test_admin_refuses_a_url_that_is_not_one_clean_address(admin, root, url: str) -> None:
    sources = admin.store.sources()
    with pytest.raises(AdminInputError, match="http"):
        add_fact(admin, root, url=url)
    assert admin.store.sources() == sources
    with pytest.raises(AdminInputError, match="http"):
        ReviewService(admin.bot, admin).check_article("An article", "2023-09-12", url=url)


def test_url_in_a_knowledge_file_must_match_in_full(tmp_path: Path) -> None:
    text = GOOD_SOURCE + '    url: "https://example.org/a\\u001b]8;;https://evil.example/\\u0007"\n'
    path = write(tmp_path, text)
    with pytest.raises(KnowledgeError, match=rf"{path}:5: "):
        load_fact_files([path])


def test_control_characters_never_reach_the_store(admin, root, bot) -> None:
    fact = add_fact(
        admin,
        root,
        text=f"The strike{ESCAPES} had lasted 131 days.",
        source_title=f"A later{ESCAPES} report",
        publisher=f"Ledger{ESCAPES}",
        questions=(f"how long{ESCAPES}?", ESCAPES),
    )
    assert fact.text == "The strike [2J ]0;owned 31m had lasted 131 days."
    assert fact.questions == ("how long [2J ]0;owned 31m ?", "[2J ]0;owned 31m")
    source = admin.store.sources()[fact.source]
    assert clean(source.title) and clean(source.publisher or "")
    edited = admin.edit(root, fact.id, text=f"Edited{ESCAPES}.", aliases=[f"a{ESCAPES}"])
    assert clean(edited.text) and all(clean(a) for a in edited.aliases)
    admin.retract(root, fact.id, f"wrong{ESCAPES}")
    assert all(clean(str(e["note"] or "")) for e in admin.store.audit(limit=5))


def test_review_cleans_what_admins_type(admin, root, bot) -> None:
    review = ReviewService(bot, admin)
    _, items = review.add_article(
        root, f"The deal{ESCAPES} was reached on 24 September 2023 after 146 days.",
        f"Deal{ESCAPES}", "2023-09-27",
    )  # fmt: skip
    record = review.candidate(items[0].id).record
    assert clean(record.article_title) and clean(record.sentence) and clean(record.text)
    fact = review.accept(root, items[0].id, text=f"In our words:{ESCAPES} a deal.")
    assert clean(fact.text)
    _, more = review.add_article(root, "The vote ended on 9 October 2023.", "Vote", "2023-10-09")
    review.reject(root, more[0].id, f"not{ESCAPES} needed")
    assert clean(review.candidate(more[0].id).record.note or "")


def test_control_characters_in_a_knowledge_file_are_refused_by_line(tmp_path: Path) -> None:
    text = GOOD_SOURCE + (
        "facts:\n"
        "  - id: one\n"
        "    topic: strike.duration\n"
        '    text: "The strike had lasted 130 days.\\u001b[2J"\n'
        "    as_of: 2023-09-11\n"
        "    source: test-source\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(KnowledgeError) as caught:
        load_fact_files([path])
    assert str(caught.value).startswith(f"{path}:8:") and "control character" in str(caught.value)


def test_cli_by_and_text_with_escapes_print_clean(run: Run) -> None:
    proc = run(
        "facts", "add", "--text", f"Typed{ESCAPES[:-1]} text.", "--topic", "misc.esc",
        "--as-of", "2023-09-11", "--source-title", "T", "--published", "2023-09-11",
        "--by", f"mallory{ESCAPES[:-1]}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for out in (run("facts", "show", "misc-esc-1").stdout, run("facts", "audit").stdout):
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out


HINTS = ("questions", "aliases", "keywords")


@pytest.mark.parametrize("key", HINTS)
def test_too_many_or_too_long_hints_are_refused(admin, root, key: str) -> None:
    many = tuple(f"how long has it lasted, take {i}?" for i in range(200))
    long = ("how long " * 250,)
    facts = admin.store.facts()
    if key == "questions":
        for values in (many, long):
            with pytest.raises(AdminInputError, match=r"example questions|characters"):
                add_fact(admin, root, questions=values)
    for values in (many, long):
        with pytest.raises(AdminInputError, match=rf"{key}|characters"):
            admin.edit(root, "strike-duration-130", **{key: values})
    assert admin.store.facts() == facts


@pytest.mark.parametrize("key", HINTS)
def test_too_many_or_too_long_hints_in_a_file_are_refused_by_line(tmp_path: Path, key: str) -> None:
    base = ALIASED_QUESTIONS.split("  - id: two")[0].replace("questions: &asked", f"{key}:")
    many = base.replace("[how long, how many days]", "[" + ", ".join(["q"] * 200) + "]")
    long = base.replace("[how long, how many days]", "[" + "x" * 2000 + "]")
    for text in (many, long):
        path = write(tmp_path, text)
        with pytest.raises(KnowledgeError) as caught:
            load_fact_files([path])
        assert str(caught.value).startswith(f"{path}:11:"), caught.value


def test_promote_leaves_out_logged_questions_too_long_to_be_examples(bot, admin, root) -> None:
    long_question = "who won the world cup " + "and who scored " * 30 + "?"
    for q in ("who won the world cup", long_question):
        bot.ask(Question(q, platform="test"))
    reports = ReportService(bot, admin)
    groups = reports.build(root).groups
    assert any(long_question in g.texts for g in groups)
    for group in groups:
        if long_question not in group.texts:
            continue
        if group.texts == [long_question]:
            with pytest.raises(AdminInputError, match="longer than"):
                reports.promote(root, group.number, fact_id="wga-identity")
        else:
            fact = reports.promote(root, group.number, fact_id="wga-identity")
            assert long_question not in fact.questions
