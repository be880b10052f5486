from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from .access import admin_required, get_for_user, viewer_required
from .forms import UserCreateForm, UserRoleForm
from .health import cached_check, public_view
from .overview import build_overview
from .roles import ROLE_GROUPS, Role, role_of


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
    messages.success(request, f"User {user.username} created as {form.cleaned_data['role']}.")
    return redirect("dashboard:users")


@admin_required
@require_POST
def user_set_role(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_for_user(request, get_user_model(), pk, write=True)
    form = UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("dashboard:users")
    if user == request.user and form.cleaned_data["role"] != "Administrator":
        messages.error(request, "You cannot take the Administrator role away from yourself.")
        return redirect("dashboard:users")
    user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()))
    user.groups.add(Group.objects.get(name=form.cleaned_data["role"]))
    messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    return redirect("dashboard:users")


__all__ = ["Role", "health", "home", "user_create", "user_list", "user_set_role"]
