"""Discord rendering: answers, sources, topics and admin listings as embed dicts (the JSON
form of `discord.Embed`), always inside Discord's embed limits.

Pure functions only: no discord.py import, so they are tested without a client. The adapter
turns a dict into an embed with `discord.Embed.from_dict`."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bot.core.limits import NOTICE_KINDS, REPEAT
from bot.core.models import Answer, Citation, Fact, Source
from bot.core.packs import local
from bot.render.text import (
    EARLIER_ABOVE,
    EARLIER_LINK,
    REFUSAL,
    answer_notes,
    delivery_problem,
    human_date,
)

if TYPE_CHECKING:
    from bot.core.report import Report
    from bot.core.review import ReviewItem
    from bot.core.updates import Subscription

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
MESSAGE_MAX = 2000
EMBEDS_MAX = 10  # per message; TOTAL_MAX counts all of a message's embeds together
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
    "**Admins** (Manage Server) have `/strike-admin`: `article` adds an article and proposes "
    "candidate facts, `review` accepts (in your own words) or rejects them, `due` lists facts "
    "to re-check, `report` shows what people could not get answered; also `add`, `retract`, "
    "`restore`, `audit` and `unanswered`.\n\n"
    "You can also mention me (`@strikebot how long has the strike lasted?`) or send me a "
    "direct message.\n"
    "Use the **Helpful** / **Not helpful** buttons under an answer to tell the maintainers "
    "how I'm doing."
)

_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")
# Any digits: Discord renders `<@0>` or a 25-digit id as mention syntax too.
_CHANNEL_OR_USER_TAG = re.compile(r"<(@[!&]?|#)(\d+)>")
# `<` too: `<t:0:R>`, `</cmd:1>` and `<:emoji:1>` render as timestamps, commands and emoji.
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]<])")
# Headers (`# `), subtext (`-# `) and lists (`- `, `1. `) where a line starts.
_LINE_MARK = re.compile(r"(?m)^([ \t]*)(#|-|\d+(?=\.))")


def neutralise(text: str) -> str:
    """Break @everyone, @here and user/role/channel mention syntax so nothing shown can ping
    or render as a mention (a zero-width space after the @ or #)."""
    text = _CHANNEL_OR_USER_TAG.sub(lambda m: f"<{m.group(1)}\u200b{m.group(2)}>", text)
    return _MENTION.sub("@\u200b\\1", text)


def escape(text: str) -> str:
    """Text shown literally: mentions neutralised, Markdown characters escaped."""
    text = _MARKDOWN.sub(r"\\\1", neutralise(text))
    return _LINE_MARK.sub(
        lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), text
    )


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
    cut = cut.rstrip()
    # Never leave a dangling escape backslash before the tail (an odd number of them ends
    # with one that escapes nothing: "\\\\\\" is an escaped backslash and a dangling one).
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut + tail


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


def _shown(text: str) -> str:
    """Discord refuses a field name or value that is empty or only whitespace."""
    return text if text.strip() else "\u200b"


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
            "name": _shown(truncate(f["name"], FIELD_NAME_MAX)),
            "value": _shown(truncate(f["value"], FIELD_VALUE_MAX)),
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


# Percent-encoded in a link target: brackets would end the link early or stop Discord from
# reading it as one, and the raw Markdown (mention syntax included) would then show.
_URL_QUOTES = str.maketrans({"(": "%28", ")": "%29", "<": "%3C", ">": "%3E"})


def citation_field(citation: Citation) -> dict[str, Any]:
    """One source under an answer: its title as the name; date, publisher and link below."""
    details = [human_date(citation.published)]
    if citation.publisher:
        details.append(escape(citation.publisher))
    value = " · ".join(details)
    if citation.url:
        value += f"\n[Read the source]({citation.url.translate(_URL_QUOTES)})"
    return {"name": escape(citation.title), "value": value, "inline": False}


