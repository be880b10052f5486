"""The two shipped integrations between the sandbox's demo webshop and its Exact Online, as ordinary rows.

**Webshop orders → Exact sales orders** is two routes: *Webshop customers → Exact accounts* finds each
customer's Account by e-mail and creates it when there is none (the Exact publisher's upsert), then
*Webshop orders → Exact sales orders* looks the Account up by e-mail and each line's Item by its code
(= the SKU) and writes one SalesOrder with its lines, upserted by ``YourRef`` = the shop's order number (a
retry after a lost answer finds the order it created instead of creating it again).
**Exact items → webshop products** reads the webshop items of Exact (``IsWebshopItem``) and PATCHes the
price and stock of the product with that SKU. Every route reads incrementally and skips what it has
already published unchanged, so a re-run with nothing new publishes nothing.

``install_webshop_integrations`` builds them for given clients (tests use it); ``seed_webshop_integrations``
is the ``manage.py bootstrap`` seed: a shop API key from the sandbox and the demo Exact client.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, Storage, Transformer

from .chains import customer_to_account, item_to_product, order_to_sales_order

__all__ = ["SHOP_CLIENT_NAME", "WebshopIntegrations", "install_webshop_integrations", "seed_webshop_integrations"]

SHOP_CLIENT_NAME = "Demo webshop (sandbox)"
EXACT_CLIENT_NAME = "Exact Online sandbox"  # the exact_online seed's demo client
CUSTOMERS_ROUTE = "Webshop customers → Exact accounts"
ORDERS_ROUTE = "Webshop orders → Exact sales orders"
ITEMS_ROUTE = "Exact items → webshop products"
STORES = ("webshop-customers-to-exact", "webshop-orders-to-exact", "exact-items-to-webshop")
PAGE_SIZE = 100


@dataclass
class WebshopIntegrations:
    shop_client: HttpClient
    customers: Route
    orders: Route
    items: Route


def shop_client(base_url: str, api_key: str, name: str = SHOP_CLIENT_NAME) -> HttpClient:
    """A generic HTTP client for the demo webshop's API, authenticated by its API key header."""
    client = HttpClient(name=name, kind="http", log_requests=True, config={
        "base_url": f"{base_url.rstrip('/')}/shop/api/v1", "auth": "api_key", "api_key_name": "X-API-Key",
        "api_key_in": "header", "test_path": "/orders?limit=1", "timeout": 30.0, "verify_tls": True,
        "headers": {"Accept": "application/json"}})
    client.set_secrets({"api_key": api_key})
    client.save()
    return client


def _shop_incoming(name: str, client: HttpClient, endpoint: str) -> Incoming:
    """Everything of ``endpoint``, 100 a page by cursor, then only what changed (``updated_after``)."""
    return Incoming.objects.create(
        name=name, subscriber="http", http_client=client, incremental=True,
        config={"method": "GET", "request_path": endpoint, "items": "data", "id_field": "id", "paging": "cursor",
                "size_param": "limit", "page_size": PAGE_SIZE, "cursor_param": "cursor",
                "cursor_path": "next_cursor", "cursor_field": "updated_at", "cursor_query": "updated_after"})


def install_webshop_integrations(exact: HttpClient, shop: HttpClient) -> WebshopIntegrations:
    """The three routes (two integrations) between ``shop`` (a generic HTTP client) and ``exact``."""
    with transaction.atomic():
        for store in STORES:
            Storage.objects.get_or_create(name=store)
        customers_in = _shop_incoming("Webshop customers", shop, "/customers")
        orders_in = _shop_incoming("Webshop orders", shop, "/orders")
        items_in = Incoming.objects.create(
            name="Exact webshop items", subscriber="exact_online", http_client=exact, incremental=True,
            config={"entity": "logistics/Items", "divisions": "default", "division_codes": [], "endpoint": "auto"},
            query={"$select": "ID,Code,Description,StandardSalesPrice,Stock,Modified",
                   "$filter": "IsWebshopItem eq true"})
        accounts_out = Outgoing.objects.create(
            name="Exact accounts (by e-mail)", publisher="exact_online", action="upsert", entity="crm/Accounts",
            http_client=exact, config={"upsert_key": "Email"})
        orders_out = Outgoing.objects.create(
            name="Exact sales orders", publisher="exact_online", action="upsert", entity="salesorder/SalesOrders",
            http_client=exact, config={"upsert_key": "YourRef"})
        products_out = Outgoing.objects.create(
            name="Webshop product price and stock", publisher="http", action="patch",
            entity="/products/sku/{sku}", http_client=shop, config={"success": "200-299", "key_path": "id"})
        steps = {
            CUSTOMERS_ROUTE: ("Webshop customer → Exact account", customer_to_account()),
            ORDERS_ROUTE: ("Webshop order → Exact sales order", order_to_sales_order(exact.pk)),
            ITEMS_ROUTE: ("Exact item → webshop price and stock", item_to_product()),
        }
        wiring = {CUSTOMERS_ROUTE: (customers_in, accounts_out), ORDERS_ROUTE: (orders_in, orders_out),
                  ITEMS_ROUTE: (items_in, products_out)}
        routes = {}
        for route_name, (incoming, outgoing) in wiring.items():
            transformer_name, chain = steps[route_name]
            transformer = Transformer.objects.create(name=transformer_name, steps=chain)
            route = Route.objects.create(name=route_name, incoming=incoming, outgoing=outgoing, backoff_seconds=5)
            route.set_transformers([transformer])
            routes[route_name] = route
    return WebshopIntegrations(shop, routes[CUSTOMERS_ROUTE], routes[ORDERS_ROUTE], routes[ITEMS_ROUTE])


def seed_webshop_integrations() -> list[str]:
    """``manage.py bootstrap``: the two integrations, once, when the demo Exact client exists."""
    if Route.objects.filter(name__in=[CUSTOMERS_ROUTE, ORDERS_ROUTE, ITEMS_ROUTE]).exists():
        return ["The webshop integrations exist already."]
    exact = HttpClient.objects.filter(name=EXACT_CLIENT_NAME, kind="exact_online").first()
    if exact is None:
        return [f"Skipped the webshop integrations: there is no “{EXACT_CLIENT_NAME}” client to connect them to."]
    shop = HttpClient.objects.filter(name=SHOP_CLIENT_NAME, kind="http").first()
    if shop is None:
        buffer = io.StringIO()
        try:
            call_command("sandbox_shop_key", name="Exact Dash demo", stdout=buffer)
            key = json.loads(buffer.getvalue().strip().splitlines()[-1])["key"]
        except (CommandError, LookupError, ValueError, IndexError) as exc:
            return [f"Skipped the webshop integrations: the sandbox could not create a shop API key ({exc})."]
        shop = shop_client(settings.SANDBOX_URL, key)
    install_webshop_integrations(exact, shop)
    return [f"Created the integrations “{ORDERS_ROUTE}” (with “{CUSTOMERS_ROUTE}”) and “{ITEMS_ROUTE}”: "
            "grant access on the Exact client, then run them from Routes."]
