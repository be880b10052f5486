"""The demo webshop's REST API against a real sandbox process: auth, paging, incremental reads, writes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests


@pytest.fixture
def shop(sandbox) -> requests.Session:
    """A session with a fresh API key of the shared sandbox's shop (its own rate-limit bucket)."""
    return sandbox.shop.session(sandbox.shop.create_key("tests"))


def _all(session: requests.Session, url: str, *, follow: str) -> tuple[list[dict[str, Any]], int]:
    """Read every page, following ``next_cursor`` from the body or the ``Link`` header."""
    rows: list[dict[str, Any]] = []
    calls = 0
    next_url: str | None = url
    while next_url:
        response = session.get(next_url, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["data"])
        calls += 1
        if follow == "link":
            next_url = response.links.get("next", {}).get("url")
            assert bool(next_url) == body["has_more"]
        elif follow == "next_url":
            next_url = body["next_url"]
            assert next_url == response.links.get("next", {}).get("url")
        else:
            next_url = f"{url}&cursor={body['next_cursor']}" if body["next_cursor"] else None
        assert calls < 100, "paging does not end"
    return rows, calls


def _new_order(shop: requests.Session, api: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    response = shop.post(f"{api}/orders", json={
        "customer": {"email": email or f"{uuid.uuid4().hex[:10]}@shop.example.invalid", "first_name": "Test"},
        "lines": [{"sku": "ART00001", "quantity": 2}, {"sku": "ART00002", "quantity": 1, "unit_price": 9.5}],
        **extra}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def test_every_call_needs_a_valid_api_key_in_header_bearer_or_query(sandbox, shop):
    api = sandbox.shop.api_url
    missing = requests.get(f"{api}/orders", timeout=30)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["error"]["message"]
    assert requests.get(f"{api}/orders", headers={"X-API-Key": "shop_wrong"}, timeout=30).status_code == 401
    key = shop.headers["X-API-Key"]
    assert requests.get(f"{api}/orders", headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code == 200
    assert requests.get(f"{api}/orders", params={"api_key": key, "limit": 1}, timeout=30).status_code == 200
    logged = [r["query"] for r in sandbox.shop.requests_log() if "api_key" in r["query"]]
    assert logged and all(key not in q and "api_key=***" in q for q in logged)


@pytest.mark.parametrize("follow", ["cursor", "link", "next_url"])
def test_cursor_next_url_and_link_paging_read_every_order_once(sandbox, shop, follow):
    api = sandbox.shop.api_url
    total = sandbox.shop.counters()["records"]["orders"]
    rows, calls = _all(shop, f"{api}/orders?limit=7", follow=follow)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == total
    assert calls == -(-total // 7)
    assert all(r["lines"] and r["customer"]["email"] for r in rows)


def test_page_and_offset_paging_with_link_next(sandbox, shop):
    api = sandbox.shop.api_url
    first = shop.get(f"{api}/products", params={"page": 1, "per_page": 15, "sort": "id"}, timeout=30)
    assert first.status_code == 200
    assert [p["id"] for p in first.json()["data"]] == list(range(1, 16))
    assert "page=2" in first.links["next"]["url"]
    second = shop.get(first.links["next"]["url"], timeout=30).json()["data"]
    assert [p["id"] for p in second] == list(range(16, 31))
    by_offset = shop.get(f"{api}/products", params={"offset": 15, "limit": 15, "sort": "id"}, timeout=30)
    assert [p["id"] for p in by_offset.json()["data"]] == list(range(16, 31))
    assert "offset=30" in by_offset.links["next"]["url"]


def test_updated_after_reads_only_what_changed_and_a_no_op_write_changes_nothing(sandbox, shop):
    api = sandbox.shop.api_url
    rows, _ = _all(shop, f"{api}/orders?limit=250", follow="link")
    high_water = max(r["updated_at"] for r in rows)
    assert shop.get(f"{api}/orders", params={"updated_after": high_water}, timeout=30).json()["data"] == []
    order = rows[0]
    unchanged = shop.patch(f"{api}/orders/{order['id']}", json={"status": order["status"]}, timeout=30)
    assert unchanged.json()["updated_at"] == order["updated_at"]
    changed = shop.patch(f"{api}/orders/{order['id']}", json={"note": f"call back {uuid.uuid4().hex[:6]}"},
                         timeout=30).json()
    assert changed["updated_at"] > high_water
    since = shop.get(f"{api}/orders", params={"updated_after": high_water}, timeout=30).json()["data"]
    assert [r["id"] for r in since] == [order["id"]]
    inclusive = shop.get(f"{api}/orders", params={"updated_at_min": changed["updated_at"]}, timeout=30).json()
    assert [r["id"] for r in inclusive["data"]] == [order["id"]]


@pytest.mark.parametrize(("query", "fragment"), [
    ("updated_since=2026-01-01", "unknown query parameter(s) updated_since"),
    ("cursor=bm90LWEtY3Vyc29y", "cursor is not one this API handed out"),
    ("updated_after=yesterday", "updated_after must be an ISO-8601 time"),
    ("limit=5000", "limit must be between 1 and 250"),
    ("page=2&cursor=abc", "use cursor, page or offset"),
])
def test_bad_list_parameters_answer_400_with_the_reason(sandbox, shop, query, fragment):
    response = shop.get(f"{sandbox.shop.api_url}/orders?{query}", timeout=30)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_orders_find_or_create_the_customer_by_email_and_validate_lines(sandbox, shop):
    api = sandbox.shop.api_url
    email = f"{uuid.uuid4().hex[:10]}@shop.example.invalid"
    first = _new_order(shop, api, email.upper())
    second = _new_order(shop, api, email)
    assert first["customer_id"] == second["customer_id"]
    assert [(line["sku"], line["quantity"]) for line in first["lines"]] == [("ART00001", 2), ("ART00002", 1)]
    assert first["lines"][1]["unit_price"] == 9.5
    assert first["total"] == round(sum(line["total"] for line in first["lines"]), 2)
    customers = shop.get(f"{api}/customers", params={"email": email}, timeout=30).json()["data"]
    assert len(customers) == 1
    bad_sku = shop.post(f"{api}/orders", json={"customer_id": first["customer_id"],
                                               "lines": [{"sku": "NOPE", "quantity": 1}]}, timeout=30)
    assert bad_sku.status_code == 422 and "no product with SKU NOPE" in bad_sku.json()["error"]["message"]
    unknown = shop.post(f"{api}/orders", json={"customer_id": 1, "lines": [], "colour": "red"}, timeout=30)
    assert unknown.status_code == 422 and "unknown field(s) colour" in unknown.json()["error"]["message"]
    not_json = shop.post(f"{api}/orders", data=b"<html>", headers={"Content-Type": "application/json"}, timeout=30)
    assert not_json.status_code == 400
    assert shop.get(f"{api}/orders", params={"email": email}, timeout=30).json()["data"][0]["id"] == first["id"]


def test_idempotency_key_replays_the_first_answer(sandbox, shop):
    api = sandbox.shop.api_url
    payload = {"customer": {"email": f"{uuid.uuid4().hex[:8]}@shop.example.invalid"},
               "lines": [{"sku": "ART00003", "quantity": 1}]}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = shop.post(f"{api}/orders", json=payload, headers=headers, timeout=30)
    again = shop.post(f"{api}/orders", json=payload, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    email = payload["customer"]["email"]
    assert len(shop.get(f"{api}/orders", params={"email": email}, timeout=30).json()["data"]) == 1


def test_products_by_sku_put_creates_or_updates_price_and_stock(sandbox, shop):
    api = sandbox.shop.api_url
    sku = f"T{uuid.uuid4().hex[:8].upper()}"
    created = shop.put(f"{api}/products/sku/{sku}", json={"name": "Test item", "price": "12.50", "stock": 4},
                       timeout=30)
    assert created.status_code == 201, created.text
    assert (created.json()["price"], created.json()["stock"]) == (12.5, 4)
    updated = shop.put(f"{api}/products/sku/{sku}", json={"price": 13, "stock": 0}, timeout=30)
    assert updated.status_code == 200 and updated.json()["id"] == created.json()["id"]
    assert shop.get(f"{api}/products", params={"sku": sku}, timeout=30).json()["data"][0]["price"] == 13
    patched = shop.patch(f"{api}/products/{created.json()['id']}", json={"stock": 7}, timeout=30).json()
    assert patched["stock"] == 7 and patched["price"] == 13
    duplicate = shop.post(f"{api}/products", json={"sku": sku, "name": "again"}, timeout=30)
    assert duplicate.status_code == 409
    assert shop.patch(f"{api}/products/{patched['id']}", json={"price": -1}, timeout=30).status_code == 422
    assert shop.get(f"{api}/products/sku/NOPE", timeout=30).status_code == 404


def test_over_the_rate_limit_answers_429_with_retry_after(sandbox, shop):
    sandbox.shop.set_limits(per_minute=3)
    try:
        statuses = [shop.get(f"{sandbox.shop.api_url}/products", params={"limit": 1}, timeout=30)
                    for _ in range(4)]
    finally:
        sandbox.shop.set_limits(per_minute=600)
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[2].headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(statuses[3].headers["Retry-After"]) <= 60
    assert statuses[3].json()["error"]["code"] == "rate_limited"


def test_faults_error_latency_and_dropped_responses(sandbox, shop):
    api = sandbox.shop.api_url
    sandbox.shop.set_faults({"path": "/products", "error_rate": 1, "error_status": 503, "times": 1})
    try:
        failed = shop.get(f"{api}/products", timeout=30)
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "server_error"
        assert shop.get(f"{api}/products", timeout=30).status_code == 200  # times: 1
        sandbox.shop.set_faults({"path": "/orders$", "method": "POST", "drop_rate": 1})
        key = uuid.uuid4().hex
        payload = {"customer": {"email": f"{key[:10]}@shop.example.invalid"}, "lines": [{"sku": "ART00005"}]}
        with pytest.raises(requests.ConnectionError):
            shop.post(f"{api}/orders", json=payload, headers={"Idempotency-Key": key}, timeout=30)
        sandbox.shop.clear_faults()
        retried = shop.post(f"{api}/orders", json=payload, headers={"Idempotency-Key": key}, timeout=30)
        assert retried.status_code == 201 and retried.headers.get("Idempotent-Replayed") == "true"
        orders = shop.get(f"{api}/orders", params={"email": payload["customer"]["email"]}, timeout=30).json()
        assert [o["id"] for o in orders["data"]] == [retried.json()["id"]]  # the dropped call did the work once
        sandbox.shop.set_faults({"path": "/customers", "latency_ms": 300})
        slow = shop.get(f"{api}/customers", params={"limit": 1}, timeout=30)
        assert slow.elapsed.total_seconds() >= 0.3
    finally:
        sandbox.shop.clear_faults()
    faults = [r["fault"] for r in sandbox.shop.requests_log() if r["fault"]]
    assert {"error", "drop_close"} <= set(faults)
