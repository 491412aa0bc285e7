"""Plain-text rendering of answers: the console, the CLI and the `text` of the JSON form."""

from __future__ import annotations

import datetime as dt

from bot.core.limits import NOTICE_KINDS, REPEAT
from bot.core.models import Answer, Citation

REFUSAL = "I don't have a sourced answer to that, so I won't guess."
EARLIER_LINK = "See my answer"
EARLIER_ABOVE = "Scroll up to find it."


def human_date(day: dt.date) -> str:
    """11 Sep 2023."""
    return f"{day.day} {day:%b %Y}"


def citation_line(citation: Citation) -> str:
    parts = [f"“{citation.title}”"]
    if citation.publisher:
        parts.append(citation.publisher)
    parts.append(human_date(citation.published))
    line = ", ".join(parts)
    return f"{line} <{citation.url}>" if citation.url else line


def statement_lines(answer: Answer, *, bullets: bool) -> list[str]:
    """Each fact with its as-of date, and the figure it superseded as history."""
    lines = []
    for st in answer.statements:
        body = f"{st.fact.text} (as of {human_date(st.fact.as_of)})"
        if bullets:
            body = f"• {st.label}: {body}"
        lines.append(body)
        if st.history is not None:
            lines.append(f"  Earlier: {st.history.text} (as of {human_date(st.history.as_of)})")
    return lines


def answer_notes(answer: Answer) -> list[str]:
    """What the chat renderers say above an answer (unescaped): how a follow-up was read and
    which dispute the answer is about, when the bot answers for several."""
    notes = []
    if answer.understood:
        notes.append(f"Reading that as: {answer.understood}")
    if answer.dispute:
        notes.append(f"About: {answer.dispute}")
    return notes


def notice_text(answer: Answer) -> str:
    """A limits notice (slow down, repeat) as plain text; a repeat ends with its link, or
    says to scroll up when the adapter did not record one."""
    if answer.kind != REPEAT:
        return answer.text
    return f"{answer.text} {f'{EARLIER_LINK}: {answer.link}' if answer.link else EARLIER_ABOVE}"


def render_plain(answer: Answer, reason: str | None = None) -> str:
    """The whole answer as a person reads it in a terminal or a plain-text message."""
    if answer.kind in NOTICE_KINDS:
        return notice_text(answer)
    if answer.kind == "invalid":
        lines = [reason or "Please ask a question about the strike."]
        if answer.suggestions:
            lines.append("For example: " + " / ".join(answer.suggestions[:3]))
        return "\n".join(lines)
    if not answer.answered:
        lines = [REFUSAL]
        if answer.suggestions:
            lines.append("I can answer questions like:")
            lines.extend(f"  - {s}" for s in answer.suggestions)
        lines.append("Use `topics` to see everything I know about.")
        return "\n".join(lines)
    lines = []
    if answer.understood:
        lines.append(f"(Reading that as: {answer.understood})")
    if answer.dispute:
        lines.append(f"{answer.dispute}:")
    if answer.kind == "status":
        lines.append(f"Latest picture (as of {human_date(answer.as_of)}):")  # type: ignore[arg-type]
    lines.extend(statement_lines(answer, bullets=len(answer.statements) > 1))
    if answer.citations:
        label = "Source" if len(answer.citations) == 1 else "Sources"
        lines.append(f"{label}: " + "; ".join(citation_line(c) for c in answer.citations))
    if answer.stale_warning:
        lines.append(f"Note: {answer.stale_warning}")
    return "\n".join(lines)


def delivery_problem(failed: int, last_error: str | None, last_failed_at: str | None) -> str:
    """'2 updates not delivered (last at 2023-09-27 10:00 UTC: not_in_channel)', or '' when
    every update reached the channel."""
    if not failed:
        return ""
    when = f" at {last_failed_at[:16].replace('T', ' ')} UTC" if last_failed_at else ""
    why = " ".join((last_error or "no reason given").split())
    noun = "update" if failed == 1 else "updates"
    return f"{failed} {noun} not delivered (last{when}: {why})"
