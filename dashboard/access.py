"""Access checks for views: every view declares the lowest role it needs.

The decorators set ``required_role`` on the view so that a test can walk every URL pattern and
check that each role gets exactly what it should. ``get_for_user`` is the one access-scoped getter every
view loads its object with.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from .roles import Role, role_of

__all__ = ["AuthedRequest", "admin_required", "can_edit", "editor_required", "get_for_user", "is_admin",
           "require_role", "viewer_required"]


class AuthedRequest(HttpRequest):
    """The request of a view behind a role decorator: its user is signed in (a ``User``, never anonymous)."""

    user: User

# Views and API operations (which return data for the API to render) alike.
View = TypeVar("View", bound=Callable[..., Any])
M = TypeVar("M", bound=models.Model)


def require_role(role: Role) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if role_of(request.user) < role:
                raise PermissionDenied(f"This page needs the {role.label} role.")
            return view(request, *args, **kwargs)

        cast(Any, wrapper).required_role = role  # read by the page tests' role checks
        return cast(View, wrapper)

    return decorator


viewer_required = require_role(Role.VIEWER)
editor_required = require_role(Role.EDITOR)
admin_required = require_role(Role.ADMINISTRATOR)


def can_edit(user: Any) -> bool:
    return role_of(user) >= Role.EDITOR


def is_admin(user: Any) -> bool:
    return role_of(user) >= Role.ADMINISTRATOR


def get_for_user(request: HttpRequest, objects: type[M] | models.QuerySet[M], pk: object, *,
                 write: bool = False) -> M:
    """The object ``pk`` of ``objects`` (a model or a queryset) if the user may see it, else 404; with
    ``write``, also only if the user may change it, else 403.

    All roles share all objects today; ownership rules, if they come, go here and nowhere else.
    """
    if write and not can_edit(request.user):
        raise PermissionDenied("Changing this needs the Editor role.")
    queryset = objects if isinstance(objects, models.QuerySet) else objects._default_manager.all()
    try:
        return queryset.get(pk=int(str(pk)))
    except (ObjectDoesNotExist, ValueError):
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from None
