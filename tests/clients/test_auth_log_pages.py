"""Logs → Auth log and Request log: administrators filter and open entries; editors and viewers get 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuthEvent, RequestLog

from .oauth_helpers import make_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["clients:auth_log", "clients:request_log"])
def test_only_administrators(name, admin_client, editor_client, viewer_client):
    assert admin_client.get(reverse(name)).status_code == 200
    assert editor_client.get(reverse(name)).status_code == 403
    assert viewer_client.get(reverse(name)).status_code == 403


def test_filter_by_client_event_and_time_then_open_one(admin_client):
    a = make_client("https://start.exactonline.nl", name="Alpha")
    b = make_client("https://start.exactonline.nl", name="Beta")
    old = AuthEvent.record(a, "refreshed", "alpha refreshed long ago")
    AuthEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    AuthEvent.record(a, "refresh_refused", "alpha refused now")
    AuthEvent.record(b, "granted", "beta granted now")
    url = reverse("clients:auth_log")
    body = admin_client.get(url, {"client": a.pk}).content.decode()
    assert "alpha refused now" in body and "alpha refreshed long ago" in body and "beta granted" not in body
    body = admin_client.get(url, {"event": "granted"}).content.decode()
    assert "beta granted now" in body and "alpha" not in body
    since = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    body = admin_client.get(url, {"since": since}).content.decode()
    assert "alpha refused now" in body and "long ago" not in body
    event = AuthEvent.objects.get(message="alpha refused now")
    detail = admin_client.get(reverse("clients:auth_log_detail", args=[event.pk])).content.decode()
    assert "Refresh refused" in detail and "alpha refused now" in detail


def test_request_log_lists_and_opens_entries(admin_client):
    client = make_client("https://start.exactonline.nl", name="Logged")
    entry = RequestLog.objects.create(client=client, method="GET", url="https://x/api/v1/1/crm/Accounts", status=429,
                                      response_body='{"error": "slow down"}')
    RequestLog.objects.create(client=client, method="GET", url="https://x/api/v1/current/Me", status=200)
    body = admin_client.get(reverse("clients:request_log"), {"status": "errors"}).content.decode()
    assert "crm/Accounts" in body and "current/Me" not in body
    detail = admin_client.get(reverse("clients:request_log_detail", args=[entry.pk])).content.decode()
    assert "slow down" in detail
