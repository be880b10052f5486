"""The Incoming form refuses bad input with the reason, before any call to Exact."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import HttpClient, OAuthGrant
from connections.models import Incoming
from exact_online.models import ExactAccess

pytestmark = pytest.mark.django_db


@pytest.fixture
def http_client():
    client = HttpClient.objects.create(name="Exact", kind="exact_online", status="granted",
                                       config={"base_url": "http://127.0.0.1:9", "client_id": "x"})
    OAuthGrant.objects.create(client=client)
    ExactAccess.objects.create(client=client, default_division=101001, current_division=101001,
                               divisions=[{"code": 101001}])
    return client


def form_data(http_client, **overrides):
    data = {"name": "Accounts in", "subscriber": "exact_online", "entity": "crm/Accounts", "divisions": "default",
            "division_codes": "", "endpoint": "auto", "http_client": http_client.pk, "pagination": "on",
            "enabled": "on", "filter": "", "select": "", "orderby": "", "top": "", "other_query": "", "path_text": ""}
    data.update(overrides)
    return data


def test_a_valid_incoming_is_saved_with_its_config_path_and_query(editor_client, http_client):
    response = editor_client.post(reverse("connections:incoming_create"), form_data(
        http_client, filter="Blocked eq false", select="ID,Name,Modified", top="100", other_query="$inlinecount=none"))
    assert response.status_code == 302, response.content.decode()[:2000]
    incoming = Incoming.objects.get(name="Accounts in")
    assert incoming.config == {"entity": "crm/Accounts", "divisions": "default", "division_codes": [],
                               "endpoint": "auto"}
    assert incoming.query == {"$inlinecount": "none", "$filter": "Blocked eq false", "$select": "ID,Name,Modified",
                              "$top": "100"}


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"entity": "crm/Acounts"}, "Unknown entity"),
    ({"entity": "system/Me"}, "Unknown entity"),
    ({"filter": "Nmae eq 'x'"}, "Unknown property"),
    ({"filter": "Name eq 'x"}, "Unbalanced quote"),
    ({"filter": "(Name eq 'x'"}, "Unbalanced parentheses"),
    ({"filter": "ID eq 'abc'"}, "is a Guid"),
    ({"select": "ID,Nmae"}, "Unknown $select property"),
    ({"select": "*"}, "$select=*"),
    ({"divisions": "selected", "division_codes": ""}, "Path parameter division is missing"),
    ({"division_codes": "abc", "divisions": "selected"}, "is not a division code"),
    ({"path_text": "division"}, "is not key=value"),
    ({"endpoint": "bulk", "entity": "crm/BankAccounts"}, "has no bulk endpoint"),
    ({"orderby": "Modified sideways"}, "asc or desc"),
])
def test_bad_input_is_rejected_with_the_reason(editor_client, http_client, overrides, reason):
    response = editor_client.post(reverse("connections:incoming_create"), form_data(http_client, **overrides))
    assert response.status_code == 400
    assert reason in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert not Incoming.objects.exists()


def test_an_entity_that_cannot_be_read_is_refused(editor_client, http_client):
    from exact_online.catalog import catalog

    write_only = next(e for e in catalog() if not e.supports("GET"))  # e.g. crm/AcceptQuotation
    response = editor_client.post(reverse("connections:incoming_create"),
                                  form_data(http_client, entity=write_only.endpoint))
    assert response.status_code == 400
    assert "cannot be read" in response.content.decode()


def test_a_client_without_a_granted_division_needs_division_codes(editor_client):
    bare = HttpClient.objects.create(name="Bare", kind="exact_online",
                                     config={"base_url": "http://x", "client_id": "y"})
    response = editor_client.post(reverse("connections:incoming_create"), form_data(bare))
    assert response.status_code == 400
    assert "Path parameter division is missing" in response.content.decode()


def test_the_preview_shows_the_final_url_or_the_reasons(editor_client, http_client):
    url = reverse("connections:incoming_preview")
    ok = editor_client.get(url, form_data(http_client, select="ID,Name", top="5")).content.decode()
    assert "/api/v1/101001/sync/CRM/Accounts?" in ok and "Timestamp" in ok
    bad = editor_client.get(url, form_data(http_client, filter="Foo eq 1")).content.decode()
    assert "Unknown property" in bad and "request-url" not in bad


def test_the_entity_panel_shows_endpoint_kind_methods_key_and_properties(editor_client, http_client):
    html = editor_client.get(reverse("connections:incoming_fields"), form_data(http_client)).content.decode()
    assert 'data-testid="entity-details"' in html
    assert "crm/Accounts" in html and "bulk/CRM/Accounts" in html and "sync/CRM/Accounts" in html
    assert "GET, POST, PUT, DELETE" in html and "Edm.Guid" in html and "Last modified date" in html


def test_viewers_see_incoming_but_cannot_create_or_run(viewer_client, http_client):
    incoming = Incoming.objects.create(name="x", subscriber="exact_online", http_client=http_client,
                                       config={"entity": "crm/Accounts"})
    assert viewer_client.get(reverse("connections:incoming_list")).status_code == 200
    assert viewer_client.get(reverse("connections:incoming_detail", args=[incoming.pk])).status_code == 200
    assert viewer_client.get(reverse("connections:incoming_create")).status_code == 403
    assert viewer_client.post(reverse("connections:incoming_run", args=[incoming.pk])).status_code == 403
