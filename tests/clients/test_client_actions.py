"""Test connection (live current/Me + quota headers), the division choice, revoke, against the sandbox."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clients.models import AuthEvent, HttpClient
from exact_online.client_type import api_for
from exact_online.errors import NeedsReconnect
from exact_online.models import QuotaState

from .oauth_helpers import grant, page_messages, sandbox_client

pytestmark = pytest.mark.django_db


def test_test_connection_shows_the_live_answer_and_the_quota_headers(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    response = editor_client.post(reverse("clients:test_connection", args=[client.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Connected to Exact Online as Demo Gebruiker (current division 101001)." in body
    assert "X-RateLimit-Minutely-Remaining" in body and "X-RateLimit-Limit" in body
    # The call it made, and the resets as times in the site's zone (Exact sends epoch milliseconds).
    assert re.search(r'data-testid="test-call">GET http://[^<]+/api/v1/current/Me', body)
    reset = re.search(r"X-RateLimit-Minutely-Reset</td><td[^>]*>([^<]+)</td>", body)
    assert reset and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d{13}\)", reset.group(1)), body
    assert AuthEvent.objects.filter(client=client, event="test_ok").exists()
    assert QuotaState.objects.filter(client=client, division=0, daily_limit__gt=0).exists()


def test_test_connection_before_the_grant_says_what_to_do(editor_client, sandbox):
    client, _ = sandbox_client(sandbox)
    response = editor_client.post(reverse("clients:test_connection", args=[client.pk]))
    assert "has no access to Exact Online yet: grant access first." in response.content.decode()


def test_choose_the_division_used_by_default(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    page = editor_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert 'data-testid="division-select"' in page and "101002 · Demo Services B.V." in page
    response = editor_client.post(reverse("clients:division", args=[client.pk]), {"division": "101002"}, follow=True)
    assert page_messages(response) == ["Division set to 101002 · Demo Services B.V.."]
    client.refresh_from_db()
    assert client.default_division == 101002
    editor_client.post(reverse("clients:division", args=[client.pk]), {"division": "999"})
    client.refresh_from_db()
    assert client.default_division == 101002  # a division the grant cannot reach is refused


def test_revoke_deletes_the_tokens_and_stops_the_client(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    response = editor_client.post(reverse("clients:revoke", args=[client.pk]), follow=True)
    assert "Access revoked: the tokens are deleted." in page_messages(response)[0]
    client.refresh_from_db()
    assert client.status == HttpClient.Status.REVOKED and not client.grant.refresh_token
    with pytest.raises(NeedsReconnect, match="was revoked"):
        api_for(client).me()
    assert AuthEvent.objects.filter(client=client, event="revoked").exists()
