"""Issue 10 item 1, as an attacker with an Editor login would try it: a stored Client Secret (or webhook secret,
or token) never goes to an address the editor picks. Changing the Base URI or Client ID drops them, and a
duplicate starts without them; a recording server on another port is the attacker's host."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import HttpClient, OAuthGrant

from .oauth_helpers import (
    callback,
    grant,
    make_client,
    page_messages,
    recording_server,
    sandbox_client,
    start_grant,
)

pytestmark = pytest.mark.django_db

OTHER_APP = "0f8fad5b-d9cb-469f-a165-70867728950e"


def edit(browser, client: HttpClient, **overrides: str):
    config = client.config
    data = {"name": client.name, "kind": client.kind, "base_uri": "custom", "custom_base_uri": config["base_url"],
            "client_id": config["client_id"], "client_secret": "", "webhook_secret": "", "scopes": "",
            "log_requests": "on"}
    data.update(overrides)
    return browser.post(reverse("clients:edit", args=[client.pk]), data)


def test_editor_cannot_aim_a_stored_secret_at_a_host_of_their_own(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    client.set_secrets({"webhook_secret": "webhook-secret-canary"})
    client.save()
    grant(editor_client, client, sandbox, app)
    stored = OAuthGrant.objects.get(client=client)
    canaries = [app["client_secret"], "webhook-secret-canary", stored.access_token, stored.refresh_token]
    # An edit that keeps the address keeps everything.
    assert edit(editor_client, client, name="Renamed").status_code == 302
    client.refresh_from_db()
    assert client.is_granted and client.get_secret("client_secret") == app["client_secret"]

    with recording_server() as (evil, received):
        refused = edit(editor_client, client, custom_base_uri=evil)
        assert refused.status_code == 400
        assert "The Base URI or Client ID changed: enter the Client Secret again." in refused.content.decode()
        client.refresh_from_db()
        assert client.config["base_url"] == sandbox.url and client.is_granted

        saved = edit(editor_client, client, custom_base_uri=evil, client_secret="typed-by-the-attacker")
        assert saved.status_code == 302
        client.refresh_from_db()
        assert client.config["base_url"] == evil
        assert client.get_secrets() == {"client_secret": "typed-by-the-attacker"}  # the webhook secret is gone too
        assert client.status == HttpClient.Status.NOT_GRANTED and "Grant access again" in client.status_message
        assert not client.grant.access_token and not client.grant.refresh_token

        # Grant access now talks to the attacker's host: it gets what the attacker typed, nothing stored before.
        state = start_grant(editor_client, client)
        callback(editor_client, code="XTzM!IAAAACbPTzQJ", state=state)
    seen = "\n".join(received)
    assert "/api/oauth2/token" in seen and "typed-by-the-attacker" in seen
    assert [c[:6] for c in canaries if c in seen] == []


def test_changing_the_client_id_drops_the_secrets_and_the_tokens(editor_client):
    client = make_client("https://start.exactonline.nl", {"client_id": "b81cc4de-d192-400e-bcb4-09254394c52a",
                                                          "client_secret": "secret-of-app-one",
                                                          "webhook_secret": "webhook-of-app-one"})
    OAuthGrant.objects.create(client=client, access_token="a" * 20, refresh_token="r" * 20, version=3)
    client.status = HttpClient.Status.GRANTED
    client.save()
    assert edit(editor_client, client, client_id=OTHER_APP).status_code == 400
    response = edit(editor_client, client, client_id=OTHER_APP, client_secret="secret-of-app-two")
    assert response.status_code == 302
    client.refresh_from_db()
    assert client.config["client_id"] == OTHER_APP
    assert client.get_secrets() == {"client_secret": "secret-of-app-two"}
    grant_row = client.grant
    assert grant_row.access_token == grant_row.refresh_token == "" and grant_row.version == 4
    assert client.status == HttpClient.Status.NOT_GRANTED
    page = editor_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "secret-of-app" not in page and "The Base URI or Client ID changed" in page


def test_a_duplicate_starts_without_secrets_and_cannot_send_any(editor_client, sandbox):
    client, app = sandbox_client(sandbox)
    grant(editor_client, client, sandbox, app)
    response = editor_client.post(reverse("clients:duplicate", args=[client.pk]), follow=True)
    copy = HttpClient.objects.exclude(pk=client.pk).get()
    assert copy.get_secrets() == {} and copy.grant_or_none is None
    assert "Enter its secrets" in page_messages(response)[0]
    with recording_server() as (evil, received):
        refused = edit(editor_client, copy, custom_base_uri=evil)
        assert refused.status_code == 400 and "This field is required" in refused.content.decode()
        started = editor_client.post(reverse("clients:grant", args=[copy.pk]), follow=True)
        assert "has no Client Secret stored" in page_messages(started)[0]
        editor_client.post(reverse("clients:test_connection", args=[copy.pk]))
    assert received == []
    copy.refresh_from_db()
    assert copy.config["base_url"] == sandbox.url
