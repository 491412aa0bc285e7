"""Slack HTTP mode behind uvicorn (the scale-out path): the ASGI app in-process on a free
port, and `strikebot slack --workers 2` as a real multi-process server."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn

from bot.adapters.slack_asgi import SlackASGI
from tests.cli_runner import CLI, cli_env
from tests.fakes.slack_api import BOT_TOKEN, RESPONSE_URL, FakeSlackAPI, slash_payload
from tests.test_slack_http import SECRET, settings_for, sign


def post(port: int, body: str, *, secret: str = SECRET, extra: dict | None = None) -> int:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(body, ts, secret),
        **(extra or {}),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def asgi_port(fake, db_path) -> Iterator[int]:
    """The ASGI app under an in-process uvicorn on a free port."""
    settings = settings_for(fake, STRIKEBOT_DB=str(db_path))
    config = uvicorn.Config(
        SlackASGI(settings), host="127.0.0.1", port=0, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(15)


def test_a_signed_slash_command_is_acked_and_answered(asgi_port, fake):
    fields = slash_payload(
        "/strike", "ask how long has the strike lasted?", response_url=fake.response_url()
    )
    assert post(asgi_port, urlencode(fields)) == 200
    (reply,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert "130" in json.dumps(reply)


def test_unsigned_wrongly_signed_and_oversized_requests_are_refused(asgi_port, fake):
    fields = urlencode(slash_payload("/strike", "status", response_url=fake.response_url()))
    assert post(asgi_port, fields, secret="not-the-secret") == 401
    conn = http.client.HTTPConnection("127.0.0.1", asgi_port, timeout=10)
    conn.request("POST", "/slack/events", body=b"x" * 10, headers={"Content-Length": "2000000"})
    assert conn.getresponse().status == 413
    conn.close()
    time.sleep(0.2)
    assert fake.calls_to(RESPONSE_URL) == []


def test_health_of_a_worker(asgi_port):
    status, body = get(asgi_port, "/healthz")
    assert status == 200 and body["ready"] and body["knowledge"]["facts"] > 30
    assert body["platforms"]["slack"]["state"] == "connected"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "two workers"])
def test_worker_processes_answer_and_stop_on_sigterm(fake, db_path, tmp_path: Path, workers):
    """`strikebot slack --port N`, with one process or several workers: uvicorn either way,
    rates counted across the workers, a clean exit on SIGTERM."""
    port = free_port()
    env = cli_env(
        db_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url, SLACK_HOST="127.0.0.1", STRIKEBOT_LOG_FORMAT="json",
    )  # fmt: skip
    proc = subprocess.Popen(
        [*CLI, "slack", "--workers", str(workers), "--port", str(port)], cwd=tmp_path, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "workers did not start"
            time.sleep(0.1)
        questions = ["what did the studios offer?", "what about AI?", "who is on strike?"] * 4
        for q in questions:
            fields = slash_payload("/strike", f"ask {q}", response_url=fake.response_url())
            assert post(port, urlencode(fields)) == 200
        replies = fake.wait_for(RESPONSE_URL, count=len(questions), timeout=20)
        # One user, 12 commands, 8 a minute allowed: counted together across the workers.
        notices = [r for r in replies if "faster than I can keep up" in json.dumps(r.params)]
        assert len(notices) == len(questions) - 8
        assert len(fake.calls_to("auth.test")) >= 2  # each worker checked the token itself
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert BOT_TOKEN not in (proc.stderr.read() if proc.stderr else "")
