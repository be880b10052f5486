"""Every branch of the OAuth callback (style.md §8), against the real sandbox or a stub token endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import AuthEvent, HttpClient
from clients.views.grant import SESSION_KEY
from exact_online.client_type import redirect_uri

from .oauth_helpers import callback, grant, make_client, page_messages, sandbox_client, start_grant, stub_token_endpoint

pytestmark = pytest.mark.django_db


def events(client: HttpClient) -> list[str]:
    return list(AuthEvent.objects.filter(client=client).order_by("pk").values_list("event", flat=True))


def test_success_stores_the_grant_and_shows_who_and_the_divisions(editor_client, editor_user, sandbox):
    client, app = sandbox_client(sandbox)
    response = grant(editor_client, client, sandbox, app)
    assert response.status_code == 200
    assert page_messages(response) == ["Access granted as Exact user Demo Gebruiker: 2 divisions available."]
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED
    g = client.grant
    access = client.exact_access
    assert g.granted_by == editor_user and access.exact_user_name == "Demo Gebruiker"
    assert [d["code"] for d in access.divisions] == sandbox.divisions
    assert access.default_division == access.current_division == sandbox.divisions[0]
    assert g.access_token and g.refresh_token and g.expires_at and g.version == 1
    body = response.content.decode()
    assert "Access granted" in body and "Demo Handel B.V." in body and "Demo Gebruiker" in body
    assert SESSION_KEY not in editor_client.session
    assert events(client) == ["grant_started", "granted"]


def test_deny_on_the_consent_page_gives_a_friendly_message(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    state = start_grant(editor_client, client)
    error = sandbox.authorize(app["client_id"], redirect_uri(), state=state, approve=False)
    assert error == "access_denied"
    response = callback(editor_client, error=error, state=state)
    assert page_messages(response) == [
        "Access was not granted: the request was declined on Exact Online's consent page. "
        "Nothing changed; click Grant access to try again."
    ]
    client.refresh_from_db()
    assert client.status == HttpClient.Status.NOT_GRANTED
    assert events(client)[-1] == "grant_denied"
    assert SESSION_KEY not in editor_client.session


def test_state_mismatch_is_403_and_logged(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    state = start_grant(editor_client, client)
    code = sandbox.authorize(app["client_id"], redirect_uri(), state=state)
    response = editor_client.get(reverse("clients:oauth_callback"), {"code": code, "state": state + "x"})
    assert response.status_code == 403
    assert "state mismatch" in response.content.decode()
    client.refresh_from_db()
    assert client.status == HttpClient.Status.NOT_GRANTED
    assert events(client)[-1] == "grant_failed"
    assert SESSION_KEY in editor_client.session  # kept: a crossed answer does not cancel the pending grant
    response = callback(editor_client, code=code, state=state)  # the real answer still completes it
    assert page_messages(response)[0].startswith("Access granted")
    assert SESSION_KEY not in editor_client.session  # used up: the same answer cannot be tried again


def test_forged_error_callback_neither_cancels_nor_logs_a_denial(editor_client, sandbox):
    """An attacker makes the editor's browser open the callback with error=access_denied and a guessed state."""
    client, app = sandbox_client(sandbox)
    state = start_grant(editor_client, client)
    forged = editor_client.get(reverse("clients:oauth_callback"), {"error": "access_denied", "state": "guessed"})
    assert forged.status_code == 403 and "state mismatch" in forged.content.decode()
    forged = editor_client.get(reverse("clients:oauth_callback"), {"error": "server_error",
                                                                    "error_description": "<b>call us</b>"})
    assert forged.status_code == 403
    assert "grant_denied" not in events(client)
    assert not AuthEvent.objects.filter(client=client, message__contains="call us").exists()
    assert SESSION_KEY in editor_client.session
    code = sandbox.authorize(app["client_id"], redirect_uri(), state=state)
    response = callback(editor_client, code=code, state=state)
    assert page_messages(response)[0].startswith("Access granted")
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED


def test_callback_without_a_started_grant_is_403(client, editor_client):
    assert client.get(reverse("clients:oauth_callback"), {"code": "c", "state": "s"}).status_code == 403
    assert editor_client.get(reverse("clients:oauth_callback"), {"code": "c", "state": "s"}).status_code == 403


def test_replayed_code_is_refused_with_a_clear_message(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    state = start_grant(editor_client, client)
    code = sandbox.authorize(app["client_id"], redirect_uri(), state=state)
    callback(editor_client, code=code, state=state)
    # The same callback URL again: the session key is gone.
    assert editor_client.get(reverse("clients:oauth_callback"), {"code": code, "state": state}).status_code == 403
    # The old code inside a new grant: Exact refuses it.
    state2 = start_grant(editor_client, client)
    response = callback(editor_client, code=code, state=state2)
    assert page_messages(response) == [
        "Exact Online refused the authorization code (invalid_grant: The authorization code has already been used.). "
        "A code works once and only for a few minutes: click Grant access again."
    ]
    client.refresh_from_db()
    assert client.status == HttpClient.Status.GRANTED  # the first grant is untouched
    assert events(client)[-1] == "grant_failed"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "message"),
    [
        (200, None, "application/json", "Exact Online's token response was not a valid token"),
        (200, b"surprise", "application/json", "Exact Online's token response was not a valid token"),
        (200, b"{}", "application/json", "Exact Online's token response was not a valid token"),
        (200, b'{"access_token": "a", "token_type": "bearer", "expires_in": "soon", "refresh_token": "r"}',
         "application/json", "Exact Online's token response was not a valid token"),
        (503, b"<html><body>Onderhoud</body></html>", "text/html", "answered with an HTML page (HTTP 503)"),
        (400, b'{"error": "invalid_client", "error_description": "The client secret is invalid."}',
         "application/json", "refused the Client ID or Client Secret"),
    ],
    ids=["none", "surprise", "empty-json", "bad-expires-in", "html", "error-body"],
)
def test_bad_token_responses_give_a_message_never_a_500(editor_client, status, body, content_type, message):
    with stub_token_endpoint(status, body, content_type) as url:
        client = make_client(url)
        state = start_grant(editor_client, client)
        response = callback(editor_client, code="XTzM!IAAAACbPTzQJ", state=state)
    assert response.status_code == 200
    assert len(page_messages(response)) == 1 and message in page_messages(response)[0]
    client.refresh_from_db()
    assert client.status == HttpClient.Status.NOT_GRANTED
    event = AuthEvent.objects.filter(client=client).latest("pk")
    assert event.event == "grant_failed" and message in event.message


def test_unreachable_exact_gives_a_message(editor_client):
    client = make_client("http://127.0.0.1:9")
    state = start_grant(editor_client, client)
    response = callback(editor_client, code="c", state=state)
    assert "could not be reached at 127.0.0.1:9" in page_messages(response)[0]
    assert AuthEvent.objects.filter(client=client, event="grant_failed").exists()


def test_only_the_user_who_started_may_complete(editor_client, admin_client, sandbox):
    client, _app = sandbox_client(sandbox)
    state = start_grant(editor_client, client)
    # another user's browser has no pending grant
    assert admin_client.get(reverse("clients:oauth_callback"), {"code": "c", "state": state}).status_code == 403
