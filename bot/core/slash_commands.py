"""Platform-neutral parsing of the `/strike` and `/strike-admin` command text.

Adapters hand over the text typed after the command name and get back a `Command`: which
sub-command, its arguments, and whether the user asked for the reply to be public. Nothing
here talks to a platform or to the store; unknown sub-commands come back as `help`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

ASK = "ask"
HELP = "help"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
STRIKE_COMMANDS = ("status", "timeline", "topics", "sources", SUBSCRIBE, UNSUBSCRIBE, HELP)
ADMIN_COMMANDS = (
    "add",
    "article",
    "review",
    "due",
    "report",
    "retract",
    "restore",
    "audit",
    "unanswered",
    "subscriptions",
    "pack",
    HELP,
)
HELP_WORDS = frozenset({"?", "h", "commands", "usage", "menu"})
FOLLOW_UP_WORDS = frozenset({"source", "link", "citation", "proof"})
PUBLIC_WORD = "public"
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 50
DEFAULT_REPORT_DAYS = 30
MAX_REPORT_DAYS = 366

STRIKE_HELP: tuple[tuple[str, str], ...] = (
    ("<question>", "answer a question about the strike (only you see it)"),
    ("<question> public", "answer it for the whole channel"),
    (
        "status [PACK]",
        "the latest picture, posted in the channel (of another dispute: its pack id)",
    ),
    ("timeline TOPIC", "a topic's facts in date order, newest marked current"),
    ("topics", "what I can answer about"),
    ("sources", "the sources behind my answers"),
    ("subscribe", "admins: post an update in this channel whenever the status changes"),
    ("unsubscribe", "admins: stop those updates in this channel"),
    ("help", "this list"),
)

ADMIN_HELP: tuple[tuple[str, str], ...] = (
    ("add [fact text]", "add a fact with its source (opens a form)"),
    (
        "article [title]",
        "add an article (opens a form): its sentences with figures, dates, parties or quotes "
        "become candidate facts, published only once an admin accepts them",
    ),
    ("review", "candidate facts waiting for review, with Accept / Edit / Reject buttons"),
    ("due", "facts whose review-by date has come"),
    (
        "report [DAYS]",
        "questions not answered or voted not helpful (grouped, with the closest fact), the "
        "facts served most and the answer rate, over the last DAYS days (default 30)",
    ),
    ("retract FACT_ID reason", "withdraw a fact from answers (it is kept)"),
    ("restore FACT_ID [reason]", "undo a retraction"),
    ("audit [FACT_ID]", "who changed what, newest first"),
    ("unanswered [N]", "recent questions I could not answer"),
    ("subscriptions", "the channels that get status updates, and updates they did not get"),
    ("pack [ID|none]", "answer questions in this channel from one dispute (no id: which one)"),
    ("help", "this list"),
)


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed command: `name` is a sub-command, `ask`, or `help`.

    `text` is the question (for `ask`), the reason (retract/restore), the fact text to
    prefill (add) or the article title to prefill (article); `args` holds positional values
    such as a fact id; `problem` is a short note for the user when the text was not
    understood (shown above the help); `days` is the period of a report.
    """

    name: str
    text: str = ""
    args: tuple[str, ...] = ()
    public: bool = False
    problem: str | None = None
    limit: int = DEFAULT_LIST_LIMIT
    days: int = DEFAULT_REPORT_DAYS


def _word(token: str) -> str:
    """A token as a command word: lowercase, without leading slashes/dashes or end marks."""
    word = token.casefold().lstrip("/-").rstrip("?!.,:;")
    return word or token.casefold()


def _split_public(words: list[str]) -> tuple[list[str], bool]:
    """Remove one `public` at either end of the words."""
    if len(words) > 1 and _word(words[-1]) == PUBLIC_WORD:
        return words[:-1], True
    if len(words) > 1 and _word(words[0]) == PUBLIC_WORD:
        return words[1:], True
    return words, False


def _unknown(word: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"I don't know the command `{word[:40]}`.{hint}"


def _looks_like_command(token: str, known: tuple[str, ...]) -> bool:
    """A single word meant as a (mistyped) command rather than a one-word question."""
    word = _word(token)
    if token.startswith(("-", "/")) or word in HELP_WORDS:
        return True
    if word in FOLLOW_UP_WORDS:
        return False  # "source?" after an answer asks where it came from
    return bool(difflib.get_close_matches(word, known, n=1, cutoff=0.75))


def parse_strike(text: str | None) -> Command:
    """Parse what follows `/strike`: a sub-command, a question, or help."""
    words, public = _split_public((text or "").split())
    if not words:
        return Command(HELP, public=public)
    first = _word(words[0])
    if first == HELP or (len(words) == 1 and first in HELP_WORDS):
        return Command(HELP, public=public)
    if len(words) == 1 and first in STRIKE_COMMANDS:
        return Command(first, public=public)
    if first == "status" and len(words) == 2:
        return Command("status", args=(words[1].lower(),), public=public)
    if first == "timeline" and len(words) > 1:
        return Command("timeline", text=" ".join(words[1:]), public=public)
    if len(words) == 1 and _looks_like_command(words[0], STRIKE_COMMANDS):
        return Command(HELP, public=public, problem=_unknown(first, STRIKE_COMMANDS))
    return Command(ASK, text=" ".join(words), public=public)


def _count(token: str | None) -> int | None:
    """A whole number typed in digits, else None. str.isdigit() alone also accepts "²",
    which int() refuses, and int() refuses more than 4300 digits: a long one is just big."""
    if not token or not token.isdigit():
        return None
    try:
        return int(token) if len(token) <= 12 else 10**12
    except ValueError:
        return None


def _limit(token: str | None) -> int:
    count = _count(token)
    return DEFAULT_LIST_LIMIT if count is None else max(1, min(count, MAX_LIST_LIMIT))


def parse_admin(text: str | None) -> Command:
    """Parse what follows `/strike-admin`; missing arguments come back as help + problem."""
    words = (text or "").split()
    if not words:
        return Command(HELP)
    first, rest = _word(words[0]), words[1:]
    if first == "add":
        return Command("add", text=" ".join(rest))
    if first in ("retract", "restore"):
        if not rest:
            usage = "retract FACT_ID reason" if first == "retract" else "restore FACT_ID"
            return Command(HELP, problem=f"Say which fact: `{usage}`.")
        return Command(first, args=(rest[0],), text=" ".join(rest[1:]))
    if first == "audit":
        fact_id = next((w for w in rest if _count(w) is None), None)
        number = next((w for w in rest if _count(w) is not None), None)
        return Command("audit", args=(fact_id,) if fact_id else (), limit=_limit(number))
    if first == "unanswered":
        return Command("unanswered", limit=_limit(rest[0] if rest else None))
    if first == "article":
        return Command("article", text=" ".join(rest))
    if first in ("review", "due", "subscriptions"):
        return Command(first)
    if first == "pack":
        return Command("pack", args=tuple(rest[:1]))
    if first == "report":
        days = _count(rest[0]) if rest else DEFAULT_REPORT_DAYS
        if days is None:
            return Command(HELP, problem="Give the period in days, e.g. `report 7`.")
        return Command("report", days=max(1, min(days, MAX_REPORT_DAYS)))
    if first == HELP or first in HELP_WORDS:
        return Command(HELP)
    return Command(HELP, problem=_unknown(first, ADMIN_COMMANDS))
