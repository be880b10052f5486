"""Every authentication method of the generic HTTP Client against a real local server, driven through the
client pages: the form stores secrets encrypted and write-only, Test connection shows status, timing and the
first bytes; OAuth 2 client credentials and authorization code with PKCE against a local authorization server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from clients.models import AuthEvent, HttpClient, OAuthGrant
from http_connector.api import RestApi

pytestmark = pytest.mark.django_db

SECRET = "canary-secret-8e1f"


def create(editor_client, api_server, **fields):
    data = {"name": "Shop", "kind": "http", "base_url": api_server.url, "timeout": "10", "verify_tls": "on",
            "auth": "none", "api_key_in": "header", "test_path": "/items/page?limit=2", "pkce": "on", **fields}
    response = editor_client.post(reverse("clients:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return HttpClient.objects.get(name=data["name"])


def run_test(editor_client, client):
    return editor_client.post(reverse("clients:test_connection", args=[client.pk]), HTTP_HX_REQUEST="true"
                              ).content.decode()


CASES = {
    "none": ({"mode": "none"}, {}),
    "basic": ({"mode": "basic", "username": "shop", "password": SECRET},
              {"auth": "basic", "username": "shop", "password": SECRET}),
    "bearer": ({"mode": "bearer", "token": SECRET}, {"auth": "bearer", "token": SECRET}),
    "api key header": ({"mode": "api_key_header", "name": "X-API-Key", "key": SECRET},
                       {"auth": "api_key", "api_key_name": "X-API-Key", "api_key": SECRET}),
    "api key query": ({"mode": "api_key_query", "name": "api_key", "key": SECRET},
                      {"auth": "api_key", "api_key_name": "api_key", "api_key_in": "query", "api_key": SECRET}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_static_auth_methods_pass_test_connection_and_keep_the_secret_secret(case, editor_client, api_server):
    expected, fields = CASES[case]
    api_server.state.auth = expected
    client = create(editor_client, api_server, **fields)
    assert SECRET not in str(client.config) and client.status == HttpClient.Status.GRANTED
    result = run_test(editor_client, client)
    assert "answered HTTP 200" in result and 'data-testid="test-preview"' in result and "Item 1" in result
    assert SECRET not in result
    for page in ("clients:detail", "clients:edit"):
        assert SECRET not in editor_client.get(reverse(page, args=[client.pk])).content.decode()
    if fields:  # a wrong secret: a clear refusal, the secret never echoed
        client.set_secrets({k: "wrong-value" for k in ("password", "token", "api_key") if k in fields})
        client.save()
        result = run_test(editor_client, client)
        assert "refused (HTTP 401): check the client&#x27;s credentials" in result and "wrong-value" not in result


def test_the_form_refuses_bad_input_without_saving(editor_client, api_server):
    data = {"name": "Bad", "kind": "http", "base_url": "ftp://x", "timeout": "10", "auth": "api_key",
            "api_key_in": "header", "headers": "no colon here"}
    page = editor_client.post(reverse("clients:create"), data).content.decode()
    assert "Enter a full URL" in page and "is not a header" in page
    page = editor_client.post(reverse("clients:create"), {**data, "base_url": api_server.url, "headers": ""}
                              ).content.decode()
    assert "Name the header or query parameter" in page
    assert not HttpClient.objects.filter(name="Bad").exists()


def test_oauth2_client_credentials_fetches_reuses_and_renews_the_token(editor_client, api_server):
    api_server.state.auth = {"mode": "oauth"}
    client = create(editor_client, api_server, auth="oauth2_client_credentials",
                    token_url=f"{api_server.url}/oauth/token",
                    client_id="shop-client", client_secret=api_server.state.client_secret, scopes="orders:read")
    assert "answered HTTP 200" in run_test(editor_client, client)
    assert "answered HTTP 200" in run_test(editor_client, client)
    grants = [r for r in api_server.state.token_requests if r.get("grant_type") == "client_credentials"]
    assert len(grants) == 1 and grants[0]["scope"] == "orders:read"
    grant = OAuthGrant.objects.get(client=client)
    assert grant.access_token and grant.access_token not in str(client.config)
    # The token is about to expire: the next call fetches a new one (one process at a time) and stores it.
    OAuthGrant.objects.filter(pk=grant.pk).update(expires_at=grant.issued_at)
    RestApi(HttpClient.objects.get(pk=client.pk)).call("GET", "/items/page")
    assert len([r for r in api_server.state.token_requests if r.get("grant_type") == "client_credentials"]) == 2
    assert OAuthGrant.objects.get(pk=grant.pk).version == grant.version + 1


def test_oauth2_client_credentials_with_a_wrong_secret_is_a_clear_failure(editor_client, api_server):
    api_server.state.auth = {"mode": "oauth"}
    client = create(editor_client, api_server, auth="oauth2_client_credentials",
                    token_url=f"{api_server.url}/oauth/token",
                    client_id="shop-client", client_secret="not-the-secret")
    result = run_test(editor_client, client)
    assert "refused the credentials (invalid_client: bad secret)" in result and "not-the-secret" not in result


def test_oauth2_authorization_code_with_pkce_grant_refresh_and_refusal(editor_client, api_server):
    api_server.state.auth = {"mode": "oauth"}
    client = create(editor_client, api_server, auth="oauth2_authorization_code",
                    authorize_url=f"{api_server.url}/oauth/authorize", token_url=f"{api_server.url}/oauth/token",
                    client_id="shop-client", client_secret=api_server.state.client_secret, scopes="orders")
    assert client.status == HttpClient.Status.NOT_GRANTED
    detail = editor_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "Grant access" in detail
    start = editor_client.post(reverse("clients:grant", args=[client.pk]))
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{api_server.url}/oauth/authorize") and query["code_challenge_method"] == ["S256"]
    consent = requests.get(authorize, allow_redirects=False, timeout=10)  # the user consents at the server
    callback = urlsplit(consent.headers["Location"])
    done = editor_client.get(f"{callback.path}?{callback.query}", follow=True)
    assert "Access granted" in done.content.decode()
    exchange = next(r for r in api_server.state.token_requests if r.get("grant_type") == "authorization_code")
    assert len(exchange["code_verifier"]) >= 43  # PKCE verified by the server
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED
    assert "answered HTTP 200" in run_test(editor_client, client)
    # Expired: refreshed with the refresh token, once.
    grant = OAuthGrant.objects.get(client=client)
    OAuthGrant.objects.filter(pk=grant.pk).update(expires_at=grant.issued_at)
    RestApi(HttpClient.objects.get(pk=client.pk)).call("GET", "/items/page")
    assert len([r for r in api_server.state.token_requests if r.get("grant_type") == "refresh_token"]) == 1
    # The server revokes everything: the refresh is refused, the client needs a new grant, the page says so.
    for issued in api_server.state.tokens.values():
        issued.valid = False
    OAuthGrant.objects.filter(client=client).update(expires_at=grant.issued_at)
    result = run_test(editor_client, client)
    assert "refused the refresh" in result
    client.refresh_from_db()
    assert client.status == HttpClient.Status.NEEDS_RECONNECT
    assert AuthEvent.objects.filter(client=client, event=AuthEvent.Event.RECONNECT_NEEDED).exists()
