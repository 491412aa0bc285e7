"""Logging for the whole process: JSON lines when not on a terminal, text on one; every line
passes through a redactor so tokens and signing secrets never reach a log."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from bot.runtime.terminal import is_terminal
from bot.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message"]
REDACTED = "[redacted]"

# Shapes of credentials even when they are not this process's own (a token pasted into a
# question, a token in an exception from a library).
TOKEN_PATTERNS = (
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{6,}"),  # Slack bot/user/app-config tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"),  # Slack app-level tokens
    re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),  # Discord
)
MIN_SECRET_CHARS = 6  # shorter values would redact ordinary words


def secret_values(settings: Settings) -> list[str]:
    """Every secret value configured in `settings`, longest first."""
    values = {
        value.get_secret_value().strip()
        for value in settings.__dict__.values()
        if isinstance(value, SecretStr)
    }
    return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


class Redactor:
    """Replaces configured secrets and anything shaped like a token."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text


class UtcJsonFormatter(JsonFormatter):
    """JSON lines whose time (`asctime`) is ISO 8601 in UTC with milliseconds,
    "2026-05-01T09:30:00.123Z", whatever the machine's time zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then redacts the finished line (message, arguments, traceback
    and extra fields alike)."""

    def __init__(self, inner: logging.Formatter, redact: Redactor):
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))


def wants_json(log_format: str, stream: TextIO) -> bool:
    """JSON when asked, or (auto) when the stream is not a terminal."""
    if log_format != "auto":
        return log_format == "json"
    return not is_terminal(stream)


def level_for(settings: Settings, *, serving: bool) -> int:
    """STRIKEBOT_LOG_LEVEL when set; otherwise INFO for a running service (one line per
    question) and WARNING for one-off commands."""
    name = (settings.log_level or "").strip().upper()
    if name:
        level = logging.getLevelName(name)
        if isinstance(level, int):
            return level
    return logging.INFO if serving else logging.WARNING


def configure_logging(
    settings: Settings, *, serving: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Install the one root handler (replacing earlier ones) and return it."""
    stream = stream or sys.stderr
    if wants_json(settings.log_format, stream):
        inner: logging.Formatter = UtcJsonFormatter(JSON_FIELDS, timestamp=False)
    else:
        inner = logging.Formatter(TEXT_FORMAT)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(inner, Redactor(secret_values(settings))))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_for(settings, serving=serving))
    # Libraries' chatter stays at WARNING unless the operator asks for DEBUG.
    if root.level > logging.DEBUG:
        for noisy in ("discord", "slack_bolt", "slack_sdk", "aiohttp.access", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
