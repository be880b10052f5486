"""The demo account (admin/admin, made by ``manage.py bootstrap``) must change its password before anything else.

On sign-in, a user named like the demo account whose password is still the demo one gets a session flag;
``PasswordChangeRequiredMiddleware`` then sends every page to the change-password form until it is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

__all__ = ["DEMO_PASSWORD", "DEMO_USERNAME", "SESSION_FLAG", "PasswordChangeRequiredMiddleware"]

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "admin"
SESSION_FLAG = "dash_must_change_password"


@receiver(user_logged_in)
def _flag_demo_password(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if request is not None and user.get_username() == DEMO_USERNAME and user.check_password(DEMO_PASSWORD):
        request.session[SESSION_FLAG] = True


def _password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    request.session.pop(SESSION_FLAG, None)


try:
    from allauth.account.signals import password_changed

    password_changed.connect(_password_changed, dispatch_uid="dash-demo-password-changed")
except ImportError:  # pragma: no cover - allauth is a dependency
    pass


class PasswordChangeRequiredMiddleware:
    """Only the change-password form, signing out and static files until the demo password is changed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_FLAG) and request.user.is_authenticated:
            change = reverse("account_change_password")
            allowed = (change, reverse("account_logout"), "/static/", "/health")
            if not request.path.startswith(allowed):
                messages.warning(request, "Choose a new password: the demo password may not stay in use.")
                return redirect(change)
        return self.get_response(request)
