"""Admin actions are impossible without the permission, on Slack and on Discord, whatever the
command's arguments and whatever a forged interaction claims.

Every `/strike-admin` subcommand (and `/strike subscribe|unsubscribe`) is sent by people who
are not admins, with odd arguments (extra words, unicode, injection-looking text, `help`,
nothing); then the interactive paths: Slack buttons and view submissions with forged payloads,
Discord buttons, modals and autocomplete. Each time a refusal reaches the user and nothing
changes in the store: facts, sources, topics, the audit log, articles and the review queue,
subscriptions and status updates. Slack goes through signed HTTP requests to the bot's server
and the real Bolt app; Discord through the real discord.py client and the fake Discord."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.review import ReviewService
from bot.core.service import StrikeBot
from bot.core.slash_commands import ADMIN_COMMANDS
from bot.render import slack_blocks as kit
from tests.conftest import DATA
from tests.fakes.discord_fake import (
    ADMIN_ROLE_NAME,
    ADMINISTRATOR,
    APP_ID,
    EPHEMERAL,
    LOOKALIKE_ROLE_ID,
    MANAGE_GUILD,
    MEMBER_ID,
    MOD_ROLE_ID,
    MODERATOR_PERMISSIONS,
    FakeDiscord,
)
from tests.fakes.slack_api import (
    RESPONSE_URL,
    FakeSlackAPI,
    block_actions,
    view_submission,
)
from tests.test_discord_e2e import callback_of, connected, run
from tests.test_slack_http import ADMIN, SlackSender, serving

ARTICLE = (DATA / "article_test.txt").read_text(encoding="utf-8")
TITLE = "Tentative deal ends the writers' strike"
PUBLISHED = "2023-09-27"
OWN_WORDS = "The WGA strike ended after 148 days, on 27 September 2023."
SLACK_REFUSAL = "only strikebot admins"
DISCORD_REFUSAL = "Manage Server"
TABLES = (
    "facts",
    "sources",
    "topics",
    "audit",
    "articles",
    "candidates",
    "subscriptions",
    "status_updates",
    "deliveries",
    "channel_packs",
    "packs",
)

# Arguments after the subcommand; {fid} is an active fact, {gone} a retracted one, {cid} a
# pending candidate.
ODD_ARGUMENTS = [
    "",
    "help",
    "wga-2023",  # a pack in use: `pack wga-2023` would bind the channel
    "{fid} {gone} {cid} and some extra words the command does not take",
    "{fid} grève ✊🏽 ünïcödé 罷工 ‮{gone}",
    "{fid}'; DROP TABLE facts; -- ",
    '{gone} " OR 1=1 -- ',
    "$(rm -rf /) `id` {fid} && echo pwned",
    "<!channel> <@UADMIN> <@U0ADMIN|admin> {fid}",
    "--as UADMIN --force {fid}",
    "{fid}\n\tretract {fid} injected\r\nrestore {gone}",
    "{cid} " + "x" * 3000,
    "../../../etc/passwd {fid}",
]


def store_state(bot: StrikeBot) -> dict[str, Any]:
    """Every row an admin action could write."""
    return {t: bot.store._read(f"select * from {t}") for t in TABLES} | {
        "revision": bot.store.knowledge_revision()
    }


@pytest.fixture
def prepared(bot: StrikeBot, admin: AdminService) -> dict[str, Any]:
    """A pending review queue and a retracted fact, so every subcommand has something it
    could change; returns the ids the odd arguments name."""
    root = Actor("setup", "test", is_admin=True)
    _, items = ReviewService(bot, admin).add_article(root, ARTICLE, TITLE, PUBLISHED)
    active = [f for f in bot.store.facts() if f.status == "active"]
    gone = admin.retract(root, active[1].id, "set up for the test")
    return {"fid": active[0].id, "gone": gone.id, "cid": items[0].id, "cids": [i.id for i in items]}


def arguments(ids: dict[str, Any]) -> list[str]:
    return [a.format(**ids) for a in ODD_ARGUMENTS]


# --- Slack ------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    users = {
        "UPLAIN": {"name": "plain", "is_admin": False, "is_owner": False},
        "UGONEADMIN": {"name": "left", "is_admin": True, "deleted": True},
        "URESTRICTED": {"name": "guest", "is_admin": False, "is_restricted": True},
    }
    with FakeSlackAPI(users=users) as api:
        yield api


@pytest.fixture
def serve(
    fake: FakeSlackAPI, bot: StrikeBot, admin: AdminService
) -> Iterator[Callable[..., SlackSender]]:
    yield from serving(fake, bot, admin, clear=True)


@pytest.fixture
def slack(serve) -> SlackSender:
    return serve()


def assert_nothing_opened_or_posted(fake: FakeSlackAPI) -> None:
    for method in ("views.open", "chat.postMessage", "chat.postEphemeral", "chat.update"):
        assert fake.calls_to(method) == [], method


def refusals(fake: FakeSlackAPI, count: int) -> list[dict[str, Any]]:
    """The `count` replies through response URLs, each a private refusal."""
    replies = [c.params for c in fake.wait_for(RESPONSE_URL, count)]
    assert len(replies) == count
    for reply in replies:
        assert reply["response_type"] == "ephemeral"
        assert SLACK_REFUSAL in reply["text"], reply["text"]
    return replies


@pytest.mark.parametrize("sub", ADMIN_COMMANDS)
def test_slack_every_admin_subcommand_is_refused_whatever_its_arguments(
    slack, fake, bot, prepared, sub: str
) -> None:
    before = store_state(bot)
    texts = [f"{sub} {a}".strip() for a in arguments(prepared)]
    for n, text in enumerate(texts):  # a different non-admin each time: no rate limit hides it
        assert slack.slash("/strike-admin", text, user=f"UMEMBER{n}").status == 200
    refusals(fake, len(texts))
    slack.settle()
    assert_nothing_opened_or_posted(fake)
    assert store_state(bot) == before


@pytest.mark.parametrize("text", ["", "help", "add", "retract {fid} gone", "statsu"])
def test_slack_admin_command_text_alone_is_refused(slack, fake, bot, prepared, text) -> None:
    before = store_state(bot)
    slack.slash("/strike-admin", text.format(**prepared), user="UMEMBER")
    refusals(fake, 1)
    slack.settle()
    assert_nothing_opened_or_posted(fake)
    assert store_state(bot) == before


@pytest.mark.parametrize("sub", ["subscribe", "unsubscribe"])
def test_slack_subscriptions_are_refused_whatever_follows(slack, fake, bot, prepared, sub) -> None:
    bot.store.db["subscriptions"]
    before = store_state(bot)
    # `/strike subscribe extra` is read as a question, so only the bare word and `public` count
    for n, text in enumerate([sub, f"{sub} public", f"public {sub}", f"{sub.upper()}!"]):
        slack.slash("/strike", text, user=f"UMEMBER{n}")
    refusals(fake, 4)
    slack.settle()
    assert store_state(bot) == before


@pytest.mark.parametrize(
    "user",
    [
        "uadmin",  # the admin's id in another case
        " UADMIN",
        "UADMIN ",
        "UADMIN,UMEMBER",  # the list separator inside one id
        "UADMIN\u200b",  # a zero-width space after it
        "ＵＡＤＭＩＮ",  # full-width letters
        "",  # no user at all
        "UPLAIN",  # workspace member, not an admin (workspace admins counted in this test)
        "UGONEADMIN",  # a deactivated workspace admin
        "URESTRICTED",  # a guest
        "UNKNOWN",  # users.info: user_not_found
    ],
)
def test_slack_lookalike_and_workspace_users_are_refused(serve, fake, bot, prepared, user) -> None:
    slack = serve(STRIKEBOT_SLACK_WORKSPACE_ADMINS=True)
    before = store_state(bot)
    slack.slash("/strike-admin", f"retract {prepared['fid']} lookalike", user=user)
    refusals(fake, 1)
    slack.settle()
    assert_nothing_opened_or_posted(fake)
    assert store_state(bot) == before


def test_slack_a_failing_users_info_means_no_admin(serve, fake, bot, prepared) -> None:
    """Workspace admins count, but Slack cannot say who this is: the answer is no."""
    slack = serve(STRIKEBOT_SLACK_WORKSPACE_ADMINS=True)
    fake.users["UWSADMIN"] = {"name": "ws-admin", "is_admin": True}
    fake.fail("users.info", status=500, times=10)
    before = store_state(bot)
    slack.slash("/strike-admin", f"retract {prepared['fid']} nope", user="UWSADMIN")
    refusals(fake, 1)
    slack.settle()
    assert store_state(bot) == before


# Slack's review buttons: the real candidate, and values that are not one.
BUTTON_VALUES = ["{cid}", "0", "-1", "abc", "{cid} OR 1=1", "9" * 30, "", "1e3", " {cid} "]


@pytest.mark.parametrize("action_id", kit.REVIEW_ACTIONS)
def test_slack_review_buttons_from_non_admins_are_refused(
    slack, fake, bot, prepared, action_id: str
) -> None:
    before = store_state(bot)
    values = [v.format(**prepared) for v in BUTTON_VALUES]
    for n, value in enumerate(values):
        payload = block_actions(
            action_id, value, response_url=fake.response_url("list"), user=f"UMEMBER{n}"
        )
        payload["user"]["username"] = ADMIN  # the display name claims to be the admin
        payload["user"]["name"] = ADMIN
        assert slack.interactive(payload).status == 200
    for reply in refusals(fake, len(values)):
        assert reply["replace_original"] is False  # the admin's list is left alone
    slack.settle()
    assert_nothing_opened_or_posted(fake)
    assert store_state(bot) == before


def forged_forms(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, str | None]]]:
    """(callback id, private_metadata, field values) of every admin form, filled in as an
    admin would, with metadata naming a real candidate and claiming admin rights."""
    claims = {"user": ADMIN, "is_admin": True, "response_url": "https://evil.example/x"}
    metadata = json.dumps({"candidate": ids["cid"], **claims})
    return [
        (
            kit.ADD_FACT_CALLBACK,
            json.dumps(claims),
            {
                "fact_text": "The studios gave in on every point.",
                "fact_topic": "offer.pay",
                "fact_as_of": "2023-09-20",
                "source_title": "Forged",
                "source_published": "2023-09-20",
                "source_url": None,
            },
        ),
        (
            kit.ARTICLE_CALLBACK,
            json.dumps({"channel": "C0001", **claims}),
            {"article_title": TITLE, "article_published": PUBLISHED, "article_text": ARTICLE},
        ),
        (
            kit.REVIEW_ACCEPT_CALLBACK,
            metadata,
            {"candidate_text": OWN_WORDS, "candidate_topic": "strike.duration"},
        ),
        (kit.REVIEW_EDIT_CALLBACK, metadata, {"candidate_text": OWN_WORDS}),
        (kit.REVIEW_REJECT_CALLBACK, metadata, {"reject_reason": "because I can"}),
    ]


@pytest.mark.parametrize("user", ["UMEMBER", "", "uadmin", "UADMIN,UMEMBER"])
def test_slack_forged_form_submissions_change_nothing(slack, fake, bot, prepared, user) -> None:
    before = store_state(bot)
    for callback_id, metadata, values in forged_forms(prepared):
        payload = view_submission(callback_id, values, user=user)
        payload["view"]["private_metadata"] = metadata
        payload["user"]["username"] = ADMIN
        reply = slack.interactive(payload)
        assert reply.status == 200
        result = reply.json()
        assert result["response_action"] == "update", callback_id
        assert SLACK_REFUSAL in json.dumps(result["view"]), callback_id
    slack.settle()
    assert_nothing_opened_or_posted(fake)
    assert fake.calls_to(RESPONSE_URL) == []  # the review list is not redrawn either
    assert store_state(bot) == before


def test_slack_the_same_requests_from_the_admin_do_change_things(slack, fake, bot, prepared):
    """The control: with the admin's id, the requests refused above do their work."""
    before = store_state(bot)
    slack.slash("/strike-admin", f"retract {prepared['fid']} for real", user=ADMIN)
    callback_id, metadata, values = forged_forms(prepared)[4]  # reject a candidate
    payload = view_submission(callback_id, values, user=ADMIN)
    payload["view"]["private_metadata"] = metadata
    assert slack.interactive(payload).json()["response_action"] == "update"
    slack.settle()
    assert SLACK_REFUSAL not in json.dumps(fake.wait_for(RESPONSE_URL)[0].params)
    assert bot.store.fact(prepared["fid"]).status == "retracted"
    assert store_state(bot) != before


