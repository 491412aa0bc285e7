"""Slack request verification through the real Bolt app in HTTP mode (the bot's own HTTP
server, port 0): requests signed with slack_sdk's SignatureVerifier, then forged, aged,
altered or replayed. Every refused request gets 401 and does nothing: no answer is posted
to the fake Slack Web API or a response URL, and nothing changes in the store.

The replay guard (bot/adapters/slack_replay.py) is also tested on its own: expiry, its
memory bound, thread safety, two workers sharing the SQLite file, a second process, and a
busy database."""

from __future__ import annotations

import http.client
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack import SlackHTTPServer, build_app
from bot.adapters.slack_replay import (
    MARGIN_S,
    WINDOW_S,
    MemoryReplayGuard,
    SQLiteReplayGuard,
    guard_for,
)
from bot.core.admin import AdminService
from bot.core.models import Question
from bot.core.service import StrikeBot
from bot.render import slack_blocks as kit
from bot.store.db import Store
from tests.fakes.slack_api import (
    BOT_TOKEN,
    RESPONSE_URL,
    FakeSlackAPI,
    TrackingExecutor,
    block_actions,
    event_body,
    mention_event,
    slash_payload,
    view_submission,
)
from tests.test_slack_http import SECRET, settings_for

ADMIN = "UADMIN"
MEMBER = "UMEMBER"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
REFUSED = {"error": "invalid request"}


# --- signing and sending ----------------------------------------------------------------


@dataclass
class Signed:
    """One HTTP request as Slack would send it: the exact body and its headers."""

    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def altered(self, old: str, new: str) -> Signed:
        """The same headers over a body changed after signing."""
        assert old in self.body
        return Signed(self.body.replace(old, new, 1), dict(self.headers))

    def without(self, *names: str) -> Signed:
        return Signed(self.body, {k: v for k, v in self.headers.items() if k not in names})

    def with_headers(self, **extra: str) -> Signed:
        return Signed(self.body, {**self.headers, **extra})


def sign(
    body: str,
    content_type: str,
    *,
    secret: str = SECRET,
    age: int = 0,
    timestamp: str | None = None,
) -> Signed:
    """Sign `body` with slack_sdk's own signature code, `age` seconds ago (negative: ahead)."""
    ts = timestamp if timestamp is not None else str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    return Signed(body, headers)


@dataclass
class Reply:
    status: int
    body: str


def send(port: int, request: Signed) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=request.body.encode(), headers=request.headers)
        response = conn.getresponse()
        return Reply(response.status, response.read().decode())
    finally:
        conn.close()


# --- what can be sent: one request of each kind -----------------------------------------


def slash(fake: FakeSlackAPI, command: str, text: str, user: str = MEMBER) -> str:
    return urlencode(slash_payload(command, text, user=user, response_url=fake.response_url()))


def interactive(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


ADD_VALUES = {
    "fact_text": "The studios and the WGA met again on 20 September 2023.",
    "fact_topic": "negotiations.meetings",
    "fact_as_of": "2023-09-20",
    "source_title": "Talks resume",
    "source_published": "2023-09-20",
    "source_url": None,
}


def kinds(fake: FakeSlackAPI, bot: StrikeBot) -> dict[str, tuple[str, str]]:
    """(body, content type) of one request per kind of HTTP path the bot serves; the admin
    ones are by a real admin, so only the signature stands between them and a change."""
    fid = next(f.id for f in bot.store.facts() if f.status == "active")
    log_id = bot.ask(Question("what did the studios offer?", platform="slack")).log_id
    mention = mention_event("<@UBOT> what did the studios offer?", ts="900.1")
    return {
        "question": (slash(fake, "/strike", "what did the studios offer?"), FORM),
        "admin retract": (slash(fake, "/strike-admin", f"retract {fid} forged", ADMIN), FORM),
        "mention": (json.dumps(event_body(mention, f"EvSec{time.monotonic_ns()}")), JSON),
        "feedback click": (
            interactive(
                block_actions(kit.ACTION_HELPFUL, str(log_id), response_url=fake.response_url("c"))
            ),
            FORM,
        ),
        "add-fact form": (
            interactive(view_submission(kit.ADD_FACT_CALLBACK, ADD_VALUES, user=ADMIN)),
            FORM,
        ),
        "url verification": (
            json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}),
            JSON,
        ),
    }


