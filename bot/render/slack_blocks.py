"""Block Kit rendering for Slack: answers, lists, help, admin replies, the add-fact and
article modals, the review queue with its forms, facts due for review and the report.

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

from bot.core.due import days_overdue
from bot.core.limits import NOTICE_KINDS, REPEAT
from bot.core.models import Answer, Citation, Fact, Source, Statement
from bot.core.packs import local
from bot.core.report import Report
from bot.core.review import ReviewItem
from bot.core.slash_commands import ADMIN_HELP, STRIKE_HELP
from bot.core.updates import Subscription
from bot.render.text import (
    EARLIER_ABOVE,
    EARLIER_LINK,
    REFUSAL,
    answer_notes,
    delivery_problem,
    human_date,
)

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
ARTICLE_CALLBACK = "strike_admin_article"
ARTICLE_FIELDS = (
    "article_title",
    "article_published",
    "article_url",
    "article_publisher",
    "article_text",
    "article_text_more",
)
INPUT_LIMIT = 3000  # Slack's cap on one plain_text_input
FACT_TEXT_LIMIT = 2000
ACTION_REVIEW_ACCEPT = "strike_review_accept"
ACTION_REVIEW_EDIT = "strike_review_edit"
ACTION_REVIEW_REJECT = "strike_review_reject"
REVIEW_ACTIONS = (ACTION_REVIEW_ACCEPT, ACTION_REVIEW_EDIT, ACTION_REVIEW_REJECT)
REVIEW_ACCEPT_CALLBACK = "strike_review_accept_form"
REVIEW_EDIT_CALLBACK = "strike_review_edit_form"
REVIEW_REJECT_CALLBACK = "strike_review_reject_form"
CANDIDATE_FIELDS = ("candidate_text", "candidate_topic", "candidate_as_of")
REJECT_FIELDS = ("reject_reason",)
REVIEW_SHOWN = 10
REVIEW_SENTENCE_LIMIT = 700
REPORT_GROUPS_SHOWN = 10
REPORT_RATES_SHOWN = 8
SOURCES_POINTER = "The full list is in `/strike sources`."
TRUNCATED_NOTE = "This answer was shortened to fit in Slack. " + SOURCES_POINTER

# No \b: "@everyone0" cut to fit ("@everyone…") would be a broadcast word again.
_BROADCAST = re.compile(r"@(here|channel|everyone)", re.IGNORECASE)
_SLACK_MARKUP = re.compile(r"<([^<>]*)>")
_AT_WORD = re.compile(r"(?<!\S)@[\w.\-]+")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")
_CUT_MARKUP = re.compile(r"(&[a-z]{0,3}|<https?://[^<>]*)$")


# --- text safety ------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for mrkdwn/fallbacks: `&`, `<`, `>` escaped, broadcast words unable to ping."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060\\1", text)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut (never inside an escape
    such as `&amp;` or one of our `<https://..|..>` links, which would show as broken)."""
    if len(text) <= limit:
        return text
    return _CUT_MARKUP.sub("", text[: limit - 1]).rstrip() + "…"


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
    return notice_safe(escape(text))


def notice_safe(safe_text: str) -> Message:
    """A one-paragraph message from text that is already escaped."""
    return message(safe_text, [section(safe_text)])


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


def _notice_blocks(answer: Answer) -> list[Block]:
    """A limits notice: slow down, or a pointer to the earlier answer (linked when its
    permalink is known, else "scroll up"). No buttons: nothing was answered or logged."""
    text = escape(answer.text)
    if answer.kind == REPEAT:
        known = bool(answer.link and _SAFE_URL.match(answer.link))
        text += " " + (link(answer.link, EARLIER_LINK) if known else escape(EARLIER_ABOVE))
    return [section(text)]


def answer_blocks(
    answer: Answer, *, asked: str | None = None, feedback: bool = True
) -> list[Block]:
    """The answer as blocks: optional echo of the question, statements, sources, buttons."""
    head: list[Block] = []
    if asked:
        echo = escape(truncate(asked, QUESTION_ECHO_LIMIT))
        head.append(context([plain(f"You asked: {echo}")]))
    if answer.kind in NOTICE_KINDS:
        return head + _notice_blocks(answer)
    notes = answer_notes(answer)
    if notes:
        head.append(context([plain(escape(truncate(" · ".join(notes), 2 * QUESTION_ECHO_LIMIT)))]))
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
    footer = "Ask with `/strike &lt;question&gt;`."
    return _list_message("*I can answer questions about:*", lines, footer)


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
    # `<question>` unescaped would be read as Slack markup (a link), even in backticks.
    return [f"• `{command} {escape(usage)}`: {escape(what)}" for usage, what in entries]


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
    text = f"{verb} `{escape(fact.id)}` ({escape(local(fact.topic))}): {escape(fact.text)}"
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


