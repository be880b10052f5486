"""Issue 10 items 3 and 4: a Base URI may only name Exact Online's region hosts or an allow-listed host (the
sandbox, a proxy); other names are resolved when the connection opens and refused at private, loopback or
link-local addresses; plain http only for allow-listed hosts, per request (no process-wide oauthlib switch).
The attacker's host is a recording server on another port."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuthEvent, HttpClient, OAuthGrant
from exact_online.errors import AddressRefused, ExactError
from exact_online.hosts import HostPolicy, address_guard
from exact_online.oauth import ExactOAuth
from exact_online.transport import Transport
from tests.clients.oauth_helpers import callback, make_client, page_messages, recording_server, start_grant

GUID = "b81cc4de-d192-400e-bcb4-09254394c52a"


def test_the_policy_accepts_exact_region_hosts_over_https_and_the_allow_list():
    production = HostPolicy.parse([])
    production.check_url("https://start.exactonline.nl/api/v1/current/Me")
    production.check_url("https://start.exactonline.co.uk:443/api/oauth2/token")
    for url in ("http://start.exactonline.nl", "https://start.exactonline.nl:8443", "https://intranet.example",
                "http://127.0.0.1:8001", "https://169.254.169.254/latest/meta-data", "https://[::1]/",
                "https://start.exactonline.nl.evil.example", "ftp://start.exactonline.nl", "https://x:99999"):
        with pytest.raises(AddressRefused):
            production.check_url(url)
    admin = HostPolicy.parse(["sandbox.internal:8001", "Proxy.Example", "[::1]:9"])
    admin.check_url("http://sandbox.internal:8001/api/oauth2/token")
    admin.check_url("https://proxy.example:1234/api")
    admin.check_url("http://[::1]:9/")
    with pytest.raises(AddressRefused):
        admin.check_url("http://sandbox.internal:9000/")
    assert admin.plain_http_allowed("http://sandbox.internal:8001") and not production.plain_http_allowed(
        "http://start.exactonline.nl")
    with pytest.raises(ValueError, match="DASH_EXACT_ALLOWED_HOSTS"):
        HostPolicy.parse(["host:port"])


def test_outside_production_the_sandbox_and_loopback_are_allowed_by_default(settings):
    policy = HostPolicy.current()
    assert policy.allowlisted("127.0.0.1", 8001) and policy.allowlisted("localhost", 5) and policy.allowlisted(
        "[::1]", 80)
    assert policy.allowlisted(*settings.SANDBOX_URL.split("//")[1].split(":")[:1], None)


@pytest.mark.django_db
def test_in_production_an_editor_cannot_point_a_base_uri_inward(editor_client, settings):
    settings.EXACT_ALLOWED_HOSTS = []  # the production default
    data = {"name": "inward", "kind": "exact_online", "base_uri": "custom", "client_id": GUID,
            "client_secret": "a-secret", "scopes": ""}
    for target in ("http://127.0.0.1:8001", "https://127.0.0.1:8443", "https://169.254.169.254",
                   "https://10.0.0.5", "https://localhost", "https://intranet.example", "https://[::1]"):
        response = editor_client.post(reverse("clients:create"), {**data, "custom_base_uri": target})
        assert response.status_code == 400, target
        body = response.content.decode()
        assert "Not accepted as Base URI" in body or "Use https://" in body, target
    assert not HttpClient.objects.exists()
    settings.EXACT_ALLOWED_HOSTS = ["127.0.0.1:8001"]  # an administrator allows the sandbox
    response = editor_client.post(reverse("clients:create"), {**data, "custom_base_uri": "http://127.0.0.1:8001"})
    assert response.status_code == 302 and HttpClient.objects.get().config["base_url"] == "http://127.0.0.1:8001"


@pytest.mark.django_db
def test_a_stored_base_uri_off_the_allow_list_gets_no_request(editor_client, settings):
    """A client saved before the allow-list changed (or written straight into the database): the transport
    refuses it before connecting; neither the test call nor the code exchange reaches the host."""
    with recording_server() as (inward, received):
        client = make_client(inward, log=True)
        now = timezone.now()
        OAuthGrant.objects.create(client=client, access_token="access-token-canary-0123", refresh_token="r" * 20,
                                  expires_in=600, issued_at=now, expires_at=now + timedelta(seconds=600), version=1)
        client.status = HttpClient.Status.GRANTED
        client.save()
        settings.EXACT_ALLOWED_HOSTS = []
        page = editor_client.post(reverse("clients:test_connection", args=[client.pk]), follow=True)
        assert "127.0.0.1 is not an Exact Online region host and not on the allow-list" in page.content.decode()
        started = editor_client.post(reverse("clients:grant", args=[client.pk]), follow=True)
        assert "not on the allow-list" in page_messages(started)[0]
        settings.EXACT_ALLOWED_HOSTS = ["127.0.0.1"]
        state = start_grant(editor_client, client)  # started while allowed, completed after the list changed
        settings.EXACT_ALLOWED_HOSTS = []
        done = callback(editor_client, code="XTzM!IAAAACbPTzQJ", state=state)
        assert "not on the allow-list" in page_messages(done)[0]
    assert received == []
    assert AuthEvent.objects.filter(client=client, event="test_failed").exists()


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["::1"], ["::ffff:127.0.0.1"],
                                    ["fd00::1"], ["93.184.216.34", "192.168.1.10"], ["100.64.0.1"]])
def test_a_name_is_resolved_and_refused_at_connect_time_when_an_address_is_not_public(monkeypatch, answer):
    """DNS that points an allowed name (an Exact region host) inward: refused before any socket is opened."""
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, **kw: [
        (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer])
    opened: list[object] = []
    monkeypatch.setattr("urllib3.util.connection.create_connection", lambda *a, **kw: opened.append(a))
    with pytest.raises(AddressRefused, match="resolves to a private, loopback or link-local address"):
        Transport().send("GET", "https://start.exactonline.nl/api/v1/current/Me",
                         headers={"Authorization": "Bearer not-to-be-sent"})
    assert opened == []


def test_a_public_answer_is_the_address_connected_to(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, **kw: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))])
    assert address_guard().address("start.exactonline.nl", 443) == "93.184.216.34"
    assert address_guard().address("localhost", 8001) == "localhost"  # allow-listed: may be internal


def test_an_allow_listed_name_is_reached_at_its_loopback_address():
    with recording_server(b"{}", 200) as (url, received):
        sent = Transport().send("GET", url.replace("127.0.0.1", "localhost") + "/api/v1/current/Me")
    assert sent.response.status_code == 200 and len(received) == 1


def test_plain_http_is_allowed_per_request_not_process_wide(monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    with recording_server() as (sandbox_like, received):
        oauth = ExactOAuth(base_url=sandbox_like, client_id=GUID, client_secret="s" * 12,
                           redirect_uri="http://localhost/callback")
        assert oauth.authorization_url(state="st").startswith(f"{sandbox_like}/api/oauth2/auth?")
        with pytest.raises(ExactError, match="invalid_grant"):
            oauth.exchange_code("XTzM!IAAAACbPTzQJ")
        assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    assert [r.split("\n")[0] for r in received] == ["POST /api/oauth2/token"]


def test_plain_http_to_a_host_off_the_allow_list_is_refused(settings):
    settings.EXACT_ALLOWED_HOSTS = ["localhost"]  # not 127.0.0.1
    with recording_server() as (elsewhere, received):
        oauth = ExactOAuth(base_url=elsewhere, client_id=GUID, client_secret="s" * 12,
                           redirect_uri="http://localhost/callback")
        with pytest.raises(AddressRefused):
            oauth.authorization_url(state="st")
        with pytest.raises(AddressRefused):
            oauth.exchange_code("XTzM!IAAAACbPTzQJ")
    assert received == []


def test_a_bad_allow_list_entry_fails_the_start_up_checks(settings):
    from exact_online.apps import check_allowed_hosts

    settings.EXACT_ALLOWED_HOSTS = ["sandbox.internal:8001"]
    assert check_allowed_hosts() == []
    settings.EXACT_ALLOWED_HOSTS = ["sandbox.internal:port"]
    assert [e.id for e in check_allowed_hosts()] == ["exact_online.E001"]
