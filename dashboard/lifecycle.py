"""User lifecycle rules: roles, deactivation, password resets, and the last active Administrator.

Views call these; each records itself in the audit trail. A role is a group (``dashboard.roles``); a superuser
is an Administrator whatever their groups, so giving a superuser a lower role also takes the superuser flag.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditEntry
from audit.recording import record

from .roles import ROLE_GROUPS, Role, role_of

__all__ = ["LifecycleRefused", "active_administrators", "deactivate", "end_sessions", "reactivate",
           "send_password_reset", "set_role"]


class LifecycleRefused(Exception):
    """The change would leave the product without an active Administrator, or is not allowed on oneself."""


def active_administrators() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(groups__name=ROLE_GROUPS[Role.ADMINISTRATOR])).distinct()


def _refuse_if_last_administrator(user: Any, doing: str) -> None:
    if role_of(user) >= Role.ADMINISTRATOR and not active_administrators().exclude(pk=user.pk).exists():
        raise LifecycleRefused(f"{user.get_username()} is the last active Administrator: cannot {doing}. "
                               "Make another user Administrator first.")


def set_role(user: Any, role_name: str, *, request: HttpRequest | None = None) -> None:
    """Give ``user`` exactly one role; a lower role than Administrator also ends superuser powers."""
    before = role_of(user).label
    if role_name not in ROLE_GROUPS.values():
        raise LifecycleRefused(f"{role_name!r} is not a role.")
    if role_name != ROLE_GROUPS[Role.ADMINISTRATOR]:
        _refuse_if_last_administrator(user, f"make them {role_name}")
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()))
        user.groups.add(Group.objects.get_or_create(name=role_name)[0])
        if role_name != ROLE_GROUPS[Role.ADMINISTRATOR] and (user.is_superuser or user.is_staff):
            user.is_superuser = user.is_staff = False
            user.save(update_fields=["is_superuser", "is_staff"])
        user._dash_role = None
        record(AuditEntry.Action.ROLE, obj=user, request=request, changes={"role": [before, role_name]})


def end_sessions(user: Any) -> int:
    """Delete every session of ``user`` (database sessions): their next request signs in again."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def deactivate(user: Any, *, request: HttpRequest | None = None) -> int:
    """Stop ``user`` from signing in and end their sessions at once; returns how many sessions ended."""
    if request is not None and getattr(request, "user", None) == user:
        raise LifecycleRefused("You cannot deactivate yourself.")
    _refuse_if_last_administrator(user, "deactivate them")
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = end_sessions(user)
    record(AuditEntry.Action.DEACTIVATE, obj=user, request=request, message=f"{ended} session(s) ended")
    return ended


def reactivate(user: Any, *, request: HttpRequest | None = None) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])
    record(AuditEntry.Action.REACTIVATE, obj=user, request=request)


def send_password_reset(user: Any, request: HttpRequest) -> None:
    """Mail ``user`` a password reset link (allauth's own flow); refused without an e-mail address."""
    from allauth.account.forms import ResetPasswordForm

    if not user.email:
        raise LifecycleRefused(f"{user.get_username()} has no e-mail address to send a reset link to.")
    form = ResetPasswordForm(data={"email": user.email})
    if not form.is_valid():
        raise LifecycleRefused("; ".join(str(error) for error in form.errors.get("email", [])) or "Not sent.")
    form.save(request)
    record(AuditEntry.Action.PASSWORD_RESET, obj=user, request=request, message=f"sent to {user.email}")
