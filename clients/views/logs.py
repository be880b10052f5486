"""Logs → Auth log and Request log: administrators only."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import admin_required, get_for_user

from ..forms import AuthLogFilterForm
from ..models import AuthEvent, RequestLog

__all__ = ["auth_log", "auth_log_detail", "request_log", "request_log_detail"]

PAGE_SIZE = 50


@admin_required
def auth_log(request: HttpRequest) -> HttpResponse:
    form = AuthLogFilterForm(request.GET or None, events=AuthEvent.Event.choices)
    events = AuthEvent.objects.select_related("client", "user")
    if form.is_valid():
        data = form.cleaned_data
        if data.get("client"):
            events = events.filter(client=data["client"])
        if data.get("event"):
            events = events.filter(event=data["event"])
        if data.get("since"):
            events = events.filter(created_at__gte=data["since"])
        if data.get("until"):
            events = events.filter(created_at__lte=data["until"])
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "clients/auth_log.html", {"form": form, "page": page, "query": query.urlencode()})


@admin_required
def auth_log_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_for_user(request, AuthEvent.objects.select_related("client", "user"), pk)
    return render(request, "clients/auth_log_detail.html", {"event": event})


@admin_required
def request_log(request: HttpRequest) -> HttpResponse:
    form = AuthLogFilterForm(request.GET or None, events=[("auth", "Authentication"), ("api", "API")])
    form.fields["event"].label = "Kind"
    logs = RequestLog.objects.select_related("client")
    status = request.GET.get("status", "").strip()
    if form.is_valid():
        data = form.cleaned_data
        if data.get("client"):
            logs = logs.filter(client=data["client"])
        if data.get("event"):
            logs = logs.filter(kind=data["event"])
        if data.get("since"):
            logs = logs.filter(created_at__gte=data["since"])
        if data.get("until"):
            logs = logs.filter(created_at__lte=data["until"])
    if status == "errors":
        logs = logs.exclude(status__lt=400, status__isnull=False)
    elif status.isdigit():
        logs = logs.filter(status=int(status))
    page = Paginator(logs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "clients/request_log.html",
                  {"form": form, "page": page, "status": status, "query": query.urlencode()})


@admin_required
def request_log_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_for_user(request, RequestLog.objects.select_related("client"), pk)
    return render(request, "clients/request_log_detail.html", {"entry": entry})
