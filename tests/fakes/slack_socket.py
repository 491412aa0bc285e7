"""A local Socket Mode server: a websocket on 127.0.0.1 (a free port) that greets the bot
with `hello`, hands it envelopes (`slash_commands`, `events_api`, `interactive`) and records
each acknowledgement by envelope id. Point the fake Web API's `socket_url` at `url`, so that
`apps.connections.open` returns it.

Disconnects: `disconnect_all()` closes every connection with a close frame,
`request_refresh()` sends Slack's `disconnect` message (as before Slack rotates a
connection), `drop_all()` cuts the TCP connections without a word.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketModeServer:
    """Runs an aiohttp websocket server in its own thread and event loop."""

    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-socket", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._transports: dict[web.WebSocketResponse, Any] = {}
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSocketModeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=5)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            future.result(timeout=5)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        await self._close_sockets()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    def disconnect_all(self) -> None:
        """Close every connection from the server side (the client sees it at once)."""
        asyncio.run_coroutine_threadsafe(self._close_sockets(), self._loop).result(timeout=5)

    def drop_all(self) -> None:
        """Cut every connection's TCP stream, with no close frame (a network failure)."""

        async def drop() -> None:
            for ws, transport in list(self._transports.items()):
                transport.abort()
                self._transports.pop(ws, None)

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(timeout=5)

    def request_refresh(self, reason: str = "refresh_requested", *, close: bool = False) -> None:
        """Slack's `disconnect` message: the client should open a new connection. With
        `close`, the old connection is then closed from this side (Slack does so a few
        seconds later)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        old = list(self._sockets)
        for ws in old:
            future = asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(message)), self._loop)
            future.result(timeout=5)
        if close:
            self.wait_connections(self.connections + 1)

            async def close_old() -> None:
                for ws in old:
                    await ws.close()

            asyncio.run_coroutine_threadsafe(close_old(), self._loop).result(timeout=5)

    def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` connections were made in all, the last one still open."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.connections < count or not self._open_sockets():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} connections, got {self.connections}")
                self._changed.wait(left)

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=fake-ticket"

    # --- the websocket -------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self._transports[ws] = request.transport
        with self._changed:
            self.connections += 1
            self._changed.notify_all()
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-socket", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0001"},
                }
            )
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._record(json.loads(msg.data))
        except (ConnectionResetError, RuntimeError):  # dropped under our feet
            pass
        finally:
            self._sockets.remove(ws)
            self._transports.pop(ws, None)
            with self._changed:
                self._changed.notify_all()
        return ws

    def _open_sockets(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed]

    def _record(self, data: dict[str, Any]) -> None:
        with self._changed:
            self.received.append(data)
            if "envelope_id" in data:
                self.acks[data["envelope_id"]] = data
            self._changed.notify_all()

    # --- talking to the bot --------------------------------------------------------------

    def wait_connected(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._sockets:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the bot did not connect to the fake Socket Mode server")
                self._changed.wait(left)

    def send(self, envelope: dict[str, Any]) -> str:
        """Hand an envelope to the connected bot (on its newest open connection); returns
        its envelope id."""
        self.wait_connected()
        ws = (self._open_sockets() or self._sockets)[-1]
        text = json.dumps(envelope)
        asyncio.run_coroutine_threadsafe(ws.send_str(text), self._loop).result(timeout=5)
        return envelope["envelope_id"]

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The bot's acknowledgement of `envelope_id` (with its payload, if any)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id}")
                self._changed.wait(left)
            return self.acks[envelope_id]

    def _envelope(self, kind: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "envelope_id": f"env-{kind}-{next(self._ids)}",
            "type": kind,
            "payload": payload,
            **extra,
        }

    def slash_command(self, payload: dict[str, Any]) -> str:
        return self.send(self._envelope("slash_commands", payload, accepts_response_payload=True))

    def event(
        self, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> str:
        return self.send(
            self._envelope(
                "events_api",
                payload,
                accepts_response_payload=False,
                retry_attempt=retry_attempt,
                retry_reason=retry_reason,
            )
        )

    def interactive(self, payload: dict[str, Any]) -> str:
        return self.send(self._envelope("interactive", payload, accepts_response_payload=True))
