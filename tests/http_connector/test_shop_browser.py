"""Browser: an HTTP Client for the demo webshop (API key), an HTTP Subscriber for its orders with Link paging and
an incremental cursor (Fetch sample shows orders), an HTTP Publisher, and a route that runs on a real worker."""

from __future__ import annotations

import pytest

from clients.models import HttpClient
from connections.models import Incoming, IncomingCursor, Outgoing, Task, Transformer
from tests.fixtures.browser import login_as, screenshot, wait_for_js


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_shop_client_subscriber_publisher_and_a_route_run(browser_page, live_server, editor_user, sandbox_factory,
                                                          celery_worker_process):
    own_sandbox = sandbox_factory()  # the route writes to the shop's orders: leave the shared sandbox alone
    key = own_sandbox.shop.create_key("browser test")
    Transformer.objects.create(name="Mark order synced", steps=[
        {"type": "expression", "params": {"expression": "{path: {id: id}, payload: {note: 'synced by route'}}"}}])
    worker = celery_worker_process(concurrency=2)
    page = browser_page
    try:
        login_as(page, live_server.url, editor_user.username)

        # --- HTTP Client (API key) and Test connection -------------------------------------------------
        page.goto(f"{live_server.url}/clients/new/")
        page.fill("#id_name", "Demo shop")
        page.select_option("#id_kind", "http")
        page.wait_for_selector("#id_base_url")
        page.fill("#id_base_url", own_sandbox.shop.api_url)
        page.select_option("#id_auth", "api_key")
        page.fill("#id_api_key_name", "X-API-Key")
        page.fill("#id_api_key", key)
        page.fill("#id_test_path", "/orders?limit=1")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=created")
        client = HttpClient.objects.get(name="Demo shop")
        assert key not in page.content() and client.get_secret("api_key") == key
        page.click("text=Test connection")
        page.wait_for_selector("[data-testid=test-preview]")
        assert "answered HTTP 200" in page.inner_text("[data-testid=test-result]")
        screenshot(page, "http-client-test-connection")

        # --- HTTP Subscriber: orders, Link paging, incremental cursor; Fetch sample --------------------
        page.goto(f"{live_server.url}/connections/incoming/create/")
        page.fill("#id_name", "Shop orders")
        page.select_option("#id_subscriber", "http")
        page.wait_for_selector("#id_request_path")
        page.fill("#id_request_path", "/orders")
        page.fill("#id_items", "data")
        page.select_option("#id_paging", "link")
        page.fill("#id_size_param", "limit")
        page.fill("#id_page_size", "10")
        page.fill("#id_cursor_field", "updated_at")
        page.fill("#id_cursor_query", "updated_after")
        page.check("#id_incremental")
        page.select_option("#id_http_client", str(client.pk))
        page.click("[data-testid=fetch-sample]")
        page.wait_for_selector("#sample :is([data-testid=sample-summary], .error-summary)")
        assert page.query_selector("[data-testid=sample-summary]"), page.inner_text("#sample")
        assert "5 entities" in page.inner_text("[data-testid=sample-summary]")
        assert "lines" in page.inner_text("#sample")
        screenshot(page, "http-subscriber-sample")
        page.click("button[type=submit].primary")
        page.wait_for_selector("[data-testid=run-now]")
        incoming = Incoming.objects.get(name="Shop orders")
        assert incoming.config["paging"] == "link" and incoming.incremental

        # --- HTTP Publisher -----------------------------------------------------------------------------
        page.goto(f"{live_server.url}/connections/outgoing/create/")
        page.fill("#id_name", "Mark shop orders")
        page.select_option("#id_publisher", "http")
        page.wait_for_selector("#id_success")
        page.fill("#id_entity", "/orders/{id}")
        page.select_option("#id_action", "patch")  # re-renders the dependent block with the values typed so far
        page.wait_for_selector("#id_entity[value='/orders/{id}']")
        page.fill("#id_idempotency_header", "Idempotency-Key")
        page.select_option("#id_http_client", str(client.pk))
        page.click("button[type=submit].primary")
        page.wait_for_selector(":is(:text('Outgoing Mark shop orders created.'), .error-summary)")
        assert Outgoing.objects.filter(name="Mark shop orders").exists(), page.inner_text("main")
        assert Outgoing.objects.get(name="Mark shop orders").entity == "/orders/{id}"

        # --- Route: run now on the worker --------------------------------------------------------------
        page.goto(f"{live_server.url}/connections/routes/create/")
        page.fill("#id_name", "Mark orders synced")
        page.select_option("#id_incoming", label="Shop orders")
        page.select_option("#id_transformer_1", label="Mark order synced")
        page.select_option("#id_outgoing", label="Mark shop orders")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Route Mark orders synced created.")
        page.click("[data-testid=run-now]")
        page.wait_for_selector("text=started")
        total = own_sandbox.shop.session(key).get(f"{own_sandbox.shop.api_url}/orders?limit=250", timeout=10).json()
        count = len(total["data"])
        # The page stops polling when the run ends; its counters are then final.
        wait_for_js(page, "!document.querySelector('#route-status[hx-get]')", timeout=180_000)
        status = page.inner_text("#route-status")
        screenshot(page, "http-route-run")
        # The shop lists orders by updated_at with a keyset cursor and publishing starts while reading goes on, so
        # an order patched before the reader reaches the last page is listed again (its updated_at moved past the
        # cursor) and gets a second task: as with Exact's sync reads, every order is done at least once, none fails.
        tasks = Task.objects.filter(incoming=incoming)
        assert set(tasks.values_list("status", flat=True)) == {Task.Status.FINISHED}, status
        assert tasks.values("identifier").distinct().count() == count, status
        finished = page.inner_text("[data-testid=count-finished]").strip()
        assert finished == str(tasks.count()) and int(finished) >= count, status
        assert "Succeeded" in status, status
        assert IncomingCursor.objects.get(incoming=incoming).kind == "max"
        orders = own_sandbox.shop.session(key).get(f"{own_sandbox.shop.api_url}/orders?limit=250", timeout=10).json()
        assert {order["note"] for order in orders["data"]} == {"synced by route"}
    finally:
        worker.kill()
