"""The HTTP Clients list asks the database as often with five clients as with one.

Its "Connected as" column comes from each client's type (for Exact Online, the user who granted access): the type
answers for all clients of the page at once (``HttpClient.connected_as_by_client``), not once per row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import HttpClient, OAuthGrant
from exact_online.models import ExactAccess

pytestmark = pytest.mark.django_db


def _granted_exact_clients(count: int, *, start: int = 0) -> None:
    now = timezone.now()
    for n in range(start, start + count):
        client = HttpClient.objects.create(name=f"Exact client {n}", kind="exact_online", config={},
                                           status=HttpClient.Status.GRANTED)
        OAuthGrant.objects.create(client=client, access_token="a", refresh_token="r", granted_at=now,
                                  expires_at=now + timedelta(minutes=9), refresh_used_at=now)
        ExactAccess.objects.create(client=client, exact_user_name=f"Gebruiker {n}", default_division=101001)


def _list(admin_client: Client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("clients:list"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_client_list_asks_as_often_with_five_clients_as_with_one(admin_client: Client) -> None:
    _granted_exact_clients(1)
    HttpClient.objects.create(name="Not granted yet", kind="exact_online", config={})
    with_one, _ = _list(admin_client)
    _granted_exact_clients(4, start=1)
    with_five, page = _list(admin_client)

    assert with_five == with_one
    for n in range(5):
        assert f"Gebruiker {n}" in page  # each row still says who granted access
