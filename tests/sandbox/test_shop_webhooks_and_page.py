"""The demo webshop's signed webhooks, its page, its reset and its key command, against a real sandbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

import requests

from tests.fixtures.sandbox import BASE_DIR


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: HMAC-SHA256 over "<timestamp>." + raw body, compared in constant time."""
    expected = hmac.new(secret.encode(), headers["x-shop-timestamp"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-shop-signature"], f"sha256={expected.hexdigest()}")


def test_order_created_and_updated_arrive_signed_with_a_timestamp(sandbox, receiver):
    hook = sandbox.shop.subscribe(receiver.url)
    try:
        shop = sandbox.shop.session(sandbox.shop.create_key("webhooks"))
        api = sandbox.shop.api_url
        order = shop.post(f"{api}/orders", json={"customer": {"email": f"{uuid.uuid4().hex[:8]}@x.invalid"},
                                                 "lines": [{"sku": "ART00010", "quantity": 3}]}, timeout=30).json()
        shop.patch(f"{api}/orders/{order['id']}", json={"status": "paid"}, timeout=30)
        shop.patch(f"{api}/orders/{order['id']}", json={"status": "paid"}, timeout=30)  # no change, no event
        receiver.wait_for(2)
        time.sleep(0.3)
    finally:
        requests.delete(f"{sandbox.url}/sandbox/api/shop/webhooks/{hook['id']}", headers=sandbox.control_headers,
                        timeout=30)
    assert len(receiver.received) == 2
    events = []
    for headers, body in receiver.received:
        assert _verify(hook["secret"], headers, body)
        assert abs(int(headers["x-shop-timestamp"]) - time.time()) < 60
        assert not _verify("whsec_wrong", headers, body)
        assert not _verify(hook["secret"], headers, body + b" ")  # a changed body fails the check
        event = json.loads(body)
        assert headers["x-shop-topic"] == event["type"] and headers["x-shop-event-id"] == event["id"]
        events.append((event["type"], event["data"]["id"], event["data"]["status"]))
    # deliveries go out concurrently, so arrival order is not guaranteed (as with real webhooks)
    assert sorted(events) == [("order.created", order["id"], "pending"), ("order.updated", order["id"], "paid")]
    topics = {d["topic"] for d in sandbox.shop.deliveries() if d["url"] == receiver.url}
    assert topics == {"order.created", "order.updated"}


def test_webhook_subscriptions_through_the_api_hide_the_secret_after_creation(sandbox):
    shop = sandbox.shop.session(sandbox.shop.create_key("hooks api"))
    api = sandbox.shop.api_url
    created = shop.post(f"{api}/webhooks", json={"url": "http://127.0.0.1:9/x", "topics": ["order.created"]},
                        timeout=30)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = shop.get(f"{api}/webhooks", timeout=30).json()["data"]
    assert any(w["id"] == created.json()["id"] and "secret" not in w for w in listed)
    bad = shop.post(f"{api}/webhooks", json={"url": "ftp://x", "topics": ["order.deleted"]}, timeout=30)
    assert bad.status_code == 422
    assert shop.delete(f"{api}/webhooks/{created.json()['id']}", timeout=30).status_code == 204


def test_shop_page_shows_keys_orders_and_creates_a_key(sandbox):
    page = requests.get(f"{sandbox.url}/shop/", timeout=30)
    assert page.status_code == 200
    assert sandbox.shop.demo_key in page.text
    assert "ART000" in page.text
    assert "Orders (" in page.text and "Webhook deliveries" in page.text
    browser = requests.Session()
    token = sandbox.form_token(browser, "/shop/")
    created = browser.post(f"{sandbox.url}/shop/keys", data={"name": "From the page", "csrf_token": token}, timeout=30)
    assert created.status_code == 201 and "From the page" in created.text
    refused = browser.post(f"{sandbox.url}/shop/keys", data={"name": "", "csrf_token": token}, timeout=30)
    assert refused.status_code == 400 and "Give the key a name" in refused.text
    assert "/shop/" in requests.get(f"{sandbox.url}/", timeout=30).text  # the Exact page links to the shop


def test_reset_restores_the_seed_and_generate_appends_orders(sandbox_factory):
    box = sandbox_factory()
    key = box.shop.demo_key
    seeded = box.shop.counters()["records"]
    assert seeded == {"customers": 30, "products": 40, "orders": 25}
    assert box.shop.generate(1000) == 1000
    assert box.shop.counters()["records"]["orders"] == 1025
    box.shop.reset()
    assert box.shop.counters()["records"] == seeded
    assert box.shop.demo_key == key  # keys survive a reset unless asked otherwise
    items = box.shop.session(key).get(f"{box.shop.api_url}/products", params={"sku": "ART00001"}, timeout=30)
    assert items.json()["data"][0]["sku"] == "ART00001"


def test_sandbox_shop_key_command_prints_a_working_key(sandbox):
    result = subprocess.run([sys.executable, "manage.py", "sandbox_shop_key", "--name", "cli"], cwd=BASE_DIR,
                            env={**os.environ, "SANDBOX_DB_PATH": str(sandbox.db_path)},
                            capture_output=True, text=True, timeout=60, check=True)
    key = json.loads(result.stdout.strip().splitlines()[-1])["key"]
    assert sandbox.shop.session(key).get(f"{sandbox.shop.api_url}/orders", timeout=30).status_code == 200
