"""The `strikebot` command line: a thin layer over the core (see README for every command)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from bot.adapters.console import current_user, run_chat
from bot.core.admin import Actor, AdminInputError, AdminService, PermissionDenied, parse_date
from bot.core.due import days_overdue, due_facts
from bot.core.evaluate import EvalFileError, evaluate, read_cases
from bot.core.models import Answer, Fact, Question
from bot.core.pack_admin import PackAdmin, PackSummary
from bot.core.report import Report, ReportService
from bot.core.review import ReviewItem, ReviewService
from bot.core.rules import clean_text
from bot.core.service import StrikeBot
from bot.core.updates import StatusUpdates, SubscriptionService
from bot.render.text import delivery_problem, human_date
from bot.runtime.build import build_bot
from bot.runtime.knowledge_check import NoFacts, require_facts
from bot.runtime.logs import configure_logging
from bot.settings import Settings, bundled_knowledge_dir
from bot.store import backup as backups
from bot.store.db import NotFound, Store, StoreError, fact_json
from bot.store.knowledge_files import KnowledgeError, write_text_atomic

EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_KNOWLEDGE = 4
EXIT_NOT_FOUND = 5
EXIT_EVAL_FAILED = 1
SERVING_COMMANDS = (None, "run", "slack", "discord")  # long-running: INFO logs by default

log = logging.getLogger("strikebot")


class Failure(click.ClickException):
    """A clear one-line error and an exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Bounded(click.ParamType):
    """A whole number (or with `real`, any finite number) from `low` to `high`. Above `high`
    it is clamped when `clamp`; anything else out of range, or not a number, is refused in
    one line (exit 2), before a number SQLite or a date cannot hold reaches them."""

    def __init__(self, low: float, high: float, *, clamp: bool = False, real: bool = False):
        self.low, self.high, self.clamp, self.real = low, high, clamp, real
        self.name = "number" if real else "integer"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return None if isinstance(param, click.Argument) else self.name.upper()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        what = "a number" if self.real else "a whole number"
        name = "the value"
        if param is not None:
            name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        try:
            number = float(value) if self.real else int(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is not None and self.real and not math.isfinite(number):
            number = None
        if number is not None and number > self.high and self.clamp:
            return self.high
        if number is None or not self.low <= number <= self.high:
            shown = str(value) if len(str(value)) <= 30 else str(value)[:30] + "..."
            raise Failure(
                f"{name} must be {what} from {self.low} to {self.high}, not {shown}", EXIT_USAGE
            )
        return number


# The ranges of the CLI's numbers: lists and look-backs are clamped, ids and ports refused.
LIMIT = Bounded(1, 10_000, clamp=True)
DAYS = Bounded(1, 36_500, clamp=True)
ROW_ID = Bounded(1, 2**63 - 1)  # SQLite's largest integer
GROUP = Bounded(1, 100_000)
PORT = Bounded(1, 65_535)
WORKERS = Bounded(1, 64)
RATE = Bounded(0.0, 1.0, real=True)


@dataclass
class App:
    """What every command shares: settings, and the bot built on first use."""

    settings: Settings

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.db)

    @cached_property
    def bot(self) -> StrikeBot:
        return build_bot(self.settings, self.store)

    @cached_property
    def admin(self) -> AdminService:
        admin = AdminService(self.bot)
        # Status changes made here are queued; the running bot posts them to channels.
        StatusUpdates.attach(admin)
        return admin


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the core's errors into one-line messages with distinct exit codes."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StoreError as exc:
            raise Failure(str(exc), EXIT_STORE) from None
        except KnowledgeError as exc:
            raise Failure(
                "the knowledge file was not loaded:\n" + str(exc), EXIT_KNOWLEDGE
            ) from None
        except NoFacts as exc:
            raise Failure(str(exc), EXIT_KNOWLEDGE) from None
        except NotFound as exc:
            raise Failure(str(exc), EXIT_NOT_FOUND) from None
        except (AdminInputError, PermissionDenied) as exc:
            raise Failure(str(exc), EXIT_USAGE) from None
        except UnicodeError:
            raise Failure("the arguments must be valid UTF-8 text", EXIT_USAGE) from None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


