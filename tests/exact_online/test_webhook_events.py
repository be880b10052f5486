"""Exact Online events at the hook: the validation ping, the HashCode check, coalescing per key."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from clients.models import HttpClient
from exact_online.models import ExactChange
from exact_online.webhooks import sign_content, webhook_for
from webhooks.models import Delivery, Rejection
from webhooks.processing import process_delivery

pytestmark = pytest.mark.django_db
SECRET = "exact-webhook-secret-31"


@pytest.fixture
def hook():
    client = HttpClient.objects.create(name="Exact", kind="exact_online", config={"base_url": "http://x"})
    client.set_secrets({"webhook_secret": SECRET})
    client.save()
    return webhook_for(client, create=True)


def _event(key: str = "7c3a3cf2-6a34-4f8e-9b39-0b6b0e2b4f11", action: str = "Update", secret: str = SECRET) -> bytes:
    content = json.dumps({"Topic": "Accounts", "ClientId": "c", "Division": 101001, "Action": action, "Key": key,
                          "ExactOnlineEndpoint": "x", "EventCreatedOn": "2026-01-06T16:26:08.587"},
                         separators=(",", ":"))
    return ('{"Content":' + content + ',"HashCode":"' + sign_content(content, secret) + '"}').encode()


def _post(hook, body: bytes, content_type: str = "application/json"):
    return Client().generic("POST", hook.hook_path, body, content_type=content_type)


def test_the_validation_ping_is_answered_200_and_not_stored(hook):
    assert _post(hook, b"", content_type="").status_code == 200
    assert not Delivery.objects.exists()


def test_a_signed_event_is_stored_and_answered_200(hook):
    response = _post(hook, _event())
    assert response.status_code == 200  # Exact retries anything but 200/201
    assert Delivery.objects.get(webhook=hook).status == Delivery.Status.RECEIVED


@pytest.mark.parametrize("body", [
    _event(secret="not the secret"),
    _event().replace(b'"Update"', b'"Delete"'),  # content changed after signing
    b'{"Content":{"Topic":"Accounts"}}',
    b"[]",
])
def test_a_bad_hashcode_is_401_and_counted(hook, body):
    assert _post(hook, body).status_code == 401
    assert Rejection.objects.get(webhook=hook, status=401).count == 1
    assert not Delivery.objects.exists()


def test_a_lowercase_hashcode_is_accepted(hook):
    body = _event()
    start = body.index(b'"HashCode":"') + 12
    body = body[:start] + body[start:].lower()
    assert _post(hook, body).status_code == 200


def test_without_a_webhook_secret_every_event_is_refused(hook):
    client = HttpClient.objects.get(pk=hook.config["http_client"])
    client.secrets = ""
    client.save()
    assert _post(hook, _event()).status_code == 401


def test_events_for_one_key_coalesce_into_one_pending_change(hook):
    key = "7c3a3cf2-6a34-4f8e-9b39-0b6b0e2b4f11"
    for n in range(5):
        delivery_id = _post(hook, _event(key=key) + b" " * n).json()["delivery"]  # distinct bodies, one key
        assert process_delivery(delivery_id) == "processed"
    other = _post(hook, _event(key="0b1e4c1c-5d0a-4a5e-8a8e-1b2c3d4e5f60", action="Delete")).json()["delivery"]
    process_delivery(other)
    changes = {c.key: c for c in ExactChange.objects.filter(webhook=hook)}
    assert changes[key].events == 5 and changes[key].status == ExactChange.Status.PENDING
    assert changes[key].due_at > timezone.now() - timedelta(seconds=1)
    assert changes["0b1e4c1c-5d0a-4a5e-8a8e-1b2c3d4e5f60"].action == "Delete"


def test_an_identical_retry_of_exact_is_a_duplicate(hook):
    body = _event()
    first, again = (_post(hook, body).json()["delivery"] for _ in range(2))
    assert [process_delivery(first), process_delivery(again)] == ["processed", "duplicate"]
    assert ExactChange.objects.get().events == 1


def test_send_test_verifies_the_hashcode_but_fetches_nothing(hook, editor_client):
    from django.urls import reverse

    response = editor_client.post(reverse("webhooks:send_test", args=[hook.pk]), follow=True)
    delivery = Delivery.objects.get(webhook=hook)
    assert "Test sent: HTTP 200" in response.content.decode()
    assert process_delivery(delivery.pk) == "processed"
    assert not ExactChange.objects.exists()


def test_the_edit_form_of_an_exact_hook_keeps_its_checks(hook, editor_client):
    from django.urls import reverse

    page = editor_client.get(reverse("webhooks:edit", args=[hook.pk])).content.decode()
    assert "HashCode" in page and 'name="use_hmac"' not in page
    response = editor_client.post(reverse("webhooks:edit", args=[hook.pk]),
                                  {"name": "Exact events", "enabled": "on", "dedup_window_seconds": 600})
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.kind, hook.validation, hook.dedup_window_seconds) == ("Exact events", "exact_online", {},
                                                                                 600)
