"""No facts, no bot: a bot that would answer every question with "I don't have a sourced
answer" (knowledge not installed, a wrong STRIKEBOT_KNOWLEDGE_DIR, every fact retracted)
stops at start with one line saying why and what to do, instead of running silently."""

from __future__ import annotations

from bot.core.service import StrikeBot

FIX = (
    "Set STRIKEBOT_KNOWLEDGE_DIR (or --knowledge) to a folder of knowledge YAML, or add facts "
    "with `strikebot facts import FILE`."
)


class NoFacts(Exception):
    """The bot has no active fact to answer from; the message is one line."""


def no_facts_reason(bot: StrikeBot) -> str | None:
    """None when the bot has an active fact to answer from; else one line saying why not."""
    if bot.knowledge.facts:
        return None
    if bot.store.facts(include_retracted=True):
        return (
            f"No facts to answer from: every fact in {bot.store.path} is retracted. "
            "Put one back with `strikebot facts restore ID` (see `strikebot facts list`)."
        )
    folder = bot.config.knowledge_dir
    found = "does not exist" if not folder.is_dir() else "holds no facts"
    return (
        f"No facts to answer from: the database {bot.store.path} has none and the knowledge "
        f"folder {folder} {found}. {FIX}"
    )


def require_facts(bot: StrikeBot) -> None:
    """Raise NoFacts unless the bot has an active fact to answer from."""
    reason = no_facts_reason(bot)
    if reason is not None:
        raise NoFacts(reason)
