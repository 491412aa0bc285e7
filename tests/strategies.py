"""Hypothesis strategies and output checkers for the property tests
(test_properties_core.py, test_properties_render.py).

The strategies produce hostile text: unicode of every category (no lone surrogates unless
asked for), control characters, Markdown and mrkdwn syntax, Slack and Discord mention syntax,
zero-width and direction-override characters, combining marks, emoji, and repeated text up
to 100 KB. The checkers say what "cannot ping anyone", "is escaped" and "fits the platform"
mean, precisely, for the JSON the renderers produce.

Every property test runs with `PROPERTY` settings: no deadline (the first example builds the
index), the reproduction blob printed on failure, failing examples kept in the (git-ignored)
pytest cache so the next run tries them first. Set STRIKEBOT_PROPERTY_SCALE=10 for a long run.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from bot.core.rules import url_problem

REPO = Path(__file__).resolve().parent.parent

PROPERTY = settings(
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(str(REPO / ".pytest_cache" / "hypothesis")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SCALE = float(os.environ.get("STRIKEBOT_PROPERTY_SCALE", "1"))


def examples(n: int) -> settings:
    """PROPERTY settings with `n` examples (times STRIKEBOT_PROPERTY_SCALE)."""
    return settings(PROPERTY, max_examples=max(1, round(n * SCALE)))


# --- text -----------------------------------------------------------------------------------

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
DIRECTION = ("\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2069")
SLACK_SYNTAX = (
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!subteam^S123>",
    "<!subteam^S123|@team>",
    "<!here|here>",
    "<!date^1392734382^{date}|Feb 18>",
    "<@U123>",
    "<@U123|bob>",
    "<@W123>",
    "<#C123|x>",
    "<#C123>",
    "<https://x|y>",
    "<https://evil.example/a?b=1&c=2|click here>",
    "<mailto:a@b.c|mail>",
    "@here",
    "@channel",
    "@everyone",
    "@Here",
    "@CHANNEL",
    "&",
    "&amp;",
    "&lt;!here&gt;",
    "&lt;",
    "&gt;",
    "<",
    ">",
    "|",
)
DISCORD_SYNTAX = (
    "@everyone",
    "@here",
    "<@123>",
    "<@!123>",
    "<@&123>",
    "<#123>",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "<@1234567890123456789012345>",
    "<@\u0661\u0662\u0663>",
    "</cmd:1>",
    "</strike ask:123456789012345678>",
    "<t:0:R>",
    "<t:1694390400:F>",
    "<:blob:123456789012345678>",
    "<a:blob:1>",
    "<https://x.example>",
    "@@everyone",
    "@everyone@here",
)
MARKDOWN = (
    "*",
    "**",
    "***",
    "_",
    "__",
    "~",
    "~~",
    "`",
    "``",
    "```",
    "```py\nprint(1)\n```",
    "||spoiler||",
    "> ",
    "\n> quoted",
    ">>> ",
    "# ",
    "\n# Header",
    "\n## h2",
    "-# small",
    "\n- item",
    "\n* item",
    "\n1. item",
    "[x](http://evil.example)",
    "[x](<https://evil.example>)",
    "[@everyone](https://evil.example)",
    "\\",
    "\\*",
    "\\<@123>",
    ":warning:",
    "\u2022",
)
UNICODE = (
    *ZERO_WIDTH,
    *DIRECTION,
    "\u200e",
    "\u200f",
    "\u00ad",
    "e\u0301",
    "\u0301\u0302\u0303",
    "Z\u0336\u0337\u0338",
    "\U0001f525",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1fa\U0001f1f8",
    "\u270a\U0001f3fd",
    "\ufdfa",
    "\u2028",
    "\u2029",
    "\x85",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\r\n",
    "\t",
    "\n",
    "\u00a0",
    "\u3000",
    "\uff20everyone",
    "\u05e9\u05d1\u05d9\u05ea\u05d4",
    "\u0625\u0636\u0631\u0627\u0628",
    "\u7f62\u5de5",
)
WORDS = (
    "how long has the strike lasted",
    "what did the studios offer on pay",
    "AMPTP",
    "WGA",
    "130 days",
    "5%",
    "AI",
    "residuals",
    "?",
    ".",
    " ",
    "  ",
)
# Only where asked for: what a command line reads from bytes that are not UTF-8
# (surrogateescape), or a JSON "\ud800" escape; never in a Slack or Discord payload we send.
LONE_SURROGATES = ("\ud800", "\udfff", "\udc80", "\udcff")
FRAGMENTS = SLACK_SYNTAX + DISCORD_SYNTAX + MARKDOWN + UNICODE + WORDS

NO_SURROGATES = st.characters(exclude_categories=("Cs",))
ANY_CHAR = st.characters()


def texts(max_parts: int = 16, *, surrogates: bool = False) -> st.SearchStrategy[str]:
    """Random characters of every category mixed with the hostile fragments above."""
    chars = ANY_CHAR if surrogates else NO_SURROGATES
    fragments = FRAGMENTS + LONE_SURROGATES if surrogates else FRAGMENTS
    part = st.one_of(st.text(chars, max_size=12), st.sampled_from(fragments))
    return st.lists(part, max_size=max_parts).map("".join)


def huge_texts(min_size: int = 1_000, max_size: int = 100_000) -> st.SearchStrategy[str]:
    """Hostile text repeated to between `min_size` and `max_size` characters."""

    def repeat(unit: str, size: int) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    unit = texts(8).filter(bool)
    return st.builds(repeat, unit, st.integers(min_size, max_size))


def any_texts(*, surrogates: bool = False) -> st.SearchStrategy[str]:
    """Mostly short hostile text, sometimes up to 100 KB."""
    return st.one_of(texts(surrogates=surrogates), texts(60), huge_texts())


def urls() -> st.SearchStrategy[str]:
    """What admins and knowledge files may give as a source URL (bot.core.rules.url_problem:
    http(s), a host, no whitespace or control characters)."""
    tail = texts(6).map(lambda s: "".join(ch for ch in s if not ch.isspace()))
    return st.builds(
        lambda scheme, body: f"{scheme}://{body}",
        st.sampled_from(["http", "https"]),
        st.one_of(st.just("example.org/a?b=1&c=2"), tail.filter(bool)),
    ).filter(lambda u: url_problem(u) is None)


# --- Slack ----------------------------------------------------------------------------------

# Our own links: <http(s) URL|label>, the URL without whitespace, <, > or |.
SLACK_LINK = re.compile(r"<(https?://[^\s<>|]+)\|([^<>]*)>")
SLACK_BAD_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
QUOTE_MARK = re.compile(r"(?m)^>")
# A bare broadcast word; Slack does not parse these for a bot posting with link_names off,
# but the renderers break them anyway (a word joiner after the @).
BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
# Anything Slack turns into a mention, a broadcast, a channel link or a user group.
SLACK_MENTION = re.compile(r"<\s*[!@#]")


def slack_texts(obj: Any, *, top: bool = True) -> Iterator[tuple[str, str]]:
    """Every (kind, text) shown by Slack in a message, modal or block list: text objects
    (`mrkdwn` / `plain_text`) and the message's top-level fallback `text` (read as mrkdwn).
    Not an input's `initial_value`: the raw text an admin edits, never read as markup."""
    if isinstance(obj, dict):
        if top and isinstance(obj.get("text"), str):
            yield "mrkdwn", obj["text"]
        if obj.get("type") in ("mrkdwn", "plain_text") and isinstance(obj.get("text"), str):
            yield obj["type"], obj["text"]
        for key, value in obj.items():
            if key == "text" and isinstance(value, str):
                continue
            yield from slack_texts(value, top=False)
    elif isinstance(obj, list):
        for item in obj:
            yield from slack_texts(item, top=False)


