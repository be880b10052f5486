"""A refused refresh (expired chain, revoked chain) moves the client to Needs reconnect, once, with a message."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import AuthEvent, HttpClient
from exact_online.client_type import api_for, redirect_uri
from exact_online.errors import NeedsReconnect, Unauthorized, is_outage
from tests.clients.oauth_helpers import grant, sandbox_client

pytestmark = pytest.mark.django_db


def refused(client: HttpClient) -> list[str]:
    return list(AuthEvent.objects.filter(client=client, event__in=["refresh_refused", "reconnect_needed"])
                .order_by("pk").values_list("event", flat=True))


def test_expired_refresh_token_chain_needs_reconnect(editor_client, admin_client, sandbox_factory):
    sandbox = sandbox_factory()
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    sandbox.advance_clock(31 * 86400)  # a month without use: Exact's refresh tokens die after 30 days
    before = sandbox.counters()["token_calls"]
    with pytest.raises(NeedsReconnect) as caught:
        api_for(client).me()
    message = str(caught.value)
    assert "Exact Online refused to refresh the access (invalid_request: The refresh token expired at" in message
    assert "Grant access again to reconnect." in str(caught.value)
    client.refresh_from_db()
    assert client.status == HttpClient.Status.NEEDS_RECONNECT
    assert refused(client) == ["refresh_refused", "reconnect_needed"]
    # No retry loop: the next call does not touch Exact's token endpoint at all.
    with pytest.raises(NeedsReconnect, match="needs to be reconnected"):
        api_for(client).me()
    assert sandbox.counters()["token_calls"] == before + 1
    assert sandbox.counters()["refresh_refusals"]["expired"] == 1
    # The client page and the dashboard say so.
    page = admin_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "Needs reconnect." in page and "The refresh token expired at" in page
    home = admin_client.get(reverse("dashboard:home")).content.decode()
    assert "need" in home and "to be reconnected" in home and client.name in home


def test_revoked_chain_after_a_second_consent_needs_reconnect(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    # The same Exact user consents to the same app elsewhere: Exact keeps one chain per user and app (A6).
    sandbox.token(app, sandbox.authorize(app["client_id"], redirect_uri()))
    with pytest.raises(NeedsReconnect) as caught:
        api_for(client).me()
    assert str(caught.value) == (
        "Exact Online refused to refresh the access (invalid_grant: Token is not allowed, because of invalid or "
        "empty chainId). Grant access again to reconnect."
    )
    client.refresh_from_db()
    assert client.needs_reconnect and not client.grant.refresh_token
    assert refused(client) == ["refresh_refused", "reconnect_needed"]
    assert not HttpClient.objects.usable().filter(pk=client.pk).exists()


def test_granting_again_reconnects(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    client.mark_needs_reconnect("test")
    grant(editor_client, client, sandbox, app)
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED
    assert api_for(client).me()["FullName"] == "Demo Gebruiker"


def test_a_401_on_a_fresh_token_is_a_blip_not_a_failure(editor_client, sandbox_factory):
    """Exact answers 401 on a token it issued a moment ago: the refresh it would refuse (too early) is not a
    lost grant. A worker's call raises it as an outage at once (its work is deferred, nothing sleeps); a caller
    that allows a second attempt retries after one backoff and succeeds; the client stays granted."""
    sandbox = sandbox_factory()
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    sandbox.set_faults({"path": "current/Me", "expired_token_rate": 1, "times": 1})
    slept: list[float] = []
    with pytest.raises(Unauthorized) as raised:
        api_for(client, sleep=slept.append).me()
    assert is_outage(raised.value) and slept == []
    sandbox.set_faults({"path": "current/Me", "expired_token_rate": 1, "times": 1})
    me = api_for(client, sleep=slept.append, max_attempts=2).me()
    assert me["FullName"] == "Demo Gebruiker" and len(slept) == 1
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED and client.grant.refresh_token
    assert refused(client) == []
