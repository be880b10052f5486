"""The three roles, as Django groups: each one includes everything the one below it may do."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["ROLE_GROUPS", "Role", "role_of"]


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    EDITOR = 2
    ADMINISTRATOR = 3

    @property
    def label(self) -> str:
        return "No role" if self is Role.NONE else self.name.title()


ROLE_GROUPS = {Role.ADMINISTRATOR: "Administrator", Role.EDITOR: "Editor", Role.VIEWER: "Viewer"}


def role_of(user: Any) -> Role:
    """The highest role of ``user``; superusers are administrators. Cached on the user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Role.NONE
    cached = getattr(user, "_dash_role", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        role = Role.ADMINISTRATOR
    else:
        names = set(user.groups.values_list("name", flat=True))
        role = max((r for r, name in ROLE_GROUPS.items() if name in names), default=Role.NONE)
    user._dash_role = role
    return role
