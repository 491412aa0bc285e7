"""A fake Discord on 127.0.0.1 (a free port): the REST API under /api/v10 and a gateway
websocket at /gateway, answering as Discord does, for the real discord.py client.

It records every REST request (method, path, query, JSON body, headers) and serves the
files of attachments added with `attach` (as Discord's CDN would). Tests inject gateway
dispatches (INTERACTION_CREATE, MESSAGE_CREATE) and wait on the recording with a timeout
instead of sleeping. Gateway frames are sent as uncompressed text: discord.py asks for
zlib/zstd streams but only decompresses binary frames, and parses text frames as is.

Faults: `fail(method, pattern, status, times=N)` makes the next N matching requests fail as
Discord does (429 with retry_after and the Via header of Discord's edge, or a 5xx); those
attempts go to `failed`, not `requests`. The gateway keeps each session's dispatches: after
a close (`close_gateways`), a drop (`drop_gateways`) or a RECONNECT (`send_op(7)`) the
client may RESUME at READY's `resume_gateway_url`; the fake checks the token, session id
and sequence, replays what the client missed (`lose` makes a dispatch go missing) and
sends RESUMED, or answers INVALID_SESSION (`refuse_resume`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
RESUME_PATH = "/gateway-resume"
TOKEN = "fake-discord-token"
APP_ID = 1100000000000000001
BOT_ID = 1100000000000000002
GUILD_ID = 1100000000000000003
CHANNEL_ID = 1100000000000000004
ADMIN_ROLE_ID = 1100000000000000005
OWNER_ID = 1100000000000000006
MEMBER_ID = 1100000000000000007
DM_CHANNEL_ID = 1100000000000000008
MOD_ROLE_ID = 1100000000000000009  # "Moderators": many permissions, but not Manage Server
LOOKALIKE_ROLE_ID = 1100000000000000010  # "Strike Admin": one letter short of the admin role
ADMIN_ROLE_NAME = "Strike Admins"

# Interaction and callback types (Discord API)
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
ALL_PERMISSIONS = (1 << 41) - 1
VIEW_CHANNEL, SEND_MESSAGES, EMBED_LINKS = 1 << 10, 1 << 11, 1 << 14
ADMINISTRATOR = 1 << 3
# Kick, ban, manage channels, manage messages, manage roles, moderate members: everything a
# moderator may have, without Manage Server or Administrator.
MODERATOR_PERMISSIONS = (1 << 1) | (1 << 2) | (1 << 4) | (1 << 13) | (1 << 28) | (1 << 40)
OPTION_TYPES = {str: 3, int: 4, bool: 5}
ATTACHMENT_OPTION = 11


@dataclass
class Request:
    """One REST request that reached the fake."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    headers: dict[str, str]

    def is_(self, method: str, pattern: str) -> bool:
        return self.method == method and re.fullmatch(pattern, self.path) is not None


@dataclass
class Fault:
    """A canned failure for the next request matching `method` and `pattern`."""

    method: str
    pattern: str
    status: int
    retry_after: float = 0.05
    is_global: bool = False


@dataclass
class Gateway:
    """One gateway connection (open, or closed: `FakeDiscord.connections` keeps them all)."""

    ws: web.WebSocketResponse
    identify: dict[str, Any] | None = None
    heartbeats: int = 0
    shard: list[int] = field(default_factory=lambda: [0, 1])
    path: str = "/gateway"  # the URL path the client dialled
    transport: Any = None  # the TCP connection, for abrupt drops
    resume: dict[str, Any] | None = None  # the RESUME payload, on a resumed connection
    session_id: str | None = None
    resumed: bool = False  # RESUMED was sent: the session goes on here

    @property
    def live(self) -> bool:
        """Ready for dispatches: identified, or resumed."""
        return bool(self.identify or self.resumed) and not self.ws.closed


