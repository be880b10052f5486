"""Acceptance: the shipped integrations exported from a populated instance, imported into an emptied database
whose environment variables hold other values, run there with the same results; a second import of the
same document reports everything unchanged. One sandbox of its own (the routes write to its Exact and shop)."""

from __future__ import annotations

from collections import Counter

import pytest

from clients import usage
from clients.models import HttpClient
from configuration.documents import dump_document
from configuration.export import export_config
from configuration.importer import apply_import, plan_import
from configuration.models import Variable
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Storage, Task, Transformer
from exact_online.client_type import ExactOnlineClientType, redirect_uri
from integrations.seed import (
    CUSTOMERS_ROUTE,
    EXACT_CLIENT_NAME,
    ITEMS_ROUTE,
    ORDERS_ROUTE,
    install_webshop_integrations,
    shop_client,
)
from tests.connections.routes.sandbox_support import run_inline
from tests.fixtures.sandbox import grant_client
from tests.integrations.test_webshop_exact_e2e import (
    assert_one_sales_order_per_shop_order,
    assert_prices_and_stock_follow_exact,
    new_orders,
)

ROUTES = (CUSTOMERS_ROUTE, ORDERS_ROUTE, ITEMS_ROUTE)


def run_routes() -> dict[str, Counter[str]]:
    """Each shipped route once, in order; per route how many of its tasks ended in which status."""
    results = {}
    for name in ROUTES:
        route_run = run_inline(Route.objects.get(name=name))
        results[name] = Counter(Task.objects.filter(run_id=route_run.run_id).values_list("status", flat=True))
    return results


def empty_the_database() -> None:
    usage.flush()  # the API calls counted so far are written before their clients go (and none are left over)
    Task.objects.all().delete()
    RouteRun.objects.all().delete()
    Run.objects.all().delete()
    for route in Route.objects.all():
        route.delete()
    Incoming.objects.all().delete()
    Outgoing.objects.all().delete()
    Transformer.objects.all().delete()
    Storage.objects.all().delete()
    HttpClient.objects.all().delete()
    Variable.objects.all().delete()


@pytest.mark.django_db
def test_export_import_into_an_empty_database_runs_the_routes_with_the_same_results(sandbox_factory):
    box = sandbox_factory()
    box.shop.set_limits(per_minute=0)
    port = box.url.rsplit(":", 1)[1]
    new_orders(box, 2)

    # The populated instance: the shop's Base URI comes from a variable.
    Variable.objects.create(name="SHOP_URL", value=f"http://127.0.0.1:{port}/shop/api/v1")
    exact = grant_client(box, EXACT_CLIENT_NAME, unlimited=True)
    shop_key = box.shop.create_key("round trip")
    shop = shop_client(box.url, shop_key)
    shop.config = {**shop.config, "base_url": "${SHOP_URL}"}
    shop.save()
    install_webshop_integrations(exact, shop)
    before = run_routes()
    assert all(set(statuses) == {"finished"} for statuses in before.values()), before
    exact_secrets = exact.get_secrets()
    document = dump_document(export_config(), "yaml")
    assert shop_key not in document and exact_secrets["client_secret"] not in document

    # The empty database, where the variable has another value (the same shop, by name instead of address).
    empty_the_database()
    Variable.objects.create(name="SHOP_URL", value=f"http://localhost:{port}/shop/api/v1")
    plan = apply_import(plan_import(document))
    assert plan.applied and plan.counts["create"] == 17
    assert sorted(plan.to_enter) == [
        "client “demo-webshop-sandbox”: enter api_key",
        "client “exact-online-sandbox”: enter client_secret, webhook_secret",
        "client “exact-online-sandbox”: grant access",
    ]
    # What the import listed, entered on the target: the secrets, then the grant.
    shop = HttpClient.objects.get(key="demo-webshop-sandbox")
    shop.set_secrets({"api_key": shop_key})
    shop.save()
    exact = HttpClient.objects.get(key="exact-online-sandbox")
    exact.set_secrets(exact_secrets)
    exact.save()
    code = box.authorize(exact.config["client_id"], redirect_uri())
    ExactOnlineClientType().complete_grant(exact, code=code, user=None)

    box.shop._control("DELETE", "counters")
    after = run_routes()
    assert after == before  # the same tasks, with the same outcomes
    assert any(f"localhost:{port}" in r["url"] for r in shop.request_logs.values("url"))  # the new value was used
    assert_one_sales_order_per_shop_order(box, exact)  # upserted again: nothing twice
    assert_prices_and_stock_follow_exact(box, exact)

    second = plan_import(document)
    assert second.ok and {o.action for o in second.objects} == {"unchanged"}
    usage.flush()  # nothing counted here is left for a later test's transaction
