from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEntry
from audit.recording import record

from .access import AuthedRequest, admin_required, get_for_user, viewer_required
from .forms import UserCreateForm, UserRoleForm
from .health import cached_check, public_view
from .lifecycle import LifecycleRefused, deactivate, reactivate, send_password_reset, set_role
from .overview import build_overview
from .roles import Role, role_of


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Overall status for load balancers; database, broker and worker details for signed-in users with a role.

    The check is cached for a few seconds (``DASH_HEALTH_CACHE_SECONDS``), so anonymous floods stay cheap.
    """
    result = cached_check()
    body = result if role_of(request.user) >= Role.VIEWER else public_view(result)
    return JsonResponse(body, status=200 if result["status"] == "ok" else 503)


@viewer_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/home.html", {"overview": build_overview()})


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    rows = [(user, role_of(user)) for user in users]
    return render(request, "dashboard/users.html", {"rows": rows, "form": UserCreateForm()})


@admin_required
@require_POST
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST)
    if not form.is_valid():
        users = get_user_model().objects.order_by("username").prefetch_related("groups")
        rows = [(user, role_of(user)) for user in users]
        return render(request, "dashboard/users.html", {"rows": rows, "form": form}, status=400)
    user = form.save()
    record(AuditEntry.Action.ROLE, obj=user, request=request, changes={"role": [None, form.cleaned_data["role"]]})
    messages.success(request, f"User {user.username} created as {form.cleaned_data['role']}.")
    return redirect("dashboard:users")


@admin_required
@require_POST
def user_set_role(request: AuthedRequest, pk: int) -> HttpResponse:
    user = get_for_user(request, get_user_model(), pk, write=True)
    form = UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("dashboard:users")
    if user == request.user and form.cleaned_data["role"] != "Administrator":
        messages.error(request, "You cannot take the Administrator role away from yourself.")
        return redirect("dashboard:users")
    try:
        set_role(user, form.cleaned_data["role"], request=request)
    except LifecycleRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{user.username} is now {role_of(user).label}.")
    return redirect("dashboard:users")


@admin_required
@require_POST
def user_deactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    user = get_for_user(request, get_user_model(), pk, write=True)
    try:
        ended = deactivate(user, request=request)
    except LifecycleRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{user.username} is deactivated; {ended} session(s) ended.")
    return redirect("dashboard:users")


@admin_required
@require_POST
def user_reactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    user = get_for_user(request, get_user_model(), pk, write=True)
    reactivate(user, request=request)
    messages.success(request, f"{user.username} may sign in again.")
    return redirect("dashboard:users")


@admin_required
@require_POST
def user_password_reset(request: AuthedRequest, pk: int) -> HttpResponse:
    user = get_for_user(request, get_user_model(), pk, write=True)
    try:
        send_password_reset(user, request)
    except LifecycleRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"A password reset link was sent to {user.email}.")
    return redirect("dashboard:users")


__all__ = ["Role", "health", "home", "user_create", "user_deactivate", "user_list", "user_password_reset",
           "user_reactivate", "user_set_role"]
