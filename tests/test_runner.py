"""`strikebot run`: every configured platform supervised in one asyncio process; a failing
platform is retried with backoff and never takes the other down; the console only on a
terminal; health checks report it all."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest

import bot.runtime.supervisor as supervisor
from bot.runner import NO_PLATFORMS, NOTHING_TO_RUN, configured_platforms, serve
from bot.runtime.supervisor import (
    CONNECTED,
    PlatformConfigError,
    PlatformError,
    PlatformState,
    backoff,
    supervise,
)
from bot.settings import Settings
from bot.store.db import StoreError


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch, tmp_path):
    monkeypatch.setattr(supervisor, "FIRST_DELAY_S", 0.01)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, STRIKEBOT_DB="unused.db", **values)


class FakePlatform:
    """Fails `failures` times (a rejected token, an outage), then connects and serves."""

    def __init__(self, name: str, failures: int = 0, *, config_error: bool = False):
        self.name = name
        self.failures = failures
        self.config_error = config_error
        self.attempts = 0
        self.connected = asyncio.Event()
        self.stopped = False

    async def run(self, stop: asyncio.Event, state: PlatformState) -> None:
        self.attempts += 1
        if self.config_error:
            raise PlatformConfigError(f"{self.name.upper()}_TOKEN does not look like a token.")
        if self.attempts <= self.failures:
            raise PlatformError(f"{self.name} rejected the token: invalid_auth.")
        state.set(CONNECTED)
        self.connected.set()
        await stop.wait()
        self.stopped = True


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


# --- backoff and supervision ------------------------------------------------------------


def test_backoff_doubles_up_to_the_ceiling_with_jitter(monkeypatch):
    monkeypatch.setattr(supervisor, "FIRST_DELAY_S", 1.0)
    middle = [backoff(n, 300, rng=lambda: 0.5) for n in range(1, 12)]
    assert middle[:4] == [1, 2, 4, 8] and middle[-1] == 300
    assert backoff(3, 300, rng=lambda: 0.0) == pytest.approx(4 * 0.8)
    assert backoff(3, 300, rng=lambda: 1.0) == pytest.approx(4 * 1.2)


def test_a_failing_platform_is_retried_until_it_connects():
    platform = FakePlatform("slack", failures=3)
    state = PlatformState("slack")

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(supervise(platform, state, stop, retry_max=0.05))
        await platform.connected.wait()
        assert state.snapshot()["state"] == "connected"
        assert state.last_error == "slack rejected the token: invalid_auth."
        stop.set()
        await task

    run(scenario())
    assert platform.attempts == 4 and platform.stopped and state.state == "stopped"


def test_a_configuration_error_is_not_retried():
    platform = FakePlatform("discord", config_error=True)
    state = PlatformState("discord")
    run(supervise(platform, state, asyncio.Event(), retry_max=0.05))
    assert platform.attempts == 1
    assert state.snapshot()["state"] == "failed"
    assert "DISCORD_TOKEN" in state.snapshot()["last_error"]


def test_one_platform_failing_does_not_take_the_other_down(bot):
    healthy = FakePlatform("slack")
    broken = FakePlatform("discord", failures=10**6)
    seen: dict[str, Any] = {}

    async def scenario() -> int:
        stop = asyncio.Event()

        async def observe(health) -> None:
            await healthy.connected.wait()
            while broken.attempts < 3:
                await asyncio.sleep(0.01)
            seen["health"] = await health.report()
            stop.set()

        def started(health) -> None:
            seen["task"] = asyncio.ensure_future(observe(health))

        return await serve(
            settings(STRIKEBOT_HEALTH_PORT=0),
            bot,
            console=False,
            platforms=[healthy, broken],
            stop=stop,
            on_started=started,
        )

    assert run(scenario()) == 0
    platforms = seen["health"]["platforms"]
    assert platforms["slack"]["state"] == "connected"
    assert platforms["discord"]["state"] == "retrying"
    assert platforms["discord"]["last_error"] == "discord rejected the token: invalid_auth."
    assert healthy.stopped  # stopped cleanly at the end, never restarted
    assert healthy.attempts == 1


def test_every_platform_misconfigured_and_no_console_exits_1(bot, capsys):
    platforms = [
        FakePlatform("slack", config_error=True),
        FakePlatform("discord", config_error=True),
    ]
    status = run(serve(settings(), bot, console=False, platforms=platforms))
    assert status == 1
    assert "Every platform is off" in capsys.readouterr().err


# --- no tokens --------------------------------------------------------------------------


def test_no_tokens_and_no_terminal_says_what_to_set_and_exits_1(bot, capsys):
    status = run(serve(settings(), bot, console=True, stdin=io.StringIO("what about AI?\n")))
    err = capsys.readouterr().err
    assert status == 1
    assert NO_PLATFORMS in err and NOTHING_TO_RUN in err
    assert "SLACK_BOT_TOKEN" in err and "DISCORD_TOKEN" in err


def test_no_tokens_on_a_terminal_runs_the_console(bot, capsys):
    stdin = Terminal("how long has the strike lasted?\nquit\n")
    status = run(serve(settings(), bot, console=True, stdin=stdin))
    out = capsys.readouterr()
    assert status == 0
    assert NO_PLATFORMS in out.err
    assert "130" in out.out  # days on strike, from the bundled knowledge


def test_tokens_choose_the_platforms(bot):
    none = configured_platforms(settings(), bot)
    both = configured_platforms(
        settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", DISCORD_TOKEN="a.b.c"), bot
    )
    blank = configured_platforms(settings(SLACK_BOT_TOKEN="  "), bot)
    assert none == [] and blank == []
    assert [p.name for p in both] == ["slack", "discord"]


# --- health -----------------------------------------------------------------------------


async def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


def _with_health(bot, platforms, check) -> dict[str, Any]:
    """Serve with the health endpoint on a free port, run `check(port)`, then stop."""
    result: dict[str, Any] = {}

    async def scenario() -> None:
        stop = asyncio.Event()

        async def probe(health) -> None:
            try:
                for p in platforms:
                    if isinstance(p, FakePlatform) and p.failures == 0:
                        await p.connected.wait()
                result.update(await check(health.port))
            finally:
                stop.set()

        def started(health) -> None:
            result["task"] = asyncio.ensure_future(probe(health))

        await serve(
            settings(STRIKEBOT_HEALTH_PORT=0),
            bot,
            console=False,
            platforms=platforms,
            stop=stop,
            on_started=started,
        )

    run(scenario())
    return result


def test_healthz_reports_store_platforms_and_knowledge(bot):
    async def check(port: int) -> dict[str, Any]:
        return {"healthz": await _get(port, "/healthz"), "readyz": await _get(port, "/readyz")}

    active = [f for f in bot.store.facts() if f.status == "active"]
    result = _with_health(bot, [FakePlatform("slack"), FakePlatform("discord")], check)
    status, body = result["healthz"]
    assert status == 200 and result["readyz"][0] == 200
    assert body["status"] == "ok" and body["ready"] and body["live"]
    assert body["store"] == {"ok": True}
    knowledge = body["knowledge"]
    assert knowledge["facts"] == len(active) > 30
    assert knowledge["newest_as_of"] == max(f.as_of for f in active).isoformat()
    assert knowledge["sources"] >= 1 and knowledge["topics"] >= 5
    assert set(body["platforms"]) == {"slack", "discord"}
    assert all(p["state"] == "connected" for p in body["platforms"].values())


def test_readyz_is_503_while_a_platform_is_not_connected(bot):
    broken = FakePlatform("discord", failures=10**6)

    async def check(port: int) -> dict[str, Any]:
        while broken.attempts < 2:
            await asyncio.sleep(0.01)
        return {"healthz": await _get(port, "/healthz"), "readyz": await _get(port, "/readyz")}

    result = _with_health(bot, [FakePlatform("slack"), broken], check)
    assert result["healthz"][0] == 200  # alive: no reason to restart it
    status, body = result["readyz"]
    assert status == 503 and body["status"] == "degraded" and not body["ready"]
    assert body["platforms"]["discord"]["state"] == "retrying"
    assert "retry_at" in body["platforms"]["discord"]


def test_healthz_is_503_when_the_store_is_unreachable(bot, monkeypatch):
    def broken() -> None:
        raise StoreError("database disk image is malformed")

    async def check(port: int) -> dict[str, Any]:
        monkeypatch.setattr(bot, "refresh", broken)
        return {"healthz": await _get(port, "/healthz")}

    status, body = _with_health(bot, [FakePlatform("slack")], check)["healthz"]
    assert status == 503
    assert body["status"] == "failing" and body["store"]["ok"] is False
    assert "malformed" in body["store"]["error"]


def test_a_live_probe_overrides_a_stale_connected_state():
    state = PlatformState("discord")
    state.set(CONNECTED)
    state.probe = lambda: False  # the library is resuming its gateway session
    assert not state.connected and state.snapshot()["state"] == "reconnecting"


def test_a_health_port_in_use_is_one_line_and_exit_2(bot, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = run(
            serve(
                settings(STRIKEBOT_HEALTH_PORT=port),
                bot,
                console=False,
                platforms=[FakePlatform("slack")],
            )
        )
    err = capsys.readouterr().err
    assert status == 2
    assert f"Cannot serve health checks on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_slack_http_mode_answers_every_platforms_health_on_its_own_port(bot):
    """One HTTP stack: under `run`, Slack's HTTP server (uvicorn) answers /healthz and
    /readyz beside /slack/events, for every platform."""
    from bot.adapters.slack import SlackPlatform
    from tests.fakes.slack_api import FakeSlackAPI
    from tests.test_slack_http import settings_for

    with FakeSlackAPI() as fake:
        config = settings_for(fake, SLACK_HOST="127.0.0.1", SLACK_PORT=0, STRIKEBOT_DB="x.db")
        slack = SlackPlatform(config, bot)
        discord = FakePlatform("discord")
        seen: dict[str, Any] = {}

        async def scenario() -> int:
            stop = asyncio.Event()

            async def probe() -> None:
                try:
                    await discord.connected.wait()
                    while "HTTP mode on port" not in slack.state.detail:
                        await asyncio.sleep(0.01)
                    port = int(slack.state.detail.split("port ")[1].split()[0])
                    seen["readyz"] = await _get(port, "/readyz")
                    seen["healthz"] = await _get(port, "/healthz")
                finally:
                    stop.set()

            def started(_health) -> None:
                seen["task"] = asyncio.ensure_future(probe())

            return await serve(
                config, bot, console=False, platforms=[slack, discord], stop=stop,
                on_started=started,
            )  # fmt: skip

        assert run(scenario()) == 0
    for path in ("readyz", "healthz"):
        status, body = seen[path]
        assert status == 200 and body["ready"]
        assert {name: p["state"] for name, p in body["platforms"].items()} == {
            "slack": "connected",
            "discord": "connected",
        }
