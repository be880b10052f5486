"""The OAuth "grant access" flow (style.md §8): start binds state + client to the session; the callback
reads it (or 403), loads the client through the scoped getter, compares state (403 on a mismatch, the
pending grant kept), pops it, handles a denial, lets the client type exchange and validate the code, then
saves and redirects."""

from __future__ import annotations

import secrets
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_POST

from configuration.variables import resolved
from dashboard.access import editor_required
from dashboard.roles import Role, role_of

from ..models import AuthEvent
from ..registry import GrantError
from .common import client_type_of, get_client_for_user

__all__ = ["SESSION_KEY", "client_grant", "oauth_callback"]

SESSION_KEY = "clients.oauth_grant"
GRANT_TTL = 15 * 60  # seconds a started grant stays valid in the session


@editor_required
@require_POST
def client_grant(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk, write=True)
    ctype = client_type_of(client)
    if not ctype.supports_grant:
        messages.error(request, "This client type has no grant flow.")
        return redirect("clients:detail", client.pk)
    state = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # PKCE (RFC 7636): 86 characters, used by types that support it
    try:
        url = ctype.authorization_url(resolved(client), state=state, code_verifier=code_verifier)
    except GrantError as exc:
        messages.error(request, f"Cannot start the grant: {exc}")
        return redirect("clients:detail", client.pk)
    request.session[SESSION_KEY] = {"state": state, "code_verifier": code_verifier, "client": client.pk,
                                    "user": request.user.pk,
                                    "started": time.time()}
    AuthEvent.record(client, AuthEvent.Event.GRANT_STARTED, "Sent to the consent page.", user=request.user)
    return redirect(url)


@login_not_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    # 1. The grant this browser session started, or 403 (also for a replayed callback URL: it is gone after use).
    pending = request.session.get(SESSION_KEY)
    if not isinstance(pending, dict) or not pending.get("state"):
        raise PermissionDenied("No grant was started in this browser session. Start again from the client page.")
    if not request.user.is_authenticated or request.user.pk != pending.get("user") \
            or role_of(request.user) < Role.EDITOR:
        raise PermissionDenied("Only the signed-in editor who started the grant can complete it.")
    # 2. The client, through the scoped getter.
    client = get_client_for_user(request, pending.get("client", ""), write=True)
    ctype = client_type_of(client)
    # 3. State must match what this session sent, before anything else is read from the answer: a forged or
    #    crossed callback (even one that only says error=...) neither cancels nor completes the pending grant.
    if not constant_time_compare(request.GET.get("state", ""), pending["state"]):
        AuthEvent.record(client, AuthEvent.Event.GRANT_FAILED, "The callback's state did not match the session: "
                         "rejected (possible forged or crossed request).", user=request.user)
        raise PermissionDenied(f"The answer from {ctype.system_name} does not belong to this grant (state mismatch).")
    del request.session[SESSION_KEY]  # the answer belongs to this grant: it is used up, whatever it says
    if time.time() - float(pending.get("started", 0)) > GRANT_TTL:
        messages.error(request, "The grant took too long and expired. Click Grant access again.")
        return redirect("clients:detail", client.pk)
    # 4. A denial on the consent page.
    error = request.GET.get("error", "")
    if error:
        if error == "access_denied":
            message = (f"Access was not granted: the request was declined on {ctype.system_name}'s consent page. "
                       "Nothing changed; click Grant access to try again.")
            AuthEvent.record(client, AuthEvent.Event.GRANT_DENIED, message, user=request.user)
            messages.warning(request, message)
        else:
            description = request.GET.get("error_description", "")[:300]
            detail = f"{error[:100]}: {description}" if description else error[:100]
            message = f"{ctype.system_name} did not grant access ({detail})."
            AuthEvent.record(client, AuthEvent.Event.GRANT_FAILED, message, user=request.user)
            messages.error(request, message)
        return redirect("clients:detail", client.pk)
    code = request.GET.get("code", "")
    if not code:
        message = f"{ctype.system_name} came back without an authorization code. Click Grant access to try again."
        AuthEvent.record(client, AuthEvent.Event.GRANT_FAILED, message, user=request.user)
        messages.error(request, message)
        return redirect("clients:detail", client.pk)
    # 5-7. Exchange and validate (the client type), save, redirect.
    try:
        message = ctype.complete_grant(resolved(client), code=code, user=request.user,
                                       code_verifier=str(pending.get("code_verifier") or ""))
    except GrantError as exc:
        messages.error(request, str(exc))
        return redirect("clients:detail", client.pk)
    messages.success(request, message)
    return redirect("clients:detail", client.pk)