def subscriptions_message(subscriptions: Sequence[Subscription]) -> Message:
    """The channels that get status updates, each with the updates it did not get."""
    if not subscriptions:
        return notice("No channel is subscribed to status updates; run `/strike subscribe` in one.")
    lines = []
    for sub in subscriptions:
        channel = escape(sub.channel)
        where = f"<#{channel}>" if sub.platform == "slack" else f"{sub.platform} `{channel}`"
        problem = delivery_problem(sub.failed, sub.last_error, sub.last_failed_at)
        status = f" :warning: {escape(truncate(problem, 400))}" if problem else " (all delivered)"
        lines.append(f"• {where}{status}")
    return _list_message("*Channels that get status updates:*", lines, None)


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
    return read_form(state_values, ADD_FACT_FIELDS)


def read_form(state_values: dict[str, Any], fields: Sequence[str]) -> dict[str, str | None]:
    """A submitted modal's values for `fields` (block ids), None when left empty."""
    out: dict[str, str | None] = {}
    for field in fields:
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
    text = f"Added `{escape(fact.id)}` ({escape(local(fact.topic))}):\n{escape(fact.text)}"
    return _closing_modal("Fact added", text)


def _closing_modal(title: str, safe_text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(truncate(title, 24)),
        "close": plain("Close"),
        "blocks": [section(safe_text)],
    }


# --- articles ---------------------------------------------------------------------------


def article_modal(*, today: dt.date, title: str = "", metadata: str = "") -> dict[str, Any]:
    """The `/strike-admin article` form: the article's title, date, URL, publisher, text."""
    text_hint = (
        f"Slack takes at most {INPUT_LIMIT:,} characters in one box: paste the rest of a "
        "longer article in the second box (the two are joined). For anything longer, use "
        "`strikebot articles add FILE`. Nothing is fetched from the URL."
    )
    return {
        "type": "modal",
        "callback_id": ARTICLE_CALLBACK,
        "title": plain("Add an article"),
        "submit": plain("Propose facts"),
        "close": plain("Cancel"),
        "private_metadata": metadata[:3000],
        "blocks": [
            context(
                [
                    mrkdwn(
                        "The sentences with figures, dates, durations, named parties or quoted "
                        "positions become *candidate facts*. None is published until an admin "
                        "accepts it, in their own words, with `/strike-admin review`."
                    )
                ]
            ),
            _input("article_title", "Title", _text_input(max_length=300, initial=title)),
            _input(
                "article_published",
                "Published on",
                {"type": "datepicker", "initial_date": today.isoformat()},
            ),
            _input("article_url", "URL", {"type": "url_text_input"}, optional=True),
            _input("article_publisher", "Publisher", _text_input(max_length=200), optional=True),
            _input(
                "article_text",
                "Article text",
                _text_input(multiline=True, max_length=INPUT_LIMIT),
                hint=text_hint,
            ),
            _input(
                "article_text_more",
                "Article text, continued",
                _text_input(multiline=True, max_length=INPUT_LIMIT),
                optional=True,
            ),
        ],
    }


def article_text(fields: dict[str, str | None]) -> str:
    """The article's text from the form: its two boxes joined."""
    return "\n".join(part for part in (fields["article_text"], fields["article_text_more"]) if part)


def article_error_field(message_text: str) -> str:
    """Which article-form field an admin-input error is about (by the core's wording)."""
    lower = message_text.lower()
    for needle, field in (
        ("url", "article_url"),
        ("published", "article_published"),
        ("title", "article_title"),
    ):
        if needle in lower:
            return field
    return "article_text"


def _proposed(title: str, count: int) -> str:
    head = f"Stored the article “{escape(title)}”: "
    if not count:
        return head + (
            "no sentence with figures, dates, durations, named parties or quotes was found, "
            "so there is nothing to review."
        )
    noun = "candidate fact" if count == 1 else "candidate facts"
    return head + (
        f"*{count} {noun}* proposed. None is published until an admin accepts it: "
        "review them with `/strike-admin review`."
    )


def article_added_message(title: str, count: int) -> Message:
    """The ephemeral reply after an article was stored."""
    return notice_safe(_proposed(title, count))


def article_added_view(title: str, count: int) -> dict[str, Any]:
    """The article modal after a successful submission."""
    return _closing_modal("Article added", _proposed(title, count))


# --- the review queue -------------------------------------------------------------------


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _topic_label(item: ReviewItem) -> str:
    topic = f"`{escape(local(item.record.topic))}`"
    return f"{topic} (new topic)" if item.new_topic else topic


