"""The bot's one HTTP stack: ASGI apps served by uvicorn.

Slack's HTTP mode (one process or several workers) and the health checks all run on
uvicorn, with a listen backlog of BACKLOG connections (Python's `http.server` keeps 5, so a
burst of Slack requests was reset before it was read). `AsgiServer` serves one app on one
socket, either on the caller's event loop (`start`/`stop`, as `strikebot run` does) or on a
thread of its own (`serve_forever`/`shutdown`, for synchronous callers). It never installs
signal handlers: the bot's own SIGTERM/SIGINT handling decides when to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

BACKLOG = 2048  # uvicorn's default; the kernel caps it at net.core.somaxconn
START_TIMEOUT_S = 10.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def respond(
    send: Send,
    status: int,
    body: bytes,
    kind: str = "text/plain; charset=utf-8",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """One complete ASGI response."""
    head = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handling (the bot installs its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def listen(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free one); raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


class AsgiServer:
    """`app` under uvicorn on host:port. The socket is bound at once (so a port in use is an
    OSError here, and `port` is known with port 0); serving starts with `start` (on the
    running loop) or `serve_forever` (blocking, on the calling thread). On stop, uvicorn
    stops accepting, lets the responses being written finish (up to `grace` s), then
    closes the connections."""

    def __init__(self, app: ASGIApp, host: str, port: int, *, grace: float = 10.0):
        self.host = host
        self.socket = listen(host, port)
        self.port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            log_level="warning",  # no "Started server process" lines at INFO
            access_log=False,
            backlog=BACKLOG,
            timeout_graceful_shutdown=max(1, round(grace)),
            proxy_headers=False,
        )
        self.server = _Server(config)
        self._task: asyncio.Task | None = None
        self._done = threading.Event()
        self._running = False

    # --- on the caller's event loop ------------------------------------------------------

    async def start(self) -> int:
        """Serve on the running loop; returns the port once uvicorn is accepting."""
        self._task = asyncio.create_task(self.server.serve(sockets=[self.socket]), name="http")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError(f"the HTTP server on port {self.port} stopped at once")
            if loop.time() > deadline:
                raise OSError(f"the HTTP server on port {self.port} did not start")
            await asyncio.sleep(0.01)
        return self.port

    async def stop(self) -> None:
        """Stop accepting, finish the responses being written, close."""
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
            self._task = None
        self.socket.close()

    # --- on a thread of its own ----------------------------------------------------------

    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until `shutdown` (blocking; run it on a thread). `poll_interval` is
        accepted for the `socketserver` signature and ignored."""
        self._running = True
        try:
            asyncio.run(self.server.serve(sockets=[self.socket]))
        finally:
            self._done.set()

    def wait_started(self, timeout: float = START_TIMEOUT_S) -> bool:
        """True once a `serve_forever` thread is accepting connections."""
        deadline = threading.Event()
        waited = 0.0
        while not self.server.started and not self._done.is_set() and waited < timeout:
            deadline.wait(0.01)
            waited += 0.01
        return self.server.started

    def shutdown(self, timeout: float | None = None) -> None:
        """Ask `serve_forever` to stop and wait for it (up to `timeout` s)."""
        self.server.should_exit = True
        if self._running:
            self._done.wait(timeout)

    def server_close(self) -> None:
        self.socket.close()

    @property
    def serving(self) -> bool:
        return self.server.started and not self.server.should_exit