def state(bot: StrikeBot) -> tuple[Any, ...]:
    """Everything a request could change in the store."""
    store = bot.store
    return (
        store.facts(),
        store.audit(limit=10_000),
        store.feedback(limit=10_000),
        store.db["questions_log"].count,
        store._read("select * from candidates"),
    )


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


class Worker:
    """One HTTP-mode bot (its own Bolt app, server and listener pool)."""

    def __init__(self, fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService):
        self.executor = TrackingExecutor()
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        app = build_app(
            settings_for(fake), bot, admin, client=client, listener_executor=self.executor
        )
        self.server = SlackHTTPServer(app, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.port

    def send(self, request: Signed) -> Reply:
        return send(self.port, request)

    def settle(self) -> None:
        self.executor.wait_idle()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.executor.shutdown(wait=True)


@pytest.fixture
def workers(fake: FakeSlackAPI) -> Iterator[Callable[[StrikeBot, AdminService], Worker]]:
    started: list[Worker] = []

    def start(bot: StrikeBot, admin: AdminService) -> Worker:
        worker = Worker(fake, bot, admin)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(workers, fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService) -> Worker:
    started = workers(bot, admin)
    fake.clear()  # forget the start-up auth.test
    return started


# --- a correct signature is accepted (so the refusals below are meaningful) -------------


@pytest.mark.parametrize("age", [0, 290, -290], ids=["now", "290s old", "290s ahead"])
def test_a_correctly_signed_request_is_answered(worker, fake, age: int) -> None:
    reply = worker.send(sign(slash(fake, "/strike", "status"), FORM, age=age))
    assert (reply.status, reply.body) == (200, "")
    (msg,) = [c.params for c in fake.wait_for(RESPONSE_URL)]
    assert "Latest picture" in json.dumps(msg["blocks"])


def test_every_kind_of_request_does_its_work_when_signed(worker, fake, bot) -> None:
    requests = kinds(fake, bot)
    before = state(bot)
    replies = {name: worker.send(sign(body, ct)) for name, (body, ct) in requests.items()}
    worker.settle()
    assert {name: r.status for name, r in replies.items()} == dict.fromkeys(requests, 200)
    assert "c-123" in replies["url verification"].body
    assert json.loads(replies["add-fact form"].body)["response_action"] == "update"
    assert len(fake.calls_to(RESPONSE_URL)) == 3  # the answer, the retraction, the thanks
    assert len(fake.calls_to("chat.postMessage")) == 1  # the mention's answer
    assert state(bot) != before


# --- forged, aged and altered requests --------------------------------------------------


def _forge(case: str, body: str, content_type: str) -> Signed:
    good = sign(body, content_type)
    if case == "wrong secret":
        return sign(body, content_type, secret="not-the-signing-secret")
    if case == "empty secret's signature":
        return good.with_headers(**{"X-Slack-Signature": "v0="})
    if case == "no signature header":
        return good.without("X-Slack-Signature")
    if case == "no timestamp header":
        return good.without("X-Slack-Request-Timestamp")
    if case == "no headers":
        return good.without("X-Slack-Signature", "X-Slack-Request-Timestamp")
    if case == "timestamp not a number":
        return sign(body, content_type, timestamp="1e9")
    if case == "empty timestamp":
        return sign(body, content_type, timestamp="")
    if case == "stale (5 min 10 s old)":
        return sign(body, content_type, age=WINDOW_S + 10)
    if case == "stale (1 day old)":
        return sign(body, content_type, age=86_400)
    if case == "future (5 min 10 s ahead)":
        return sign(body, content_type, age=-(WINDOW_S + 10))
    if case == "future (1 day ahead)":
        return sign(body, content_type, age=-86_400)
    if case == "timestamp changed after signing":
        stamp = str(int(good.headers["X-Slack-Request-Timestamp"]) - 1)
        return good.with_headers(**{"X-Slack-Request-Timestamp": stamp})
    if case == "body altered after signing":
        # the user id is in every kind of body but url verification; else change the challenge
        old = "UMEMBER" if "UMEMBER" in body else ("UADMIN" if "UADMIN" in body else "c-123")
        return good.altered(old, "UADMIN" if old == "UMEMBER" else "UOTHER")
    if case == "body extended after signing":
        return Signed(good.body + ("&x=1" if content_type == FORM else " "), good.headers)
    if case == "signature of another body":
        other = sign(body + "&x=1", content_type)
        return good.with_headers(**{"X-Slack-Signature": other.headers["X-Slack-Signature"]})
    if case == "v1 scheme":
        sig = good.headers["X-Slack-Signature"].replace("v0=", "v1=")
        return good.with_headers(**{"X-Slack-Signature": sig})
    raise AssertionError(case)


FORGERIES = [
    "wrong secret",
    "empty secret's signature",
    "no signature header",
    "no timestamp header",
    "no headers",
    "timestamp not a number",
    "empty timestamp",
    "stale (5 min 10 s old)",
    "stale (1 day old)",
    "future (5 min 10 s ahead)",
    "future (1 day ahead)",
    "timestamp changed after signing",
    "body altered after signing",
    "body extended after signing",
    "signature of another body",
    "v1 scheme",
]


@pytest.mark.parametrize("case", FORGERIES)
def test_forged_requests_are_refused_and_do_nothing(worker, fake, bot, case: str) -> None:
    requests = kinds(fake, bot)
    before = state(bot)
    replies = {name: worker.send(_forge(case, body, ct)) for name, (body, ct) in requests.items()}
    worker.settle()
    assert {name: r.status for name, r in replies.items()} == dict.fromkeys(requests, 401)
    assert all(json.loads(r.body) == REFUSED for r in replies.values())
    assert fake.calls == []  # no answer, no refusal, no users.info: nothing reached Slack
    assert state(bot) == before


def test_a_non_admin_request_rewritten_to_name_an_admin_is_refused(worker, fake, bot) -> None:
    fid = next(f.id for f in bot.store.facts() if f.status == "active")
    mine = sign(slash(fake, "/strike-admin", f"retract {fid} mine", MEMBER), FORM)
    before = state(bot)
    assert worker.send(mine.altered("user_id=UMEMBER", "user_id=UADMIN")).status == 401
    worker.settle()
    assert fake.calls == [] and state(bot) == before
    assert bot.store.fact(fid).status == "active"


# --- replays ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    ["question", "admin retract", "mention", "feedback click", "add-fact form", "url verification"],
)
def test_a_replayed_request_is_refused_and_does_nothing(worker, fake, bot, kind: str) -> None:
    body, content_type = kinds(fake, bot)[kind]
    request = sign(body, content_type)
    assert worker.send(request).status == 200
    worker.settle()
    calls, after_first = len(fake.calls), state(bot)
    for _ in range(3):  # at once, and again and again within the five minutes
        reply = worker.send(request)
        assert (reply.status, json.loads(reply.body)) == (401, REFUSED)
    worker.settle()
    assert len(fake.calls) == calls
    assert state(bot) == after_first


