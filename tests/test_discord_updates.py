"""Status updates through Discord, end to end: `/strike subscribe` through the real
discord.py client against the fake Discord, a newer fact added by an admin, and delivery
rounds posting with `POST /channels/{id}/messages`, asserted on the recorded requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.adapters.discord import deliver_updates
from bot.core.admin import Actor, AdminService
from bot.core.updates import SubscriptionService
from bot.store.subscriptions import SubscriptionStore
from tests.fakes.discord_fake import (
    ALL_PERMISSIONS,
    APPLICATION_COMMAND,
    CHANNEL_ID,
    EMBED_LINKS,
    EPHEMERAL,
    MANAGE_GUILD,
    MEMBER_ID,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeDiscord,
    Request,
)
from tests.test_discord_e2e import callback_of, connected, followup_of, no_pings, run

SECOND = CHANNEL_ID + 100
OTHER = CHANNEL_ID + 200
NEWER = "The strike ended after 148 days."


async def strike(
    fake: FakeDiscord,
    sub: str,
    channel_id: int = CHANNEL_ID,
    *,
    permissions: int = MANAGE_GUILD,
    dm: bool = False,
    app_permissions: int = ALL_PERMISSIONS,
) -> str:
    """Run `/strike <sub>` in a guild channel (or a DM), the bot having `app_permissions`
    there; returns the private reply's text."""
    data = {
        "id": str(fake.command_id("strike")),
        "name": "strike",
        "type": 1,
        "options": [{"name": sub, "type": 1, "options": []}],
    }
    payload = fake._interaction(
        APPLICATION_COMMAND, data, user_id=MEMBER_ID, permissions=permissions, roles=(), dm=dm,
        app_permissions=app_permissions,
    )  # fmt: skip
    if not dm:
        payload["channel_id"] = str(channel_id)
        payload["channel"] = {**fake.channel_json(), "id": str(channel_id)}
    await fake.dispatch("INTERACTION_CREATE", payload)
    callback = (await callback_of(fake, payload)).json
    if callback["type"] == 4:  # answered at once: a refusal
        assert callback["data"]["flags"] & EPHEMERAL
        return callback["data"]["content"]
    body = (await followup_of(fake, payload)).json
    assert body["flags"] & EPHEMERAL
    no_pings(body)
    return body["content"]


def add_newer_fact(admin: AdminService) -> None:
    admin.add(
        Actor(str(MEMBER_ID), "discord", is_admin=True),
        text=NEWER,
        topic="strike.duration",
        as_of="2023-09-27",
        source_title="Writers' strike ends",
        published="2023-09-27",
        url="https://example.org/ended",
    )


def posts_to(fake: FakeDiscord, channel_id: int) -> list[Request]:
    return fake.find("POST", rf"/channels/{channel_id}/messages")


