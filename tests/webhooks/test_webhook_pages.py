"""Connections → Webhooks pages: create and edit (secrets write-only), deliveries with the body redacted,
Send test through the hook's own checks, Replay; a route with a webhook as its source."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from connections.models import Incoming, Route
from tests.connections.routes.test_route_pages import route_form
from webhooks.models import Delivery, Webhook
from webhooks.processing import process_delivery

pytestmark = pytest.mark.django_db

SECRET = "whsec-Zq8-never-shown"


def _form(**overrides):
    data = {"name": "Shop orders", "enabled": "on", "parser": "json", "items_path": "orders", "delimiter": ",",
            "quotechar": '"', "header": "on", "identifier_path": "id", "dedup_header": "X-Delivery-Id",
            "dedup_window_seconds": 3600, "use_hmac": "on", "hmac_header": "X-Shop-Signature",
            "hmac_algorithm": "sha256", "hmac_encoding": "base64", "hmac_prefix": "", "hmac_secret": SECRET,
            "secret_header": "X-Webhook-Secret", "timestamp_header": "X-Timestamp", "timestamp_tolerance": 300,
            "ip_allowlist": "", "sample": ""}
    data.update(overrides)
    return data


def test_an_editor_creates_a_webhook_feeding_a_route_and_never_sees_its_secret_again(editor_client, make_route):
    route = make_route()
    response = editor_client.post(reverse("webhooks:create"), _form(routes=[route.pk]))
    assert response.status_code == 302
    hook = Webhook.objects.get(name="Shop orders")
    assert len(hook.token) >= 32
    assert hook.validation["hmac"] == {"header": "X-Shop-Signature", "algorithm": "sha256", "encoding": "base64",
                                       "prefix": ""}
    assert hook.get_secret("hmac_secret") == SECRET
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT secrets FROM webhooks_webhook WHERE id = %s", [hook.pk])
        assert SECRET not in cursor.fetchone()[0]
    route.refresh_from_db()
    assert route.webhook == hook
    for url in (hook.get_absolute_url(), reverse("webhooks:edit", args=[hook.pk]), reverse("webhooks:list")):
        page = editor_client.get(url).content.decode()
        assert SECRET not in page
    page = editor_client.get(hook.get_absolute_url()).content.decode()
    assert hook.url in page and route.name in page
    # Saving again with the secret left empty keeps it.
    assert editor_client.post(reverse("webhooks:edit", args=[hook.pk]),
                              _form(hmac_secret="", routes=[route.pk])).status_code == 302
    hook.refresh_from_db()
    assert hook.get_secret("hmac_secret") == SECRET


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"items_path": "orders[", "hmac_secret": "x"}, "items_path", "Not valid JMESPath"),
    ({"hmac_secret": ""}, "hmac_secret", "Give the secret"),
    ({"ip_allowlist": "10.0.0.0/8\nnot-an-ip"}, "ip_allowlist", "not an IP address"),
    ({"parser": "csv", "delimiter": ""}, "delimiter", "One character"),
])
def test_bad_configurations_are_refused_next_to_the_field(editor_client, overrides, field, message):
    response = editor_client.post(reverse("webhooks:create"), _form(**overrides))
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not Webhook.objects.exists()


def test_send_test_posts_a_signed_sample_through_the_hooks_checks(editor_client, make_route):
    route = make_route()
    editor_client.post(reverse("webhooks:create"), _form(routes=[route.pk], use_timestamp="on",
                                                         use_basic="on", basic_username="shop",
                                                         basic_password="pw-9", sample=""))
    hook = Webhook.objects.get()
    response = editor_client.post(reverse("webhooks:send_test", args=[hook.pk]), follow=True)
    delivery = Delivery.objects.get(webhook=hook)
    assert delivery.is_test
    assert f"stored as delivery {delivery.pk}" in response.content.decode()
    assert process_delivery(delivery.pk) == "processed"
    delivery.refresh_from_db()
    assert delivery.tasks_created == 1
    page = editor_client.get(delivery.get_absolute_url()).content.decode()
    assert "T-1" in page and "pw-9" not in page and SECRET not in page


def test_the_delivery_page_shows_the_error_and_replays(editor_client, viewer_client, fed_route):
    hook, _route = fed_route
    delivery = Delivery.objects.create(webhook=hook, body=b'{"nope": 1}', content_type="application/json", size=11)
    process_delivery(delivery.pk)
    page = viewer_client.get(delivery.get_absolute_url()).content.decode()
    assert "found nothing" in page and 'data-testid="replay"' not in page  # viewers cannot replay
    assert viewer_client.post(reverse("webhooks:replay", args=[hook.pk, delivery.pk])).status_code == 403
    response = editor_client.post(reverse("webhooks:replay", args=[hook.pk, delivery.pk]), follow=True)
    assert "queued again" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.RECEIVED


def test_a_route_can_have_a_webhook_instead_of_an_incoming(editor_client, make_route, make_webhook):
    hook = make_webhook()
    data = route_form(None, make_route, incoming="", webhook=hook.pk, schedule_kind="none", cron="")
    response = editor_client.post(reverse("connections:route_create"), data)
    assert response.status_code == 302, response.context["form"].errors
    route = Route.objects.get(name="Accounts A to B")
    assert route.incoming is None and route.webhook == hook
    page = editor_client.get(route.get_absolute_url()).content.decode()
    assert 'data-testid="route-webhook"' in page and 'data-testid="run-now"' not in page
    response = editor_client.post(reverse("connections:route_run", args=[route.pk]), follow=True)
    assert "its webhook feeds it" in response.content.decode()


def test_a_route_needs_a_source_and_a_schedule_needs_an_incoming(editor_client, make_route, make_webhook):
    hook = make_webhook()
    response = editor_client.post(reverse("connections:route_create"),
                                  route_form(None, make_route, incoming="", schedule_kind="none", cron=""))
    assert response.status_code == 400 and "Choose an Incoming" in response.content.decode()
    response = editor_client.post(reverse("connections:route_create"),
                                  route_form(None, make_route, incoming="", webhook=hook.pk))
    assert response.status_code == 400 and "A schedule runs the Incoming" in response.content.decode()


def test_the_list_has_an_empty_state_and_counts(viewer_client, make_webhook):
    assert "No webhooks yet" in viewer_client.get(reverse("webhooks:list")).content.decode()
    make_webhook()
    page = viewer_client.get(reverse("webhooks:list")).content.decode()
    assert "shop orders" in page


def test_a_new_url_cuts_off_the_old_one(editor_client, make_webhook):
    from django.test import Client

    from .conftest import post

    hook = make_webhook()
    old_path = hook.hook_path
    response = editor_client.post(reverse("webhooks:new_url", args=[hook.pk]), follow=True)
    assert "has a new URL" in response.content.decode()
    hook.refresh_from_db()
    assert hook.hook_path != old_path
    assert Client().post(old_path, b"{}", content_type="application/json").status_code == 404
    assert post(Client(), hook, {"orders": []}).status_code == 202


def test_a_route_fed_by_events_that_may_be_missed_reconciles_on_a_schedule_by_default(editor_client, make_route):
    """Exact Online's events are not guaranteed: the route needs an incremental Incoming and gets a schedule."""
    hook = Webhook.objects.create(name="Exact events", kind="exact_online", config={"http_client": None})
    page = editor_client.get(reverse("connections:route_create") + f"?webhook={hook.pk}").content.decode()
    assert f'<option value="{hook.pk}" selected>' in page
    response = editor_client.post(reverse("connections:route_create"), route_form(
        None, make_route, incoming="", webhook=hook.pk, schedule_kind="none", cron=""))
    assert response.status_code == 400 and "may miss events: choose the Incoming" in response.content.decode()
    data = route_form(None, make_route, webhook=hook.pk, schedule_kind="none", cron="")
    response = editor_client.post(reverse("connections:route_create"), data)
    assert response.status_code == 400 and "tick Incremental on it" in response.content.decode()
    Incoming.objects.filter(pk=data["incoming"]).update(incremental=True)
    response = editor_client.post(reverse("connections:route_create"), data, follow=True)
    route = Route.objects.get(name="Accounts A to B")
    assert route.schedule_kind == Route.ScheduleKind.INTERVAL and route.interval_seconds == 900
    assert route.periodic_task is not None and "reconciles by reading" in response.content.decode()