def slack_problems(obj: Any) -> list[str]:
    """Why this Slack JSON could ping, mention, link or show broken escapes (empty: safe).

    mrkdwn: outside our own `<https://..|label>` links there is no `<` or `>`; every `&`
    starts `&amp;`, `&lt;` or `&gt;`; no bare @here/@channel/@everyone; text objects are
    `verbatim` (Slack adds no links of its own). plain_text: no `<!`, `<@`, `<#`, no bare
    broadcast word."""
    problems = []
    json.dumps(obj, ensure_ascii=False).encode("utf-8")  # sendable as JSON at all
    for kind, text in slack_texts(obj):
        where = f"{kind} {text[:120]!r}"
        shown = SLACK_LINK.sub(lambda m: m[2], text) if kind == "mrkdwn" else text
        if BROADCAST.search(shown):  # a link's target is not shown, nor read for mentions
            problems.append(f"bare broadcast word in {where}")
        if kind == "plain_text":
            if SLACK_MENTION.search(text):
                problems.append(f"mention syntax in {where}")
            continue
        for url, label in SLACK_LINK.findall(text):
            if SLACK_BAD_AMP.search(url) or SLACK_MENTION.search(label):
                problems.append(f"unsafe link {url!r}|{label!r} in {where}")
        # Outside our links, the only `>` is our own quote mark where a line starts.
        rest = QUOTE_MARK.sub("", SLACK_LINK.sub(" ", text))
        if "<" in rest or ">" in rest:
            problems.append(f"unescaped < or > in {where}")
        if SLACK_BAD_AMP.search(text):
            problems.append(f"unescaped & (or a cut entity) in {where}")
    problems.extend(_unverbatim(obj))
    return problems


