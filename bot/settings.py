"""Typed settings from the environment and `.env`, built once by the entry point."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's knowledge/ folder, where a checkout keeps it.
SOURCE_KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def bundled_knowledge_dir() -> Path:
    """The knowledge shipped with the package (`bot.knowledge`: the repository's knowledge/
    folder, package data of the wheel), found through importlib.resources so that a plain
    `pip install .` has it as well as a checkout."""
    try:
        root = importlib.resources.files("bot.knowledge")
    except ModuleNotFoundError:  # an editable install made before it was package data
        return SOURCE_KNOWLEDGE
    return root if isinstance(root, Path) else Path(str(root))


BUNDLED_KNOWLEDGE = bundled_knowledge_dir()


def default_db_path() -> Path:
    """The SQLite file in the user's data directory."""
    return Path(platformdirs.user_data_dir("strikebot", appauthor=False)) / "strikebot.db"


class Settings(BaseSettings):
    """Every setting of the bot; each is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    db: Path = Field(default_factory=default_db_path, alias="STRIKEBOT_DB")
    knowledge_dir: Path = Field(
        default_factory=bundled_knowledge_dir, alias="STRIKEBOT_KNOWLEDGE_DIR"
    )
    log_level: str = Field(default="", alias="STRIKEBOT_LOG_LEVEL")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, alias="STRIKEBOT_MIN_CONFIDENCE")
    default_pack: str | None = Field(default=None, alias="STRIKEBOT_DEFAULT_PACK")
    followup_window: float = Field(default=600.0, ge=0, le=86400, alias="STRIKEBOT_FOLLOWUP_WINDOW")
    stale_days: int = Field(default=14, ge=0, alias="STRIKEBOT_STALE_DAYS")
    store_user_ids: bool = Field(default=False, alias="STRIKEBOT_STORE_USER_IDS")
    retention_days: int = Field(default=90, ge=1, alias="STRIKEBOT_RETENTION_DAYS")
    delivery_interval: float = Field(
        default=15.0, ge=0.1, le=3600, alias="STRIKEBOT_DELIVERY_INTERVAL"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", alias="STRIKEBOT_LOG_FORMAT"
    )

    health_port: int | None = Field(default=None, ge=0, le=65535, alias="STRIKEBOT_HEALTH_PORT")
    health_host: str = Field(default="127.0.0.1", alias="STRIKEBOT_HEALTH_HOST")
    shutdown_grace: float = Field(default=10.0, ge=0, le=300, alias="STRIKEBOT_SHUTDOWN_GRACE")
    retry_max: float = Field(default=300.0, ge=1, le=3600, alias="STRIKEBOT_RETRY_MAX")

    user_rate: int = Field(default=8, ge=0, alias="STRIKEBOT_USER_RATE")
    channel_rate: int = Field(default=30, ge=0, alias="STRIKEBOT_CHANNEL_RATE")
    repeat_window: float = Field(default=60.0, ge=0, alias="STRIKEBOT_REPEAT_WINDOW")
    admin_rate: int = Field(default=20, ge=0, alias="STRIKEBOT_ADMIN_RATE")

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    slack_port: int = Field(default=3000, ge=0, le=65535, alias="SLACK_PORT")
    slack_host: str = Field(default="0.0.0.0", alias="SLACK_HOST")
    slack_workers: int = Field(default=1, ge=1, le=64, alias="STRIKEBOT_SLACK_WORKERS")
    slack_admins: str = Field(default="", alias="STRIKEBOT_SLACK_ADMINS")
    slack_workspace_admins: bool = Field(default=False, alias="STRIKEBOT_SLACK_WORKSPACE_ADMINS")

    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    discord_api_url: str = Field(default="https://discord.com/api/v10", alias="DISCORD_API_URL")
    discord_gateway_url: str = Field(
        default="wss://gateway.discord.gg/", alias="DISCORD_GATEWAY_URL"
    )
    discord_guild_id: int | None = Field(default=None, alias="DISCORD_GUILD_ID")
    discord_shards: str = Field(default="", alias="DISCORD_SHARDS")
    discord_admin_role: str = Field(default="", alias="STRIKEBOT_DISCORD_ADMIN_ROLE")

    @property
    def slack_admin_ids(self) -> frozenset[str]:
        """Slack user ids allowed to run admin commands."""
        return frozenset(x.strip() for x in self.slack_admins.split(",") if x.strip())