def _candidate_text(item: ReviewItem, limit: int) -> str:
    """The candidate: its topic and article, the article's sentence, and any rewording."""
    r = item.record
    lines = [f"*#{r.id}* · {_topic_label(item)} · from “{escape(truncate(r.article_title, 150))}”"]
    lines.append(f">{escape(truncate(r.sentence, limit))}")
    if not r.draft:
        lines.append(f"*Reworded:* {escape(truncate(r.text, limit))}")
    return "\n".join(lines)


def review_message(
    items: Sequence[ReviewItem], total: int | None = None, note: str | None = None
) -> Message:
    """The pending candidates (at most 10), each with Accept / Edit / Reject buttons."""
    total = len(items) if total is None else total
    head: list[Block] = []
    if note:
        head.append(context([mrkdwn(escape(note))]))
    if not items:
        text = "The review queue is empty. Add an article with `/strike-admin article`."
        return message(text, [*head, section(text)])
    shown = items[:REVIEW_SHOWN]
    noun = "candidate fact" if total == 1 else "candidate facts"
    title = (
        f"*{total} {noun} waiting for review* (oldest first). *Accept* asks for the fact in "
        "your own words; nothing is published before that."
    )
    blocks = [*head, section(title)]
    for item in shown:
        value = str(item.id)
        blocks.append({"type": "divider"})
        blocks.append(section(_candidate_text(item, REVIEW_SENTENCE_LIMIT)))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"strike_review_{item.id}",
                "elements": [
                    _button(ACTION_REVIEW_ACCEPT, "Accept", value, "primary"),
                    _button(ACTION_REVIEW_EDIT, "Edit", value),
                    _button(ACTION_REVIEW_REJECT, "Reject", value, "danger"),
                ],
            }
        )
    if total > len(shown):
        more = f"And {total - len(shown)} more: they are listed here as these are done."
        blocks.append(context([mrkdwn(more)]))
    return message(f"{total} {noun} waiting for review", blocks)


def candidate_modal(item: ReviewItem, *, accept: bool, today: dt.date, metadata: str) -> dict:
    """The form behind Accept (makes the fact) and Edit (saves the rewording only)."""
    r = item.record
    notes = []
    if r.draft:
        notes.append("The text is still the article's own sentence: reword it.")
    if item.new_topic:
        notes.append("The suggested topic is new.")
    text_hint = "In our own words, short and checkable. " + " ".join(notes)
    topic_hint = "Lowercase words joined by dots, e.g. offer.pay."
    as_of = (r.as_of or today).isoformat()
    return {
        "type": "modal",
        "callback_id": REVIEW_ACCEPT_CALLBACK if accept else REVIEW_EDIT_CALLBACK,
        "title": plain(truncate(f"{'Accept' if accept else 'Edit'} candidate #{r.id}", 24)),
        "submit": plain("Accept as fact" if accept else "Save"),
        "close": plain("Cancel"),
        "private_metadata": metadata[:3000],
        "blocks": [
            section(
                f"*From* “{escape(truncate(r.article_title, 200))}”:\n"
                f">{escape(truncate(r.sentence, 2400))}"
            ),
            _input(
                "candidate_text",
                "Fact (in our own words)",
                _text_input(multiline=True, max_length=FACT_TEXT_LIMIT, initial=r.text),
                hint=text_hint,
            ),
            _input(
                "candidate_topic",
                "Topic",
                _text_input(max_length=100, initial=local(r.topic)),
                hint=topic_hint,
            ),
            _input(
                "candidate_as_of",
                "True as of",
                {"type": "datepicker", "initial_date": as_of},
            ),
        ],
    }


def reject_modal(item: ReviewItem, *, metadata: str) -> dict[str, Any]:
    """The form behind Reject: why the candidate is not a fact (kept in the audit log)."""
    return {
        "type": "modal",
        "callback_id": REVIEW_REJECT_CALLBACK,
        "title": plain(truncate(f"Reject candidate #{item.id}", 24)),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "private_metadata": metadata[:3000],
        "blocks": [
            section(_candidate_text(item, 2000)),
            _input(
                "reject_reason",
                "Why?",
                _text_input(max_length=500),
                hint="Kept with the candidate and in the audit log, e.g. “already a fact”.",
            ),
        ],
    }


def candidate_error_field(message_text: str) -> str | None:
    """Which candidate-form field an admin-input error is about; None when it is about the
    candidate itself (already accepted or rejected, an id taken), shown as a notice."""
    lower = message_text.lower()
    if "already accepted" in lower or "was rejected" in lower or "already exists" in lower:
        return None
    if "topic" in lower:
        return "candidate_topic"
    if "as-of" in lower:
        return "candidate_as_of"
    return "candidate_text"


