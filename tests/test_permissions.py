"""Who is an admin, decided by the core for every platform (bot/core/permissions.py): exact
role names and ids on Discord, listed ids and the workspace-admin switch on Slack."""

from __future__ import annotations

import pytest

from bot.core.permissions import discord_is_admin, slack_is_admin

ROLE = "strike admins"


def discord(**kw) -> bool:
    return discord_is_admin(**{"in_guild": True, "manage_guild": False, **kw})


@pytest.mark.parametrize("name", ["strike admins", "Strike Admins", "STRIKE ADMINS"])
def test_discord_the_admin_role_by_its_name_in_any_case(name):
    assert discord(role_names=["member", name], admin_role=ROLE)


@pytest.mark.parametrize(
    "names",
    [
        ["ex-strike admins"],
        ["strike admins (retired)"],
        ["not strike admins", "member"],
        ["strike"],
        ["admins"],
        ["strike-admins"],
    ],
)
def test_discord_a_role_containing_the_admin_role_name_is_not_the_admin_role(names):
    assert not discord(role_names=names, admin_role=ROLE)


def test_discord_the_admin_role_by_id_is_matched_whole():
    assert discord(role_ids=[555], admin_role="555")
    assert not discord(role_ids=[5551, 1555, 55], admin_role="555")
    assert not discord(role_names=["x555", "555 fans"], admin_role="555")


def test_discord_without_an_admin_role_only_manage_server_counts():
    assert not discord(role_names=["", "strike admins"], admin_role="")
    assert not discord(role_names=[""], admin_role="  ")
    assert discord(manage_guild=True)
    assert discord(administrator=True)
    assert not discord_is_admin(in_guild=False, manage_guild=True, administrator=True)
    assert not discord_is_admin(
        in_guild=False, manage_guild=False, role_names=[ROLE], admin_role=ROLE
    )


@pytest.mark.parametrize("allowed", [False, True], ids=["switch-off", "switch-on"])
@pytest.mark.parametrize("flag", ["is_workspace_admin", "is_workspace_owner"])
def test_slack_workspace_admins_count_only_when_switched_on(allowed, flag):
    assert slack_is_admin("U9", [], workspace_admins_allowed=allowed, **{flag: True}) is allowed
    assert slack_is_admin("U9", ["U1"], workspace_admins_allowed=allowed, **{flag: True}) is allowed
    assert slack_is_admin("U9", [], workspace_admins_allowed=allowed, **{flag: False}) is False
    assert slack_is_admin("U9", [], workspace_admins_allowed=allowed) is False


@pytest.mark.parametrize("allowed", [False, True], ids=["switch-off", "switch-on"])
def test_slack_listed_ids_are_admins_whatever_the_switch(allowed):
    assert slack_is_admin("U1", ["U1", "U2"], workspace_admins_allowed=allowed)
    assert not slack_is_admin("U12", ["U1"], workspace_admins_allowed=allowed)
    assert not slack_is_admin("U1", ["U12", "XU1"], workspace_admins_allowed=allowed)
    assert not slack_is_admin("", ["", "U1"], workspace_admins_allowed=allowed)
