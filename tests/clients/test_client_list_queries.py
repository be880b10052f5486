"""The HTTP Clients list asks the database as often with five clients as with one.

Its "Connected as" column comes from each client's type (for Exact Online, the user who granted access): the type
answers for all clients of the page at once (``HttpClient.connected_as_by_client``), not once per row.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clients.models import HttpClient
from tests.fixtures.exact_clients import granted_exact_client
from tests.fixtures.queries import page_queries

pytestmark = pytest.mark.django_db


def _list(admin_client: Client) -> tuple[int, str]:
    return page_queries(admin_client, reverse("clients:list"))


def test_the_client_list_asks_as_often_with_five_clients_as_with_one(admin_client: Client) -> None:
    granted_exact_client(0)
    HttpClient.objects.create(name="Not granted yet", kind="exact_online", config={})
    with_one, _ = _list(admin_client)
    for n in range(1, 5):
        granted_exact_client(n)
    with_five, page = _list(admin_client)

    assert with_five == with_one
    for n in range(5):
        assert f"user {n}" in page  # each row still says who granted access
