"""Access checks for views: every view declares the lowest role it needs.

The decorators set ``required_role`` on the view so that a test can walk every URL pattern and
check that each role gets exactly what it should.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .roles import Role, role_of

__all__ = ["admin_required", "can_edit", "editor_required", "is_admin", "require_role", "viewer_required"]

View = TypeVar("View", bound=Callable[..., HttpResponse])


def require_role(role: Role) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if role_of(request.user) < role:
                raise PermissionDenied(f"This page needs the {role.label} role.")
            return view(request, *args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


viewer_required = require_role(Role.VIEWER)
editor_required = require_role(Role.EDITOR)
admin_required = require_role(Role.ADMINISTRATOR)


def can_edit(user: Any) -> bool:
    return role_of(user) >= Role.EDITOR


def is_admin(user: Any) -> bool:
    return role_of(user) >= Role.ADMINISTRATOR
