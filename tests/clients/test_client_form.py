"""Creating and editing an Exact Online HTTP Client: labels, validation of bad input, write-only secrets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from clients.models import HttpClient
from exact_online.client_type import redirect_uri

pytestmark = pytest.mark.django_db

GUID = "b81cc4de-d192-400e-bcb4-09254394c52a"
SECRET = "s3cr3t-value-never-shown"


def post(browser, url=None, **overrides):
    data = {"name": "NL production", "kind": "exact_online", "base_uri": "https://start.exactonline.nl",
            "custom_base_uri": "", "client_id": GUID, "client_secret": SECRET, "scopes": "", "log_requests": "on"}
    data.update(overrides)
    return browser.post(url or reverse("clients:create"), data)


def test_create_page_has_the_documented_labels_and_the_redirect_uri(editor_client):
    body = editor_client.get(reverse("clients:create")).content.decode()
    for label in ("Name", "Base URI", "Client ID", "Client Secret", "Scopes", "Log requests", "Redirect URI",
                  "Exact Online HTTP Client"):
        assert label in body
    assert redirect_uri() in body and "data-copy-target" in body


def test_create_stores_config_and_encrypts_the_secret(editor_client, editor_user):
    response = post(editor_client)
    client = HttpClient.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("clients:detail", args=[client.pk])
    assert client.config == {"base_url": "https://start.exactonline.nl", "client_id": GUID, "scopes": ""}
    assert client.get_secret("client_secret") == SECRET and client.log_requests and client.created_by == editor_user
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets FROM {HttpClient._meta.db_table} WHERE id = %s", [client.pk])
        raw = cursor.fetchone()[0]
    assert SECRET not in raw and raw.startswith("fernet:")
    assert client.status == HttpClient.Status.NOT_GRANTED


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"base_uri": "custom", "custom_base_uri": ""}, "Enter the custom Base URI"),
        ({"base_uri": "custom", "custom_base_uri": "start.exactonline.nl"}, "Enter a full URL"),
        ({"base_uri": "custom", "custom_base_uri": "ftp://x.example"}, "Enter a full URL"),
        ({"base_uri": "custom", "custom_base_uri": "http://exact.example.com"}, "Use https://"),
        ({"base_uri": "https://evil.example"}, "Select a valid choice"),
        ({"client_id": "not-a-guid"}, "The Client ID must be a GUID"),
        ({"client_id": ""}, "This field is required"),
        ({"scopes": "crm; drop table"}, "Scopes may only contain"),
        ({"client_secret": ""}, "This field is required"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_input_is_refused_with_a_message_next_to_the_field(editor_client, overrides, field_error, settings):
    settings.DEBUG = False
    response = post(editor_client, **overrides)
    assert response.status_code == 400
    body = response.content.decode()
    assert field_error in body and "Please correct the errors below." in body
    assert not HttpClient.objects.exists()
    assert SECRET not in body  # a secret is never echoed back, not even on a form with errors


def test_custom_base_uri_for_the_sandbox(editor_client):
    post(editor_client, base_uri="custom", custom_base_uri="http://127.0.0.1:8001/api/")
    assert HttpClient.objects.get().config["base_url"] == "http://127.0.0.1:8001"


def test_edit_keeps_the_secret_when_left_empty_and_never_renders_it(editor_client):
    post(editor_client)
    client = HttpClient.objects.get()
    url = reverse("clients:edit", args=[client.pk])
    page = editor_client.get(url).content.decode()
    assert SECRET not in page and "leave empty to keep" in page.lower()
    assert 'value="' + GUID + '"' in page
    response = post(editor_client, url, name="Renamed", client_secret="", scopes="Crm accounts")
    assert response.status_code == 302
    client.refresh_from_db()
    assert client.name == "Renamed" and client.get_secret("client_secret") == SECRET
    assert client.config["scopes"] == "Crm accounts"
    post(editor_client, url, client_secret="a-new-one")
    client.refresh_from_db()
    assert client.get_secret("client_secret") == "a-new-one"


def test_detail_page_never_shows_the_secret(viewer_client, editor_client):
    post(editor_client)
    client = HttpClient.objects.get()
    for browser in (viewer_client, editor_client):
        body = browser.get(reverse("clients:detail", args=[client.pk])).content.decode()
        assert SECRET not in body and "stored (hidden)" in body
    editor_page = editor_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "Grant access to Exact Online" in editor_page


def test_list_shows_the_client_and_an_empty_state_first(editor_client):
    assert "No HTTP clients yet" in editor_client.get(reverse("clients:list")).content.decode()
    post(editor_client)
    body = editor_client.get(reverse("clients:list")).content.decode()
    assert "NL production" in body and "Not granted" in body
    assert "NL production" not in editor_client.get(reverse("clients:list"), {"q": "zzz"}).content.decode()


def test_choosing_the_type_re_renders_only_its_field_block(editor_client):
    response = editor_client.get(reverse("clients:create"), {"kind": "exact_online"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "Client ID" in body and "Redirect URI" in body
    assert "<html" not in body and "sidenav" not in body


def test_viewers_see_the_client_but_no_actions(viewer_client, editor_client):
    post(editor_client)
    client = HttpClient.objects.get()
    body = viewer_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "NL production" in body and "Not granted" in body
    assert reverse("clients:grant", args=[client.pk]) not in body
    assert reverse("clients:edit", args=[client.pk]) not in body
    assert viewer_client.post(reverse("clients:grant", args=[client.pk])).status_code == 403
