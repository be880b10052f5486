"""Tokens are stored encrypted and whole: Exact's tokens grew before and truncated columns broke clients (A7)."""

from __future__ import annotations

import pytest
from django.db import connection

from clients.models import OAuthGrant

from .oauth_helpers import make_client

pytestmark = pytest.mark.django_db


def test_three_thousand_character_tokens_round_trip_encrypted():
    client = make_client("https://start.exactonline.nl")
    access, refresh = "A" * 3000 + "!end", "R" * 3000 + "!end"
    grant = OAuthGrant.objects.create(client=client, access_token=access, refresh_token=refresh)
    again = OAuthGrant.objects.get(pk=grant.pk)
    assert again.access_token == access and again.refresh_token == refresh
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token, refresh_token FROM {OAuthGrant._meta.db_table} WHERE id = %s",
                       [grant.pk])
        stored = cursor.fetchone()
    assert all(value.startswith("fernet:") and "A" * 40 not in value and "R" * 40 not in value for value in stored)
