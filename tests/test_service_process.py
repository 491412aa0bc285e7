"""`strikebot run --no-console` as a real process: Slack in HTTP mode against the fake Web
API, health checks, JSON logs without secrets, and a graceful stop on SIGTERM that lets the
answer in flight arrive."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.cli_runner import CLI, cli_env
from tests.fakes.slack_api import BOT_TOKEN, RESPONSE_URL, Call, FakeSlackAPI, slash_payload
from tests.test_slack_asgi import get, post
from tests.test_slack_http import SECRET

SLOW_S = 1.5
STARTUP_S = 30


class SlowResponses(FakeSlackAPI):
    """Slack's response URLs take SLOW_S to answer: an answer stays in flight that long."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.answered_at: float | None = None

    def record(self, call: Call) -> None:
        if call.method == RESPONSE_URL:
            self.arrived.set()
            time.sleep(SLOW_S)
            self.answered_at = time.monotonic()
        super().record(call)


class Service:
    """The bot process, its log lines (JSON, read as they come) and its ports."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = STARTUP_S) -> re.Match:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = re.search(pattern, line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} in the log:\n{''.join(self.lines)}")
                self._changed.wait(min(left, 0.2))

    def records(self) -> list[dict[str, Any]]:
        with self._changed:
            return [json.loads(line) for line in self.lines if line.startswith("{")]


@pytest.fixture
def service(tmp_path: Path, db_path: Path) -> Iterator[tuple[Service, SlowResponses]]:
    with SlowResponses() as fake:
        env = cli_env(
            db_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
            STRIKEBOT_HEALTH_PORT="0",
            STRIKEBOT_LOG_FORMAT="json",
            STRIKEBOT_SHUTDOWN_GRACE="10",
        )
        proc = subprocess.Popen(
            [*CLI, "run", "--no-console"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield Service(proc), fake
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def test_sigterm_lets_the_answer_in_flight_arrive_then_exits_cleanly(service):
    bot, fake = service
    slack_port = int(bot.wait_for(r"HTTP mode on port (\d+)").group(1))
    health_port = int(bot.wait_for(r"http://127\.0\.0\.1:(\d+)/healthz").group(1))
    status, health = get(health_port, "/readyz")
    assert status == 200 and health["platforms"]["slack"]["state"] == "connected"
    # One HTTP stack: Slack's port answers the same health checks.
    for path in ("/healthz", "/readyz"):
        status, on_slack_port = get(slack_port, path)
        assert status == 200 and on_slack_port["ready"]
        assert on_slack_port["platforms"]["slack"]["state"] == "connected"
        assert on_slack_port["knowledge"]["facts"] == health["knowledge"]["facts"]

    question = slash_payload(
        "/strike", "ask what did the studios offer?", user="UMEMBER",
        response_url=fake.response_url(),
    )  # fmt: skip
    assert post(slack_port, urlencode(question)) == 200
    assert fake.arrived.wait(10)  # the answer is being posted: SLOW_S to go
    asked_stop = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    while bot.proc.poll() is None and time.monotonic() - asked_stop < 20:
        time.sleep(0.01)
    exited_at = time.monotonic()
    assert bot.proc.returncode == 0
    (answer,) = fake.calls_to(RESPONSE_URL)
    assert fake.answered_at is not None
    assert asked_stop < fake.answered_at <= exited_at  # answered after SIGTERM, before exit
    assert "offer" in json.dumps(answer.params).lower()
    messages = [r["message"] for r in bot.records()]
    assert any(m.startswith("stopping: finishing requests in flight") for m in messages)
    assert messages[-1] == "stopped"


def test_logs_are_json_one_line_per_question_and_never_hold_a_secret(service):
    bot, fake = service
    slack_port = int(bot.wait_for(r"HTTP mode on port (\d+)").group(1))
    leaky = f"is {BOT_TOKEN} or {SECRET} or xoxb-123-456-abcdef my token?"
    for text in ("ask how long has the strike lasted?", f"ask {leaky}"):
        fields = slash_payload("/strike", text, user="UMEMBER", response_url=fake.response_url())
        assert post(slack_port, urlencode(fields)) == 200
    fake.wait_for(RESPONSE_URL, count=2, timeout=10)
    questions = [r for r in bot.records() if r.get("event") == "question"]
    while len(questions) < 2:  # the log line follows the answer by a moment
        time.sleep(0.05)
        questions = [r for r in bot.records() if r.get("event") == "question"]
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.proc.wait(20) == 0
    for record in questions:
        assert record["platform"] == "slack" and record["levelname"] == "INFO"
        assert record["outcome"] in ("answer", "refusal", "status")
        assert isinstance(record["latency_ms"], float) and record["latency_ms"] >= 0
        assert "UMEMBER" not in json.dumps(record)
    everything = "".join(bot.lines) + (bot.proc.stdout.read() if bot.proc.stdout else "")
    assert all(line.startswith("{") for line in bot.lines if line.strip())
    for secret in (BOT_TOKEN, SECRET, "xoxb-123-456-abcdef"):
        assert secret not in everything


def test_a_platform_that_cannot_connect_is_retried_and_reported(tmp_path, db_path):
    with FakeSlackAPI() as fake:
        env = cli_env(
            db_path,
            SLACK_BOT_TOKEN="xoxb-revoked-token",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            STRIKEBOT_HEALTH_PORT="0",
            STRIKEBOT_LOG_FORMAT="json",
            STRIKEBOT_RETRY_MAX="1",
        )
        proc = subprocess.Popen(
            [*CLI, "run", "--no-console"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        bot = Service(proc)
        try:
            port = int(bot.wait_for(r"http://127\.0\.0\.1:(\d+)/healthz").group(1))
            fake.wait_for("auth.test", count=3, timeout=15)  # retried with backoff
            status, body = get(port, "/readyz")
            assert status == 503
            slack = body["platforms"]["slack"]
            assert slack["state"] in ("retrying", "starting") and slack["attempts"] >= 2
            assert slack["last_error"] == "Slack rejected SLACK_BOT_TOKEN: invalid_auth."
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert "xoxb-revoked-token" not in "".join(bot.lines)
        retries = [r for r in bot.records() if r.get("event") == "platform_retry"]
        assert retries and all(r["platform"] == "slack" for r in retries)


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_no_tokens_and_no_terminal_exits_1_with_what_to_set(tmp_path, db_path):
    done = subprocess.run(
        [*CLI, "run"], cwd=tmp_path, env=cli_env(db_path), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "SLACK_BOT_TOKEN" in done.stderr and "DISCORD_TOKEN" in done.stderr