def _footer(answer: Answer) -> dict[str, str] | None:
    parts = []
    if answer.as_of:
        parts.append(f"As of {human_date(answer.as_of)}")
    if answer.stale_warning:
        parts.append(f"⚠ {neutralise(answer.stale_warning)}")
    return {"text": " · ".join(parts)} if parts else None


def _suggestion_lines(suggestions: Sequence[str]) -> str:
    return "\n".join(f"• {escape(s)}" for s in suggestions)


def _title_from_question(question: str) -> str:
    q = " ".join(question.split())
    return neutralise(q[:1].upper() + q[1:]) if q else "Your question"


_SAFE_LINK = re.compile(r"^https?://[^\s()<>\[\]]+$")
NOTICE_TITLES = {REPEAT: "Answered a moment ago"}


def notice_embed_for(answer: Answer) -> dict[str, Any]:
    """A limits notice: slow down, or a pointer to the earlier answer (linked when its
    jump URL is known, else "scroll up"). No buttons: nothing was answered or logged."""
    description = neutralise(answer.text)
    if answer.kind == REPEAT:
        if answer.link and _SAFE_LINK.match(answer.link):
            description += f" [{EARLIER_LINK}]({answer.link})"
        else:
            description += f" {EARLIER_ABOVE}"
    title = NOTICE_TITLES.get(answer.kind, "Slow down a little")
    return fit({"title": title, "description": description, "color": COLOUR_INFO})


AUTHOR_MAX = 256  # Discord's limit for an embed author's name


def answer_embed(answer: Answer) -> dict[str, Any]:
    """An answer, status, refusal or invalid-question reply (or a limits notice) as one
    embed within limits."""
    if answer.kind in NOTICE_KINDS:
        return notice_embed_for(answer)
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
    notes = answer_notes(answer)
    if notes:
        # Neutralised like every text here, though an author line forms no mention.
        embed["author"] = {"name": truncate(neutralise(" · ".join(notes)), AUTHOR_MAX)}
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
            {"name": "Topic", "value": escape(local(fact.topic)), "inline": True},
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


def subscriptions_embed(subscriptions: Sequence[Subscription]) -> dict[str, Any]:
    """The channels that get status updates, each with the updates it did not get."""
    title = "Status update subscriptions"
    if not subscriptions:
        text = "No channel is subscribed; run `/strike subscribe` in one."
        return {"title": title, "description": text, "color": COLOUR_ADMIN}
    lines = []
    for sub in subscriptions:
        channel = sub.channel if sub.channel.isdigit() else escape(sub.channel)
        where = f"<#{channel}>" if sub.platform == "discord" else f"{sub.platform} `{channel}`"
        problem = delivery_problem(sub.failed, sub.last_error, sub.last_failed_at)
        status = f" ⚠️ {escape(problem)}" if problem else " (all delivered)"
        lines.append(f"{where}{status}")
    return fit({"title": title, "description": _bullet_list(lines), "color": COLOUR_ADMIN})


def notice_embed(text: str, *, error: bool = False) -> dict[str, Any]:
    """A short notice (a refusal, an error) as an embed."""
    return fit({"description": neutralise(text), "color": COLOUR_ERROR if error else COLOUR_INFO})


# --- articles, the review queue, due facts, the report ------------------------------------

REVIEW_SHOWN = 5  # candidates per review message: one row of buttons each (Discord allows 5)
REVIEW_POINTER = "review these first, or use `strikebot review` for the whole queue"
REPORT_GROUPS = 10
REPORT_PERIODS = 10
REPORT_POINTER = "run `strikebot report` for the full report"


def article_embed(article_id: int, title: str, items: Sequence[ReviewItem]) -> dict[str, Any]:
    """What an added article proposed, and where to review it."""
    heading = f"Article {article_id} added: {neutralise(' '.join(title.split()))}"
    if not items:
        body = (
            "No sentence in it carries a figure, a date, a named party or a quoted position, "
            "so no candidate fact was proposed."
        )
        return fit({"title": heading, "description": body, "color": COLOUR_ADMIN})
    body = (
        f"**{len(items)}** candidate fact(s) proposed. None reaches answers until an admin "
        "accepts it in their own words: run `/strike-admin review`."
    )
    topics = Counter(local(i.record.topic) for i in items)
    summary = ", ".join(f"{escape(t)} ×{n}" for t, n in topics.most_common())
    embed = {
        "title": heading,
        "description": body,
        "color": COLOUR_ADMIN,
        "fields": [{"name": "Suggested topics", "value": summary, "inline": False}],
    }
    return fit(embed, pointer="see `/strike-admin review`")