pass_app = click.make_pass_decorator(App)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (one object or list) instead of text."
)
by_option = click.option(
    "--by", help="Who does this, as recorded in the audit log (default: your user name)."
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group(invoke_without_command=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite database file (default: STRIKEBOT_DB, else strikebot.db in the user "
    "data folder).",
)
@click.option(
    "--knowledge",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of bundled knowledge YAML (default: STRIKEBOT_KNOWLEDGE_DIR, else the "
    "bundled knowledge).",
)
@click.version_option(package_name="strikebot")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, knowledge: Path | None) -> None:
    """strikebot: short, cited answers about the strike, on Slack, Discord and the console.

    Run without a command to start the bot: the console chat, plus Slack and Discord when
    their tokens are set.
    """
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["STRIKEBOT_DB"] = db
    if knowledge is not None:
        overrides["STRIKEBOT_KNOWLEDGE_DIR"] = knowledge
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise Failure(f"invalid setting: {problems}", EXIT_USAGE) from None
    configure_logging(settings, serving=ctx.invoked_subcommand in SERVING_COMMANDS)
    ctx.obj = App(settings)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


# --- questions --------------------------------------------------------------------------


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        emit_json(answer.to_json())
    else:
        click.echo(answer.text)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--pack", help="Ask in this dispute (a pack id); default: STRIKEBOT_DEFAULT_PACK.")
@pass_app
@guarded
def ask(app: App, question: tuple[str, ...], as_json: bool, pack: str | None) -> None:
    """Answer QUESTION; `-` reads one question a line from standard input."""
    bot = app.bot
    require_facts(bot)

    def one(text: str) -> Answer:
        if pack is None:
            return bot.ask(Question(text, platform="cli"))
        return bot.answer(text, pack)

    if question == ("-",):
        for line in sys.stdin:
            _print_answer(one(line.rstrip("\r\n")), as_json)
            sys.stdout.flush()
        return
    _print_answer(one(" ".join(question)), as_json)


@cli.command()
@json_option
@click.option("--pack", help="The dispute (a pack id); default: every dispute in use.")
@pass_app
@guarded
def status(app: App, as_json: bool, pack: str | None) -> None:
    """The latest picture: day count, offer against demands, what is unresolved."""
    require_facts(app.bot)
    answer = app.bot.status(pack=pack)
    if not answer.answered and answer.kind == "invalid":
        raise Failure(answer.text.splitlines()[0], EXIT_USAGE)
    if as_json:
        emit_json(
            {
                "text": answer.text,
                "as_of": answer.as_of.isoformat() if answer.as_of else None,
                "citations": [c.to_json() for c in answer.citations],
                "facts": answer.fact_ids,
                "stale_warning": answer.stale_warning,
            }
        )
    else:
        click.echo(answer.text)


@cli.command()
@click.argument("topic", nargs=-1, required=True)
@click.option("--pack", help="The dispute (a pack id); default: the default pack.")
@json_option
@pass_app
@guarded
def timeline(app: App, topic: tuple[str, ...], pack: str | None, as_json: bool) -> None:
    """A topic's facts in date order (its id or its label, e.g. `offer.pay`)."""
    answer = app.bot.timeline(" ".join(topic), pack)
    if answer.kind == "invalid":
        raise Failure(answer.text.splitlines()[0], EXIT_USAGE)
    _print_answer(answer, as_json)


@cli.command()
@pass_app
@guarded
def topics(app: App) -> None:
    """What the bot can answer about."""
    for label in app.bot.topics():
        click.echo(label)


@cli.command()
@pass_app
@guarded
def sources(app: App) -> None:
    """The sources behind the current facts."""
    for s in app.bot.sources():
        extra = f" ({s.publisher})" if s.publisher else ""
        url = f" {s.url}" if s.url else ""
        click.echo(f"{s.id}: {s.title}{extra}, {human_date(s.published)}{url}")


@cli.command()
@pass_app
@guarded
def chat(app: App) -> None:
    """An interactive console session with the bot (no tokens needed)."""
    run_chat(app.bot, sys.stdin, click.echo, interactive=True, user=current_user())


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the score as JSON.")
@click.option("--min-rate", type=RATE, default=None, help="Exit 1 below this pass rate (0 to 1).")
@click.option(
    "--pack",
    default=None,
    help='Ask every question in this dispute (a line\'s own "pack" wins).',
)
@pass_app
@guarded
def eval(app: App, file: Path, as_json: bool, min_rate: float | None, pack: str | None) -> None:
    """Score a question file (the format of shared/eval/questions.jsonl); per pack when the
    bot answers for several disputes."""
    try:
        cases = read_cases(file)
    except EvalFileError as exc:  # a file rejected with its file:line, like a knowledge file
        raise Failure(str(exc), EXIT_KNOWLEDGE) from None
    report = evaluate(cases, app.bot.answer, pack)
    if as_json:
        emit_json(
            {
                "passed": report.passed,
                "total": report.total,
                "packs": {
                    p or "-": {"passed": a, "total": b} for p, (a, b) in report.by_pack.items()
                },
                "misses": [
                    {"q": m.case.question, "line": m.case.line, "why": m.why,
                     "facts": m.answer.fact_ids, "confidence": round(m.answer.confidence, 4)}
                    for m in report.misses
                ],
            }
        )  # fmt: skip
    else:
        click.echo(f"passed {report.passed}/{report.total} ({report.rate:.1%})")
        if len(report.by_pack) > 1:
            for name, (passed, total) in sorted(report.by_pack.items()):
                click.echo(f"  {name or '(no dispute)'}: {passed}/{total}")
        for m in report.misses:
            click.echo(f"  miss line {m.case.line}: {m.case.question!r}: {m.why}")
    if min_rate is not None and report.rate < min_rate:
        sys.exit(EXIT_EVAL_FAILED)


# --- facts ------------------------------------------------------------------------------


def _actor(by: str | None) -> Actor:
    # Whoever can run the CLI can write the database file, so the CLI acts as an admin.
    return Actor(id=clean_text(by or "")[:100] or current_user(), platform="cli", is_admin=True)


SUMMARY_KEYS = ("id", "text", "topic", "pack", "as_of", "source", "status")


def _fact_summary(fact: Fact) -> dict[str, Any]:
    data = fact_json(fact)
    return {key: data[key] for key in SUMMARY_KEYS}


@cli.group()
def facts() -> None:
    """List, add, edit, retract, restore, audit, import and export facts."""


@facts.command("list")
@json_option
@click.option("--active", is_flag=True, help="Leave out retracted facts.")
@click.option("--topic", help="Only this topic.")
@click.option("--search", help="Full-text search over texts, questions and aliases.")
@pass_app
@guarded
def facts_list(
    app: App, as_json: bool, active: bool, topic: str | None, search: str | None
) -> None:
    """Every fact with its id, topic, as-of date and status."""
    store = app.bot.store
    items = store.search(search, limit=100) if search else store.facts()
    items = [f for f in items if (not active or f.status == "active")]
    items = [f for f in items if topic is None or f.topic == topic]
    if as_json:
        emit_json([_fact_summary(f) for f in items])
        return
    for f in items:
        mark = "" if f.status == "active" else " [retracted]"
        click.echo(f"{f.id}  ({f.topic}, as of {f.as_of}){mark}\n    {f.text}")


@facts.command("show")
@click.argument("fact_id")
@json_option
@pass_app
@guarded
def facts_show(app: App, fact_id: str, as_json: bool) -> None:
    """One fact in full."""
    fact = app.bot.store.fact(fact_id)
    if as_json:
        emit_json(fact_json(fact))
        return
    for key, value in fact_json(fact).items():
        if value not in (None, [], ()):
            click.echo(f"{key}: {value}")


@facts.command("add")
@click.option("--text", required=True, help="The fact, in your own words.")
@click.option("--topic", required=True, help="Its topic, e.g. offer.pay (new topics are made).")
@click.option(
    "--as-of",
    "as_of",
    required=True,
    help="The date the fact is true as of, YYYY-MM-DD (not in the future, nor after the "
    "source's date).",
)
@click.option("--source-title", help="Title of the source (new or existing).")
@click.option("--published", help="Source publication date, YYYY-MM-DD.")
@click.option("--source", "source_id", help="Id of an existing source instead of a title.")
@click.option("--url", help="The source's http(s) address.")
@click.option("--publisher", help="Who published the source.")
@click.option("--question", "questions", multiple=True, help="An example question (repeat).")
@click.option("--id", "fact_id", help="Choose the fact id (default: from the topic).")
@click.option("--review-by", "review_by", help="Date by which an admin should re-check it.")
@by_option
@json_option
@pass_app
@guarded
def facts_add(app: App, by: str | None, as_json: bool, **fields: Any) -> None:
    """Add a fact with its source."""
    fact = app.admin.add(_actor(by), **fields)
    if as_json:
        emit_json({"id": fact.id, **fact_json(fact)})
    else:
        click.echo(f"added {fact.id}")


@facts.command("edit")
@click.argument("fact_id")
@click.option("--text", help="New text, in your own words.")
@click.option("--topic", help="Move it to this topic.")
@click.option("--as-of", "as_of", help="New as-of date, YYYY-MM-DD.")
@click.option("--source", help="Id of an existing source.")
@click.option("--review-by", "review_by", help="Date by which an admin should re-check it.")
@click.option("--question", "questions", multiple=True, help="Replace the example questions.")
@by_option
@json_option
@pass_app
@guarded
def facts_edit(
    app: App, fact_id: str, by: str | None, as_json: bool, questions: tuple[str, ...], **fields
) -> None:
    """Change a fact; the audit log keeps the old version."""
    if questions:
        fields["questions"] = questions
    fact = app.admin.edit(_actor(by), fact_id, **fields)
    if as_json:
        emit_json(fact_json(fact))
    else:
        click.echo(f"edited {fact.id}")


@facts.command("retract")
@click.argument("fact_id")
@click.option("--reason", required=True, help="Why it is withdrawn (kept in the audit log).")
@by_option
@json_option
@pass_app
@guarded
def facts_retract(app: App, fact_id: str, reason: str, by: str | None, as_json: bool) -> None:
    """Withdraw a fact from answers (it is kept, and can be restored)."""
    fact = app.admin.retract(_actor(by), fact_id, reason)
    if as_json:
        emit_json(_fact_summary(fact))
    else:
        click.echo(f"retracted {fact.id}")


@facts.command("restore")
@click.argument("fact_id")
@click.option("--reason", help="Why it is restored (kept in the audit log).")
@by_option
@json_option
@pass_app
@guarded
def facts_restore(
    app: App, fact_id: str, reason: str | None, by: str | None, as_json: bool
) -> None:
    """Undo a retraction."""
    fact = app.admin.restore(_actor(by), fact_id, reason)
    if as_json:
        emit_json(_fact_summary(fact))
    else:
        click.echo(f"restored {fact.id}")


@facts.command("audit")
@json_option
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Show at most this many.")
@click.option("--fact", "fact_id", help="Only this fact's history.")
@pass_app
@guarded
def facts_audit(app: App, as_json: bool, limit: int, fact_id: str | None) -> None:
    """Who changed what, when, newest first."""
    entries = app.admin.audit(_actor(None), limit=limit, fact_id=fact_id)
    if as_json:
        emit_json(
            [
                {
                    "who": e["actor"],
                    "when": e["at"],
                    "action": e["action"],
                    "fact_id": e["fact_id"],
                    "platform": e["platform"],
                    "before": e["before"],
                    "after": e["after"],
                    "note": e["note"],
                }
                for e in entries
            ]
        )
        return
    for e in entries:
        note = f" ({e['note']})" if e["note"] else ""
        click.echo(f"{e['at']}  {e['actor']}  {e['action']}  {e['fact_id'] or ''}{note}")


@facts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--update-sources",
    is_flag=True,
    help="Allow the file to change existing sources (title, date, URL, publisher); each "
    "change is audited. Without it such a file is refused.",
)
@by_option
@pass_app
@guarded
def facts_import(app: App, file: Path, update_sources: bool, by: str | None) -> None:
    """Load a knowledge YAML file: all of it, or nothing if any of it is wrong."""
    counts = app.admin.import_file(_actor(by), file, update_sources=update_sources)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@facts.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
@guarded
def facts_export(app: App, file: Path) -> None:
    """Write every fact and source as a knowledge file that `import` reads back: YAML, or
    JSON when FILE ends in .json (much faster to import at many thousands of facts)."""
    text = app.admin.export_text(as_json=file.suffix.lower() == ".json")
    try:
        write_text_atomic(file, text)
    except OSError as exc:
        raise Failure(
            f"cannot write {file}: {exc.strerror}; the file was left as it was", EXIT_USAGE
        ) from None
    click.echo(f"wrote {file}")


@facts.command("unanswered")
@json_option
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Show at most this many.")
@pass_app
@guarded
def facts_unanswered(app: App, as_json: bool, limit: int) -> None:
    """Recent questions the bot could not answer."""
    rows = app.admin.unanswered(_actor(None), limit=limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['last_asked']}  x{r['times']}  {r['question']}")


@facts.command("due")
@json_option
@click.option("--today", "today", help="Check as of this date, YYYY-MM-DD (default: today).")
@pass_app
@guarded
def facts_due(app: App, as_json: bool, today: str | None) -> None:
    """Active facts whose review-by date has come, longest overdue first."""
    day = parse_date(today, "--today") if today else app.bot.today()
    items = due_facts(app.bot.store.facts(include_retracted=False), day)
    if as_json:
        emit_json([{**fact_json(f), "days_overdue": days_overdue(f, day)} for f in items])
        return
    if not items:
        click.echo(f"no facts due for review on {day}")
    for f in items:
        click.echo(f"{f.id}  ({f.topic}) review by {f.review_by}, as of {f.as_of}\n    {f.text}")


# --- articles and the review queue ------------------------------------------------------


def _review(app: App) -> ReviewService:
    return ReviewService(app.bot, app.admin)


def _print_item(item: ReviewItem) -> None:
    r = item.record
    topic = f"{r.topic} (new topic)" if item.new_topic else r.topic
    click.echo(f"#{r.id}  [{topic}]  article {r.article_id}: {r.article_title}")
    if r.draft:
        click.echo(f"    draft, reword before accepting: {r.text}")
    else:
        click.echo(f"    text: {r.text}\n    sentence: {r.sentence}")


@cli.group()
def articles() -> None:
    """Add articles: their candidate facts wait in the review queue."""


@articles.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The article's title.")
@click.option("--published", required=True, help="Its publication date, YYYY-MM-DD.")
@click.option("--url", help="Its http(s) address.")
@click.option("--publisher", help="Who published it.")
@click.option("--pack", help="The dispute it is about (a pack id); default: the default pack.")
@by_option
@json_option
@pass_app
@guarded
def articles_add(app: App, file: Path, by: str | None, as_json: bool, **fields: Any) -> None:
    """Store the article in FILE and propose candidate facts for review."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise Failure(f"cannot read {file}: {exc}", EXIT_USAGE) from None
    article_id, items = _review(app).add_article(_actor(by), text, **fields)
    if as_json:
        emit_json({"article_id": article_id, "candidates": [i.to_json() for i in items]})
        return
    click.echo(f"article {article_id}: {len(items)} candidate(s), none published until accepted")
    for item in items:
        _print_item(item)


def _list_review(app: App, as_json: bool, limit: int) -> None:
    items = _review(app).pending(limit)
    if as_json:
        emit_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("the review queue is empty")
    for item in items:
        _print_item(item)


@cli.group(invoke_without_command=True)
@json_option
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Show at most this many.")
@click.pass_context
@guarded
def review(ctx: click.Context, as_json: bool, limit: int) -> None:
    """The review queue: list, edit, accept or reject candidate facts."""
    if ctx.invoked_subcommand is None:
        _list_review(ctx.find_object(App), as_json, limit)


@review.command("list")
@json_option
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Show at most this many.")
@pass_app
@guarded
def review_list(app: App, as_json: bool, limit: int) -> None:
    """Candidates waiting for review, oldest first."""
    _list_review(app, as_json, limit)


@review.command("edit")
@click.argument("candidate_id", type=ROW_ID)
@click.option("--text", help="The fact in your own words.")
@click.option("--topic", help="Another topic for it.")
@click.option("--as-of", "as_of", help="Another as-of date, YYYY-MM-DD (not after the article).")
@by_option
@json_option
@pass_app
@guarded
def review_edit(app: App, candidate_id: int, by: str | None, as_json: bool, **fields) -> None:
    """Reword a candidate, or change its topic or as-of date, before accepting it."""
    item = _review(app).edit(_actor(by), candidate_id, **fields)
    if as_json:
        emit_json(item.to_json())
    else:
        click.echo(f"edited candidate {item.id}")


@review.command("accept")
@click.argument("candidate_id", type=ROW_ID)
@click.option("--text", help="The fact in your own words (the draft is refused).")
@click.option("--topic", help="Its topic (default: the one proposed).")
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default: the article's date)")
@click.option(
    "--question",
    "questions",
    multiple=True,
    help="A way people ask for it (repeat the option for several).",
)
@by_option
@json_option
@pass_app
@guarded
def review_accept(app: App, candidate_id: int, by: str | None, as_json: bool, **fields) -> None:
    """Make a candidate a fact, with its article as the source."""
    fields["questions"] = tuple(fields.get("questions") or ())
    fact = _review(app).accept(_actor(by), candidate_id, **fields)
    if as_json:
        emit_json(fact_json(fact))
    else:
        click.echo(f"accepted candidate {candidate_id} as {fact.id}")


@review.command("reject")
@click.argument("candidate_id", type=ROW_ID)
@click.option("--reason", required=True, help="Why it is rejected (kept with it).")
@by_option
@json_option
@pass_app
@guarded
def review_reject(app: App, candidate_id: int, reason: str, by: str | None, as_json: bool) -> None:
    """Take a candidate out of the queue (kept, with the reason)."""
    item = _review(app).reject(_actor(by), candidate_id, reason)
    if as_json:
        emit_json(item.to_json())
    else:
        click.echo(f"rejected candidate {item.id}")


# --- what users could not get answered --------------------------------------------------


def _print_report(rep: Report) -> None:
    click.echo(f"since {rep.since:%Y-%m-%d %H:%M} UTC")
    click.echo("not answered or not helpful:" if rep.groups else "every question was answered")
    for g in rep.groups:
        click.echo(f"  group {g.number}: x{g.count}  {g.texts[0]}")
        for q in g.texts[1:]:
            click.echo(f"      also: {q}")
        if g.closest_fact:
            now = ", answered now" if g.answered_now else ""
            click.echo(f"      closest: {g.closest_fact} ({g.closest_score:.2f}{now})")
    if rep.top_facts:
        click.echo("top facts served:")
        for fact_id, n, _ in rep.top_facts:
            click.echo(f"  x{n}  {fact_id}")
    if rep.rates:
        click.echo(f"answer rate per {rep.per}:")
        for r in rep.rates:
            click.echo(f"  {r.period}  {r.answered}/{r.asked}  {r.rate:.0%}")


@cli.group("report", invoke_without_command=True)
@json_option
@click.option("--days", type=DAYS, default=30, show_default=True, help="Look back this many days.")
@click.option("--per", type=click.Choice(["day", "week"]), help="Answer rate per day or week.")
@click.pass_context
@guarded
def report_cmd(ctx: click.Context, as_json: bool, days: int, per: str | None) -> None:
    """Unanswered and unhelpful questions grouped, top facts, answer rate over time."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    rep = ReportService(app.bot, app.admin).build(_actor(None), days, per=per)
    if as_json:
        emit_json(rep.to_json())
    else:
        _print_report(rep)


@report_cmd.command("promote")
@click.argument("group", type=GROUP)
@click.option("--fact", "fact_id", help="Add the group's questions to this fact.")
@click.option("--text", help="Or make a new fact with this text (and the options below).")
@click.option("--topic", help="The new fact's topic.")
@click.option("--as-of", "as_of", help="The new fact's as-of date, YYYY-MM-DD.")
@click.option("--source-title", help="The new fact's source title.")
@click.option("--published", help="That source's publication date, YYYY-MM-DD.")
@click.option("--url", help="That source's http(s) address.")
@click.option("--publisher", help="Who published that source.")
@click.option("--days", type=DAYS, default=30, show_default=True, help="As given to `report`.")
@by_option
@json_option
@pass_app
@guarded
def report_promote(
    app: App, group: int, fact_id: str | None, days: int, by: str | None, as_json: bool, **new
) -> None:
    """Turn report group GROUP into example questions of a fact (existing or new)."""
    service = ReportService(app.bot, app.admin)
    fact = service.promote(_actor(by), group, days=days, fact_id=fact_id, **new)
    if as_json:
        emit_json(fact_json(fact))
    else:
        verb = "added questions to" if fact_id else "added"
        click.echo(f"{verb} {fact.id}")


@cli.command()
@click.option("--platform", type=click.Choice(["slack", "discord"]), help="Only this platform.")
@json_option
@pass_app
@guarded
def subscriptions(app: App, platform: str | None, as_json: bool) -> None:
    """Channels that get status updates (subscribe with /strike subscribe in the channel),
    with the updates each did not get and the last error."""
    subs = SubscriptionService(app.bot.store).list(platform)
    if as_json:
        emit_json([dataclasses.asdict(s) for s in subs])
        return
    if not subs:
        click.echo("No channel is subscribed; run /strike subscribe in a channel.")
    for s in subs:
        problem = delivery_problem(s.failed, s.last_error, s.last_failed_at)
        line = f"{s.platform}  {s.channel}  (by {s.added_by or '?'}, {s.added_at or '?'})"
        click.echo(f"{line}  {problem}" if problem else line)


# --- knowledge packs (one per dispute) ---------------------------------------------------


@cli.group()
def packs() -> None:
    """Knowledge packs: one per dispute, with its own parties, terms, topics and facts."""


def _summary_line(item: PackSummary) -> str:
    if item.in_use:
        state = "in use"
    elif item.pack.status == "active":
        state = "not in the knowledge folder"
    else:
        state = item.pack.status
    channels = f", channels: {', '.join(item.bound)}" if item.bound else ""
    return (
        f"{item.pack.id}: {item.pack.name} ({item.facts} facts, {item.topics} topics, "
        f"{item.pack.origin}, {state}{channels})"
    )


@packs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@pass_app
@guarded
def packs_list(app: App, as_json: bool) -> None:
    """Every pack, with its facts and whether it answers."""
    items = PackAdmin(app.admin).summaries()
    if as_json:
        emit_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("No packs yet: add one with `strikebot packs add FOLDER`.")
    for item in items:
        click.echo(_summary_line(item))


@packs.command("show")
@click.argument("pack_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
@guarded
def packs_show(app: App, pack_id: str, as_json: bool) -> None:
    """One pack: its description, parties and terms."""
    item = PackAdmin(app.admin).summary(pack_id)
    if as_json:
        emit_json(item.to_json())
        return
    click.echo(_summary_line(item))
    if item.pack.description:
        click.echo(f"  {item.pack.description}")
    for party in item.pack.parties:
        aliases = f" (also: {', '.join(party.aliases)})" if party.aliases else ""
        click.echo(f"  {party.role}: {party.name}{aliases}")
    for term in item.pack.terms:
        click.echo(f"  term: {' = '.join(term)}")


@packs.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--by", help="Who adds it (for the audit log); default: your user name.")
@pass_app
@guarded
def packs_add(app: App, path: Path, by: str | None) -> None:
    """Add a pack from its folder (pack.yaml, topics.yaml, *.facts.yaml) or one *.pack.yaml
    file (pack:, topics:, sources:, facts:): all or nothing."""
    if not path.exists():
        example = app.settings.knowledge_dir / "examples" / path.name
        bundled = bundled_knowledge_dir() / "examples" / path.name
        found = next((p for p in (example, bundled) if p.is_dir()), None)
        if found is None:
            raise Failure(
                f"No pack folder or file at {path} (nor an example pack of that name).", EXIT_USAGE
            )
        path = found
    pack, counts = PackAdmin(app.admin).add(_actor(by), path)
    click.echo(
        f"pack {pack.id}: {counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged"
    )


@packs.command("export")
@click.argument("pack_id")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@pass_app
@guarded
def packs_export(app: App, pack_id: str, folder: Path) -> None:
    """Write a pack as a folder that `packs add` reads back."""
    for path in PackAdmin(app.admin).export(pack_id, folder):
        click.echo(f"wrote {path}")


@packs.command("retire")
@click.argument("pack_id")
@click.option("--reason", required=True, help="Why (kept with every retracted fact).")
@click.option("--by", help="Who retires it (for the audit log); default: your user name.")
@pass_app
@guarded
def packs_retire(app: App, pack_id: str, reason: str, by: str | None) -> None:
    """Stop answering from a pack: every fact of it retracted (audited), nothing deleted."""
    count = PackAdmin(app.admin).retire(_actor(by), pack_id, reason)
    click.echo(f"pack {pack_id} retired: {count} facts retracted")


@packs.command("bind")
@click.argument("platform", type=click.Choice(["slack", "discord"]))
@click.argument("channel")
@click.argument("pack_id", required=False)
@click.option("--by", help="Who binds it (for the audit log); default: your user name.")
@pass_app
@guarded
def packs_bind(app: App, platform: str, channel: str, pack_id: str | None, by: str | None) -> None:
    """Answer questions in a channel from one pack (no PACK_ID: unbind it)."""
    PackAdmin(app.admin).bind(_actor(by), platform, channel, pack_id)
    click.echo(f"{platform}:{channel} -> {pack_id or 'the default pack'}")


# --- backup and restore -----------------------------------------------------------------


def _describe(summary: backups.Summary) -> str:
    kb = summary.size / 1024
    size = f"{kb:,.0f} KB" if kb < 1024 else f"{kb / 1024:,.1f} MB"
    return (
        f"{summary.path} ({size}): {summary.facts} facts "
        f"({summary.active} active), {summary.audit} audit entries, integrity ok"
    )


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@json_option
@pass_app
@guarded
def backup_cmd(app: App, path: Path, force: bool, as_json: bool) -> None:
    """Copy the live database to PATH (a file, or a folder for a dated file) and check the
    copy; safe while the bot runs."""
    summary = backups.backup(app.store, path, force=force)
    if as_json:
        emit_json({**dataclasses.asdict(summary), "path": str(summary.path)})
    else:
        click.echo(f"backed up to {_describe(summary)}")


@cli.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@pass_app
@guarded
def restore_cmd(app: App, path: Path) -> None:
    """Replace the database with the backup PATH, after checking it; the current database is
    kept beside it as <name>.<time>.before-restore."""
    done = backups.restore(app.settings.db, path)
    if done.saved:
        how = " byte for byte: it was damaged" if done.saved_raw else ""
        click.echo(f"saved the previous database as {done.saved}{how}")
    click.echo(f"restored {path} into {_describe(done.summary)}")


# --- running ----------------------------------------------------------------------------


@cli.command()
@click.option("--no-console", is_flag=True, help="Do not read questions from the terminal.")
@pass_app
@guarded
def run(app: App, no_console: bool) -> None:
    """Start the bot: console chat, plus Slack and Discord when their tokens are set."""
    from bot.runner import run_all
    from bot.runtime.terminal import is_terminal

    require_facts(app.bot)
    # Log lines would interleave with the chat: on a terminal, only warnings (unless set).
    configure_logging(app.settings, serving=no_console or not is_terminal(sys.stdin))
    run_all(app.settings, app.bot, console=not no_console)


@cli.command()
@click.option("--port", type=PORT, help="HTTP mode port (default: SLACK_PORT, 3000).")
@click.option(
    "--workers",
    type=WORKERS,
    help="HTTP mode worker processes (default: STRIKEBOT_SLACK_WORKERS, 1); one or many, "
    "HTTP mode is served by uvicorn.",
)
@pass_app
@guarded
def slack(app: App, port: int | None, workers: int | None) -> None:
    """Run the Slack bot: Socket Mode with SLACK_APP_TOKEN, else HTTP mode on --port."""
    require_facts(app.bot)
    workers = workers or app.settings.slack_workers
    if workers > 1:
        if app.settings.slack_app_token:
            raise Failure("--workers is for HTTP mode: unset SLACK_APP_TOKEN.", EXIT_USAGE)
        from bot.adapters.slack_asgi import serve_workers

        serve_workers(app.settings, port=port, workers=workers)
        return
    from bot.adapters.slack import run_slack

    run_slack(app.settings, app.bot, port=port)


@cli.command()
@pass_app
@guarded
def discord(app: App) -> None:
    """Run the Discord bot with DISCORD_TOKEN."""
    require_facts(app.bot)
    from bot.adapters.discord import run_discord

    run_discord(app.settings, app.bot)


@cli.command()
@click.option("--url", help="Check this URL instead (default: the local /healthz).")
@click.option("--ready", is_flag=True, help="Check /readyz: every platform connected too.")
@click.pass_context
def healthcheck(ctx: click.Context, url: str | None, ready: bool) -> None:
    """Ask the running bot's health endpoint (STRIKEBOT_HEALTH_PORT); exit 0 when healthy.
    For container and service-manager health checks."""
    from bot.runtime.health import probe

    settings = ctx.find_object(App).settings
    if url is None:
        if settings.health_port is None:
            raise Failure("STRIKEBOT_HEALTH_PORT is not set: the bot serves no health check.", 1)
        host = settings.health_host
        if host in ("0.0.0.0", "::", ""):  # listening everywhere: ask on this machine
            host = "127.0.0.1"
        url = f"http://{host}:{settings.health_port}/{'readyz' if ready else 'healthz'}"
    healthy, line = probe(url)
    click.echo(line, err=not healthy)
    if not healthy:
        ctx.exit(1)


def main() -> None:
    """Console-script entry point."""
    # Undecodable bytes on stdin become U+FFFD instead of a traceback mid-stream.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    cli(prog_name="strikebot")
