"""Block Kit rendering for Slack: answers, lists, help, admin replies and the add-fact modal.

Pure functions from core objects to Slack JSON. Every piece of text that a user or an admin
wrote (questions, fact texts, titles, reasons) goes through `escape`, so nothing can ping
`@here`/`@channel`/`@everyone`, mention someone or inject a link. Block Kit limits are kept
here: 3000 characters a section, 10 context elements, 50 blocks a message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.core.models import Answer, Citation, Fact, Source, Statement
from bot.core.slash_commands import ADMIN_HELP, STRIKE_HELP
from bot.render.text import REFUSAL, human_date

Block = dict[str, Any]
Message = dict[str, Any]

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 10
CONTEXT_TEXT_LIMIT = 2000
BLOCK_LIMIT = 50
FALLBACK_LIMIT = 3000
QUESTION_ECHO_LIMIT = 300

ACTION_HELPFUL = "strike_feedback_helpful"
ACTION_NOT_HELPFUL = "strike_feedback_not_helpful"
FEEDBACK_BLOCK_ID = "strike_feedback"
ADD_FACT_CALLBACK = "strike_admin_add"
FIELD_ACTION = "value"
ADD_FACT_FIELDS = (
    "fact_text",
    "fact_topic",
    "fact_as_of",
    "source_title",
    "source_published",
    "source_url",
)
SOURCES_POINTER = "The full list is in `/strike sources`."
TRUNCATED_NOTE = "This answer was shortened to fit in Slack. " + SOURCES_POINTER

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_SLACK_MARKUP = re.compile(r"<([^<>]*)>")
_AT_WORD = re.compile(r"(?<!\S)@[\w.\-]+")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


# --- text safety ------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for mrkdwn/fallbacks: `&`, `<`, `>` escaped, broadcast words unable to ping."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060\\1", text)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _markup_to_plain(inner: str, bot_user_id: str | None, drop_mentions: bool) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        if drop_mentions or (bot_user_id and target[1:] == bot_user_id):
            return ""
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        word = target[1:].split("^")[0]
        if word == "date":
            return label
        return "" if drop_mentions else label or f"@{word}"
    return label or target


def plain_from_slack(
    text: str | None, bot_user_id: str | None = None, *, drop_mentions: bool = False
) -> str:
    """Slack message markup as the plain words a person typed, minus the bot's mention.

    With `drop_mentions`, every mention of a person, group or `@here`-like broadcast goes
    too: they address people and are not part of a question."""
    text = _SLACK_MARKUP.sub(
        lambda m: _markup_to_plain(m.group(1), bot_user_id, drop_mentions), text or ""
    )
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if drop_mentions:
        text = _AT_WORD.sub("", text)
    return " ".join(text.split())


def question_from_slack(text: str | None, bot_user_id: str | None = None) -> str:
    """The question in a Slack message or command: plain words, no mentions."""
    return plain_from_slack(text, bot_user_id, drop_mentions=True)


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to a plain http(s) URL, or just the escaped label."""
    if url and _SAFE_URL.match(url):
        return f"<{url.replace('&', '&amp;')}|{escape(label)}>"
    return escape(label)


# --- building blocks --------------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; `verbatim` so Slack adds no links or mentions of its own."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str) -> dict[str, Any]:
    """A plain_text object (no formatting, no emoji codes)."""
    return {"type": "plain_text", "text": text, "emoji": False}


def section(text: str) -> Block:
    """A mrkdwn section; text must already be escaped."""
    return {"type": "section", "text": mrkdwn(truncate(text, SECTION_LIMIT))}


def context(elements: Sequence[dict[str, Any]]) -> Block:
    """A context block with at most 10 elements, each cut to fit."""
    items = [dict(e, text=truncate(e["text"], CONTEXT_TEXT_LIMIT)) for e in elements]
    return {"type": "context", "elements": items[:CONTEXT_LIMIT]}