def accepted_view(candidate_id: int, fact: Fact) -> dict[str, Any]:
    """The accept form after success: the new fact, sourced to the article."""
    text = (
        f"Candidate #{candidate_id} is now fact `{escape(fact.id)}` ({escape(local(fact.topic))}), "
        f"as of {human_date(fact.as_of)}:\n{escape(fact.text)}"
    )
    return _closing_modal("Fact added", text)


def edited_view(item: ReviewItem) -> dict[str, Any]:
    r = item.record
    text = (
        f"Saved candidate #{r.id} ({escape(local(r.topic))}): {escape(r.text)}\n"
        "It is still waiting for review: press *Accept* to publish it."
    )
    return _closing_modal("Candidate saved", text)


def rejected_view(item: ReviewItem) -> dict[str, Any]:
    r = item.record
    text = f"Rejected candidate #{r.id}: {escape(r.note or '')}"
    return _closing_modal("Candidate rejected", text)


# --- facts due for review ---------------------------------------------------------------


def due_message(facts: Sequence[Fact], today: dt.date) -> Message:
    """Active facts whose review-by date has come, longest overdue first."""
    if not facts:
        return notice(f"No facts are due for review today ({human_date(today)}).")
    lines = []
    for f in facts:
        late = days_overdue(f, today)
        when = "due today" if late == 0 else f"{late} day{'s' if late != 1 else ''} overdue"
        review_by = human_date(f.review_by) if f.review_by else "?"
        lines.append(
            f"• `{escape(f.id)}` ({escape(local(f.topic))}), review by {review_by}, *{when}*: "
            f"{escape(truncate(f.text, 300))} _(as of {human_date(f.as_of)})_"
        )
    noun = "fact is" if len(facts) == 1 else "facts are"
    title = f"*{len(facts)} {noun} due for review* (today is {human_date(today)}):"
    footer = (
        "Check each against a newer source: `/strike-admin add` a newer fact, or "
        "`/strike-admin retract FACT_ID reason`."
    )
    return _list_message(title, lines, footer)


# --- the report -------------------------------------------------------------------------


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def report_message(report: Report) -> Message:
    """What users could not get answered (grouped), the facts served most, the answer rate."""
    days = max(1, round((report.until - report.since).total_seconds() / 86400))
    lines = [f"*Report for the last {days} days* (since {human_date(report.since.date())}, UTC)"]
    if report.groups:
        lines.append("*Not answered or voted not helpful*, most frequent first:")
    else:
        lines.append("Every question was answered, and no answer was voted not helpful.")
    for g in report.groups[:REPORT_GROUPS_SHOWN]:
        kinds = []
        unanswered = sum(q.unanswered for q in g.questions)
        not_helpful = sum(q.not_helpful for q in g.questions)
        if unanswered:
            kinds.append(f"{unanswered} unanswered")
        if not_helpful:
            kinds.append(f"{not_helpful} not helpful")
        similar = f" (+{len(g.questions) - 1} similar)" if len(g.questions) > 1 else ""
        line = (
            f"*{g.number}.* ×{g.count} “{escape(truncate(g.texts[0], 200))}”{similar}"
            f" · {', '.join(kinds)}"
        )
        if g.closest_fact:
            now = ", answers it now" if g.answered_now else ""
            line += f"\n      closest fact: `{escape(g.closest_fact)}` ({g.closest_score:.2f}{now})"
        lines.append(line)
    if len(report.groups) > REPORT_GROUPS_SHOWN:
        rest = len(report.groups) - REPORT_GROUPS_SHOWN
        lines.append(f"_and {rest} more group(s): `strikebot report` lists them all._")
    if report.top_facts:
        lines.append("*Facts served most:*")
        lines.extend(
            f"• ×{n} `{escape(fid)}`: {escape(truncate(text, 120))}"
            for fid, n, text in report.top_facts
        )
    if report.rates:
        asked = sum(r.asked for r in report.rates)
        answered = sum(r.answered for r in report.rates)
        lines.append(
            f"*Answer rate:* {answered}/{asked} ({_percent(answered, asked)}) overall; "
            f"per {report.per}:"
        )
        shown = report.rates[-REPORT_RATES_SHOWN:]
        lines.append(
            " · ".join(
                f"{r.period}: {r.answered}/{r.asked} ({_percent(r.answered, r.asked)})"
                for r in shown
            )
        )
    else:
        lines.append("No questions were asked in this period.")
    footer = None
    if report.groups:
        footer = (
            "Turn a group into a new fact or example questions of a fact with "
            "`strikebot report promote GROUP`."
        )
    return _list_message(lines[0], lines[1:], footer)
