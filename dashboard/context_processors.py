from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .navigation import navigation_for
from .roles import Role, role_of


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs on every page: the user's role for the navigation."""
    role = role_of(getattr(request, "user", None))
    sso = {}
    if settings.OIDC_ENABLED and role == Role.NONE:  # the sign-in page offers the provider
        from django.urls import reverse

        sso = {"sso_name": settings.OIDC_NAME,
               "sso_login_url": reverse("openid_connect_login", kwargs={"provider_id": "sso"})}
    return {
        **sso,
        "user_role": role,
        "user_role_label": role.label,
        "user_can_edit": role >= Role.EDITOR,
        "user_is_admin": role >= Role.ADMINISTRATOR,
        "navigation": navigation_for(role, request.path) if role > Role.NONE else [],
        "preview_task_hours": settings.PREVIEW_TASK_HOURS,  # pages that explain Incoming previews say how long
    }