# --- Discord ----------------------------------------------------------------------------

# Who tries: (label, interaction options). None of them may run an admin action.
DISCORD_PEOPLE: list[tuple[str, dict[str, Any]]] = [
    ("member", {}),
    ("moderator", {"permissions": MODERATOR_PERMISSIONS, "roles": (MOD_ROLE_ID,)}),
    ("lookalike role", {"roles": (LOOKALIKE_ROLE_ID,)}),
    ("unknown role id", {"roles": (MEMBER_ID + 999,)}),
    # Discord sends no member (and so no permissions) with a DM interaction: an admin of the
    # guild is nobody there.
    ("a server admin in a DM", {"permissions": MANAGE_GUILD | ADMINISTRATOR, "dm": True}),
]
ODD_TEXT = [
    "strike-duration-130",
    "help",
    "grève ✊🏽 ünïcödé 罷工",
    "'; DROP TABLE facts; --",
    "<@&1100000000000000005> @everyone",
    "x" * 100,
]


def discord_options(sub: str, text: str, ids: dict[str, Any]) -> dict[str, Any]:
    """Options for `/strike-admin sub`, with `text` wherever a string goes."""
    if sub == "add":
        return {"topic": text[:64]}
    if sub == "retract":
        return {"id": text[:100], "reason": text}
    if sub == "restore":
        return {"id": ids["gone"] if text == "help" else text[:100], "reason": text}
    if sub == "audit":
        return {"limit": 50, "fact": text}
    if sub == "unanswered":
        return {"limit": 1}
    if sub == "article":
        return {"title": text[:300], "published": PUBLISHED, "url": "https://example.org/" + text}
    if sub == "report":
        return {"days": 365}
    if sub == "pack":  # a pack in use, `none`, and the odd texts
        return {"id": {"help": "wga-2023", "x" * 100: "none"}.get(text, text[:63] or None)}
    return {}