def pack_sections(lines: Iterable[str], max_blocks: int) -> tuple[list[Block], bool]:
    """Escaped lines into as few sections as fit 3000 characters each; True when cut."""
    blocks: list[Block] = []
    current = ""
    for line in lines:
        line = truncate(line, SECTION_LIMIT)
        joined = f"{current}\n{line}" if current else line
        if len(joined) <= SECTION_LIMIT:
            current = joined
            continue
        if len(blocks) + 1 >= max_blocks:
            blocks.append(section(current))
            return blocks, True
        blocks.append(section(current))
        current = line
    if current:
        blocks.append(section(current))
    return blocks, False


def message(text: str, blocks: list[Block]) -> Message:
    """A message body: escaped fallback text (for notifications) plus its blocks."""
    return {"text": truncate(text, FALLBACK_LIMIT), "blocks": blocks[:BLOCK_LIMIT]}


def notice(text: str) -> Message:
    """A one-paragraph message from text that may carry user input."""
    safe = escape(text)
    return message(safe, [section(safe)])


# --- answers ----------------------------------------------------------------------------


def statement_lines(statements: Sequence[Statement]) -> list[str]:
    """Each fact with its as-of date (and the earlier figure it replaced), escaped."""
    lines = []
    bullets = len(statements) > 1
    for st in statements:
        body = f"{escape(st.fact.text)} _(as of {human_date(st.fact.as_of)})_"
        lines.append(f"• *{escape(st.label)}*: {body}" if bullets else body)
        if st.history is not None:
            earlier = escape(st.history.text)
            lines.append(f"      _Earlier:_ {earlier} _(as of {human_date(st.history.as_of)})_")
    return lines


def citation_text(citation: Citation) -> str:
    """“Title” (linked when it has a URL), publisher, date."""
    parts = [link(citation.url, f"“{citation.title}”")]
    if citation.publisher:
        parts.append(escape(citation.publisher))
    parts.append(human_date(citation.published))
    return ", ".join(parts)


def citation_elements(answer: Answer) -> list[dict[str, Any]]:
    """Citations and the as-of date, within the 10-element context limit."""
    tail = [mrkdwn(f"As of {human_date(answer.as_of)}")] if answer.as_of else []
    room = CONTEXT_LIMIT - len(tail)
    cites = answer.citations
    label = "Source" if len(cites) == 1 else "Sources"
    if len(cites) > room:
        shown = [mrkdwn(citation_text(c)) for c in cites[: room - 1]]
        more = mrkdwn(f"and {len(cites) - (room - 1)} more: `/strike sources`")
        items = [*shown, more]
    else:
        items = [mrkdwn(citation_text(c)) for c in cites]
    if items:
        items[0] = mrkdwn(f"*{label}:* {items[0]['text']}")
    return items + tail


def feedback_block(log_id: int) -> Block:
    """The Helpful / Not helpful buttons; their value is the answer's log id."""
    value = str(log_id)
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_HELPFUL,
                "text": plain("Helpful"),
                "value": value,
            },
            {
                "type": "button",
                "action_id": ACTION_NOT_HELPFUL,
                "text": plain("Not helpful"),
                "value": value,
            },
        ],
    }


def _refusal_blocks(answer: Answer) -> list[Block]:
    if answer.kind == "invalid":
        blocks = [section(escape(answer.text))]
    else:
        blocks = [section(escape(REFUSAL))]
        if answer.suggestions:
            lines = "\n".join(f"• {escape(s)}" for s in answer.suggestions[:10])
            blocks.append(section(f"I can answer questions like:\n{lines}"))
    hint = "See `/strike topics` for everything I know about, or `/strike help`."
    blocks.append(context([mrkdwn(hint)]))
    return blocks


def _answered_blocks(answer: Answer, room: int) -> list[Block]:
    tail: list[Block] = []
    elements = citation_elements(answer)
    if elements:
        tail.append(context(elements))
    if answer.stale_warning:
        tail.append(context([mrkdwn(f":warning: {escape(answer.stale_warning)}")]))
    lines = statement_lines(answer.statements)
    if answer.kind == "status" and answer.as_of:
        lines.insert(0, f"*Latest picture* (as of {human_date(answer.as_of)})")
    sections, cut = pack_sections(lines, room - len(tail) - 1)
    if cut:
        tail.append(context([mrkdwn(TRUNCATED_NOTE)]))
    return sections + tail