def _unverbatim(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" and obj.get("verbatim") is not True:
            yield f"mrkdwn without verbatim: {str(obj.get('text'))[:80]!r}"
        for value in obj.values():
            yield from _unverbatim(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _unverbatim(item)


def _plain_len(obj: dict[str, Any] | None, limit: int, what: str, out: list[str]) -> None:
    if obj is None:
        return
    text = obj.get("text", "")
    if not 1 <= len(text) <= limit:
        out.append(f"{what} text has {len(text)} characters (1..{limit})")


def slack_limit_problems(obj: dict[str, Any], *, modal: bool = False) -> list[str]:
    """Block Kit limits (https://api.slack.com/reference/block-kit): 50 blocks a message
    (100 a modal), section text 1..3000, header 150, context 1..10 elements of at most 3000,
    buttons' text 75, action_id / block_id 255, value 2000, fallback text 40000; modal title,
    submit and close 24, private_metadata 3000, inputs' label and hint 2000."""
    out: list[str] = []
    blocks = obj.get("blocks", [])
    if len(blocks) > (100 if modal else 50):
        out.append(f"{len(blocks)} blocks")
    if not modal and len(obj.get("text", "")) > 40_000:
        out.append(f"fallback text of {len(obj['text'])} characters")
    if modal:
        for key in ("title", "submit", "close"):
            _plain_len(obj.get(key), 24, f"modal {key}", out)
        if len(obj.get("private_metadata", "")) > 3000:
            out.append("private_metadata over 3000")
    for block in blocks:
        kind = block["type"]
        if len(block.get("block_id", "")) > 255:
            out.append("block_id over 255")
        if kind == "section":
            _plain_len(block.get("text"), 3000, "section", out)
            if len(block.get("fields", [])) > 10:
                out.append("section with over 10 fields")
            for f in block.get("fields", []):
                _plain_len(f, 2000, "section field", out)
        elif kind == "header":
            _plain_len(block["text"], 150, "header", out)
        elif kind == "context":
            elements = block["elements"]
            if not 1 <= len(elements) <= 10:
                out.append(f"context with {len(elements)} elements")
            for e in elements:
                _plain_len(e, 3000, "context element", out)
        elif kind == "actions":
            if not 1 <= len(block["elements"]) <= 25:
                out.append(f"actions with {len(block['elements'])} elements")
            for e in block["elements"]:
                _plain_len(e.get("text"), 75, "button", out)
                if len(e.get("action_id", "")) > 255:
                    out.append("action_id over 255")
                if len(e.get("value", "")) > 2000:
                    out.append("button value over 2000")
        elif kind == "input":
            _plain_len(block["label"], 2000, "input label", out)
            _plain_len(block.get("hint"), 2000, "input hint", out)
            element = block["element"]
            cap = element.get("max_length", 3000)
            if cap > 3000 or len(element.get("initial_value", "")) > cap:
                out.append("plain_text_input initial value over its max_length")
    return out


# --- Discord --------------------------------------------------------------------------------

# What Discord turns into a notification or a mention: @everyone / @here anywhere (Discord
# matches them as a prefix, "@everyones" included), user, nickname and role mentions, and
# channel links. (Case-sensitive, as Discord is; digits as Python's \d, wider than Discord's.)
DISCORD_PING = re.compile(r"@everyone|@here|<@[!&]?\d+>|<#\d+>")
# Our own masked link under a citation; its target is not shown and not parsed for mentions.
DISCORD_SOURCE_LINK = re.compile(r"\[Read the source\]\(([^)]*)\)")
DISCORD_SAFE_URL = re.compile(r"https?://[^\s()<>]+")


def discord_texts(embed: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every (where, text) Discord shows from an embed dict."""
    for key in ("title", "description"):
        if embed.get(key):
            yield key, embed[key]
    for key in ("footer", "author"):
        part = embed.get(key) or {}
        if part.get("text") or part.get("name"):
            yield key, part.get("text") or part.get("name")
    for i, f in enumerate(embed.get("fields") or []):
        yield f"field {i} name", f["name"]
        yield f"field {i} value", f["value"]


def discord_ping_problems(text: str, where: str = "content") -> list[str]:
    """Why this Discord text could notify or render a mention (empty: it cannot)."""
    problems = []
    for url in DISCORD_SOURCE_LINK.findall(text):
        if not DISCORD_SAFE_URL.fullmatch(url):
            problems.append(f"{where}: source link to {url!r} is not a plain http(s) URL")
    shown = DISCORD_SOURCE_LINK.sub("[Read the source]", text)
    for m in DISCORD_PING.finditer(shown):
        problems.append(
            f"{where}: {m.group()!r} in {shown[max(0, m.start() - 40) : m.end() + 40]!r}"
        )
    return problems


def discord_problems(embeds: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    """Pings and mentions in one embed or a message's embeds."""
    problems = []
    for embed in embeds if isinstance(embeds, list) else [embeds]:
        for where, text in discord_texts(embed):
            problems.extend(discord_ping_problems(text, where))
    return problems


def embed_length(embed: dict[str, Any]) -> int:
    """Discord's count towards the 6000 total (title, description, field names and values,
    footer text, author name), computed here independently of the renderer."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields") or [])


def discord_limit_problems(embeds: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    """Discord's embed limits (https://discord.com/developers/docs/resources/message
    #embed-object-embed-limits): title 256, description 4096, 25 fields, field name 1..256 and
    value 1..1024, footer 2048, author 256, 6000 in all of a message's embeds, 10 embeds."""
    out: list[str] = []
    items = embeds if isinstance(embeds, list) else [embeds]
    if len(items) > 10:
        out.append(f"{len(items)} embeds")
    if sum(embed_length(e) for e in items) > 6000:
        out.append(f"{sum(embed_length(e) for e in items)} characters in all")
    for e in items:
        for key, cap in (("title", 256), ("description", 4096)):
            if len(e.get(key) or "") > cap:
                out.append(f"{key} of {len(e[key])}")
        if len((e.get("footer") or {}).get("text") or "") > 2048:
            out.append("footer over 2048")
        if len((e.get("author") or {}).get("name") or "") > 256:
            out.append("author over 256")
        fields = e.get("fields") or []
        if len(fields) > 25:
            out.append(f"{len(fields)} fields")
        for f in fields:
            if not 1 <= len(f["name"]) <= 256 or not f["name"].strip():
                out.append(f"field name of {len(f['name'])}: {f['name'][:40]!r}")
            if not 1 <= len(f["value"]) <= 1024 or not f["value"].strip():
                out.append(f"field value of {len(f['value'])}: {f['value'][:40]!r}")
    return out


# Discord Markdown: these characters format text anywhere; `#`, `-` and `1.` do at the start
# of a line (headers, subtext, lists). A backslash before any ASCII punctuation shows it as is.
DISCORD_SPECIAL = frozenset("\\*_~`|>[]<")
_LINE_START_MARK = re.compile(r"(?m)^[ \t]*(#|-|\d+\.)")
_UNESCAPE = re.compile(r"\\([" + re.escape(string.punctuation) + "])")


def discord_unescape(text: str) -> str:
    """What Discord shows for backslash-escaped text (without the Markdown)."""
    return _UNESCAPE.sub(r"\1", text)


def discord_unescaped_markup(text: str) -> list[str]:
    """Markdown characters in `text` that Discord would read as formatting (empty: none)."""
    found = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in string.punctuation:
            i += 2
            continue
        if ch in DISCORD_SPECIAL:
            found.append(f"{ch!r} at {i} in {text[max(0, i - 20) : i + 20]!r}")
        i += 1
    found.extend(f"line starts with {m.group(1)!r}" for m in _LINE_START_MARK.finditer(text))
    return found
