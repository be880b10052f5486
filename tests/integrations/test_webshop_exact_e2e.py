"""The shipped integrations end to end against a sandbox of their own (its Exact and its webshop).

Every shop order becomes exactly one Exact sales order with its lines (its customer found or created as an
Account by e-mail), Exact's webshop items set the shop's prices and stock, a re-run with nothing changed
publishes nothing, and with 10% of the responses dropped on both systems nothing is duplicated on either.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from connections.models import Task
from exact_online.api import ExactApi
from exact_online.client_type import api_for
from integrations.seed import EXACT_CLIENT_NAME, install_webshop_integrations, shop_client
from tests.connections.routes.sandbox_support import run_inline
from tests.fixtures.sandbox import grant_client

DIVISION = 101001


def exact_rows(client: Any, entity: str, select: str, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in api_for(client).iter_pages(entity, division=DIVISION, params={"$select": select, **params}):
        rows.extend(page.results)
    return rows


def shop_rows(box: Any, kind: str) -> list[dict[str, Any]]:
    session = box.shop.session(box.shop.demo_key)
    rows: list[dict[str, Any]] = []
    url: str | None = f"{box.shop.api_url}/{kind}?limit=250"
    while url:
        body = session.get(url, timeout=30).json()
        rows.extend(body["data"])
        url = body["next_url"]
    return rows


def new_orders(box: Any, count: int) -> None:
    """``count`` orders by customers Exact does not know yet (their Accounts must be created)."""
    session = box.shop.session(box.shop.demo_key)
    for n in range(count):
        response = session.post(f"{box.shop.api_url}/orders", json={
            "customer": {"email": f"new{n}@shop.example.invalid", "first_name": "Nieuw", "last_name": f"Klant {n}"},
            "lines": [{"sku": f"ART{n % 40 + 1:05d}", "quantity": n + 1}, {"sku": "ART00040", "quantity": 1}]},
            timeout=30)
        assert response.status_code == 201, response.text


def run_all(integrations: Any, rounds: int = 10) -> list[Any]:
    """The customers route first (the orders route looks their Accounts up), then orders, then items."""
    return [run_inline(route, rounds=rounds) for route in (integrations.customers, integrations.orders,
                                                            integrations.items)]


def assert_one_sales_order_per_shop_order(box: Any, exact: Any) -> None:
    items = {row["ID"]: row["Code"] for row in exact_rows(exact, "logistics/Items", "ID,Code")}
    orders = exact_rows(exact, "salesorder/SalesOrders", "OrderID,Description,OrderedBy",
                        **{"$filter": "substringof('Webshop order', Description)"})
    per_number = Counter(row["Description"] for row in orders)
    accounts = {row["ID"]: (row["Email"] or "").lower() for row in exact_rows(exact, "crm/Accounts", "ID,Email")}
    for order in shop_rows(box, "orders"):
        description = f"Webshop order {order['number']}"
        assert per_number[description] == 1, f"{description} arrived {per_number[description]} times"
        exact_order = next(row for row in orders if row["Description"] == description)
        assert accounts[exact_order["OrderedBy"]] == order["customer"]["email"].lower()
        lines = exact_rows(exact, "salesorder/SalesOrderLines", "Item,Quantity",
                           **{"$filter": f"OrderID eq guid'{exact_order['OrderID']}'"})
        assert sorted((items[line["Item"]], line["Quantity"]) for line in lines) == \
            sorted((line["sku"], line["quantity"]) for line in order["lines"])
    emails = Counter(email for email in accounts.values() if email)
    shop_emails = {c["email"].lower() for c in shop_rows(box, "customers")}
    assert all(emails[email] == 1 for email in shop_emails), "an Account was created twice for one e-mail"


def assert_prices_and_stock_follow_exact(box: Any, exact: Any) -> None:
    exact_items = {row["Code"]: row for row in exact_rows(exact, "logistics/Items", "Code,StandardSalesPrice,Stock",
                                                          **{"$filter": "IsWebshopItem eq true"})}
    products = {p["sku"]: p for p in shop_rows(box, "products")}
    assert len(exact_items) == 40 and set(exact_items) <= set(products)
    for code, item in exact_items.items():
        assert (products[code]["price"], products[code]["stock"]) == (item["StandardSalesPrice"], item["Stock"])


@pytest.fixture
def webshop(sandbox_factory):
    box = sandbox_factory()
    exact = grant_client(box, EXACT_CLIENT_NAME, unlimited=True)
    box.shop.set_limits(per_minute=0)
    integrations = install_webshop_integrations(exact, shop_client(box.url, box.shop.create_key("e2e")))
    return box, exact, integrations


@pytest.mark.django_db
def test_both_integrations_end_to_end_and_a_rerun_publishes_nothing(webshop):
    box, exact, integrations = webshop
    new_orders(box, 3)
    first = run_all(integrations)
    for route_run in first:
        statuses = Counter(Task.objects.filter(run_id=route_run.run_id).values_list("status", flat=True))
        assert set(statuses) == {"finished"}, (route_run.route.name, statuses, list(
            Task.objects.filter(run_id=route_run.run_id).exclude(status="finished").values_list("error", flat=True)))
    assert_one_sales_order_per_shop_order(box, exact)
    assert_prices_and_stock_follow_exact(box, exact)

    box._control("DELETE", "counters")
    box.shop._control("DELETE", "counters")
    second = run_all(integrations)
    for route_run in second:
        published = Task.objects.filter(run_id=route_run.run_id).exclude(status="skipped")
        assert not published.exists(), f"{route_run.route.name} published again: {list(published.values('status'))}"
    writes = [r for r in box.requests_log() if r["method"] in {"POST", "PUT", "DELETE"}]
    shop_writes = [r for r in box.shop.requests_log() if r["method"] in {"POST", "PUT", "PATCH", "DELETE"}]
    assert writes == [] and shop_writes == []


@pytest.mark.django_db
def test_ten_percent_dropped_responses_on_both_systems_duplicate_nothing(webshop, monkeypatch):
    box, exact, integrations = webshop
    # Exact's retry backoff (10 s, 20 s, ...) is policy, not what this test checks: a tenth of a second here.
    monkeypatch.setattr(ExactApi, "_backoff", lambda self, attempt: time.sleep(0.1))
    new_orders(box, 6)
    products_before = len(shop_rows(box, "products"))
    orders_before = len(shop_rows(box, "orders"))
    # A tenth of the answers dropped at random, plus the first two on each side for certain: with only a few
    # dozen shop calls in the run, chance alone would sometimes drop none there and prove nothing.
    for system, path in ((box, "^/api/v1/"), (box.shop, "^/shop/api/")):
        system.set_faults({"path": path, "drop_rate": 1.0, "drop_mode": "close", "times": 2},
                          {"path": path, "drop_rate": 0.10, "drop_mode": "close"})
    try:
        runs = run_all(integrations, rounds=15)
    finally:
        box.clear_faults()
        box.shop.clear_faults()
    dropped = [r for r in box.requests_log() if r["status"] == "dropped"]
    shop_dropped = [r for r in box.shop.requests_log() if r["status"] == "dropped"]
    assert dropped and shop_dropped, "the faults must have dropped answers on both systems"
    for route_run in runs:
        statuses = Counter(Task.objects.filter(run_id=route_run.run_id).values_list("status", flat=True))
        errors = list(Task.objects.filter(run_id=route_run.run_id).exclude(status="finished").values_list("error",
                                                                                                          flat=True))
        assert set(statuses) == {"finished"}, (route_run.route.name, statuses, errors)
    assert_one_sales_order_per_shop_order(box, exact)
    assert_prices_and_stock_follow_exact(box, exact)
    assert len(shop_rows(box, "products")) == products_before  # PATCHes by SKU never create
    assert len(shop_rows(box, "orders")) == orders_before

