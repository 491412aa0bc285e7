"""The real discord.py client against a fake Discord on 127.0.0.1: command sync, slash
commands, mentions, DMs, feedback buttons, admin commands and errors, asserted on the
requests the fake recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import discord
import pytest

from bot.adapters import discord as discord_adapter
from bot.adapters.discord import APOLOGY, build_client, run_discord, use_endpoints
from bot.core.admin import AdminService
from bot.core.packs import local
from bot.core.service import StrikeBot
from bot.settings import Settings
from tests.fakes.discord_fake import (
    ADMIN_ROLE_ID,
    ADMIN_ROLE_NAME,
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_ID,
    TOKEN,
    FakeDiscord,
    Request,
    command_problems,
)

DEFAULT_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"
DURATION = "strike-duration-130"
CALLBACK = r"/interactions/{id}/{token}/callback"
FOLLOWUP = rf"/webhooks/{APP_ID}/{{token}}"


def run(scenario: Awaitable[None], timeout: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(scenario, timeout))


def make_settings(fake: FakeDiscord, **env: Any) -> Settings:
    values = {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_GUILD_ID": None,
        "DISCORD_SHARDS": "",
        "STRIKEBOT_DISCORD_ADMIN_ROLE": "",
        **env,
    }
    return Settings(**values)


async def no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between shard IDENTIFYs (Discord's rate limit); not here."""


@contextlib.asynccontextmanager
async def connected(
    bot: StrikeBot, admin: AdminService, *, shards: int = 1, **env: Any
) -> AsyncIterator[tuple[FakeDiscord, discord.Client]]:
    """A fake Discord and the bot's client, logged in and ready; both shut down after."""
    async with FakeDiscord(shards=shards) as fake:
        client = build_client(make_settings(fake, **env), bot, admin, guild_ready_timeout=0.05)
        client.before_identify_hook = no_identify_wait  # type: ignore[method-assign]
        task = asyncio.create_task(client.start(TOKEN))
        try:
            ready = asyncio.ensure_future(client.wait_until_ready())
            done, _ = await asyncio.wait({ready, task}, timeout=10, return_when="FIRST_COMPLETED")
            if task in done:
                task.result()  # start() failed: raise its error
            assert ready in done, "the client did not become ready"
            yield fake, client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)


async def callback_of(fake: FakeDiscord, interaction: dict[str, Any]) -> Request:
    path = CALLBACK.format(id=interaction["id"], token=interaction["token"])
    return await fake.wait_request("POST", path)


async def followup_of(fake: FakeDiscord, interaction: dict[str, Any], after: int = 0) -> Request:
    return await fake.wait_request("POST", FOLLOWUP.format(token=interaction["token"]), after=after)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def flags_of(callback: dict[str, Any]) -> int:
    return (callback.get("data") or {}).get("flags") or 0


def no_pings(body: dict[str, Any]) -> None:
    assert body["allowed_mentions"]["parse"] == []
    assert body["allowed_mentions"].get("replied_user", False) is False


# --- connection and sync ----------------------------------------------------------------


def test_connects_without_privileged_intents_and_syncs_valid_global_commands(bot, admin, caplog):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            sync = await fake.wait_request("PUT", rf"/applications/{APP_ID}/commands")
            assert fake.find("GET", r"/users/@me") and fake.find("GET", r"/oauth2/applications/@me")
            assert sync.headers["Authorization"] == f"Bot {TOKEN}"
            assert command_problems(sync.json) == []
            by_name = {c["name"]: c for c in sync.json}
            assert set(by_name) == {"strike", "strike-admin"}
            subs = {o["name"] for o in by_name["strike"]["options"]}
            assert subs == {
                "status",
                "timeline",
                "ask",
                "topics",
                "sources",
                "help",
                "subscribe",
                "unsubscribe",
            }
            admin_cmd = by_name["strike-admin"]
            assert str(admin_cmd["default_member_permissions"]) == str(1 << 5)
            assert admin_cmd["dm_permission"] is False
            assert {o["name"] for o in admin_cmd["options"]} == {
                "add",
                "retract",
                "restore",
                "audit",
                "unanswered",
                "article",
                "review",
                "due",
                "report",
                "subscriptions",
                "pack",
            }
            identify = fake.gateways[0].identify
            intents = discord.Intents(value=identify["intents"])
            assert not (intents.message_content or intents.members or intents.presences)
            assert intents.guild_messages and intents.dm_messages and intents.guilds
            await fake.wait_for(lambda: fake.gateways[0].heartbeats >= 1)
            assert not fake.find("PUT", rf"/applications/{APP_ID}/guilds/\d+/commands")

    with caplog.at_level("DEBUG"):
        run(scenario())
    assert caplog.records and not any(TOKEN in r.getMessage() for r in caplog.records)


