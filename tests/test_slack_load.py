"""Slack's HTTP mode under a burst of load, as `strikebot slack --port N` and `strikebot
run` serve it (SlackPlatform, one process): every one of many concurrent signed slash
commands, each on a new connection, is acknowledged and answered; none is reset."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from bot.adapters.slack import SlackPlatform
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackAPI, slash_payload
from tests.test_slack_http import settings_for, sign

REQUESTS = 200
CONCURRENCY = 64
QUESTIONS = ["what did the studios offer?", "how long has the strike lasted?", "what about AI?"]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def platform_port(fake: FakeSlackAPI, bot) -> Iterator[int]:
    """Slack's HTTP mode as the bot serves it, on a free port."""
    settings = settings_for(fake, SLACK_HOST="127.0.0.1", STRIKEBOT_SHUTDOWN_GRACE=5)
    platform = SlackPlatform(settings, bot, port=0)
    detail = platform.connect()
    port = int(re.search(r"port (\d+)", detail).group(1))  # type: ignore[union-attr]
    fake.clear()
    yield port
    platform.close(5)


def post_once(port: int, n: int, fake: FakeSlackAPI) -> str:
    """One signed `/strike` command on a connection of its own: its status, or the error."""
    fields = slash_payload(
        "/strike",
        QUESTIONS[n % len(QUESTIONS)],
        user=f"ULOAD{n:04d}",  # one user each: no rate limit in the way
        channel=f"CLOAD{n % 16}",
        response_url=fake.response_url(f"load{n}"),
    )
    body = urlencode(fields)
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(body, ts),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        response = conn.getresponse()
        response.read()
        return str(response.status)
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        conn.close()


def test_a_burst_of_concurrent_commands_loses_none(platform_port: int, fake) -> None:
    waves = -(-REQUESTS // CONCURRENCY)
    start = threading.Barrier(CONCURRENCY, timeout=30)

    def client(k: int) -> list[str]:
        """CONCURRENCY clients connect at once, wave after wave."""
        outcomes = []
        for wave in range(waves):
            start.wait()
            n = wave * CONCURRENCY + k
            if n < REQUESTS:
                outcomes.append(post_once(platform_port, n, fake))
        return outcomes

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        outcomes = Counter(o for got in pool.map(client, range(CONCURRENCY)) for o in got)
    acked_in = time.monotonic() - started
    assert outcomes == {"200": REQUESTS}, outcomes
    replies = fake.wait_for(RESPONSE_URL, count=REQUESTS, timeout=30)
    assert len({c.path for c in replies}) == REQUESTS  # every command answered, once
    assert acked_in < 20, f"{REQUESTS} acks took {acked_in:.1f} s"
