"""The client page lists the endpoints the error-budget guard holds back, and only while they are paused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import HttpClient
from exact_online.models import ErrorBudget


@pytest.mark.django_db
def test_client_page_shows_paused_endpoints(viewer_client):
    client = HttpClient.objects.create(name="Budget", kind="exact_online",
                                       config={"base_url": "https://start.exactonline.nl", "client_id": "x"})
    now = timezone.now()
    ErrorBudget.objects.create(client=client, division=101001, endpoint="crm/Contacts", window_start=now,
                               errors=3, consecutive=3, open_until=now + timedelta(minutes=30), last_status=400,
                               last_error="Exact Online answered HTTP 400: Mandatory: Name")
    ErrorBudget.objects.create(client=client, division=101001, endpoint="crm/Accounts", window_start=now,
                               errors=1, consecutive=0, open_until=now - timedelta(minutes=1), last_status=404)
    page = viewer_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert 'data-testid="open-circuits"' in page
    assert "crm/Contacts" in page and "Mandatory: Name" in page and "3 in a row" in page
    assert "crm/Accounts" not in page  # closed again: not listed

    ErrorBudget.objects.filter(endpoint="crm/Contacts").update(open_until=now - timedelta(seconds=1), errors=2)
    page = viewer_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert 'data-testid="open-circuits"' not in page