def test_a_replay_with_a_retry_header_added_is_still_refused(worker, fake, bot) -> None:
    request = sign(slash(fake, "/strike", "what did the studios offer?"), FORM)
    assert worker.send(request).status == 200
    fake.wait_for(RESPONSE_URL)
    for forged in (
        request.with_headers(**{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}),
        request.with_headers(**{"X-Slack-Retry-Num": " 2 "}),
        request.with_headers(**{"x-slack-signature": request.headers["X-Slack-Signature"]}),
    ):
        assert worker.send(forged).status == 401
    worker.settle()
    assert len(fake.calls_to(RESPONSE_URL)) == 1
    assert bot.store.db["questions_log"].count == 1


def test_the_same_request_sent_by_many_at_once_is_accepted_once(worker, fake, bot) -> None:
    request = sign(slash(fake, "/strike", "what did the studios offer?"), FORM)
    start = threading.Barrier(12)
    statuses: list[int] = []

    def fire() -> None:
        start.wait()
        statuses.append(worker.send(request).status)

    threads = [threading.Thread(target=fire) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    worker.settle()
    assert sorted(statuses) == [200] + [401] * 11
    assert len(fake.calls_to(RESPONSE_URL)) == 1
    assert bot.store.db["questions_log"].count == 1


# --- Slack's own retries of an event still work -----------------------------------------


def test_slack_retries_are_acknowledged_and_answered_once(worker, fake) -> None:
    body = json.dumps(event_body(mention_event("<@UBOT> status", ts="950.1"), "EvRetry1"))
    first = sign(body, JSON)
    assert worker.send(first).status == 200
    fake.wait_for("chat.postMessage")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    same_second = first.with_headers(**retry)  # the same signature, as within one second
    resigned = sign(body, JSON, age=2).with_headers(**{**retry, "X-Slack-Retry-Num": "2"})
    assert [worker.send(r).status for r in (same_second, resigned)] == [200, 200]
    assert worker.send(same_second).status == 401  # that very retry, replayed
    worker.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_a_retry_of_an_event_never_received_is_answered_once(worker, fake) -> None:
    body = json.dumps(event_body(mention_event("<@UBOT> status", ts="951.1"), "EvRetry2"))
    retry = sign(body, JSON).with_headers(**{"X-Slack-Retry-Num": "1"})
    assert worker.send(retry).status == 200
    assert worker.send(retry.with_headers(**{"X-Slack-Retry-Num": "2"})).status == 200
    worker.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


# --- several worker processes sharing the database --------------------------------------


@pytest.fixture
def second_bot(db_path: Path, config) -> Iterator[tuple[StrikeBot, AdminService]]:
    """Another worker's own connection to the same database file."""
    store = Store(db_path)
    other = StrikeBot(store, config)
    yield other, AdminService(other)
    store.close()


def test_a_replay_sent_to_another_worker_is_refused(workers, fake, bot, admin, second_bot):
    one, two = workers(bot, admin), workers(*second_bot)
    fake.clear()
    request = sign(slash(fake, "/strike", "what did the studios offer?"), FORM)
    assert one.send(request).status == 200
    one.settle()
    assert two.send(request).status == 401
    two.settle()
    assert len(fake.calls_to(RESPONSE_URL)) == 1
    assert bot.store.db["questions_log"].count == 1


def test_an_event_retry_reaching_another_worker_is_not_answered_again(
    workers, fake, bot, admin, second_bot
):
    one, two = workers(bot, admin), workers(*second_bot)
    fake.clear()
    body = json.dumps(event_body(mention_event("<@UBOT> status", ts="960.1"), "EvTwoWorkers"))
    assert one.send(sign(body, JSON)).status == 200
    fake.wait_for("chat.postMessage")
    retry = sign(body, JSON, age=1).with_headers(**{"X-Slack-Retry-Num": "1"})
    assert two.send(retry).status == 200
    one.settle()
    two.settle()
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_the_record_is_shared_with_another_process(tmp_path: Path) -> None:
    path = database(tmp_path)
    guard = SQLiteReplayGuard(path)
    assert guard.add(["sig:abc#"], [time.time() + 60]) == [True]
    guard.close()
    code = (
        "import sys, time\n"
        "from bot.adapters.slack_replay import SQLiteReplayGuard\n"
        "g = SQLiteReplayGuard(sys.argv[1])\n"
        "print(g.add(['sig:abc#', 'sig:new#'], [time.time() + 60] * 2))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[False, True]"


# --- the guard on its own ---------------------------------------------------------------


def database(folder: Path) -> Path:
    """An SQLite file in `folder` (the guard uses the bot's file; it never creates one)."""
    path = folder / "g.db"
    sqlite3.connect(path).close()
    return path


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_signature_is_remembered_for_the_whole_window(tmp_path, backend: str) -> None:
    clock = Clock()
    guard = (
        MemoryReplayGuard(clock=clock)
        if backend == "memory"
        else SQLiteReplayGuard(database(tmp_path), clock=clock)
    )
    # signed 290 s ahead of our clock: valid to Bolt until 290 + 300 s from now
    expires = clock.now + 290 + WINDOW_S + MARGIN_S
    assert guard.add(["k"], [expires]) == [True]
    for step in (1, WINDOW_S, 290 + WINDOW_S):
        clock.now = 1_700_000_000.0 + step
        assert guard.add(["k"], [expires]) == [False]
    clock.now = expires + 1  # Bolt refuses the timestamp by now; the key may go
    assert guard.add(["k"], [clock.now + 10]) == [True]


def test_the_memory_record_is_bounded_and_says_so(caplog) -> None:
    clock = Clock()
    guard = MemoryReplayGuard(limit=100, clock=clock)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.slack_replay"):
        for n in range(1000):
            assert guard.add([f"k{n}"], [clock.now + 100 + n]) == [True]
    assert len(guard) == 100
    assert guard.add(["k999"], [clock.now + 100]) == [False]  # the newest are kept
    assert sum("more than 100 Slack requests" in r.getMessage() for r in caplog.records) == 1
    clock.now += 10_000  # all expired: purged on the next add
    guard.add(["fresh"], [clock.now + 1])
    assert len(guard) == 1


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_only_one_of_many_threads_adding_a_key_gets_it(tmp_path, backend: str) -> None:
    guards = (
        [MemoryReplayGuard()] * 16
        if backend == "memory"
        else [SQLiteReplayGuard(database(tmp_path)) for _ in range(16)]  # as 16 processes
    )
    start = threading.Barrier(len(guards))
    wins: list[bool] = []

    def race(guard) -> None:
        start.wait()
        wins.extend(guard.add(["same-key"], [time.time() + 60]))

    threads = [threading.Thread(target=race, args=(g,)) for g in guards]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(wins) == [False] * 15 + [True]


def test_expired_rows_are_deleted_from_the_database(tmp_path) -> None:
    clock = Clock()
    guard = SQLiteReplayGuard(database(tmp_path), clock=clock)
    guard.add([f"old{n}" for n in range(50)], [clock.now + 10] * 50)
    clock.now += 1000
    guard._checks = 0  # the next check purges
    guard.add(["new"], [clock.now + 10])
    rows = sqlite3.connect(database(tmp_path)).execute("select key from slack_replay").fetchall()
    assert rows == [("new",)]


def test_a_busy_database_falls_back_to_the_process_record(tmp_path, caplog) -> None:
    path = database(tmp_path)
    guard = SQLiteReplayGuard(path, timeout=0.2)
    guard.add(["warm-up"], [time.time() + 60])
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.adapters.slack_replay"):
            started = time.monotonic()
            assert guard.add(["k"], [time.time() + 60]) == [True]
            assert guard.add(["k"], [time.time() + 60]) == [False]  # still refused here
            assert time.monotonic() - started < 2.0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    busy = [r for r in caplog.records if "this process's record decides" in r.getMessage()]
    assert len(busy) == 1  # two failures, one warning (at most one a minute)
    assert guard.add(["k2"], [time.time() + 60]) == [True]
    assert SQLiteReplayGuard(path).add(["k2"], [time.time() + 60]) == [False]  # shared again


@pytest.mark.parametrize("problem", ["missing", "read-only", "not a database"])
def test_an_unusable_database_leaves_one_warning_and_the_process_record(
    tmp_path, caplog, problem: str
) -> None:
    path = tmp_path / "g.db"
    if problem == "read-only":
        guard = SQLiteReplayGuard(database(tmp_path))
        guard.add(["warm-up"], [time.time() + 60])
        guard._conn.execute("PRAGMA query_only=ON")  # as on a read-only file system
    else:
        if problem == "not a database":
            path.write_bytes(b"this is not an SQLite file, just some text" * 100)
        guard = SQLiteReplayGuard(path)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.slack_replay"):
        results = [guard.add(["k"], [time.time() + 60]) for _ in range(5)]
    assert results == [[True]] + [[False]] * 4  # replays are still refused in this process
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "each process keeps its own record" in warnings[0]
    if problem == "missing":
        assert not path.exists()  # no database of its own made next to the bot's


def test_the_guard_for_a_database_in_memory_is_per_process() -> None:
    assert isinstance(guard_for(":memory:"), MemoryReplayGuard)
    assert isinstance(guard_for(None), MemoryReplayGuard)
    assert isinstance(guard_for("/tmp/x.db"), SQLiteReplayGuard)


def test_socket_mode_envelopes_are_not_checked(fake, bot, admin) -> None:
    """Socket Mode requests carry no signature: the check lets them through unchanged."""
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    app = build_app(settings_for(fake), bot, admin, client=client)
    body = {"type": "url_verification", "challenge": "sock"}
    for _ in range(2):  # and twice: no replay record either
        response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        assert response.status == 200 and "sock" in (response.body or "")
