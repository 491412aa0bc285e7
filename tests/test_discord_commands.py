"""The Discord adapter without a network: the command tree and its payload, the permission
check, message parsing, feedback ids, suggestions and configuration errors."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.adapters import discord as adapter
from bot.core.admin import AdminInputError, PermissionDenied
from bot.core.models import Answer
from bot.core.suggest import as_sentence, known_questions, suggest_questions
from bot.settings import Settings
from bot.store.db import NotFound, StoreError
from tests.fakes.discord_fake import command_problems, valid_name

DEFAULT_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        DISCORD_TOKEN="t",
        DISCORD_GUILD_ID=None,
        DISCORD_SHARDS="",
        STRIKEBOT_DISCORD_ADMIN_ROLE="Strike Admins",
    )


@pytest.fixture
def client(settings, bot, admin):
    made = adapter.build_client(settings, bot, admin)
    yield made
    made.strike.close()
    adapter.use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)


def payload(client: discord.Client) -> list[dict[str, Any]]:
    return [c.to_dict(client.tree) for c in client.tree.get_commands()]


# --- the command tree -------------------------------------------------------------------


def test_the_command_payload_follows_discords_rules(client):
    commands = payload(client)
    assert command_problems(commands) == []
    by_name = {c["name"]: c for c in commands}
    ask = next(o for o in by_name["strike"]["options"] if o["name"] == "ask")
    question, public = ask["options"]
    assert question["autocomplete"] and question["max_length"] == 1000
    assert public["type"] == 5 and not public["required"]
    assert by_name["strike"]["dm_permission"] is True


def test_the_admin_group_defaults_to_manage_server_and_guilds_only(client):
    admin_cmd = {c["name"]: c for c in payload(client)}["strike-admin"]
    assert str(admin_cmd["default_member_permissions"]) == str(1 << 5)
    assert admin_cmd["dm_permission"] is False


def test_the_validator_catches_what_discord_rejects():
    bad = [
        {
            "name": "Strike",
            "description": "",
            "type": 1,
            "options": [{"name": f"o{i}", "description": "d", "type": 3} for i in range(26)],
        }
    ]
    problems = command_problems(bad)
    assert any("invalid name" in p for p in problems)
    assert any("description" in p for p in problems)
    assert any("26 options" in p for p in problems)
    assert valid_name("strike-admin") and valid_name("grève") and valid_name("it's")
    assert not valid_name("a b") and not valid_name("x" * 33) and not valid_name("")


# --- permissions ------------------------------------------------------------------------


def role(name: str, role_id: int, default: bool = False) -> MagicMock:
    r = MagicMock(spec_set=discord.Role)
    r.name, r.id = name, role_id
    r.is_default.return_value = default
    return r


def interaction(
    *, perms: int = 0, roles: tuple[MagicMock, ...] = (), dm: bool = False
) -> MagicMock:
    it = MagicMock(spec_set=discord.Interaction)
    user = MagicMock(spec_set=discord.User if dm else discord.Member)
    user.id = 4242
    if not dm:
        user.roles = [role("@everyone", 1, default=True), *roles]
    it.user = user
    it.guild_id = None if dm else 99
    it.permissions = discord.Permissions(perms)
    return it


@pytest.mark.parametrize("kwargs,allowed", [
    ({}, False),
    ({"perms": discord.Permissions(manage_guild=True).value}, True),
    ({"perms": discord.Permissions(administrator=True).value}, True),
    ({"roles": (role("strike admins", 7),)}, True),       # by name, any case
    ({"roles": (role("Moderators", 7),)}, False),
    ({"perms": discord.Permissions(manage_guild=True).value, "dm": True}, False),
])  # fmt: skip
def test_admin_is_decided_by_core_permissions_on_every_call(client, kwargs, allowed):
    actor = client.strike.actor(interaction(**kwargs))
    assert actor.is_admin is allowed
    assert actor.id == "4242" and actor.platform == "discord"


def test_the_admin_role_can_be_given_by_id(settings, bot, admin):
    settings.discord_admin_role = "777"
    frontend = adapter.Frontend(settings, bot, admin)
    assert frontend.actor(interaction(roles=(role("Whatever", 777),))).is_admin
    assert "`777`" in frontend.refusal()
    frontend.close()


# --- messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("content,addressed,expected", [
    ("<@55> how long has it lasted?", True, "how long has it lasted?"),
    ("<@!55>, status", True, "status"),
    ("hey <@55> any deal yet?", True, "hey any deal yet?"),
    ("<@&66> topics", True, "topics"),
    ("<@55>", True, ""),
    ("any deal?", False, None),
])  # fmt: skip
def test_the_question_is_the_message_without_the_mention(content, addressed, expected):
    got = adapter.question_from_message(content, 55, addressed=addressed, role_id=66)
    assert got == expected


# --- feedback ---------------------------------------------------------------------------


def test_feedback_buttons_carry_the_log_id_and_the_vote():
    view = adapter.feedback_view(Answer(answered=True, text="x", log_id=17))
    assert [item.custom_id for item in view.children] == ["strikebot:fb:17:1", "strikebot:fb:17:0"]
    assert view.timeout is None
    assert adapter.feedback_view(Answer(answered=True, text="x")) is None
    invalid = Answer(answered=False, text="x", kind="invalid", log_id=3)
    assert adapter.feedback_view(invalid) is None
    match = adapter.FEEDBACK_ID.fullmatch("strikebot:fb:17:0")
    item = asyncio.run(adapter.FeedbackButton.from_custom_id(MagicMock(), MagicMock(), match))
    assert (item.log_id, item.helpful) == (17, False)
    assert adapter.FEEDBACK_ID.fullmatch("strikebot:fb:x:1") is None


def test_one_vote_per_user_and_answer_is_remembered_within_capacity():
    votes = adapter.VoteMemory(capacity=2)
    assert votes.first_vote(1, "a") and not votes.first_vote(1, "a")
    assert votes.first_vote(1, "b") and votes.first_vote(2, "a")
    assert votes.first_vote(1, "a")  # the oldest was forgotten
    votes.forget(1, "a")
    assert votes.first_vote(1, "a")


# --- suggestions ------------------------------------------------------------------------


def test_autocomplete_suggests_known_questions(bot, client):
    knowledge = bot.knowledge
    questions = known_questions(knowledge.facts.values(), knowledge.status_topics())
    assert len(questions) == len({q.casefold() for q in questions})
    assert questions[0] == as_sentence(knowledge.current("wga-2023/strike.duration").questions[0])
    assert len(suggest_questions(questions, "")) == 25
    assert suggest_questions(questions, "how lo")[0].startswith("How long")
    assert "Are sag-aftra striking as well?" in suggest_questions(questions, "sag aftra")
    assert suggest_questions(questions, "zzzqqq") == []
    assert all(len(q) <= 100 for q in client.strike.suggestions(""))
    assert as_sentence("  strike length ") == "Strike length?"


# --- errors and configuration -----------------------------------------------------------


def test_core_errors_become_short_messages():
    assert adapter.explain(PermissionDenied("no")) == "no"
    assert adapter.explain(AdminInputError("bad date")) == "bad date"
    assert adapter.explain(NotFound("No fact 'x'.")) == "Not found: No fact 'x'."
    assert adapter.explain(StoreError("/secret/path.db is locked")) == adapter.STORE_TROUBLE
    assert adapter.explain(RuntimeError("boom")) is None


def test_endpoints_patch_discord_py_and_can_be_restored():
    try:
        adapter.use_endpoints("http://127.0.0.1:9/api/v10/", "ws://127.0.0.1:9/gw")
        assert Route.BASE == "http://127.0.0.1:9/api/v10"
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gw"
    finally:
        adapter.use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)
    assert Route.BASE == DEFAULT_API
    assert adapter.endpoint_problem(DEFAULT_API, DEFAULT_GATEWAY) is None
    assert "DISCORD_API_URL" in adapter.endpoint_problem("discord.com", DEFAULT_GATEWAY)
    assert "DISCORD_GATEWAY_URL" in adapter.endpoint_problem(DEFAULT_API, "https://x")


def test_shard_settings(settings, bot, admin):
    assert adapter.parse_shards("") is None and adapter.parse_shards(" AUTO ") == "auto"
    assert adapter.parse_shards("3") == 3
    with pytest.raises(ValueError, match="DISCORD_SHARDS"):
        adapter.parse_shards("many")
    settings.discord_shards = "4"
    client = adapter.build_client(settings, bot, admin)
    try:
        assert isinstance(client, discord.AutoShardedClient) and client.shard_count == 4
        assert client.intents.message_content is False
        assert client.allowed_mentions.to_dict() == {"parse": []}
    finally:
        client.strike.close()
        adapter.use_endpoints(DEFAULT_API, DEFAULT_GATEWAY)


def test_auto_sharding_dials_the_configured_gateway():
    http = MagicMock()

    async def from_discord() -> tuple[int, str, dict]:
        return 3, "wss://gateway.discord.gg", {"total": 1}

    http.get_bot_gateway = from_discord
    adapter._pin_bot_gateway(http, "wss://proxy.example/")
    assert asyncio.run(http.get_bot_gateway()) == (3, "wss://proxy.example/", {"total": 1})


@pytest.mark.parametrize("env,message", [
    ({"DISCORD_TOKEN": None}, "DISCORD_TOKEN is not set"),
    ({"DISCORD_TOKEN": "  "}, "DISCORD_TOKEN is not set"),
    ({"DISCORD_API_URL": "discord.com"}, "DISCORD_API_URL"),
    ({"DISCORD_SHARDS": "lots"}, "DISCORD_SHARDS"),
])  # fmt: skip
def test_run_discord_stops_with_one_line_on_bad_settings(bot, env, message):
    settings = Settings(**{"DISCORD_TOKEN": "secret-token", "DISCORD_SHARDS": "", **env})
    with pytest.raises(SystemExit) as exc:
        adapter.run_discord(settings, bot)
    text = str(exc.value)
    assert message in text and "\n" not in text and "secret-token" not in text
