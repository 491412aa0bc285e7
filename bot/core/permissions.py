"""Who may run admin actions, decided here for every platform; adapters only report facts
about the user (their id, flags and roles) and act on the verdict."""

from __future__ import annotations

from collections.abc import Iterable


def slack_is_admin(
    user_id: str,
    admin_ids: Iterable[str],
    *,
    workspace_admins_allowed: bool,
    is_workspace_admin: bool = False,
    is_workspace_owner: bool = False,
) -> bool:
    """A listed Slack user id, or a workspace admin/owner when that is switched on."""
    if user_id and user_id in set(admin_ids):
        return True
    return workspace_admins_allowed and (is_workspace_admin or is_workspace_owner)


def discord_is_admin(
    *,
    in_guild: bool,
    manage_guild: bool,
    administrator: bool = False,
    role_names: Iterable[str] = (),
    role_ids: Iterable[int] = (),
    admin_role: str = "",
) -> bool:
    """Manage Server (or Administrator) in the guild, or the configured admin role (by name
    or id). Never in DMs: admin actions need a guild to check against."""
    if not in_guild:
        return False
    if manage_guild or administrator:
        return True
    wanted = admin_role.strip()
    if not wanted:
        return False
    if wanted.isdigit() and int(wanted) in set(role_ids):
        return True
    return wanted.casefold() in {name.casefold() for name in role_names}
