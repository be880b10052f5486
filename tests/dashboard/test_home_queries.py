"""The dashboard asks the database as often with five HTTP clients as with one.

Its panels show each client's quota per division (token health, API calls today) and what holds a client back
(a used-up quota, an open error-budget circuit): each client type answers for all of its clients at once
(``HttpClient.quotas_by_client``, ``open_circuits_by_client``), not once per client and panel.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clients.models import ApiCallCount
from exact_online.models import ErrorBudget, QuotaState
from tests.fixtures.exact_clients import granted_exact_client
from tests.fixtures.queries import page_queries

pytestmark = pytest.mark.django_db


def _exact_clients(count: int, *, start: int = 0) -> None:
    """Granted Exact clients, each with two divisions' quotas (one used up), calls today and an open circuit."""
    now = timezone.now()
    for n in range(start, start + count):
        client = granted_exact_client(n)
        for division, remaining in ((101001, 4000 - n), (101002, 0)):
            QuotaState.objects.create(client=client, division=division, daily_limit=5000, daily_remaining=remaining,
                                      daily_reset=now + timedelta(hours=5), minutely_limit=60, minutely_remaining=50)
            ApiCallCount.objects.create(client=client, division=division, calls=10 + n,
                                        hour=now.replace(minute=0, second=0, microsecond=0))
        ErrorBudget.objects.create(client=client, division=101001, endpoint=f"crm/Accounts{n}", window_start=now,
                                   errors=10, consecutive=10, open_until=now + timedelta(minutes=30), last_status=400)


def _home(admin_client: Client) -> tuple[int, str]:
    return page_queries(admin_client, reverse("dashboard:home"))


def test_the_dashboard_asks_as_often_with_five_http_clients_as_with_one(admin_client: Client) -> None:
    _exact_clients(1)
    _home(admin_client)  # the first view fills what the dashboard caches (the task chart)
    with_one, _ = _home(admin_client)
    _exact_clients(4, start=1)
    with_five, page = _home(admin_client)

    assert with_five == with_one
    # ... and the panels do show all five, with what each one's type said about it.
    for n in range(5):
        assert page.count(f"Exact client {n}") >= 3, n  # token health, API calls today, needs attention
        assert f"{4000 - n} / 5000 left" in page
        assert f"paused: error budget (crm/Accounts{n})" in page
    assert len(re.findall(r"Exact client \d · division 101002: daily quota used up", page)) == 5