def answer_blocks(
    answer: Answer, *, asked: str | None = None, feedback: bool = True
) -> list[Block]:
    """The answer as blocks: optional echo of the question, statements, sources, buttons."""
    head: list[Block] = []
    if asked:
        echo = escape(truncate(asked, QUESTION_ECHO_LIMIT))
        head.append(context([plain(f"You asked: {echo}")]))
    foot: list[Block] = []
    if feedback and answer.answered and answer.log_id is not None:
        foot.append(feedback_block(answer.log_id))
    if answer.answered:
        body = _answered_blocks(answer, BLOCK_LIMIT - len(head) - len(foot))
    else:
        body = _refusal_blocks(answer)
    return head + body + foot


def answer_message(answer: Answer, *, asked: str | None = None, feedback: bool = True) -> Message:
    """The whole message for an answer: blocks plus an escaped plain-text fallback."""
    return message(escape(answer.text), answer_blocks(answer, asked=asked, feedback=feedback))


def feedback_thanks(blocks: Sequence[Block], helpful: bool, recorded: bool = True) -> list[Block]:
    """The same blocks with the feedback buttons replaced by a short thanks."""
    if not recorded:
        note = "Thanks! (This answer is too old to record feedback.)"
    else:
        note = "Thanks for the feedback!" if helpful else "Thanks, noted: not helpful."
    out: list[Block] = []
    for block in blocks:
        if _is_feedback_block(block):
            out.append({"type": "context", "elements": [mrkdwn(f":white_check_mark: {note}")]})
        else:
            out.append(block)
    return out


def _is_feedback_block(block: Block) -> bool:
    if block.get("type") != "actions":
        return False
    ids = {e.get("action_id") for e in block.get("elements", [])}
    return block.get("block_id") == FEEDBACK_BLOCK_ID or ACTION_HELPFUL in ids


# --- lists and help ---------------------------------------------------------------------


def _list_message(title: str, lines: list[str], footer: str | None) -> Message:
    room = BLOCK_LIMIT - 2
    sections, cut = pack_sections([title, *lines], room)
    blocks = list(sections)
    note = footer
    if cut:
        note = "The list was shortened to fit in Slack." + (f" {footer}" if footer else "")
    if note:
        blocks.append(context([mrkdwn(note)]))
    fallback = "\n".join([title, *lines])
    return message(fallback, blocks)


def topics_message(labels: Sequence[str]) -> Message:
    """What the bot can answer about."""
    if not labels:
        return notice("I don't have any facts loaded yet, so there is nothing I can answer.")
    lines = [f"• {escape(label)}" for label in labels]
    return _list_message("*I can answer questions about:*", lines, "Ask with `/strike <question>`.")


def source_line(source: Source) -> str:
    """One bullet of `/strike sources`."""
    parts = [link(source.url, f"“{source.title}”")]
    if source.publisher:
        parts.append(escape(source.publisher))
    parts.append(human_date(source.published))
    return "• " + ", ".join(parts)


def sources_message(sources: Sequence[Source]) -> Message:
    """The sources behind the current facts, newest first."""
    if not sources:
        return notice("I have no sources yet.")
    return _list_message("*My sources:*", [source_line(s) for s in sources], None)


def _help_lines(command: str, entries: Sequence[tuple[str, str]]) -> list[str]:
    return [f"• `{command} {usage}`: {escape(what)}" for usage, what in entries]


def help_message(problem: str | None = None) -> Message:
    """How to use `/strike` (and mentions/DMs), with a note when the text was not understood."""
    lines = _help_lines("/strike", STRIKE_HELP)
    lines.append("You can also mention me in a channel, or send me a direct message.")
    title = "*Ask me about the strike.* I answer from sourced facts only:"
    if problem:
        title = f"{escape(problem)}\n{title}"
    return _list_message(title, lines, None)


def admin_help_message(problem: str | None = None) -> Message:
    """How to use `/strike-admin`."""
    title = "*Admin commands* (every change is written to the audit log):"
    if problem:
        title = f"{escape(problem)}\n{title}"
    return _list_message(title, _help_lines("/strike-admin", ADMIN_HELP), None)


# --- admin ------------------------------------------------------------------------------


