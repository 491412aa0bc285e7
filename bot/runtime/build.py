"""The core built from the settings: one place, so every entry point (the CLI, `run`, the
Slack ASGI workers) gets the same configuration."""

from __future__ import annotations

from bot.core.service import BotConfig, StrikeBot
from bot.settings import Settings
from bot.store.db import Store


def bot_config(settings: Settings, *, shared_limits: bool = False) -> BotConfig:
    """What the core needs from the settings; `shared_limits` when several processes
    serve the same users (Slack HTTP workers)."""
    return BotConfig(
        knowledge_dir=settings.knowledge_dir,
        min_confidence=settings.min_confidence,
        default_pack=settings.default_pack,
        followup_window=settings.followup_window,
        stale_days=settings.stale_days,
        store_user_ids=settings.store_user_ids,
        retention_days=settings.retention_days,
        user_rate=settings.user_rate,
        channel_rate=settings.channel_rate,
        repeat_window=settings.repeat_window,
        admin_rate=settings.admin_rate,
        shared_limits=shared_limits,
    )


def build_bot(
    settings: Settings, store: Store | None = None, *, shared_limits: bool = False
) -> StrikeBot:
    """The core over `store` (default: the configured database)."""
    return StrikeBot(
        store if store is not None else Store(settings.db),
        bot_config(settings, shared_limits=shared_limits),
    )
