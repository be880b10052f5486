"""Delete confirms and names what depends on the client; duplicate copies the configuration, not the secrets or
the grant."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import reverse

from clients.models import HttpClient, OAuthGrant

from .oauth_helpers import make_client

pytestmark = pytest.mark.django_db


def test_delete_asks_first_then_deletes(editor_client):
    client = make_client("https://start.exactonline.nl", name="Old one")
    url = reverse("clients:delete", args=[client.pk])
    page = editor_client.get(url).content.decode()
    assert "Delete “Old one”?" in page and "No connections use this client" in page
    response = editor_client.post(url)
    assert response.status_code == 302 and not HttpClient.objects.filter(pk=client.pk).exists()


def test_delete_names_the_connections_that_use_the_client_and_refuses(editor_client):
    client = make_client("https://start.exactonline.nl", name="In use")
    incoming_model = next(
        (rel.related_model for rel in HttpClient._meta.related_objects
         if rel.related_model._meta.app_label == "connections" and rel.related_model.__name__ == "Incoming"), None)
    if incoming_model is None:
        pytest.skip("the connections app has no model pointing at HttpClient yet")
    incoming_model.objects.create(name="Accounts from Exact", subscriber="exact_online", http_client=client)
    url = reverse("clients:delete", args=[client.pk])
    page = editor_client.get(url).content.decode()
    assert "Accounts from Exact" in page and "cannot be deleted" in page
    response = editor_client.post(url, follow=True)
    assert HttpClient.objects.filter(pk=client.pk).exists()
    assert "is used by" in response.content.decode() and "Accounts from Exact" in response.content.decode()
    assert apps.get_app_config("connections")


def test_duplicate_copies_configuration_but_neither_secrets_nor_the_grant(editor_client):
    client = make_client("https://start.exactonline.be", name="BE")
    OAuthGrant.objects.create(client=client, refresh_token="r", access_token="a")
    client.status = HttpClient.Status.GRANTED
    client.save()
    response = editor_client.post(reverse("clients:duplicate", args=[client.pk]))
    copy = HttpClient.objects.exclude(pk=client.pk).get()
    assert response["Location"] == reverse("clients:edit", args=[copy.pk])
    assert copy.name == "Copy of BE" and copy.config == client.config
    assert copy.get_secrets() == {} and copy.secrets == ""
    assert copy.status == HttpClient.Status.NOT_GRANTED and copy.grant_or_none is None