def _candidate_embed(item: ReviewItem, budget: int) -> dict[str, Any]:
    """One candidate in at most `budget` characters (its text is shortened to fit)."""
    r = item.record
    topic = escape(local(r.topic)) + (" (new topic)" if item.new_topic else "")
    fields = [
        {"name": "Topic", "value": topic, "inline": True},
        {
            "name": "As of",
            "value": human_date(r.as_of) if r.as_of else "the article's date",
            "inline": True,
        },
        {
            "name": "Article",
            "value": _shown(truncate(escape(r.article_title), 200)),
            "inline": False,
        },
    ]
    if not r.draft:
        fields.append(
            {
                "name": "From the article",
                "value": _shown(truncate(escape(r.sentence), 300)),
                "inline": False,
            }
        )
    embed: dict[str, Any] = {
        "title": f"Candidate #{r.id}",
        "color": COLOUR_STALE if r.draft else COLOUR_ADMIN,
        "fields": fields,
    }
    if r.draft:
        embed["footer"] = {"text": "Draft in the article's words: reword it before accepting."}
    room = max(budget - embed_length(embed), 40)
    embed["description"] = truncate(escape(r.text), min(room, DESCRIPTION_MAX))
    return embed


def review_embeds(
    items: Sequence[ReviewItem], total: int, *, at_least: bool = False
) -> list[dict[str, Any]]:
    """The review message: a header, then the first REVIEW_SHOWN candidates one embed each,
    all together within Discord's 10 embeds and 6000 characters per message. `total` is the
    size of the queue (`at_least` when it was only counted up to a cap)."""
    if not items:
        body = "Nothing is waiting for review. Add an article with `/strike-admin article`."
        return [{"title": "Review queue", "description": body, "color": COLOUR_ADMIN}]
    shown = list(items)[: min(REVIEW_SHOWN, EMBEDS_MAX - 1)]
    count = f"{total}+" if at_least else str(total)
    lines = [
        f"**{count}** candidate fact(s) wait for review, oldest first. Nothing reaches answers "
        "until it is accepted, and it must be in your own words: **Accept / edit** opens a "
        "form to reword it; **Reject** asks why."
    ]
    hidden = total - len(shown)
    if hidden > 0:
        more = f"{hidden}+" if at_least else str(hidden)
        lines.append(f"Showing {len(shown)}, …and {more} more: {REVIEW_POINTER}.")
    header = {"title": "Review queue", "description": "\n".join(lines), "color": COLOUR_ADMIN}
    budget = (TOTAL_MAX - embed_length(header)) // len(shown)
    return [header, *(_candidate_embed(item, budget) for item in shown)]


def due_embed(due: Sequence[tuple[Fact, int]], today: dt.date) -> dict[str, Any]:
    """Active facts past their review-by date, with how many days overdue."""
    title = "Facts due for review"
    if not due:
        body = f"No fact is past its review date ({human_date(today)})."
        return {"title": title, "description": body, "color": COLOUR_ADMIN}
    items = []
    for fact, days in due:
        when = f"review by {human_date(fact.review_by)}" if fact.review_by else "due"
        late = f", {days} day(s) overdue" if days else ", due today"
        items.append(
            f"`{fact.id}` ({escape(local(fact.topic))}): {when}{late}\n"
            f"  {truncate(escape(fact.text), 200)}"
        )
    embed = {
        "title": f"{title} ({len(due)})",
        "description": _bullet_list(items),
        "color": COLOUR_STALE,
        "footer": {
            "text": "Re-check each: add a newer fact (/strike-admin add), retract it "
            "(/strike-admin retract), or set a new date (strikebot facts edit ID --review-by D)."
        },
    }
    return fit(embed, pointer="use `strikebot facts due` for the full list")


