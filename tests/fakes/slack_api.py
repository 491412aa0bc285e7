"""A fake Slack Web API on 127.0.0.1 (a free port), answering as Slack does.

It records every call: Web API methods under /api/ (auth.test, chat.postMessage,
chat.postEphemeral, chat.update, views.open, users.info, apps.connections.open) and the
POSTs to response URLs it hands out under /response/. Tests wait on the recording with a
timeout instead of sleeping.

Membership: channels in `not_member` are ones the bot is not in; chat.postMessage there
answers `not_in_channel`, as Slack does.

Faults: `fail(method, status, times=N, retry_after=S)` makes the next N calls to a method
(or to the response URLs, method "response_url") fail as Slack's edge would: 429 with
Retry-After and `ratelimited`, or a 5xx page, or (`drop=True`) a connection closed without
an answer. Failed attempts are kept in `refused`, apart from the calls that got through.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RESPONSE_URL = "response_url"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER_ID = "UBOT"
JSON_FIELDS = ("blocks", "view", "attachments")
_TRIGGERS = itertools.count(1000)


def new_trigger_id() -> str:
    """A fresh trigger id: Slack gives every command, click and submission its own, so no
    two of them are ever the same signed request."""
    return f"1337.{next(_TRIGGERS)}.trigger"


@dataclass
class Call:
    """One request that reached the fake."""

    method: str  # a Web API method name, or "response_url"
    params: dict[str, Any]
    path: str
    token: str | None = None
    at: float = field(default_factory=time.monotonic)
    status: int = 200  # what the fake answered (0: the connection was dropped)


@dataclass(frozen=True)
class Fault:
    """One canned failure: an HTTP status (with Retry-After for 429), or a dropped
    connection."""

    status: int = 500
    retry_after: int | None = None
    drop: bool = False


class FakeSlackAPI:
    """Start with `start()` (or as a context manager); `api_url` goes into WebClient."""

    def __init__(
        self,
        *,
        users: dict[str, dict[str, Any]] | None = None,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        bot_user_id: str = BOT_USER_ID,
    ):
        self.users = users or {}
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.socket_url: str | None = None
        self.not_member: set[str] = set()  # channels the bot is not in: posts are refused
        self.calls: list[Call] = []
        self.refused: list[Call] = []  # attempts answered with a fault
        self._faults: dict[str, collections.deque[Fault]] = {}
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlackAPI:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05),
            name="fake-slack-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "the fake is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "r") -> str:
        """A response URL that points back at this fake."""
        return f"{self.base}/response/{name}"

    # --- recording -----------------------------------------------------------------------

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def calls_to(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] = lambda c: True,
    ) -> list[Call]:
        """The calls to `method` (matching `where`) once there are `count`; fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method and where(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s); got: {seen}")
                self._changed.wait(left)

    def clear(self) -> None:
        with self._changed:
            self.calls.clear()
            self.refused.clear()

    # --- faults --------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: int | None = None,
        drop: bool = False,
    ) -> None:
        """The next `times` calls to `method` fail with `status` (429 gets Retry-After:
        `retry_after`, 1 unless given), or are cut off without an answer (`drop`). Faults
        queue up in the order they are added."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._changed:
            queue = self._faults.setdefault(method, collections.deque())
            queue.extend([Fault(status, retry_after, drop)] * times)

    def take_fault(self, method: str) -> Fault | None:
        with self._changed:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def pending_faults(self, method: str) -> int:
        with self._changed:
            return len(self._faults.get(method) or ())

    def record_refused(self, call: Call) -> None:
        with self._changed:
            self.refused.append(call)
            self._changed.notify_all()

    def refused_to(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.refused if c.method == method]

    # --- answers -------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """What Slack would answer to `method`."""
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return {"ok": False, "error": "invalid_auth"}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Union",
            "user": "strikebot",
            "team_id": "T0001",
            "user_id": self.bot_user_id,
            "bot_id": "B0001",
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if params["channel"] in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        message = {k: params[k] for k in ("text", "blocks", "thread_ts") if k in params}
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}

    def _chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), str(params.get("message_ts") or "")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {"id": "V0001", **(params.get("view") or {})}}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], **user}}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_url:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8")
    if "json" in content_type:
        return json.loads(text)
    params: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


class _Handler(BaseHTTPRequestHandler):
    api: FakeSlackAPI

    def _read(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        params = dict(parse_qsl(urlsplit(self.path).query))
        params.update(_parse_body(raw, self.headers.get("Content-Type", "")))
        return params

    def _token(self, params: dict[str, Any]) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :]
        return params.get("token")

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        params = self._read()
        method = RESPONSE_URL if path.startswith("/response/") else path[len("/api/") :]
        if path.startswith(("/response/", "/api/")) and self._fault(method, params, path):
            return
        if path.startswith("/response/"):
            self.api.record(Call(RESPONSE_URL, params, path))
            self._send(200, b"ok", "text/html")
            return
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            token = self._token(params)
            self.api.record(Call(method, params, path, token))
            body = json.dumps(self.api.answer(method, params, token)).encode()
            self._send(200, body, "application/json; charset=utf-8")
            return
        self._send(404, b"not found", "text/plain")

    def _fault(self, method: str, params: dict[str, Any], path: str) -> bool:
        """Answer with the next canned failure for `method`, if there is one."""
        fault = self.api.take_fault(method)
        if fault is None:
            return False
        token = self._token(params) if method != RESPONSE_URL else None
        call = Call(method, params, path, token, status=0 if fault.drop else fault.status)
        self.api.record_refused(call)
        if fault.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.status == 429:
            body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            headers = {"Retry-After": str(fault.retry_after)}
            self._send(429, body, "application/json; charset=utf-8", headers)
        else:
            page = f"<html><body>{fault.status} upstream trouble</body></html>".encode()
            self._send(fault.status, page, "text/html")
        return True

    do_GET = _handle
    do_POST = _handle

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- what Slack sends to the bot --------------------------------------------------------


def slash_payload(
    command: str,
    text: str,
    *,
    response_url: str,
    user: str = "UMEMBER",
    channel: str = "C0001",
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The fields of a slash-command request (form-encoded over HTTP, a dict in Socket Mode);
    a fresh trigger id unless one is given."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "team_domain": "union",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": new_trigger_id() if trigger_id is None else trigger_id,
    }


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An Events API `event_callback` wrapping `event`."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
        "authorizations": [
            {
                "team_id": "T0001",
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def mention_event(
    text: str,
    *,
    ts: str,
    user: str = "UMEMBER",
    channel: str = "C0001",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def im_event(
    text: str, *, ts: str, user: str = "UMEMBER", channel: str = "D0001", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def block_actions(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user: str = "UMEMBER",
    channel: str = "C0001",
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button click; `message` is absent for ephemeral messages, as on Slack. Each click
    has its own trigger id and action_ts, as on Slack."""
    trigger_id = new_trigger_id()
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "union"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": channel,
            "is_ephemeral": message is None,
        },
        "trigger_id": trigger_id,
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "strike_feedback",
                "text": {"type": "plain_text", "text": "Helpful"},
                "value": value,
                "type": "button",
                "action_ts": f"1700000001.{trigger_id.split('.')[1]:0>6}",
            }
        ],
    }
    if message is not None:
        payload["message"] = message
    return payload


def view_submission(
    callback_id: str, values: dict[str, str | None], *, user: str = "UMEMBER"
) -> dict[str, Any]:
    """A modal submission; date fields (names containing as_of/published) are datepickers."""
    state: dict[str, Any] = {}
    for block_id, value in values.items():
        if "as_of" in block_id or "published" in block_id:
            state[block_id] = {"value": {"type": "datepicker", "selected_date": value}}
        else:
            kind = "url_text_input" if "url" in block_id else "plain_text_input"
            state[block_id] = {"value": {"type": kind, "value": value}}
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "union"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": new_trigger_id(),
        "view": {
            "id": "V0001",
            "team_id": "T0001",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "{}",
            "state": {"values": state},
            "hash": "1700000000.abc",
        },
        "response_urls": [],
    }


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that can wait until every submitted task has finished, so tests can
    assert that something did *not* happen without sleeping."""

    def __init__(self, max_workers: int = 4):
        super().__init__(max_workers=max_workers, thread_name_prefix="slack-test")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._idle:
            self._busy += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        return super().submit(run)

    def wait_idle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("Slack listeners still running")
                self._idle.wait(left)