def test_a_newer_fact_is_posted_once_to_each_subscribed_channel(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            assert "now subscribed" in await strike(fake, "subscribe", CHANNEL_ID)
            assert "now subscribed" in await strike(fake, "subscribe", SECOND)
            assert "already subscribed" in await strike(fake, "subscribe", SECOND)
            SubscriptionService(bot.store).subscribe(Actor("x", is_admin=True), "slack", "C1")

            await asyncio.to_thread(add_newer_fact, admin)
            assert await deliver_updates(client) == {"sent": 2, "failed": 0}
            assert await deliver_updates(client) == {"sent": 0, "failed": 0}

            for channel in (CHANNEL_ID, SECOND):
                (post,) = posts_to(fake, channel)
                body: dict[str, Any] = post.json
                no_pings(body)
                embed = body["embeds"][0]
                assert embed["title"] == "Status update: How long the strike has lasted"
                assert NEWER in embed["description"] and "11 Sep 2023" in embed["description"]
                assert embed["fields"][0]["name"] == "Writers' strike ends"
                assert "https://example.org/ended" in embed["fields"][0]["value"]
            assert posts_to(fake, OTHER) == []
            rows = SubscriptionStore(bot.store).deliveries()
            assert {(r["platform"], r["status"]) for r in rows} == {
                ("discord", "sent"),
                ("slack", "pending"),
            }

    run(scenario())


def test_the_delivery_loop_posts_on_its_own(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin, STRIKEBOT_DELIVERY_INTERVAL=0.1) as (fake, _client):
            await strike(fake, "subscribe")
            await asyncio.to_thread(add_newer_fact, admin)
            await fake.wait_request("POST", rf"/channels/{CHANNEL_ID}/messages")
            await asyncio.sleep(0.4)  # several more rounds: nothing is sent again
            assert len(posts_to(fake, CHANNEL_ID)) == 1

    run(scenario())


def test_a_refused_post_is_retried_and_sent_once(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            await strike(fake, "subscribe")
            original = fake._channel_message
            refusals = iter([(403, {"message": "Missing Access", "code": 50001})])

            def flaky(r: Request, m: Any) -> tuple[int, Any]:
                return next(refusals, None) or original(r, m)

            fake._channel_message = flaky  # type: ignore[method-assign]
            await asyncio.to_thread(add_newer_fact, admin)
            assert await deliver_updates(client) == {"sent": 0, "failed": 1}
            (row,) = SubscriptionStore(bot.store).deliveries()
            assert row["status"] == "failed" and "Missing Access" in row["last_error"]
            assert await deliver_updates(client) == {"sent": 1, "failed": 0}
            assert await deliver_updates(client) == {"sent": 0, "failed": 0}
            assert len(posts_to(fake, CHANNEL_ID)) == 2  # one refused, one delivered

    run(scenario())


def test_unsubscribe_stops_delivery(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            await strike(fake, "subscribe", CHANNEL_ID)
            await strike(fake, "subscribe", SECOND)
            assert "no longer" in await strike(fake, "unsubscribe", SECOND)
            assert "not subscribed" in await strike(fake, "unsubscribe", OTHER)
            await asyncio.to_thread(add_newer_fact, admin)
            await deliver_updates(client)
            assert len(posts_to(fake, CHANNEL_ID)) == 1
            assert posts_to(fake, SECOND) == [] and posts_to(fake, OTHER) == []

    run(scenario())


def test_members_and_direct_messages_cannot_subscribe(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            refused = await strike(fake, "subscribe", permissions=0)
            assert "Manage Server" in refused and "/strike subscribe" in refused
            in_dm = await strike(fake, "subscribe", dm=True)
            assert "server channel" in in_dm
            await strike(fake, "subscribe", SECOND)  # an admin elsewhere
            assert "Manage Server" in await strike(fake, "unsubscribe", SECOND, permissions=0)
            subscribed = SubscriptionService(bot.store).list()
            assert [(s.platform, s.channel) for s in subscribed] == [("discord", str(SECOND))]
            await asyncio.to_thread(add_newer_fact, admin)
            await deliver_updates(client)
            assert posts_to(fake, CHANNEL_ID) == [] and len(posts_to(fake, SECOND)) == 1

    run(scenario())


# --- a channel the bot cannot post in ---------------------------------------------------


def test_subscribing_where_the_bot_cannot_post_says_so_and_changes_nothing(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, _client):
            for lacking in (SEND_MESSAGES, EMBED_LINKS, VIEW_CHANNEL):
                reply = await strike(fake, "subscribe", app_permissions=ALL_PERMISSIONS & ~lacking)
                assert "can't post" in reply and "now subscribed" not in reply
                assert "Nothing was changed" in reply
            reply = await strike(
                fake, "subscribe", app_permissions=ALL_PERMISSIONS & ~SEND_MESSAGES
            )
            assert "Send Messages" in reply and "Embed Links" not in reply
            assert await asyncio.to_thread(SubscriptionService(bot.store).list) == []
            assert "now subscribed" in await strike(fake, "subscribe")

    run(scenario())


def test_failed_deliveries_are_shown_by_strike_admin_subscriptions(bot, admin) -> None:
    async def scenario() -> None:
        async with connected(bot, admin) as (fake, client):
            await strike(fake, "subscribe", CHANNEL_ID)
            await strike(fake, "subscribe", SECOND)
            fake.forbidden_channels.add(SECOND)  # a permission taken away afterwards
            await asyncio.to_thread(add_newer_fact, admin)
            assert await deliver_updates(client) == {"sent": 1, "failed": 1}
            listing = await fake.slash("strike-admin subscriptions", permissions=MANAGE_GUILD)
            body = (await followup_of(fake, listing)).json
            assert body["flags"] & EPHEMERAL
            no_pings(body)
            text = json.dumps(body["embeds"], ensure_ascii=False)
            assert str(CHANNEL_ID) in text and str(SECOND) in text
            assert "1 update not delivered" in text and "Missing Permissions" in text
            refused = await fake.slash("strike-admin subscriptions")  # not an admin
            assert "Manage Server" in (await callback_of(fake, refused)).json["data"]["content"]

    run(scenario())