def test_webhook_pages_show_moments_in_the_sites_one_format(viewer_client, fed_route):
    hook, _route = fed_route
    delivery = Delivery.objects.create(webhook=hook, body=b'{"nope": 1}', content_type="application/json", size=11)
    process_delivery(delivery.pk)  # fails: a processed time beside the received one
    from webhooks.models import Rejection

    Rejection.objects.create(webhook=hook, status=401, count=1, last_reason="bad signature")
    pages = [viewer_client.get(url).content.decode() for url in (hook.get_absolute_url(), delivery.get_absolute_url())]
    # The site's `when` (a <time> with the relative time as its tooltip), not a bare Y-m-d H:i:s of its own.
    assert pages[0].count('<time datetime="') >= 2  # the delivery row and the refused requests' last time
    assert pages[1].count('<time datetime="') >= 2  # received and last attempt


def test_a_webhook_feeding_a_route_is_refused_before_asking_as_an_incoming_is(editor_client, fed_route, make_webhook):
    hook, route = fed_route
    page = editor_client.get(hook.get_absolute_url()).content.decode()
    assert 'data-testid="delete-blocked"' in page and reverse("webhooks:delete", args=[hook.pk]) not in page
    assert "Used by 1 route" in page and route.name in page
    response = editor_client.post(reverse("webhooks:delete", args=[hook.pk]), follow=True)
    assert Webhook.objects.filter(pk=hook.pk).exists() and "remove it from them first" in response.content.decode()
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):  # every other way (the API, a shell) meets the database's refusal
        hook.delete()
    unused = make_webhook("unused")
    page = editor_client.get(unused.get_absolute_url()).content.decode()
    assert 'data-confirm="Delete the webhook unused and its 0 deliveries?' in page
    editor_client.post(reverse("webhooks:delete", args=[unused.pk]))
    assert not Webhook.objects.filter(pk=unused.pk).exists()
