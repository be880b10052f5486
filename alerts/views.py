"""Alerts pages: history, rules, channels (with *Send test*) and maintenance windows. Thin views: the
rules are evaluated on the workers (``alerts.engine``), never here; *Send test* sends one message at once."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.access import can_edit, editor_required, get_for_user, viewer_required

from .engine import send_test
from .forms import ChannelForm, MaintenanceWindowForm, RuleForm
from .models import Alert, Channel, MaintenanceWindow, Rule

__all__ = ["alert_detail", "alert_list", "channel_create", "channel_delete", "channel_edit", "channel_list",
           "channel_test", "maintenance_create", "maintenance_delete", "maintenance_list", "rule_create",
           "rule_delete", "rule_edit", "rule_list"]


def _form_page(request: HttpRequest, form: ModelForm[Any], *, noun: str, back: str, instance: Model | None,
               done: str) -> HttpResponse:
    """One create/edit page for every form here: save and go back to the list, or show the errors (400)."""
    if request.method == "POST":
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"{noun.capitalize()} {saved} {'saved' if instance else 'created'}.")
            return redirect(done)
        return render(request, "alerts/form.html", {"form": form, "noun": noun, "back": back, "instance": instance},
                      status=400)
    return render(request, "alerts/form.html", {"form": form, "noun": noun, "back": back, "instance": instance})


# --- history ---------------------------------------------------------------------------------------------

@viewer_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    alerts = Alert.objects.select_related("rule").order_by("-opened_at", "-pk")
    if status in Alert.Status.values:
        alerts = alerts.filter(status=status)
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "open_count": Alert.objects.open().count(),
               "rule_count": Rule.objects.count(), "channel_count": Channel.objects.count(),
               "can_edit": can_edit(request.user)}
    return render(request, "alerts/list.html", context)


@viewer_required
@require_GET
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_for_user(request, Alert.objects.select_related("rule"), pk)
    return render(request, "alerts/detail.html", {"alert": alert,
                                                  "notifications": alert.notifications.order_by("-created_at")[:200]})


# --- rules -----------------------------------------------------------------------------------------------

@viewer_required
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = Rule.objects.select_related("route").prefetch_related("channels").order_by("name")
    return render(request, "alerts/rules.html", {"rules": rules, "can_edit": can_edit(request.user),
                                                 "has_channels": Channel.objects.exists()})


@editor_required
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST or None, initial={"channels": Channel.objects.filter(enabled=True)})
    return _form_page(request, form, noun="rule", back="alerts:rule_list", instance=None, done="alerts:rule_list")


@editor_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_for_user(request, Rule, pk, write=True)
    return _form_page(request, RuleForm(request.POST or None, instance=rule), noun="rule", back="alerts:rule_list",
                      instance=rule, done="alerts:rule_list")


@editor_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_for_user(request, Rule, pk, write=True)
    rule.delete()
    messages.success(request, f"Rule {rule.name} and its alert history deleted.")
    return redirect("alerts:rule_list")


# --- channels --------------------------------------------------------------------------------------------

@viewer_required
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = Channel.objects.order_by("name")
    return render(request, "alerts/channels.html", {"channels": channels, "can_edit": can_edit(request.user)})


@editor_required
@require_http_methods(["GET", "POST"])
def channel_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, ChannelForm(request.POST or None), noun="channel", back="alerts:channel_list",
                      instance=None, done="alerts:channel_list")


@editor_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_for_user(request, Channel, pk, write=True)
    return _form_page(request, ChannelForm(request.POST or None, instance=channel), noun="channel",
                      back="alerts:channel_list", instance=channel, done="alerts:channel_list")


@editor_required
@require_POST
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_for_user(request, Channel, pk, write=True)
    channel.delete()
    messages.success(request, f"Channel {channel.name} deleted.")
    return redirect("alerts:channel_list")


@editor_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_for_user(request, Channel, pk, write=True)
    result = send_test(channel)
    if result.ok:
        messages.success(request, f"Test message sent to {channel.name}.")
    else:
        messages.error(request, f"{channel.name} did not take the test message: {result.error}")
    return redirect("alerts:channel_list")


# --- maintenance windows ---------------------------------------------------------------------------------

@viewer_required
@require_GET
def maintenance_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    windows = list(MaintenanceWindow.objects.select_related("route", "http_client").order_by("-starts_at"))
    rows = [{"window": w, "until": w.active_until(now)} for w in windows]
    return render(request, "alerts/maintenance.html", {"rows": rows, "can_edit": can_edit(request.user)})


@editor_required
@require_http_methods(["GET", "POST"])
def maintenance_create(request: HttpRequest) -> HttpResponse:
    initial = {k: request.GET[k] for k in ("route", "http_client") if request.GET.get(k, "").isdigit()}
    form = MaintenanceWindowForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
    return _form_page(request, form, noun="maintenance window", back="alerts:maintenance_list", instance=None,
                      done="alerts:maintenance_list")


@editor_required
@require_POST
def maintenance_delete(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_for_user(request, MaintenanceWindow, pk, write=True)
    window.delete()
    messages.success(request, "Maintenance window deleted.")
    return redirect("alerts:maintenance_list")
