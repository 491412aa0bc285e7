"""Malformed requests to Slack's HTTP mode, through the real Bolt app and HTTP server: every
one gets a 400 or 401 and exactly one JSON log line, nothing on stderr outside the log
format, and nothing reaches Slack or the store."""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from bot.runtime.logs import configure_logging
from bot.settings import Settings
from tests.fakes.slack_api import FakeSlackAPI
from tests.test_security_slack import FORM, JSON, Signed, Worker, sign, slash, state

ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def server(fake: FakeSlackAPI, bot, admin) -> Iterator[Worker]:
    """The bot in HTTP mode (its own Bolt app and HTTP server, port 0)."""
    worker = Worker(fake, bot, admin)
    fake.clear()  # forget the start-up auth.test
    yield worker
    worker.stop()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's logging as the running bot configures it (JSON lines, INFO), into a
    buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(
        Settings(_env_file=None, STRIKEBOT_LOG_FORMAT="json"), serving=True, stream=stream
    )
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def send_raw(port: int, body: bytes, headers: dict[str, str | bytes]) -> tuple[int, str] | str:
    """POST to /slack/events; the status and body, or what went wrong with the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException) as exc:
        return f"connection failed: {exc!r}"
    finally:
        conn.close()


def now_in_arabic_digits() -> str:
    return str(int(time.time())).translate(ARABIC_DIGITS)


def malformed(fake: FakeSlackAPI, case: str) -> tuple[str, str, str | None]:
    """(body, content type, timestamp header or None for now) of one malformed request."""
    command = slash(fake, "/strike", "status")
    return {
        "payload=null": ("payload=null", FORM, None),
        "payload=5": ("payload=5", FORM, None),
        "payload not JSON": ("payload=%7Bnot+json", FORM, None),
        "JSON content type, broken body": ('{"type": "event_callback", ', JSON, None),
        "JSON list": ("[1, 2, 3]", JSON, None),
        '"authorizations": 5': ('{"type": "event_callback", "authorizations": 5}', JSON, None),
        "event not an object": ('{"type": "event_callback", "event": 5}', JSON, None),
        "400-digit timestamp": (command, FORM, "1" * 400),
        "non-ASCII digit timestamp": (command, FORM, now_in_arabic_digits()),
        "superscript timestamp": (command, FORM, "\u00b9\u00b2\u00b3"),
    }[case]


CASES = [
    "payload=null",
    "payload=5",
    "payload not JSON",
    "JSON content type, broken body",
    "JSON list",
    '"authorizations": 5',
    "event not an object",
    "400-digit timestamp",
    "non-ASCII digit timestamp",
    "superscript timestamp",
]


def request_for(fake: FakeSlackAPI, case: str, signed: bool) -> tuple[bytes, dict]:
    body, content_type, timestamp = malformed(fake, case)
    request: Signed = sign(body, content_type, timestamp=timestamp)
    if not signed:
        request = request.with_headers(**{"X-Slack-Signature": "v0=" + "0" * 64})
    # Header values as bytes: a non-ASCII timestamp goes out as UTF-8, as a client may send it.
    headers = {k: v.encode("utf-8") for k, v in request.headers.items()}
    return request.body.encode("utf-8"), headers


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("case", CASES)
def test_a_malformed_request_gets_400_or_401_and_one_json_log_line(
    server, fake, bot, json_log, capfd, case: str, signed: bool
) -> None:
    before = state(bot)
    capfd.readouterr()
    body, headers = request_for(fake, case, signed)
    logged = len(json_log.getvalue())
    reply = send_raw(server.port, body, headers)
    server.settle()
    lines = json_log.getvalue()[logged:].splitlines()
    assert isinstance(reply, tuple), reply
    status, _text = reply
    expected = {401} if not signed else {400, 401}
    assert status in expected, (status, lines)
    assert len(lines) == 1, lines
    record = json.loads(lines[0])  # one JSON object: no traceback outside the format
    assert record["levelname"] in ("INFO", "WARNING")
    assert capfd.readouterr().err == ""
    assert fake.calls == []
    assert state(bot) == before


def test_the_server_still_answers_after_malformed_requests(server, fake, json_log) -> None:
    for case in CASES:
        send_raw(server.port, *request_for(fake, case, signed=False))
    request = sign(slash(fake, "/strike", "status"), FORM)
    reply = send_raw(server.port, request.body.encode(), request.headers)
    assert reply == (200, "")


def test_a_body_that_is_not_utf8_is_refused(server, fake, json_log) -> None:
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time()))}
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    logged = len(json_log.getvalue())
    reply = send_raw(server.port, b"payload=\xff\xfe", headers)
    assert isinstance(reply, tuple) and reply[0] in (400, 401)
    assert len(json_log.getvalue()[logged:].splitlines()) == 1