def test_guild_id_syncs_to_that_guild(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin, DISCORD_GUILD_ID=GUILD_ID) as (fake, _client):
            sync = await fake.wait_request(
                "PUT", rf"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"
            )
            assert command_problems(sync.json) == []
            assert {c["name"] for c in sync.json} == {"strike", "strike-admin"}

    run(scenario())


def test_commands_are_synced_only_when_the_command_tree_changes(bot, admin, monkeypatch):
    """Each start is a fresh client against a fresh fake Discord, on the same database:
    the bulk overwrite (PUT …/commands) is made on the first start, not on the second, and
    again when what would be registered changes (another guild, another command set)."""
    puts: list[int] = []

    async def start(**env: Any) -> None:
        async with connected(bot, admin, **env) as (fake, _client):
            puts.append(len(fake.find("PUT", rf"/applications/{APP_ID}(/guilds/\d+)?/commands")))

    async def scenario() -> None:
        await start()
        await start()
        await start(DISCORD_GUILD_ID=GUILD_ID)
        await start(DISCORD_GUILD_ID=GUILD_ID)
        monkeypatch.setattr(
            discord_adapter.AdminCommands.due, "description", "Facts past their review date"
        )
        await start(DISCORD_GUILD_ID=GUILD_ID)

    run(scenario(), timeout=60)
    assert puts == [1, 0, 1, 0, 1]


def test_auto_sharding_uses_the_configured_gateway(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin, shards=2, DISCORD_SHARDS="auto") as (fake, client):
            assert isinstance(client, discord.AutoShardedClient)
            assert fake.find("GET", r"/gateway/bot")
            await fake.wait_for(lambda: sum(1 for g in fake.gateways if g.identify) == 2)
            assert sorted(g.identify["shard"] for g in fake.gateways) == [[0, 2], [1, 2]]
            interaction = await fake.slash("strike help")
            reply = await callback_of(fake, interaction)
            assert reply.json["data"]["embeds"][0]["title"] == "strikebot help"

    run(scenario())


def test_a_rejected_token_stops_with_one_line(bot):
    async def scenario() -> None:
        async with FakeDiscord() as fake:
            settings = make_settings(fake, DISCORD_TOKEN="wrong")
            try:
                with pytest.raises(SystemExit) as exc:
                    await asyncio.to_thread(run_discord, settings, bot)
            finally:
                use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)
            assert "DISCORD_TOKEN" in str(exc.value) and "wrong" not in str(exc.value)

    run(scenario())


# --- slash commands ---------------------------------------------------------------------