DISCORD_ADMIN_SUBS = ["add", "retract", "restore", "audit", "unanswered", "article", "review"]
DISCORD_ADMIN_SUBS += ["due", "report", "pack"]


async def refused_privately(fake: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The callback answering `interaction`: a private message (never a form, never a
    deferral that could be followed by a result)."""
    callback = (await callback_of(fake, interaction)).json
    assert callback["type"] == 4, callback  # a message now: no modal (9), no deferral (5)
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["allowed_mentions"]["parse"] == []
    return callback["data"]["content"]


def _discord_env() -> dict[str, str]:
    return {"STRIKEBOT_DISCORD_ADMIN_ROLE": ADMIN_ROLE_NAME}


@pytest.mark.parametrize("sub", DISCORD_ADMIN_SUBS)
def test_discord_every_admin_subcommand_is_refused(bot, admin, prepared, sub: str) -> None:
    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            before = store_state(bot)
            mark = len(fake.requests)
            n = 0
            for label, who in DISCORD_PEOPLE:
                for text in ODD_TEXT:
                    n += 1
                    options = discord_options(sub, text, prepared)
                    sent = await fake.slash(
                        f"strike-admin {sub}", options, user_id=MEMBER_ID + n, **who
                    )
                    content = await refused_privately(fake, sent)
                    assert DISCORD_REFUSAL in content and ADMIN_ROLE_NAME in content, label
            assert store_state(bot) == before
            assert not fake.find("POST", rf"/webhooks/{APP_ID}/.*", after=mark)
            assert not fake.find("PATCH", rf"/webhooks/{APP_ID}/.*", after=mark)
            assert not fake.find("POST", r"/channels/\d+/messages", after=mark)

    run(scenario())


@pytest.mark.parametrize("sub", ["subscribe", "unsubscribe"])
def test_discord_subscriptions_are_refused(bot, admin, prepared, sub: str) -> None:
    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            before = store_state(bot)
            for n, (label, who) in enumerate(DISCORD_PEOPLE):
                content = await refused_privately(
                    fake, await fake.slash(f"strike {sub}", user_id=MEMBER_ID + n, **who)
                )
                expected = "server channel" if "DM" in label else DISCORD_REFUSAL
                assert expected in content
            assert store_state(bot) == before

    run(scenario())


def test_discord_admin_autocomplete_shows_non_admins_nothing(bot, admin, prepared) -> None:
    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            for sub, option in [("add", "topic"), ("retract", "id"), ("restore", "id")]:
                for n, (_label, who) in enumerate(DISCORD_PEOPLE[:4]):
                    typed = await fake.slash(
                        f"strike-admin {sub}",
                        {option: ""},
                        focused=option,
                        user_id=MEMBER_ID + n,
                        **who,
                    )
                    callback = (await callback_of(fake, typed)).json
                    assert (callback["type"], callback["data"]["choices"]) == (8, [])
            admins = await fake.slash(
                "strike-admin retract", {"id": ""}, focused="id", permissions=MANAGE_GUILD
            )
            assert (await callback_of(fake, admins)).json["data"]["choices"]  # the control

    run(scenario())


async def admin_forms(fake: FakeDiscord, ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Open every admin form as an admin (as Discord would register them), for forged
    submissions by others: {name: (modal, the message its button was on)}."""
    forms: dict[str, dict[str, Any]] = {}

    async def modal(interaction: dict[str, Any]) -> dict[str, Any]:
        callback = (await callback_of(fake, interaction)).json
        assert callback["type"] == 9, callback
        return callback["data"]

    forms["add"] = await modal(
        await fake.slash("strike-admin add", {"topic": "offer.pay"}, permissions=MANAGE_GUILD)
    )
    forms["article"] = await modal(
        await fake.slash(
            "strike-admin article",
            {"title": TITLE, "published": PUBLISHED},
            permissions=MANAGE_GUILD,
        )
    )
    listing = await fake.slash("strike-admin review", permissions=MANAGE_GUILD)
    await fake.wait_request("POST", rf"/webhooks/{APP_ID}/{listing['token']}")
    message = next(
        m
        for m in fake.messages.values()
        if any(
            c["custom_id"].startswith("strikebot:rv:")
            for row in m.get("components", [])
            for c in row["components"]
        )
    )
    cid = ids["cid"]
    for action in ("accept", "reject"):
        click = await fake.click(message, f"strikebot:rv:{action}:{cid}", permissions=MANAGE_GUILD)
        forms[action] = await modal(click)
    forms["_message"] = message
    return forms


def with_button(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The message as if it carried a button with `custom_id`."""
    button = {"type": 2, "style": 3, "label": "Accept", "custom_id": custom_id}
    return {**message, "components": [{"type": 1, "components": [button]}]}


FORM_VALUES = {
    "add": ["The studios gave in on every point.", "2023-09-20", "Forged", "", ""],
    "article": [ARTICLE[:3900]],
    "accept": [OWN_WORDS, "strike.duration", ""],
    "reject": ["because I can"],
}


def test_discord_forged_form_submissions_and_clicks_change_nothing(bot, admin, prepared) -> None:
    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            before = store_state(bot)
            n = 0
            for label, who in DISCORD_PEOPLE:
                if "DM" in label:
                    continue  # forms and review buttons live in the guild
                # discord.py forgets a form once it is submitted: the admin opens them anew
                forms = await admin_forms(fake, prepared)
                message = forms["_message"]
                mark = len(fake.requests)
                for name, values in FORM_VALUES.items():
                    n += 1
                    submit = await fake.submit_modal(
                        forms[name],
                        values,
                        user_id=MEMBER_ID + n,
                        message=message if name in ("accept", "reject") else None,
                        **who,
                    )
                    assert DISCORD_REFUSAL in await refused_privately(fake, submit), name
                # the listed candidate, one not listed, and ids no candidate has (on a message
                # carrying such a button: discord.py dispatches only buttons on the message)
                for cid in [prepared["cid"], prepared["cids"][-1], 0, 999_999_999_999_999_999]:
                    for action in ("accept", "reject"):
                        n += 1
                        custom_id = f"strikebot:rv:{action}:{cid}"
                        click = await fake.click(
                            with_button(message, custom_id),
                            custom_id,
                            user_id=MEMBER_ID + n,
                            permissions=who.get("permissions", 0),
                        )
                        assert DISCORD_REFUSAL in await refused_privately(fake, click)
                assert not fake.find("POST", rf"/webhooks/{APP_ID}/.*", after=mark)
                assert not fake.find("PATCH", rf"/webhooks/{APP_ID}/.*", after=mark)
                assert store_state(bot) == before

    run(scenario())


def test_discord_the_admin_submitting_the_same_form_changes_things(bot, admin, prepared) -> None:
    """The control for the test above: the same forged forms, sent by an admin, work."""

    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            forms = await admin_forms(fake, prepared)
            before = store_state(bot)
            submit = await fake.submit_modal(
                forms["reject"], FORM_VALUES["reject"], permissions=MANAGE_GUILD
            )
            await callback_of(fake, submit)
            await fake.wait_for(lambda: store_state(bot) != before)

    run(scenario())


def test_discord_an_unknown_form_is_ignored(bot, admin, prepared) -> None:
    """A modal submission with an id the bot never opened (forged from scratch) is not
    handled at all: discord.py only dispatches the forms it opened."""

    async def scenario() -> None:
        async with connected(bot, admin, **_discord_env()) as (fake, _client):
            before = store_state(bot)
            modal = {
                "custom_id": "0123456789abcdef0123456789abcdef",
                "components": [{"type": 18, "component": {"type": 4, "custom_id": "x"}}],
            }
            mark = len(fake.requests)
            await fake.submit_modal(modal, ["retract everything"], permissions=MANAGE_GUILD)
            # a known request afterwards: once it is answered, the forged one was handled
            probe = await fake.slash("strike help")
            await callback_of(fake, probe)
            callbacks = fake.find("POST", r"/interactions/.*", after=mark)
            assert [c.path.split("/")[2] for c in callbacks] == [probe["id"]]
            assert store_state(bot) == before

    run(scenario())