def _group_field(group: Any) -> dict[str, Any]:
    texts = group.texts
    lines = []
    if len(texts) > 1:
        also = "; ".join(escape(t) for t in texts[1:4])
        extra = f" (+{len(texts) - 4} more)" if len(texts) > 4 else ""
        lines.append(f"Also: {also}{extra}")
    unanswered = sum(q.unanswered for q in group.questions)
    unhelpful = sum(q.not_helpful for q in group.questions)
    lines.append(f"unanswered ×{unanswered} · not helpful ×{unhelpful}")
    if group.closest_fact:
        now = " · answered now" if group.answered_now else ""
        closest = truncate(escape(group.closest_text or ""), 200)
        lines.append(
            f"Closest fact: `{group.closest_fact}` ({group.closest_score:.2f}{now}): {closest}"
        )
    else:
        lines.append("No fact comes close.")
    return {
        "name": f"{group.number}. ×{group.count}: {escape(texts[0])}",
        "value": "\n".join(lines),
        "inline": False,
    }


def report_embed(report: Report, days: int) -> dict[str, Any]:
    """What users could not get answered (grouped, with the closest fact), the facts served
    most and the answer rate, in one embed within Discord's limits."""
    asked = sum(r.asked for r in report.rates)
    answered = sum(r.answered for r in report.rates)
    lines = [f"Last {days} day(s), since {report.since:%d %b %Y %H:%M} UTC."]
    if asked:
        lines.append(
            f"Answered **{answered}** of **{asked}** question(s) ({answered / asked:.0%})."
        )
    else:
        lines.append("No questions were asked.")
    if report.groups:
        lines.append("Not answered or not helpful, grouped by meaning, most frequent first:")
    elif asked:
        lines.append("Every question got an answer nobody voted down.")
    tail: list[dict[str, Any]] = []
    if report.top_facts:
        top = "\n".join(f"×{n} `{fact_id}`" for fact_id, n, _text in report.top_facts)
        tail.append({"name": "Top facts served", "value": top, "inline": False})
    if report.rates:
        recent = report.rates[-REPORT_PERIODS:]
        rate_lines = [f"`{r.period}` {r.answered}/{r.asked} ({r.rate:.0%})" for r in recent]
        if len(report.rates) > len(recent):
            rate_lines.insert(0, f"(the last {len(recent)} of {len(report.rates)})")
        tail.append(
            {
                "name": f"Answer rate per {report.per}",
                "value": "\n".join(rate_lines),
                "inline": False,
            }
        )
    # Groups fill the room the summary leaves (fit() would otherwise drop the summary first).
    groups: list[dict[str, Any]] = []
    more_room = 100 + len(REPORT_POINTER)
    used = len("\n".join(lines)) + 200 + sum(len(f["name"]) + len(f["value"]) for f in tail)
    for group in report.groups[:REPORT_GROUPS]:
        field = _group_field(group)
        field = {
            **field,
            "name": truncate(field["name"], 200),
            "value": truncate(field["value"], FIELD_VALUE_MAX),
        }
        size = len(field["name"]) + len(field["value"])
        if used + size + more_room > TOTAL_MAX:
            break
        groups.append(field)
        used += size
    hidden = len(report.groups) - len(groups)
    if hidden > 0:
        groups.append(
            {
                "name": "More groups",
                "value": f"…and {hidden} more: {REPORT_POINTER}.",
                "inline": False,
            }
        )
    fields = groups + tail
    embed = {
        "title": "What users could not get answered",
        "description": "\n".join(lines),
        "color": COLOUR_ADMIN,
        "fields": fields,
        "footer": {"text": "Turn a group into a fact: strikebot report promote N"},
    }
    return fit(embed, pointer=REPORT_POINTER)
