"""``${NAME}`` on save: the forms store the reference, refuse an unknown name, check the value it resolves to;
the pages of a client whose Base URI is a variable work; a changed Base URI variable drops the bound secrets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import HttpClient
from configuration.models import Variable
from connections.models import Transformer

pytestmark = pytest.mark.django_db

GUID = "b81cc4de-d192-400e-bcb4-09254394c52a"


def shop_form(**fields):
    return {"name": "Shop", "kind": "http", "base_url": "${SHOP_URL}", "timeout": "10", "verify_tls": "on",
            "auth": "bearer", "token": "${SHOP_TOKEN}", "api_key_in": "header", "test_path": "/x", **fields}


def test_a_generic_client_stores_references_and_its_pages_work(editor_client):
    refused = editor_client.post(reverse("clients:create"), shop_form())
    assert refused.status_code == 400 and b"Unknown environment variables: ${SHOP_TOKEN}, ${SHOP_URL}" \
        in refused.content and not HttpClient.objects.exists()

    Variable.objects.create(name="SHOP_URL", value="not a url")
    Variable.objects.create(name="SHOP_TOKEN", encrypted=True, secret="t-777")
    refused = editor_client.post(reverse("clients:create"), shop_form())
    assert refused.status_code == 400 and b"With the variables&#x27; values: base_url" in refused.content

    Variable.objects.filter(name="SHOP_URL").update(value="http://127.0.0.1:9/api")
    assert editor_client.post(reverse("clients:create"), shop_form()).status_code == 302
    client = HttpClient.objects.get(name="Shop")
    assert client.config["base_url"] == "${SHOP_URL}" and client.get_secrets() == {"token": "${SHOP_TOKEN}"}
    for url in (reverse("clients:detail", args=[client.pk]), reverse("clients:edit", args=[client.pk]),
                reverse("clients:list")):
        page = editor_client.get(url)
        assert page.status_code == 200 and b"t-777" not in page.content


def test_an_exact_client_id_and_base_uri_may_be_variables_and_a_new_value_drops_the_secrets(editor_client):
    Variable.objects.create(name="EXACT_URL", value="http://127.0.0.1:8001")
    Variable.objects.create(name="EXACT_CLIENT_ID", value=GUID)
    response = editor_client.post(reverse("clients:create"), {
        "name": "Exact", "kind": "exact_online", "base_uri": "custom", "custom_base_uri": "${EXACT_URL}",
        "client_id": "${EXACT_CLIENT_ID}", "client_secret": "cs-1", "scopes": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    client = HttpClient.objects.get(name="Exact")
    assert client.config["base_url"] == "${EXACT_URL}" and client.config["client_id"] == "${EXACT_CLIENT_ID}"
    assert editor_client.get(reverse("clients:detail", args=[client.pk])).status_code == 200

    variable = Variable.objects.get(name="EXACT_URL")
    page = editor_client.post(reverse("configuration:variable_edit", args=[variable.pk]),
                              {"name": "EXACT_URL", "description": "", "new_value": "http://localhost:8001"},
                              follow=True)
    assert b"were removed" in page.content
    client.refresh_from_db()
    assert client.get_secrets() == {}  # a stored secret is never sent to a new address


def test_a_transformer_with_an_unknown_variable_does_not_save():
    from django.core.exceptions import ValidationError

    transformer = Transformer(name="t", steps=[{"type": "set_value", "params": {"path": "a", "template": "${NOPE}"}}])
    with pytest.raises(ValidationError, match=r"\$\{NOPE\}"):
        transformer.full_clean()
    Variable.objects.create(name="NOPE", value="x")
    transformer.full_clean()