def test_ask_defers_privately_then_follows_up_with_a_cited_embed(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            interaction = await fake.slash(
                "strike ask", {"question": "how long has the strike lasted?"}
            )
            callback = await callback_of(fake, interaction)
            assert callback.json["type"] == 5
            assert callback.json["data"]["flags"] & EPHEMERAL
            follow = await followup_of(fake, interaction)
            body = follow.json
            assert body["flags"] & EPHEMERAL
            no_pings(body)
            embed = body["embeds"][0]
            assert "130 days" in embed["description"]
            assert embed["fields"][0]["name"].startswith("WGA negotiators urge studios")
            assert "11 Sep 2023" in embed["fields"][0]["value"]
            assert embed["footer"]["text"].startswith("As of 11 Sep 2023")
            ids = [c["custom_id"] for c in body["components"][0]["components"]]
            log_id = bot.store.logged_question(int(ids[0].split(":")[2]))
            assert log_id is not None and log_id["platform"] == "discord"
            assert ids == [f"strikebot:fb:{log_id['id']}:1", f"strikebot:fb:{log_id['id']}:0"]

            symbols = await fake.slash("strike ask", {"question": "?!?"})
            body = (await followup_of(fake, symbols)).json
            assert body["embeds"][0]["title"] == "I couldn't read that as a question"
            assert not body.get("components")  # nothing logged, nothing to rate

    run(scenario())


def test_public_ask_and_status_are_visible_to_the_channel(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            ask = await fake.slash("strike ask", {"question": "any deal yet?", "public": True})
            assert flags_of((await callback_of(fake, ask)).json) == 0
            assert not (await followup_of(fake, ask)).json.get("flags", 0) & EPHEMERAL
            status = await fake.slash("strike status")
            assert flags_of((await callback_of(fake, status)).json) == 0
            body = (await followup_of(fake, status)).json
            assert body["embeds"][0]["title"] == "Latest picture of the strike"
            assert "components" not in body or not body["components"]
            no_pings(body)

    run(scenario())


def test_topics_sources_and_help(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            topics = await fake.slash("strike topics")
            body = (await followup_of(fake, topics)).json
            assert "How long the strike has lasted" in body["embeds"][0]["description"]
            sources = await fake.slash("strike sources")
            body = (await followup_of(fake, sources)).json
            assert body["embeds"][0]["fields"][0]["name"].startswith("WGA negotiators")
            assert body["flags"] & EPHEMERAL
            helped = await fake.slash("strike help", dm=True)
            callback = (await callback_of(fake, helped)).json
            assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
            assert "/strike ask" in callback["data"]["embeds"][0]["description"]

    run(scenario())


def test_ask_autocomplete_suggests_known_questions(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            interaction = await fake.slash("strike ask", {"question": "how lo"}, focused="question")
            callback = (await callback_of(fake, interaction)).json
            assert callback["type"] == 8
            choices = callback["data"]["choices"]
            assert 1 <= len(choices) <= 25
            assert all(1 <= len(c["name"]) <= 100 and c["value"] == c["name"] for c in choices)
            assert choices[0]["name"].startswith("How long")

    run(scenario())


def test_a_failing_command_apologises_privately_and_is_logged(bot, admin, monkeypatch, caplog):
    def broken(*_args: Any) -> None:
        raise RuntimeError("matcher exploded")

    monkeypatch.setattr(bot, "ask", broken)
    monkeypatch.setattr(bot, "status", broken)

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            ask = await fake.slash("strike ask", {"question": "how long?"})
            body = (await followup_of(fake, ask)).json
            assert body["content"] == APOLOGY and body["flags"] & EPHEMERAL
            mark = len(fake.requests)
            status = await fake.slash("strike status")  # deferred publicly
            delete = rf"/webhooks/{APP_ID}/{status['token']}/messages/@original"
            await fake.wait_request("DELETE", delete, after=mark)
            body = (await followup_of(fake, status, after=mark)).json
            assert body["content"] == APOLOGY and body["flags"] & EPHEMERAL

    with caplog.at_level("ERROR", logger="bot.adapters.discord"):
        run(scenario())
    assert any("matcher exploded" in (r.exc_text or "") for r in caplog.records)


# --- mentions and DMs -------------------------------------------------------------------


def channel_posts(fake: FakeDiscord, channel: int) -> list[Request]:
    return fake.find("POST", rf"/channels/{channel}/messages")


def test_a_mention_gets_a_reply_to_that_message_that_pings_nobody(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            message = await fake.say(f"<@{BOT_ID}> @everyone how long has the strike lasted?")
            post = await fake.wait_request("POST", rf"/channels/{CHANNEL_ID}/messages")
            body = post.json
            assert body["message_reference"]["message_id"] == int(message["id"])
            assert body["message_reference"]["fail_if_not_exists"] is False
            no_pings(body)
            embed = body["embeds"][0]
            assert "130 days" in embed["description"]
            assert "@\u200beveryone" in embed["title"] and f"<@{BOT_ID}>" not in embed["title"]
            assert custom_ids(body)[0].startswith("strikebot:fb:")
            assert fake.find("POST", rf"/channels/{CHANNEL_ID}/typing")

    run(scenario())


def test_unaddressed_and_bot_messages_are_ignored(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            await fake.say("how long has the strike lasted?", mention_bot=False)
            await fake.say(f"<@{BOT_ID}> status", bot=True, user_id=BOT_ID + 100)
            await fake.say(f"<@{BOT_ID}> status", user_id=BOT_ID)
            last = await fake.say(f"<@!{BOT_ID}> status")
            post = await fake.wait_request("POST", rf"/channels/{CHANNEL_ID}/messages")
            assert post.json["message_reference"]["message_id"] == int(last["id"])
            assert post.json["embeds"][0]["title"] == "Latest picture of the strike"
            assert len(channel_posts(fake, CHANNEL_ID)) == 1

    run(scenario())


def test_a_dm_is_answered_in_the_dm(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            message = await fake.say("any deal yet?", dm=True, mention_bot=False)
            post = await fake.wait_request("POST", rf"/channels/{DM_CHANNEL_ID}/messages")
            assert post.json["message_reference"]["message_id"] == int(message["id"])
            assert "standstill" in post.json["embeds"][0]["description"]
            no_pings(post.json)
            await fake.say("", dm=True, mention_bot=False)  # e.g. only an attachment
            help_post = await fake.wait_for(lambda: channel_posts(fake, DM_CHANNEL_ID)[1:])
            assert help_post[0].json["embeds"][0]["title"] == "strikebot help"

    run(scenario())


# --- feedback ---------------------------------------------------------------------------


def test_feedback_buttons_record_one_vote_per_user(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            ask = await fake.slash("strike ask", {"question": "how long has the strike lasted?"})
            follow = await followup_of(fake, ask)
            message = next(m for m in fake.messages.values() if custom_ids(m))
            helpful = custom_ids(follow.json)[0]

            click = await fake.click(message, helpful)
            callback = (await callback_of(fake, click)).json
            assert callback["type"] == 6  # private answer: acknowledged in place
            edit = await fake.wait_request(
                "PATCH", rf"/webhooks/{APP_ID}/{click['token']}/messages/@original"
            )
            buttons = edit.json["components"][0]["components"]
            assert all(b["disabled"] for b in buttons)
            thanks = (await followup_of(fake, click)).json
            assert thanks["flags"] & EPHEMERAL and "Thanks" in thanks["content"]
            rows = bot.store.feedback()
            assert len(rows) == 1 and rows[0]["helpful"] == 1 and rows[0]["platform"] == "discord"

            again = await fake.click(message, helpful)
            assert "already" in (await followup_of(fake, again)).json["content"]
            assert len(bot.store.feedback()) == 1

    run(scenario())


def test_feedback_on_a_public_answer_thanks_privately(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            await fake.say(f"<@{BOT_ID}> any deal yet?")
            post = await fake.wait_request("POST", rf"/channels/{CHANNEL_ID}/messages")
            message = next(m for m in fake.messages.values() if custom_ids(m))
            click = await fake.click(message, custom_ids(post.json)[1], user_id=MEMBER_ID + 1)
            callback = (await callback_of(fake, click)).json
            assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL
            thanks = (await followup_of(fake, click)).json
            assert thanks["flags"] & EPHEMERAL
            rows = bot.store.feedback()
            assert len(rows) == 1 and rows[0]["helpful"] == 0

    run(scenario())


# --- admin ------------------------------------------------------------------------------


async def refused(fake: FakeDiscord, interaction: dict[str, Any]) -> str:
    callback = (await callback_of(fake, interaction)).json
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    no_pings(callback["data"])
    return callback["data"]["content"]


def test_a_member_without_manage_server_or_role_is_refused(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin, STRIKEBOT_DISCORD_ADMIN_ROLE=ADMIN_ROLE_NAME) as (
            fake,
            _client,
        ):
            before_facts, before_audit = bot.store.facts(), bot.store.audit()
            retract = await fake.slash("strike-admin retract", {"id": DURATION, "reason": "x"})
            assert "Manage Server" in await refused(fake, retract)
            assert ADMIN_ROLE_NAME in await refused(fake, retract)
            for command, options in [
                ("strike-admin restore", {"id": DURATION}),
                ("strike-admin audit", {}),
                ("strike-admin unanswered", {}),
                ("strike-admin add", {"topic": "strike.duration"}),
            ]:
                await refused(fake, await fake.slash(command, options))
            dm = await fake.slash(
                "strike-admin retract",
                {"id": DURATION, "reason": "x"},
                dm=True,
                permissions=MANAGE_GUILD,
            )
            assert (await callback_of(fake, dm)).json["data"]["flags"] & EPHEMERAL
            assert bot.store.facts() == before_facts and bot.store.audit() == before_audit
            assert not fake.find("POST", rf"/webhooks/{APP_ID}/.*")

    run(scenario())


def test_the_admin_role_may_retract_and_restore_with_an_audit_entry(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin, STRIKEBOT_DISCORD_ADMIN_ROLE=ADMIN_ROLE_NAME) as (
            fake,
            _client,
        ):
            retract = await fake.slash(
                "strike-admin retract",
                {"id": DURATION, "reason": "superseded"},
                roles=(ADMIN_ROLE_ID,),
            )
            assert (await callback_of(fake, retract)).json["type"] == 5
            body = (await followup_of(fake, retract)).json
            assert body["flags"] & EPHEMERAL and body["embeds"][0]["title"].startswith("Retracted")
            assert bot.store.fact(DURATION).status == "retracted"
            entry = bot.store.audit(limit=1)[0]
            assert entry["actor"] == f"discord:{MEMBER_ID}" and entry["platform"] == "discord"
            assert entry["action"] == "retract" and entry["note"] == "superseded"

            again = await fake.slash(
                "strike-admin retract", {"id": DURATION, "reason": "twice"}, roles=(ADMIN_ROLE_ID,)
            )
            assert "already retracted" in (await followup_of(fake, again)).json["content"]
            missing = await fake.slash(
                "strike-admin restore", {"id": "no-such-fact"}, permissions=MANAGE_GUILD
            )
            assert "no-such-fact" in (await followup_of(fake, missing)).json["content"]
            restore = await fake.slash(
                "strike-admin restore", {"id": DURATION}, permissions=MANAGE_GUILD
            )
            await followup_of(fake, restore)
            assert bot.store.fact(DURATION).status == "active"
            audit = await fake.slash("strike-admin audit", {"limit": 5}, permissions=MANAGE_GUILD)
            text = (await followup_of(fake, audit)).json["embeds"][0]["description"]
            assert "restore" in text and "retract" in text

    run(scenario())


def test_add_opens_a_form_and_the_submission_is_checked_again(bot, admin):
    form = [
        "Day 131: pickets continue.",
        "2023-09-12",
        "Picket report",
        "",
        "https://example.org/r",
    ]

    async def open_form(fake: FakeDiscord) -> dict[str, Any]:
        add = await fake.slash(
            "strike-admin add", {"topic": "strike.duration"}, permissions=MANAGE_GUILD
        )
        callback = (await callback_of(fake, add)).json
        assert callback["type"] == 9
        return callback["data"]

    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            count = len(bot.store.facts())
            typo = await fake.slash(
                "strike-admin add", {"topic": "Offer Pay!"}, permissions=MANAGE_GUILD
            )
            assert "lowercase words joined by dots" in await refused(fake, typo)
            modal = await open_form(fake)
            assert len(modal["components"]) == 5 and len(modal["title"]) <= 45
            sneaky = await fake.submit_modal(modal, form, permissions=0)  # lost Manage Server
            assert "Manage Server" in await refused(fake, sneaky)
            assert len(bot.store.facts()) == count

            modal = await open_form(fake)
            bad_form = [form[0], "12/09/2023", *form[2:]]
            bad = await fake.submit_modal(modal, bad_form, permissions=MANAGE_GUILD)
            body = (await followup_of(fake, bad)).json
            assert "as-of must be a date" in body["content"]
            assert len(bot.store.facts()) == count

            retry_message = next(m for m in fake.messages.values() if custom_ids(m))
            retry = await fake.click(
                retry_message, custom_ids(retry_message)[0], permissions=MANAGE_GUILD
            )
            modal = (await callback_of(fake, retry)).json["data"]
            prefilled = [row["component"].get("value") for row in modal["components"]]
            assert prefilled[:2] == [form[0], "12/09/2023"]
            good = await fake.submit_modal(modal, form, permissions=MANAGE_GUILD)
            body = (await followup_of(fake, good)).json
            assert body["embeds"][0]["title"].startswith("Added")
            added = [f for f in bot.store.facts() if f.text == form[0]]
            assert len(added) == 1 and local(added[0].topic) == "strike.duration"
            assert bot.store.sources()[added[0].source].url == form[4]
            assert bot.store.audit(limit=1)[0]["actor"] == f"discord:{MEMBER_ID}"

    run(scenario())


def test_unanswered_lists_questions_the_bot_could_not_answer(bot, admin):
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            bot.store.log_question("what is the weather on mars", False, 0.1, [], "discord", None)
            listing = await fake.slash("strike-admin unanswered", permissions=MANAGE_GUILD)
            text = (await followup_of(fake, listing)).json["embeds"][0]["description"]
            assert "weather on mars" in text

    run(scenario())