def fact_message(verb: str, fact: Fact) -> Message:
    """`Retracted offer.pay-2: ...` after an admin action."""
    text = f"{verb} `{escape(fact.id)}` ({escape(fact.topic)}): {escape(fact.text)}"
    return message(text, [section(text)])


def audit_message(entries: Sequence[dict[str, Any]]) -> Message:
    """Who changed what, newest first."""
    if not entries:
        return notice("The audit log is empty.")
    lines = []
    for e in entries:
        note = f" ({escape(str(e['note']))})" if e.get("note") else ""
        lines.append(
            f"• {escape(str(e['at']))}  {escape(str(e['actor']))}  *{escape(str(e['action']))}*"
            f"  `{escape(str(e['fact_id']))}`{note}"
        )
    return _list_message("*Audit log* (newest first):", lines, None)


def unanswered_message(rows: Sequence[dict[str, Any]]) -> Message:
    """Recent questions with no answer, with how often they were asked."""
    if not rows:
        return notice("No unanswered questions recently.")
    lines = [
        f"• “{escape(truncate(str(r['question']), 300))}” ×{r['times']}"
        f" (last {escape(str(r['last_asked']))})"
        for r in rows
    ]
    return _list_message("*Recent questions I could not answer:*", lines, None)


# --- the add-fact modal -----------------------------------------------------------------


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {**element, "action_id": FIELD_ACTION},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(truncate(hint, 2000))
    return block


def _text_input(*, multiline: bool = False, max_length: int = 300, initial: str = "") -> dict:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = truncate(initial, max_length)
    return element


def add_fact_modal(
    *, today: dt.date, text: str = "", topics: Sequence[str] = (), metadata: str = ""
) -> dict[str, Any]:
    """The `/strike-admin add` form: fact text, topic, as-of date and the source."""
    date_picker = {"type": "datepicker", "initial_date": today.isoformat()}
    topic_hint = "Lowercase words joined by dots, e.g. offer.pay."
    if topics:
        topic_hint += " Existing: " + ", ".join(topics)
    return {
        "type": "modal",
        "callback_id": ADD_FACT_CALLBACK,
        "title": plain("Add a fact"),
        "submit": plain("Add"),
        "close": plain("Cancel"),
        "private_metadata": metadata[:3000],
        "blocks": [
            _input(
                "fact_text",
                "Fact (in our own words)",
                _text_input(multiline=True, max_length=2000, initial=text),
            ),
            _input("fact_topic", "Topic", _text_input(max_length=100), hint=topic_hint),
            _input("fact_as_of", "True as of", date_picker),
            _input("source_title", "Source title", _text_input(max_length=300)),
            _input("source_published", "Source published on", date_picker),
            _input("source_url", "Source URL", {"type": "url_text_input"}, optional=True),
        ],
    }


def read_add_fact_form(state_values: dict[str, Any]) -> dict[str, str | None]:
    """The submitted modal's values by field name (None when left empty)."""
    out: dict[str, str | None] = {}
    for field in ADD_FACT_FIELDS:
        element = state_values.get(field, {}).get(FIELD_ACTION, {})
        value = element.get("value") if "value" in element else element.get("selected_date")
        out[field] = value.strip() if isinstance(value, str) and value.strip() else None
    return out


def form_error_field(message_text: str) -> str:
    """Which modal field an admin-input error is about (by the core's wording)."""
    lower = message_text.lower()
    for needle, field in (
        ("url", "source_url"),
        ("as-of", "fact_as_of"),
        ("published", "source_published"),
        ("topic", "fact_topic"),
        ("source", "source_title"),
    ):
        if needle in lower:
            return field
    return "fact_text"


def modal_notice(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (after a submission), with a Close button."""
    return _closing_modal(title, escape(text))


def fact_added_view(fact: Fact) -> dict[str, Any]:
    """The modal after a successful add: the new fact's id and text."""
    text = f"Added `{escape(fact.id)}` ({escape(fact.topic)}):\n{escape(fact.text)}"
    return _closing_modal("Fact added", text)


def _closing_modal(title: str, safe_text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(truncate(title, 24)),
        "close": plain("Close"),
        "blocks": [section(safe_text)],
    }
