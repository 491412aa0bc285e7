"""Discord rendering: answers, sources, topics and admin listings as embed dicts (the JSON
form of `discord.Embed`), always inside Discord's embed limits.

Pure functions only: no discord.py import, so they are tested without a client. The adapter
turns a dict into an embed with `discord.Embed.from_dict`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.core.models import Answer, Citation, Fact, Source
from bot.render.text import REFUSAL, human_date

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
MESSAGE_MAX = 2000
DESCRIPTION_KEPT = 1500

COLOUR_ANSWER = 0x2E7D32
COLOUR_STALE = 0xF9A825
COLOUR_REFUSAL = 0x757575
COLOUR_INFO = 0x1565C0
COLOUR_ADMIN = 0x6A1B9A
COLOUR_ERROR = 0xC62828

SOURCES_POINTER = "see `/strike sources` for the full list"
ELLIPSIS = "…"

HELP_TEXT = (
    "I answer questions about the strike with short, sourced answers, and say so when I "
    "don't have a source rather than guess.\n\n"
    "**Commands**\n"
    "`/strike ask question:` ask anything in your own words (only you see the answer, "
    "unless you set `public:` True)\n"
    "`/strike status` the latest picture, posted for the channel\n"
    "`/strike topics` what I can answer about\n"
    "`/strike sources` the sources behind my answers\n"
    "`/strike subscribe` / `/strike unsubscribe` (admins) post an update in this channel "
    "whenever the status changes, or stop doing so\n"
    "`/strike help` this message\n\n"
    "You can also mention me (`@strikebot how long has the strike lasted?`) or send me a "
    "direct message.\n"
    "Use the **Helpful** / **Not helpful** buttons under an answer to tell the maintainers "
    "how I'm doing."
)

_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")
_CHANNEL_OR_USER_TAG = re.compile(r"<(@[!&]?|#)(\d{15,21})>")
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]])")


def neutralise(text: str) -> str:
    """Break @everyone, @here and user/role/channel mention syntax so nothing shown can ping
    or render as a mention (a zero-width space after the @ or #)."""
    text = _CHANNEL_OR_USER_TAG.sub(lambda m: f"<{m.group(1)}\u200b{m.group(2)}>", text)
    return _MENTION.sub("@\u200b\\1", text)


def escape(text: str) -> str:
    """Text shown literally: mentions neutralised, Markdown characters escaped."""
    return _MARKDOWN.sub(r"\\\1", neutralise(text))


def truncate(text: str, limit: int, tail: str = ELLIPSIS) -> str:
    """`text` cut to at most `limit` characters, ending with `tail` when cut."""
    if len(text) <= limit:
        return text
    if limit <= len(tail):
        return tail[:limit]
    cut = text[: limit - len(tail)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:
        cut = cut[:space]
    # Never leave a dangling escape backslash before the tail.
    while cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut.rstrip() + tail


def plain_message(text: str) -> str:
    """A plain chat message (mentions neutralised) within Discord's 2000 characters."""
    return truncate(neutralise(text), MESSAGE_MAX)


# --- limits ---------------------------------------------------------------------------


def embed_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6000 total."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        total += len(f["name"]) + len(f["value"])
    return total


def _more_field(hidden: int, pointer: str) -> dict[str, Any]:
    return {"name": "More", "value": f"…and {hidden} more: {pointer}.", "inline": False}


def fit(embed: dict[str, Any], pointer: str = SOURCES_POINTER) -> dict[str, Any]:
    """The embed cut to Discord's limits; anything cut is replaced by a pointer to where the
    rest can be found. Citations give way before the first DESCRIPTION_KEPT characters of the
    description do; beyond that the description is shortened first."""
    out = dict(embed)
    if out.get("title"):
        out["title"] = truncate(out["title"], TITLE_MAX)
    if out.get("footer"):
        out["footer"] = {**out["footer"], "text": truncate(out["footer"]["text"], FOOTER_MAX)}
    description = out.pop("description", None) or ""
    fields = [
        {
            **f,
            "name": truncate(f["name"], FIELD_NAME_MAX) or "\u200b",
            "value": truncate(f["value"], FIELD_VALUE_MAX) or "\u200b",
        }
        for f in out.pop("fields", None) or []
    ]
    hidden = 0
    if len(fields) > FIELDS_MAX:
        hidden = len(fields) - (FIELDS_MAX - 1)
        fields = fields[: FIELDS_MAX - 1]

    def shown() -> list[dict[str, Any]]:
        return fields + ([_more_field(hidden, pointer)] if hidden else [])

    wanted = min(len(description), DESCRIPTION_KEPT)
    while fields and embed_length({**out, "fields": shown()}) + wanted > TOTAL_MAX:
        fields.pop()
        hidden += 1
    if shown():
        out["fields"] = shown()
    if description:
        budget = min(DESCRIPTION_MAX, TOTAL_MAX - embed_length(out))
        out["description"] = truncate(description, budget, f"{ELLIPSIS}\n*(shortened: {pointer})*")
    return out


# --- answers --------------------------------------------------------------------------


def _as_of(day) -> str:
    return f"*(as of {human_date(day)})*"


def _statement_block(answer: Answer) -> str:
    several = len(answer.statements) > 1
    blocks = []
    for st in answer.statements:
        body = f"{escape(st.fact.text)} {_as_of(st.fact.as_of)}"
        if several:
            body = f"**{escape(st.label)}**\n{body}"
        if st.history is not None:
            body += f"\n> Earlier: {escape(st.history.text)} {_as_of(st.history.as_of)}"
        blocks.append(body)
    return "\n\n".join(blocks)


def citation_field(citation: Citation) -> dict[str, Any]:
    """One source under an answer: its title as the name; date, publisher and link below."""
    details = [human_date(citation.published)]
    if citation.publisher:
        details.append(escape(citation.publisher))
    value = " · ".join(details)
    if citation.url:
        value += f"\n[Read the source]({citation.url.replace(')', '%29')})"
    return {"name": escape(citation.title), "value": value, "inline": False}


def _footer(answer: Answer) -> dict[str, str] | None:
    parts = []
    if answer.as_of:
        parts.append(f"As of {human_date(answer.as_of)}")
    if answer.stale_warning:
        parts.append(f"⚠ {answer.stale_warning}")
    return {"text": " · ".join(parts)} if parts else None


def _suggestion_lines(suggestions: Sequence[str]) -> str:
    return "\n".join(f"• {escape(s)}" for s in suggestions)


def _title_from_question(question: str) -> str:
    q = " ".join(question.split())
    return neutralise(q[:1].upper() + q[1:]) if q else "Your question"


def answer_embed(answer: Answer) -> dict[str, Any]:
    """An answer, status, refusal or invalid-question reply as one embed within limits."""
    if answer.kind == "invalid":
        return fit(
            {
                "title": "I couldn't read that as a question",
                "description": neutralise(answer.text),
                "color": COLOUR_REFUSAL,
            }
        )
    if not answer.answered:
        lines = [REFUSAL]
        if answer.suggestions:
            lines += ["", "I can answer questions like:", _suggestion_lines(answer.suggestions)]
        lines += ["", "Use `/strike topics` to see everything I know about."]
        embed = {
            "title": truncate(_title_from_question(answer.question), TITLE_MAX),
            "description": "\n".join(lines),
            "color": COLOUR_REFUSAL,
        }
        return fit(embed)
    title = (
        "Latest picture of the strike"
        if answer.kind == "status"
        else _title_from_question(answer.question)
    )
    embed: dict[str, Any] = {
        "title": title,
        "description": _statement_block(answer),
        "color": COLOUR_STALE if answer.stale_warning else COLOUR_ANSWER,
        "fields": [citation_field(c) for c in answer.citations],
    }
    footer = _footer(answer)
    if footer:
        embed["footer"] = footer
    return fit(embed)


# --- lists ----------------------------------------------------------------------------


def sources_embed(sources: Sequence[Source]) -> dict[str, Any]:
    """The sources behind the current facts, newest first, one field each."""
    if not sources:
        return {"title": "Sources", "description": "I have no sources yet.", "color": COLOUR_INFO}
    embed = {
        "title": "Sources",
        "description": f"The {len(sources)} source(s) behind my current answers, newest first.",
        "color": COLOUR_INFO,
        "fields": [citation_field(Citation.of(s)) for s in sources],
    }
    return fit(embed, pointer="ask an admin for the full list (`strikebot sources`)")


def _bullet_list(items: Iterable[str], limit: int = DESCRIPTION_MAX - 100) -> str:
    """Bullet lines within `limit` characters, with a count of any left out."""
    items = list(items)
    lines: list[str] = []
    used = 0
    for i, item in enumerate(items):
        line = f"• {item}"
        if used + len(line) + 1 > limit:
            lines.append(f"…and {len(items) - i} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def topics_embed(labels: Sequence[str]) -> dict[str, Any]:
    """What the bot can answer about."""
    if not labels:
        body = "I don't know about anything yet."
    else:
        body = "I can answer questions about:\n" + _bullet_list(escape(x) for x in labels)
    return fit({"title": "Topics", "description": body, "color": COLOUR_INFO})


def help_embed() -> dict[str, Any]:
    """How to use the bot on Discord."""
    return {"title": "strikebot help", "description": HELP_TEXT, "color": COLOUR_INFO}


# --- admin ----------------------------------------------------------------------------


def fact_embed(fact: Fact, heading: str) -> dict[str, Any]:
    """One fact after an admin action, e.g. heading 'Added'."""
    embed = {
        "title": f"{heading}: {fact.id}",
        "description": escape(fact.text),
        "color": COLOUR_ADMIN,
        "fields": [
            {"name": "Topic", "value": escape(fact.topic), "inline": True},
            {"name": "As of", "value": human_date(fact.as_of), "inline": True},
            {"name": "Source", "value": escape(fact.source), "inline": True},
            {"name": "Status", "value": fact.status, "inline": True},
        ],
    }
    return fit(embed, pointer="use `strikebot facts show` for the rest")


def audit_embed(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Recent audit entries, newest first: when, who, what, which fact."""
    if not entries:
        return {"title": "Audit log", "description": "No changes yet.", "color": COLOUR_ADMIN}
    lines = []
    for e in entries:
        note = f" ({escape(str(e['note']))})" if e.get("note") else ""
        lines.append(
            f"`{e['at']}` {escape(str(e['actor']))} **{escape(str(e['action']))}** "
            f"`{e['fact_id']}`{note}"
        )
    body = "\n".join(lines)
    return fit(
        {"title": "Audit log", "description": body, "color": COLOUR_ADMIN},
        pointer="use `strikebot facts audit` for more",
    )


def unanswered_embed(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Questions the bot could not answer, with how often they were asked."""
    if not rows:
        return {
            "title": "Unanswered questions",
            "description": "Every recent question got an answer.",
            "color": COLOUR_ADMIN,
        }
    body = _bullet_list(
        f"{escape(str(r['question']))} (×{r['times']}, last `{r['last_asked']}`)" for r in rows
    )
    return fit({"title": "Unanswered questions", "description": body, "color": COLOUR_ADMIN})


def notice_embed(text: str, *, error: bool = False) -> dict[str, Any]:
    """A short notice (a refusal, an error) as an embed."""
    return fit({"description": neutralise(text), "color": COLOUR_ERROR if error else COLOUR_INFO})
