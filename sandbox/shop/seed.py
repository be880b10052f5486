"""The webshop's demo data (same seed, same shop) and a fast generator of N orders for benchmarks.

Product SKUs are the item codes of the Exact sandbox's first division (``ART00001`` …), and the first
customers share e-mail addresses with its accounts (``info1@example.invalid`` …), so the shipped
integrations find matches on both sides and create the rest.
"""

from __future__ import annotations

import random
from typing import Any

from ..seed import check_generate_count
from ..store import clock
from .store import ShopStore, format_stamp

__all__ = ["DEMO_KEY_NAME", "ensure_shop_seeded", "generate_orders", "reset_shop", "seed_shop"]

DEMO_KEY_NAME = "demo"
PRODUCTS = ["Bureaustoel", "Laptopstandaard", "Koffiebonen 1kg", "Printpapier A4", "Monitor 27 inch", "USB-C kabel",
            "Whiteboard", "Bureaulamp", "Headset", "Toetsenbord", "Muis", "Archiefdoos", "Nietmachine", "Plantenbak"]
FIRST = ["Anna", "Bram", "Charlotte", "Daan", "Emma", "Finn", "Julia", "Lars", "Lotte", "Milan", "Noor", "Sem"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Peeters", "Maes"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Delft", "Gent", "Antwerpen", "Leuven", "Haarlem"]
SEED_PRODUCTS, SEED_CUSTOMERS, SEED_ORDERS, SHARED_EMAILS = 40, 30, 25, 10
DAY_US = 86_400_000_000


def _customer(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"info{n}@example.invalid" if n <= SHARED_EMAILS else \
        f"{first.lower()}.{last.replace(' ', '').lower()}{n}@shop.example.invalid"
    return {"id": n, "email": email, "first_name": first, "last_name": last,
            "company": f"{last.title()} {rng.choice(['B.V.', 'V.O.F.', 'Retail', ''])}".strip() if n % 3 else "",
            "phone": f"06{rng.randint(10000000, 99999999)}",
            "address": {"line1": f"Dorpsstraat {rng.randint(1, 200)}", "postcode": f"{rng.randint(1000, 9999)} AB",
                        "city": rng.choice(CITIES), "country": "NL"}}


def _order(rng: random.Random, n: int, customers: list[dict[str, Any]], products: list[dict[str, Any]],
           status: str | None = None) -> dict[str, Any]:
    customer = customers[(n * 7) % len(customers)]
    lines = []
    for number in range(1, rng.randint(1, 3) + 1):
        product = products[rng.randrange(len(products))]
        quantity = rng.randint(1, 5)
        lines.append({"id": n * 1000 + number, "line_number": number, "product_id": product["id"],
                      "sku": product["sku"], "name": product["name"], "quantity": quantity,
                      "unit_price": product["price"], "total": round(quantity * product["price"], 2)})
    return {"id": n, "number": str(1000 + n), "status": status or rng.choice(["pending", "paid", "paid", "shipped"]),
            "currency": "EUR", "customer_id": customer["id"],
            "customer": {k: customer[k] for k in ("id", "email", "first_name", "last_name", "company")},
            "note": "", "lines": lines, "total": round(sum(line["total"] for line in lines), 2)}


def _stamped(records: list[dict[str, Any]], stamps: list[int]) -> list[dict[str, Any]]:
    for record, stamp in zip(records, stamps, strict=True):
        record["created_at"] = record["updated_at"] = format_stamp(stamp)
    return records


def seed_shop(shop: ShopStore, *, seed: int = 2025) -> dict[str, int]:
    """40 products, 30 customers, 25 orders, dated over the last 30 days, and the demo API key."""
    rng = random.Random(seed)
    products = [{"id": n, "sku": f"ART{n:05d}", "name": f"{rng.choice(PRODUCTS)} {n}", "description": "",
                 "price": round(rng.uniform(4, 600), 2), "stock": rng.randint(0, 80), "active": True,
                 "currency": "EUR"} for n in range(1, SEED_PRODUCTS + 1)]
    customers = [_customer(rng, n) for n in range(1, SEED_CUSTOMERS + 1)]
    orders = [_order(rng, n, customers, products) for n in range(1, SEED_ORDERS + 1)]
    start = int(clock.now() * 1_000_000) - 30 * DAY_US
    total = len(products) + len(customers) + len(orders)
    stamps = [start + i * (29 * DAY_US // total) for i in range(total)]
    with shop.store.write() as db:
        shop.insert_many("products", _stamped(products, stamps[:len(products)]), db)
        shop.insert_many("customers", _stamped(customers, stamps[len(products):len(products) + len(customers)]), db)
        shop.insert_many("orders", _stamped(orders, stamps[len(products) + len(customers):]), db)
    if not any(k["name"] == DEMO_KEY_NAME for k in shop.api_keys()):
        shop.create_key(DEMO_KEY_NAME)
    return {"products": len(products), "customers": len(customers), "orders": len(orders)}


def generate_orders(shop: ShopStore, count: int, *, batch: int = 20_000, seed: int = 11) -> int:
    """Append ``count`` orders (for benchmarks) over the existing customers and products; no webhooks."""
    check_generate_count(count)
    customers = shop.page("customers", [], [], "id", 10_000)
    products = shop.page("products", [], [], "id", 10_000)
    if not customers or not products:
        raise ValueError("the shop has no customers or products: reset it with seed first")
    rng = random.Random(seed)
    made = 0
    while made < count:
        size = min(batch, count - made)
        with shop.store.write() as db:
            first = shop.next_id(db, "orders")
            stamps = shop.next_stamps(db, size)
            orders = [_order(rng, first + i, customers, products) for i in range(size)]
            for order, stamp in zip(orders, stamps, strict=True):
                order["created_at"] = order["updated_at"] = stamp
            shop.insert_many("orders", orders, db)
        made += size
    return made


def reset_shop(shop: ShopStore, *, keep_keys: bool = True, seed: bool = True) -> None:
    """Back to the seeded shop; run-time state (faults, limits, log) too. Keys and webhooks stay if asked."""
    from .api import shop_faults, shop_monitor
    from .limits import shop_limits

    shop.wipe(keep_keys=keep_keys)
    if seed:
        seed_shop(shop)
    shop_faults.clear()
    shop_limits.reset()
    shop_monitor.reset()


def ensure_shop_seeded(shop: ShopStore) -> bool:
    """Seed an empty shop (first start); return True when it did."""
    if any(shop.counts().values()):
        return False
    seed_shop(shop)
    return True
