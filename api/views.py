"""The user's API tokens: list, create (the token is shown once), revoke. Each user sees only their own."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import AuthedRequest, get_for_user, viewer_required
from dashboard.roles import role_of

from .forms import TokenForm
from .models import ApiToken

__all__ = ["token_list", "token_revoke"]


@viewer_required
def token_list(request: AuthedRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    shown = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            token, shown = ApiToken.issue(request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"])
            record(AuditEntry.Action.API, obj=token, request=request, message=f"API token “{token.name}” created")
            messages.success(request, f"API token “{token.name}” created. Copy it now: it is not shown again.")
            form = TokenForm()
        else:
            status = 400
    return render(request, "api/tokens.html", {
        "tokens": ApiToken.objects.filter(user=request.user), "form": form, "new_token": shown,
        "role": role_of(request.user), "docs_url": reverse("api_v1:openapi-view"),
    }, status=status)


@viewer_required
@require_POST
def token_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    token = get_for_user(request, ApiToken.objects.filter(user=request.user), pk)  # another user's token: 404
    if token.revoke():
        record(AuditEntry.Action.API, obj=token, request=request, message=f"API token “{token.name}” revoked")
        messages.success(request, f"API token “{token.name}” revoked: it no longer works.")
    else:
        messages.info(request, f"API token “{token.name}” was already revoked.")
    return redirect("api:tokens")