@dataclass
class Session:
    """A gateway session: its shard and every dispatch sent in it, by sequence number,
    so a RESUME gets what the client missed."""

    session_id: str
    shard: list[int]
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.frames[-1]["s"] if self.frames else 0


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def user_json(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def role_json(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


class FakeDiscord:
    """Use `async with FakeDiscord() as fake:`; then `fake.api_url` and `fake.gateway_url`
    go into DISCORD_API_URL and DISCORD_GATEWAY_URL."""

    def __init__(self, *, shards: int = 1):
        self.shards = shards
        self.requests: list[Request] = []
        self.failed: list[Request] = []  # requests answered with a canned fault
        self.faults: list[Fault] = []
        self.gateways: list[Gateway] = []  # the open connections
        self.connections: list[Gateway] = []  # every connection ever made, in order
        self.sessions: dict[str, Session] = {}
        self.refuse_resume = False  # answer RESUME with INVALID_SESSION (not resumable)
        self._session_ids = itertools.count(1)
        self.messages: dict[int, dict[str, Any]] = {}
        self.originals: dict[str, dict[str, Any]] = {}  # interaction token -> @original
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.files: dict[str, bytes] = {}  # attachment id -> content, served by the "CDN"
        self.forbidden_channels: set[int] = set()  # posting there: 403 Missing Permissions
        self._ids = itertools.count(1200000000000000000)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(RESUME_PATH, self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._attachment_file)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for gw in self.gateways:
            with contextlib.suppress(Exception):
                await gw.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """What READY gives as `resume_gateway_url`: clients must resume there."""
        return f"ws://127.0.0.1:{self.port}{RESUME_PATH}"

    def new_id(self) -> int:
        return next(self._ids)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every request or gateway
        message); returns its value, or fails after `timeout` seconds."""

        async def waiter() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(waiter(), timeout)

    async def wait_request(
        self, method: str, pattern: str, *, after: int = 0, timeout: float = 5.0
    ) -> Request:
        """The first request (from index `after` on) with this method and path pattern."""

        def found() -> Request | None:
            return next((r for r in self.requests[after:] if r.is_(method, pattern)), None)

        return await self.wait_for(found, timeout)

    def find(self, method: str, pattern: str, *, after: int = 0) -> list[Request]:
        return [r for r in self.requests[after:] if r.is_(method, pattern)]

    # --- gateway -------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        gw = Gateway(ws, path=request.path, transport=request.transport)
        self.gateways.append(gw)
        self.connections.append(gw)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    gw.heartbeats += 1
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    gw.identify = payload["d"]
                    gw.shard = payload["d"].get("shard") or [0, 1]
                    await self._send_ready(gw)
                elif op == 6:
                    await self._resume(gw, payload["d"])
                await self._notify()
        except (ConnectionResetError, RuntimeError):  # dropped under our feet
            pass
        finally:
            if gw in self.gateways:
                self.gateways.remove(gw)
            await self._notify()
        return ws

    async def _resume(self, gw: Gateway, data: dict[str, Any]) -> None:
        """RESUME: the missed dispatches, then RESUMED; or INVALID_SESSION (op 9, not
        resumable) for a wrong token, session or sequence, or when `refuse_resume` is set."""
        gw.resume = data
        session = self.sessions.get(data.get("session_id") or "")
        seq = data.get("seq")
        if (
            self.refuse_resume
            or session is None
            or data.get("token") != TOKEN
            or not isinstance(seq, int)
            or seq > session.last_seq
        ):
            await gw.ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        gw.session_id, gw.shard = session.session_id, session.shard
        for frame in [f for f in session.frames if f["s"] > seq]:
            await gw.ws.send_str(json.dumps(frame))
        gw.resumed = True
        await self._send(gw, "RESUMED", {})

    async def _send(self, gw: Gateway, event: str, data: dict[str, Any]) -> None:
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        if gw.session_id in self.sessions:
            self.sessions[gw.session_id].frames.append(frame)
        await gw.ws.send_str(json.dumps(frame))

    # --- disconnects ---------------------------------------------------------------

    def live_gateways(self) -> list[Gateway]:
        return [g for g in self.gateways if g.live]

    async def wait_live(self, count: int = 1, *, after: int = 0) -> list[Gateway]:
        """The live connections made from `connections[after]` on, once there are `count`."""

        def found() -> list[Gateway] | None:
            live = [g for g in self.connections[after:] if g.live]
            return live if len(live) >= count else None

        return await self.wait_for(found)

    async def close_gateways(self, code: int = 4000) -> None:
        """Close every open connection from Discord's side with a close code (4000: unknown
        error, reconnect; 1000/1001: going away)."""
        for gw in list(self.gateways):
            await gw.ws.close(code=code, message=b"fake gateway closing")

    async def drop_gateways(self) -> None:
        """Cut every open connection without a close frame (a network failure)."""
        for gw in list(self.gateways):
            gw.transport.abort()

    async def send_op(self, op: int, data: Any = None) -> None:
        """Send an opcode to every live connection: 7 RECONNECT, 9 INVALID_SESSION, 1
        HEARTBEAT request."""
        for gw in self.live_gateways():
            await gw.ws.send_str(json.dumps({"op": op, "d": data}))

    def lose(self, event: str, data: dict[str, Any]) -> int:
        """A dispatch that Discord sent but the client never got (lost with the
        connection): recorded in the session, so a RESUME replays it. Its sequence number."""
        (gw,) = self.live_gateways()
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        self.sessions[gw.session_id or ""].frames.append(frame)
        return frame["s"]

    async def _send_ready(self, gw: Gateway) -> None:
        session_id = f"fake-session-{next(self._session_ids)}"
        self.sessions[session_id] = Session(session_id, gw.shard)
        gw.session_id = session_id
        ready = {
            "v": 10,
            "user": user_json(BOT_ID, "strikebot", bot=True),
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": session_id,
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": gw.shard,
            "private_channels": [],
            "relationships": [],
        }
        await self._send(gw, "READY", ready)
        if gw.shard[0] == (GUILD_ID >> 22) % gw.shard[1]:
            await self._send(gw, "GUILD_CREATE", self.guild_json())

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the connection that serves the guild (or shard 0)."""
        await self.wait_for(lambda: any(g.live for g in self.gateways))
        guild_id = int(data.get("guild_id") or 0)
        for gw in self.gateways:
            if gw.live and (guild_id >> 22) % gw.shard[1] == gw.shard[0]:
                await self._send(gw, event, data)
                return
        raise AssertionError("no gateway connection for that event")

    # --- objects -------------------------------------------------------------------

    def guild_json(self) -> dict[str, Any]:
        return {
            "id": str(GUILD_ID),
            "name": "Picket Line",
            "icon": None,
            "owner_id": str(OWNER_ID),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                role_json(GUILD_ID, "@everyone", 0, 0),
                role_json(ADMIN_ROLE_ID, ADMIN_ROLE_NAME, 0, 1),
                role_json(MOD_ROLE_ID, "Moderators", MODERATOR_PERMISSIONS, 2),
                role_json(LOOKALIKE_ROLE_ID, "Strike Admin", 0, 3),
            ],
            "channels": [self.channel_json()],
            "threads": [],
            "members": [self.member_json(BOT_ID, "strikebot", bot=True)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "member_count": 3,
            "large": False,
            "unavailable": False,
            "joined_at": now_iso(),
        }

    def channel_json(self) -> dict[str, Any]:
        return {
            "id": str(CHANNEL_ID),
            "type": 0,
            "guild_id": str(GUILD_ID),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def member_json(
        self,
        user_id: int,
        name: str,
        *,
        roles: tuple[int, ...] = (),
        permissions: int | None = None,
        bot: bool = False,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": user_json(user_id, name, bot=bot),
            "roles": [str(r) for r in roles],
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def message_json(
        self,
        *,
        channel_id: int,
        content: str = "",
        author: dict[str, Any] | None = None,
        guild: bool = True,
        flags: int = 0,
        **extra: Any,
    ) -> dict[str, Any]:
        data = {
            "id": str(self.new_id()),
            "channel_id": str(channel_id),
            "author": author or user_json(BOT_ID, "strikebot", bot=True),
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": flags,
            **extra,
        }
        if guild:
            data["guild_id"] = str(GUILD_ID)
        return data

    def attach(
        self, filename: str, content: bytes, content_type: str | None = "text/plain; charset=utf-8"
    ) -> dict[str, Any]:
        """An uploaded file as Discord describes it in an interaction; its URL is served
        here. Pass the result as an option value of `slash`."""
        attachment_id = str(self.new_id())
        self.files[attachment_id] = content
        url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
        data: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "ephemeral": True,
        }
        if content_type:
            data["content_type"] = content_type
        return data

    async def _attachment_file(self, request: web.Request) -> web.Response:
        path = f"/attachments/{request.match_info['id']}/{request.match_info['name']}"
        self.requests.append(Request("GET", path, dict(request.query), None, dict(request.headers)))
        await self._notify()
        content = self.files.get(request.match_info["id"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="text/plain")

    # --- injected events -----------------------------------------------------------

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int,
        permissions: int,
        roles: tuple[int, ...],
        dm: bool,
        message: dict[str, Any] | None = None,
        app_permissions: int = ALL_PERMISSIONS,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.new_id()),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"itoken-{self.new_id()}",
            "version": 1,
            "data": data,
            "locale": "en-US",
            "app_permissions": str(app_permissions),  # the bot's, in that channel
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if dm:
            payload["channel_id"] = str(DM_CHANNEL_ID)
            payload["channel"] = {"id": str(DM_CHANNEL_ID), "type": 1, "flags": 0}
            payload["user"] = user_json(user_id, f"user{user_id % 1000}")
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": str(user_id)}
        else:
            payload.update(
                guild_id=str(GUILD_ID),
                guild_locale="en-US",
                channel_id=str(CHANNEL_ID),
                channel=self.channel_json(),
                member=self.member_json(
                    user_id, f"user{user_id % 1000}", roles=roles, permissions=permissions
                ),
                context=0,
                authorizing_integration_owners={"0": str(GUILD_ID)},
            )
        if message is not None:
            payload["message"] = message
        return payload

    async def slash(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int = MEMBER_ID,
        permissions: int = 0,
        roles: tuple[int, ...] = (),
        dm: bool = False,
        focused: str | None = None,
        lost: bool = False,
        app_permissions: int = ALL_PERMISSIONS,
    ) -> dict[str, Any]:
        """Invoke `/group sub` with options (an AUTOCOMPLETE when `focused` names one). An
        option whose value is a dict from `attach` is sent as an attachment. `lost`: the
        dispatch goes into the session but never reaches the client (see `lose`).
        `app_permissions`: the bot's permissions in the channel (default: all)."""
        root, sub = command.split()
        opts = []
        resolved: dict[str, dict[str, Any]] = {}
        for k, v in (options or {}).items():
            if isinstance(v, dict):
                resolved[v["id"]] = v
                opts.append({"name": k, "type": ATTACHMENT_OPTION, "value": v["id"]})
                continue
            opts.append(
                {
                    "name": k,
                    "type": OPTION_TYPES[type(v)],
                    "value": v,
                    **({"focused": True} if k == focused else {}),
                }
            )
        data: dict[str, Any] = {
            "id": str(self.command_id(root)),
            "name": root,
            "type": 1,
            "options": [{"name": sub, "type": 1, "options": opts}],
        }
        if resolved:
            data["resolved"] = {"attachments": resolved}
        kind = AUTOCOMPLETE if focused else APPLICATION_COMMAND
        payload = self._interaction(
            kind, data, user_id=user_id, permissions=permissions, roles=roles, dm=dm,
            app_permissions=app_permissions,
        )  # fmt: skip
        if lost:
            self.lose("INTERACTION_CREATE", payload)
        else:
            await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user_id: int = MEMBER_ID,
        permissions: int = 0,
        dm: bool = False,
    ) -> dict[str, Any]:
        """Click the button `custom_id` on a message the bot sent."""
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._interaction(
            MESSAGE_COMPONENT,
            data,
            user_id=user_id,
            permissions=permissions,
            roles=(),
            dm=dm,
            message=message,
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def submit_modal(
        self,
        modal: dict[str, Any],
        values: list[str],
        *,
        user_id: int = MEMBER_ID,
        permissions: int = 0,
        roles: tuple[int, ...] = (),
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Submit a modal the bot opened, filling its text inputs in order with `values`.
        `message` is the message whose button opened it (Discord sends it along)."""
        filled = iter(values)
        components = []
        for top in modal["components"]:
            inner = top.get("component") or top["components"][0]
            answer = {"type": 4, "custom_id": inner["custom_id"], "value": next(filled)}
            if top["type"] == 18:
                components.append({"type": 18, "id": top.get("id", 0), "component": answer})
            else:
                components.append({"type": 1, "components": [answer]})
        data = {"custom_id": modal["custom_id"], "components": components}
        payload = self._interaction(
            MODAL_SUBMIT,
            data,
            user_id=user_id,
            permissions=permissions,
            roles=roles,
            dm=False,
            message=message,
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def say(
        self,
        content: str,
        *,
        user_id: int = MEMBER_ID,
        mention_bot: bool = True,
        dm: bool = False,
        bot: bool = False,
    ) -> dict[str, Any]:
        """A user posts a message in the guild channel (or a DM)."""
        author = user_json(user_id, f"user{user_id % 1000}", bot=bot)
        extra: dict[str, Any] = {}
        if mention_bot:
            extra["mentions"] = [user_json(BOT_ID, "strikebot", bot=True)]
        if not dm:
            extra["member"] = {
                k: v for k, v in self.member_json(user_id, "m").items() if k != "user"
            }
        message = self.message_json(
            channel_id=DM_CHANNEL_ID if dm else CHANNEL_ID,
            content=content,
            author=author,
            guild=not dm,
            **extra,
        )
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    def command_id(self, name: str) -> int:
        for commands in self.commands.values():
            for cmd in commands:
                if cmd["name"] == name:
                    return int(cmd["id"])
        return self.new_id()

    # --- REST ----------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = "/" + request.match_info["tail"]
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = {"_raw": body.decode("utf-8", "replace")}
        record = Request(request.method, path, dict(request.query), payload, dict(request.headers))
        fault = self._take_fault(record)
        if fault is not None:
            self.failed.append(record)
            await self._notify()
            return self._fault_response(fault)
        self.requests.append(record)
        try:
            if self._needs_token(path) and record.headers.get("Authorization") != f"Bot {TOKEN}":
                status, data = 401, {"message": "401: Unauthorized", "code": 0}
            else:
                status, data = self._route(record)
        finally:
            await self._notify()
        if status == 204:
            return web.Response(status=204)
        return web.Response(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )

    # --- faults ----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        pattern: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> None:
        """The next `times` requests with this method and path pattern (a regex on the path
        without /api/v10) fail with `status`; a 429 asks to retry after `retry_after` s."""
        self.faults.extend([Fault(method, pattern, status, retry_after, is_global)] * times)

    def _take_fault(self, record: Request) -> Fault | None:
        for n, fault in enumerate(self.faults):
            if record.is_(fault.method, fault.pattern):
                return self.faults.pop(n)
        return None

    def failed_to(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.failed if r.is_(method, pattern)]

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        if fault.status == 429:
            data = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": fault.is_global,
                "code": 0,
            }
            headers = {
                "Content-Type": "application/json",
                "Via": "1.1 google",  # discord.py takes a 429 without it for a Cloudflare ban
                "Retry-After": str(max(1, round(fault.retry_after))),
                "X-RateLimit-Scope": "global" if fault.is_global else "user",
            }
            if fault.is_global:
                headers["X-RateLimit-Global"] = "true"
            return web.Response(status=429, body=json.dumps(data).encode(), headers=headers)
        if fault.status == 500:
            data = {"message": "500: Internal Server Error", "code": 0}
            return web.json_response(data, status=500)
        page = f"<html><body><h1>{fault.status}</h1>upstream trouble</body></html>"
        return web.Response(status=fault.status, text=page, content_type="text/html")

    @staticmethod
    def _needs_token(path: str) -> bool:
        """Interaction callbacks and webhooks are authorised by their token in the path."""
        return not path.startswith(("/interactions/", "/webhooks/"))

    def _route(self, r: Request) -> tuple[int, Any]:
        app = str(APP_ID)
        routes: list[tuple[str, str, Callable[[Request, re.Match[str]], tuple[int, Any]]]] = [
            ("GET", r"/users/@me", lambda r, m: (200, user_json(BOT_ID, "strikebot", bot=True))),
            ("GET", r"/oauth2/applications/@me", lambda r, m: (200, self._application())),
            ("GET", r"/gateway", lambda r, m: (200, {"url": self.gateway_url})),
            ("GET", r"/gateway/bot", lambda r, m: (200, self._gateway_bot())),
            ("PUT", rf"/applications/{app}(?:/guilds/(\d+))?/commands", self._sync),
            ("GET", rf"/applications/{app}(?:/guilds/(\d+))?/commands", self._list_commands),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{app}/([^/]+)", self._followup),
            ("PATCH", rf"/webhooks/{app}/([^/]+)/messages/([^/]+)", self._edit),
            ("GET", rf"/webhooks/{app}/([^/]+)/messages/([^/]+)", self._get_webhook_message),
            ("DELETE", rf"/webhooks/{app}/([^/]+)/messages/([^/]+)", lambda r, m: (204, None)),
            ("POST", r"/channels/(\d+)/messages", self._channel_message),
            ("POST", r"/channels/(\d+)/typing", lambda r, m: (204, None)),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, r.path)
            if match and r.method == method:
                return handler(r, match)
        return 404, {"message": "404: Not Found", "code": 0}

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "strikebot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_json(OWNER_ID, "owner"),
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "team": None,
            "interactions_endpoint_url": None,
            "bot": user_json(BOT_ID, "strikebot", bot=True),
        }

    def _gateway_bot(self) -> dict[str, Any]:
        limits = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {
            "url": "wss://gateway.invalid",
            "shards": self.shards,
            "session_start_limit": limits,
        }

    def _sync(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        guild = int(m[1]) if m[1] else None
        saved = []
        for cmd in r.json or []:
            saved.append(
                {
                    **cmd,
                    "id": str(self.new_id()),
                    "application_id": str(APP_ID),
                    "version": str(self.new_id()),
                    **({"guild_id": str(guild)} if guild else {}),
                }
            )
        self.commands[guild] = saved
        return 200, saved

    def _list_commands(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self.commands.get(int(m[1]) if m[1] else None, [])

    def _store(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages[int(message["id"])] = message
        return message

    def _from_body(self, body: dict[str, Any], channel_id: int, **extra: Any) -> dict[str, Any]:
        return self._store(
            self.message_json(
                channel_id=channel_id,
                content=body.get("content") or "",
                embeds=body.get("embeds") or [],
                components=body.get("components") or [],
                flags=body.get("flags") or 0,
                **extra,
            )
        )

    def _callback(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        kind = r.json["type"]
        data = r.json.get("data") or {}
        flags = data.get("flags") or 0
        interaction = {
            "id": m[1],
            "type": kind,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
        result: dict[str, Any] = {"interaction": interaction}
        if kind in (4, 5):
            message = self._from_body(data, CHANNEL_ID, webhook_id=str(APP_ID))
            self.originals[m[2]] = message
            interaction["response_message_id"] = message["id"]
            result["resource"] = {"type": kind, "message": message}
        return 200, result

    def _followup(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self._from_body(r.json or {}, CHANNEL_ID, webhook_id=str(APP_ID))

    def _edit(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        old = self._webhook_message(m[1], m[2]) or self.message_json(channel_id=CHANNEL_ID)
        message = dict(old)
        for name in ("content", "embeds", "components", "flags"):
            if r.json and name in r.json:
                message[name] = r.json[name]
        if m[2] == "@original":
            self.originals[m[1]] = message
        return 200, self._store(message)

    def _webhook_message(self, token: str, which: str) -> dict[str, Any] | None:
        if which == "@original":
            return self.originals.get(token)
        return self.messages.get(int(which)) if which.isdigit() else None

    def _get_webhook_message(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        message = self._webhook_message(m[1], m[2])
        return (200, message) if message else (404, {"message": "Unknown Message", "code": 10008})

    def _channel_message(self, r: Request, m: re.Match[str]) -> tuple[int, Any]:
        if int(m[1]) in self.forbidden_channels:
            return 403, {"message": "Missing Permissions", "code": 50013}
        body = r.json or {}
        extra = {}
        if body.get("message_reference"):
            extra["message_reference"] = body["message_reference"]
        return 200, self._from_body(body, int(m[1]), guild=int(m[1]) != DM_CHANNEL_ID, **extra)


# --- Discord's rules for application commands -------------------------------------------

NAME_CHARS = "-_'"


def valid_name(name: str) -> bool:
    """^[-_'\\p{L}\\p{N}]{1,32}$ without the `regex` module, and lowercase."""
    return (
        1 <= len(name) <= 32
        and all(ch.isalnum() or ch in NAME_CHARS for ch in name)
        and name == name.lower()
    )


def command_problems(commands: list[dict[str, Any]]) -> list[str]:
    """Everything in a bulk-overwrite payload that Discord would reject (an empty list when
    it is valid): names, descriptions, option counts and order, choices, permissions."""
    problems: list[str] = []
    names = [c.get("name") for c in commands]
    if len(names) != len(set(names)):
        problems.append(f"duplicate command names {names}")
    for cmd in commands:
        where = f"/{cmd.get('name')}"
        if cmd.get("type", 1) == 1:
            problems += _check_named(cmd, where)
            problems += _check_options(cmd.get("options") or [], where, depth=0)
            if _size(cmd) > 4000:
                problems.append(f"{where}: more than 4000 characters in all")
        perms = cmd.get("default_member_permissions")
        if perms is not None and not str(perms).isdigit():
            problems.append(f"{where}: default_member_permissions {perms!r} is not a bit set")
    return problems


def _check_named(item: dict[str, Any], where: str) -> list[str]:
    problems = []
    if not valid_name(str(item.get("name", ""))):
        problems.append(f"{where}: invalid name {item.get('name')!r}")
    description = item.get("description") or ""
    if not 1 <= len(description) <= 100:
        problems.append(f"{where}: description must be 1-100 characters: {description!r}")
    return problems


def _check_options(options: list[dict[str, Any]], where: str, depth: int) -> list[str]:
    problems = []
    if len(options) > 25:
        problems.append(f"{where}: {len(options)} options (at most 25)")
    names = [o.get("name") for o in options]
    if len(names) != len(set(names)):
        problems.append(f"{where}: duplicate option names {names}")
    seen_optional = False
    for opt in options:
        at = f"{where} {opt.get('name')}"
        problems += _check_named(opt, at)
        kind = opt.get("type")
        if kind in (1, 2):
            if depth >= (1 if kind == 2 else 2):
                problems.append(f"{at}: subcommands nested too deep")
            problems += _check_options(opt.get("options") or [], at, depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                problems.append(f"{at}: required option after an optional one")
        else:
            seen_optional = True
        choices = opt.get("choices") or []
        if len(choices) > 25:
            problems.append(f"{at}: more than 25 choices")
        if choices and opt.get("autocomplete"):
            problems.append(f"{at}: choices and autocomplete together")
        if not 0 <= opt.get("min_length", 0) <= 6000 or not 1 <= opt.get("max_length", 1) <= 6000:
            problems.append(f"{at}: min_length/max_length out of range")
    return problems


def _size(item: dict[str, Any]) -> int:
    total = len(item.get("name", "")) + len(item.get("description", ""))
    for choice in item.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total + sum(_size(o) for o in item.get("options") or [])
