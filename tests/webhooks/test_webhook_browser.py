"""Browser: create a webhook feeding a route, Send test, watch the delivery become a task on a real worker;
a delivery that fails to parse is replayed from its page after fixing the configuration."""

from __future__ import annotations

import json

import pytest
import requests

from clients.models import HttpClient
from connections.models import Outgoing, Route
from tests.fixtures.browser import login_as, screenshot
from webhooks.models import Delivery, Webhook

from .conftest import sign


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_create_a_webhook_send_a_test_and_replay_a_failed_delivery(browser_page, live_server, editor_user,
                                                                   celery_worker_process):
    client = HttpClient.objects.create(name="Target", kind="exact_online", config={})
    outgoing = Outgoing.objects.create(name="Orders out", publisher="exact_online", entity="salesorder/SalesOrders",
                                       http_client=client)
    Route.objects.create(name="Shop orders to Exact", outgoing=outgoing)
    celery_worker_process(concurrency=1)
    page = browser_page
    try:
        login_as(page, live_server.url, editor_user.username)
        page.click("nav.sidenav >> text=Webhooks")
        page.wait_for_selector("text=No webhooks yet")
        page.click("text=Create Webhook")
        page.fill("#id_name", "Shop orders")
        page.fill("#id_items_path", "orders")
        page.fill("#id_identifier_path", "id")
        page.check("#id_use_hmac")
        page.fill("#id_hmac_prefix", "sha256=")
        page.fill("#id_hmac_secret", "shop-hmac-secret")
        page.check("text=Shop orders to Exact")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Webhook Shop orders created.")
        hook = Webhook.objects.get(name="Shop orders")
        assert page.input_value("[data-testid=hook-url]").endswith(f"/hooks/{hook.token}/")

        # Send test: signed by the product itself, stored, processed by the worker into a task.
        page.click("[data-testid=send-test]")
        page.wait_for_selector("text=Test sent: HTTP 202")
        row = page.locator("[data-testid=delivery-row]").first
        row.locator("text=Processed").wait_for(timeout=30_000)  # the table polls while a delivery waits
        assert row.locator("td").nth(5).inner_text() == "1"
        row.locator("a").first.click()
        page.wait_for_selector("[data-testid=delivery-tasks] >> text=T-1")

        # A delivery whose items are elsewhere fails to parse, is kept, and replays after the fix.
        body = json.dumps({"data": [{"id": "W-7"}, {"id": "W-8"}]}).encode()
        response = requests.post(f"{live_server.url}{hook.hook_path}", data=body, timeout=10,
                                 headers={"Content-Type": "application/json",
                                          "X-Signature": sign(body, "shop-hmac-secret")})
        assert response.status_code == 202
        failed = Delivery.objects.get(pk=response.json()["delivery"])
        page.goto(f"{live_server.url}{failed.get_absolute_url()}")
        for _ in range(60):
            failed.refresh_from_db()
            if failed.status == Delivery.Status.FAILED:
                break
            page.wait_for_timeout(500)
        page.reload()
        page.wait_for_selector("[data-testid=delivery-error] >> text=found nothing")
        page.goto(f"{live_server.url}/connections/webhooks/{hook.pk}/edit/")
        page.fill("#id_items_path", "data")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Webhook Shop orders saved.")
        page.goto(f"{live_server.url}{failed.get_absolute_url()}")
        page.click("[data-testid=replay]")
        page.wait_for_selector("text=queued again")
        for _ in range(60):
            failed.refresh_from_db()
            if failed.status == Delivery.Status.PROCESSED:
                break
            page.wait_for_timeout(500)
        page.reload()
        page.wait_for_selector("[data-testid=delivery-tasks] >> text=W-8")
        assert page.inner_text("[data-testid=tasks-created]") == "2"
    finally:
        screenshot(page, "webhook-browser")
