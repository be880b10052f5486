from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .navigation import navigation_for
from .roles import Role, role_of


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs on every page: the user's role for the navigation."""
    role = role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "user_role_label": role.label,
        "user_can_edit": role >= Role.EDITOR,
        "user_is_admin": role >= Role.ADMINISTRATOR,
        "navigation": navigation_for(role, request.path) if role > Role.NONE else [],
        "preview_task_hours": settings.PREVIEW_TASK_HOURS,  # pages that explain Incoming previews say how long
    }
