"""Status updates for subscribed channels, rendered per platform with the same escaping rules
as answers: Slack mrkdwn escaped (nothing can ping or inject a link), Discord mentions
neutralised and Markdown escaped, both within the platforms' size limits."""

from __future__ import annotations

from typing import Any

from bot.core.updates import Snapshot, StatusUpdate
from bot.render import discord_embeds as embeds
from bot.render import slack_blocks as kit
from bot.render.text import human_date

TITLE = "Status update"


# --- Slack ----------------------------------------------------------------------------


def _slack_line(word: str, snapshot: Snapshot) -> str:
    return f"*{word}:* {kit.escape(snapshot.text)} _(as of {human_date(snapshot.as_of)})_"


def slack_update_message(update: StatusUpdate) -> kit.Message:
    """Blocks for chat.postMessage: the topic, what it was, what it is now, the source."""
    lines = [f":mega: *{TITLE}: {kit.escape(update.label)}*"]
    if update.before is not None:
        lines.append(_slack_line("Was", update.before))
    lines.append(_slack_line("Now" if update.before is not None else "New", update.after))
    blocks, _cut = kit.pack_sections(lines, kit.BLOCK_LIMIT - 2)
    if update.source is not None:
        source = kit.mrkdwn(f"*Source:* {kit.citation_text(update.source)}")
        blocks.append(kit.context([source]))
    blocks.append(kit.context([kit.mrkdwn("See `/strike status` for the whole picture.")]))
    return kit.message(kit.escape(update.message), blocks)


# --- Discord --------------------------------------------------------------------------


def _discord_line(word: str, snapshot: Snapshot) -> str:
    return f"**{word}:** {embeds.escape(snapshot.text)} *(as of {human_date(snapshot.as_of)})*"


def discord_update_embed(update: StatusUpdate) -> dict[str, Any]:
    """An embed dict: the topic as title, was/now as description, the source as a field."""
    lines = []
    if update.before is not None:
        lines.append(_discord_line("Was", update.before))
    lines.append(_discord_line("Now" if update.before is not None else "New", update.after))
    embed: dict[str, Any] = {
        "title": f"{TITLE}: {embeds.neutralise(update.label)}",
        "description": "\n".join(lines),
        "color": embeds.COLOUR_INFO,
        "footer": {"text": f"As of {human_date(update.after.as_of)} · /strike status"},
    }
    if update.source is not None:
        embed["fields"] = [embeds.citation_field(update.source)]
    return embeds.fit(embed)
