"""A deterministic demo administration (two divisions) and a fast generator of N records for benchmarks.

Same seed, same data: GUIDs come from a seeded RNG, so a reset gives the same keys every time.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from .catalog import Endpoint, catalog
from .monitor import monitor
from .query import owner_of, stored_key_name
from .store import Store, clock
from .values import exact_now_ms

__all__ = ["DIVISIONS", "check_generate_count", "generate", "reset_sandbox", "seed_demo"]

DIVISIONS: list[dict[str, Any]] = [
    {"Code": 101001, "Description": "Demo Handel B.V.", "City": "Delft", "Country": "NL", "Currency": "EUR",
     "VATNumber": "NL001234567B01", "ChamberOfCommerceNumber": "12345678", "IsMainDivision": True},
    {"Code": 101002, "Description": "Demo Services B.V.", "City": "Gent", "Country": "BE", "Currency": "EUR",
     "VATNumber": "BE0123456789", "ChamberOfCommerceNumber": "87654321", "IsMainDivision": False},
]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Delft", "Eindhoven", "Groningen", "Zwolle", "Gent", "Antwerpen",
          "Leuven", "Breda", "Tilburg", "Haarlem", "Arnhem", "Nijmegen"]
WORDS = ["Bakkerij", "Fietsen", "Techniek", "Bouw", "Advies", "Logistiek", "Zuivel", "Media", "Tuin", "Metaal",
         "Software", "Transport", "Installatie", "Drukkerij", "Koffie", "Textiel", "Groothandel", "Zorg"]
SURNAMES = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Peeters", "Maes",
            "Claes", "Willems", "Dekker", "van Dijk", "Bos", "Vos"]
FIRST = ["Anna", "Bram", "Charlotte", "Daan", "Emma", "Finn", "Julia", "Lars", "Lotte", "Milan", "Noor", "Sem",
         "Sophie", "Thijs", "Tess", "Wout"]
ITEMS = ["Bureaustoel", "Laptopstandaard", "Koffiebonen 1kg", "Printpapier A4", "Monitor 27 inch", "USB-C kabel",
         "Whiteboard", "Bureaulamp", "Headset", "Toetsenbord", "Muis", "Archiefdoos", "Nietmachine", "Plantenbak"]
VAT = [("0", "Geen BTW", 0.0), ("1", "BTW laag 9%", 0.09), ("2", "BTW hoog 21%", 0.21), ("3", "BTW verlegd", 0.0),
       ("4", "BTW 0% EU", 0.0), ("5", "BTW export", 0.0)]
STREETS = ["Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsplein"]
MS_DAY = 86_400_000


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _only(ep: Endpoint, values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in ep.properties and v is not None}


def account(rng: random.Random, n: int, division: int, now: int) -> dict[str, Any]:
    name = f"{rng.choice(WORDS)} {rng.choice(SURNAMES)} {rng.choice(['B.V.', 'V.O.F.', 'NV', 'BVBA', ''])}".strip()
    city = rng.choice(CITIES)
    return {
        "ID": _guid(rng), "Code": str(n).rjust(18), "Name": name, "City": city, "Country": "NL",
        "Email": f"info{n}@example.invalid", "Phone": f"0{rng.randint(100000000, 999999999)}",
        "Postcode": f"{rng.randint(1000, 9999)} {rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}",
        "AddressLine1": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        "Status": rng.choice(["C", "C", "C", "P", "S"]), "IsSupplier": rng.random() < 0.2, "Blocked": False,
        "VATNumber": f"NL{rng.randint(100000000, 999999999)}B01", "Division": division,
        "Created": now - rng.randint(30, 900) * MS_DAY, "Modified": now - rng.randint(0, 29) * MS_DAY,
        "Website": f"www.example{n}.invalid", "Language": "NL", "Currency": "EUR",
    }


def _rows_for(ep: Endpoint, rng: random.Random, count: int, division: int, start: int) -> Iterator[tuple[Any, dict]]:
    now = exact_now_ms()
    owner = owner_of(ep)
    key_name = stored_key_name(owner)
    int_key = owner.primary_key_type in {"Edm.Int32", "Edm.Int64", "Edm.Int16"}
    for i in range(count):
        n = start + i
        if owner.resource == "crm/accounts":
            values = account(rng, n, division, now)
        else:
            values = {"Code": str(n), "Description": f"{owner.name} {n}", "Name": f"{owner.name} {n}",
                      "Division": division, "Created": now - (n % 500) * MS_DAY, "Modified": now - (n % 30) * MS_DAY}
            for prop in owner.mandatory:
                if prop not in values:
                    values[prop] = _guid(rng) if owner.properties[prop].type == "Edm.Guid" else f"{prop} {n}"
        key = n if int_key else _guid(rng)
        values[key_name] = key
        yield key, _only(owner, values)


def check_generate_count(count: int) -> None:
    """One generate call makes 1 to ``SANDBOX_GENERATE_MAX`` records (a huge count would fill the disk)."""
    if not 1 <= count <= settings.SANDBOX_GENERATE_MAX:
        raise ValueError(f"count must be between 1 and {settings.SANDBOX_GENERATE_MAX} (SANDBOX_GENERATE_MAX)")


def generate(store: Store, entity: str, count: int, division: int, *, seed: int = 7, batch: int = 20_000) -> int:
    """Insert ``count`` generated records of ``entity`` (``Accounts`` or ``crm/Accounts``) into ``division``."""
    check_generate_count(count)
    ep = catalog().get(entity)
    if ep is None:
        matches = [e for e in catalog().endpoints.values() if e.kind == "standard" and e.name.lower() == entity.lower()]
        if not matches:
            raise ValueError(f"unknown entity {entity!r}")
        ep = matches[0]
    owner = owner_of(ep)
    if division not in store.division_codes():
        raise ValueError(f"unknown division {division}")
    start = store.count_resource(owner.resource, division) + 1_000_000
    rng = random.Random(f"{seed}-{owner.resource}-{division}-{start}")
    made = 0
    rows = _rows_for(ep, rng, count, division, start)
    while made < count:
        chunk = [next(rows) for _ in range(min(batch, count - made))]
        store.insert_many(owner.resource, division, chunk)
        made += len(chunk)
    return made


def seed_demo(store: Store, *, seed: int = 2024) -> dict[str, int]:
    """Two divisions with accounts, contacts, items, VAT codes, GL accounts, sales orders and invoices."""
    cat = catalog().endpoints
    rng = random.Random(seed)
    now = exact_now_ms()
    totals: dict[str, int] = {}
    with store.write() as db:
        div_ep = cat["system/divisions"]
        for d in DIVISIONS:
            data = _only(div_ep, {**d, "Current": d["IsMainDivision"], "Status": 1, "Hid": d["Code"] - 100000,
                                  "Customer": _guid(rng), "CustomerName": d["Description"],
                                  "StartDate": now - 800 * MS_DAY})
            db.execute("INSERT OR REPLACE INTO divisions(code, data) VALUES (?, json(?))",
                       (d["Code"], json.dumps(data)))

        def put(resource: str, division: int, rows: list[dict[str, Any]]) -> None:
            ep = cat[resource]
            key = stored_key_name(ep)
            store.insert_many(resource, division, [(r[key], _only(ep, r)) for r in rows], db=db)
            totals[resource] = totals.get(resource, 0) + len(rows)

        for index, division in enumerate(d["Code"] for d in DIVISIONS):
            scale = 1 if index == 0 else 0.5
            stamp = {"Division": division, "Created": now - 400 * MS_DAY, "Modified": now - 10 * MS_DAY}
            vats = [{"ID": _guid(rng), "Code": c, "Description": t, "Percentage": p, "Charged": False, **stamp}
                    for c, t, p in VAT]
            put("vat/vatcodes", division, vats)
            gls = [{"ID": _guid(rng), "Code": str(code), "Description": f"Grootboek {code}",
                    "BalanceSide": "D" if code < 5000 else "C", "BalanceType": "B" if code < 4000 else "W", **stamp}
                   for code in range(1000, 9000, 125)]
            put("financial/glaccounts", division, gls)
            accounts = [account(rng, n, division, now) for n in range(1, int(300 * scale) + 1)]
            put("crm/accounts", division, accounts)
            contacts = []
            for acc in accounts:
                for _ in range(rng.choice([1, 1, 2])):
                    first, last = rng.choice(FIRST), rng.choice(SURNAMES)
                    contacts.append({"ID": _guid(rng), "Account": acc["ID"], "AccountName": acc["Name"],
                                     "FirstName": first, "LastName": last, "FullName": f"{first} {last}",
                                     "Email": f"{first.lower()}@example.invalid", "City": acc["City"], **stamp})
            put("crm/contacts", division, contacts)
            items = [{"ID": _guid(rng), "Code": f"ART{n:05d}", "Description": f"{rng.choice(ITEMS)} {n}",
                      "IsSalesItem": True, "IsStockItem": rng.random() < 0.7, "CostPriceStandard":
                      round(rng.uniform(2, 400), 2), "Unit": "stuk", **stamp} for n in range(1, int(200 * scale) + 1)]
            for n, item in enumerate(items, start=1):  # derived, not drawn: the RNG sequence (and keys) stay put
                item["StandardSalesPrice"] = round(item["CostPriceStandard"] * 1.6, 2)
                item["Stock"] = float((n * 37) % 120) if item["IsStockItem"] else 0.0
                item["IsWebshopItem"] = index == 0 and n <= 40  # the demo webshop sells ART00001 … ART00040
            put("logistics/items", division, items)
            orders, order_lines, invoices, invoice_lines = [], [], [], []
            for n in range(1, int(150 * scale) + 1):
                acc = rng.choice(accounts)
                order_id = _guid(rng)
                total = 0.0
                for line_no in range(1, rng.randint(1, 4) + 1):
                    item = rng.choice(items)
                    qty = rng.randint(1, 20)
                    price = item["CostPriceStandard"]
                    total += qty * price
                    order_lines.append({"ID": _guid(rng), "OrderID": order_id, "OrderNumber": n,
                                        "LineNumber": line_no, "Item": item["ID"], "ItemCode": item["Code"],
                                        "Description": item["Description"],
                                        "Quantity": qty, "UnitPrice": price, "AmountDC": round(qty * price, 2),
                                        "VATCode": "2", "VATPercentage": 0.21, **stamp})
                orders.append({"OrderID": order_id, "OrderNumber": n, "OrderedBy": acc["ID"], "OrderedByName":
                               acc["Name"], "OrderDate": now - rng.randint(0, 200) * MS_DAY, "Description":
                               f"Order {n}", "AmountDC": round(total, 2), "AmountFC": round(total, 2),
                               "Currency": "EUR",
                               "Status": rng.choice([12, 20, 21]), "YourRef": f"PO-{n:05d}", **stamp})
            for n in range(1, int(120 * scale) + 1):
                acc = rng.choice(accounts)
                invoice_id = _guid(rng)
                item = rng.choice(items)
                qty = rng.randint(1, 10)
                invoice_lines.append({"ID": _guid(rng), "InvoiceID": invoice_id, "LineNumber": 1, "Item": item["ID"],
                                      "Description": item["Description"], "Quantity": qty,
                                      "UnitPrice": item["CostPriceStandard"], "VATCode": "2", **stamp})
                invoices.append({"InvoiceID": invoice_id, "InvoiceNumber": 20240000 + n, "OrderedBy": acc["ID"],
                                 "InvoiceTo": acc["ID"], "Journal": "70",
                                 "InvoiceDate": now - rng.randint(0, 200) * MS_DAY,
                                 "Description": f"Factuur {n}", "Currency": "EUR", "Status": 50,
                                 "AmountDC": round(qty * item["CostPriceStandard"] * 1.21, 2), **stamp})
            put("salesorder/salesorders", division, orders)
            put("salesorder/salesorderlines", division, order_lines)
            put("salesinvoice/salesinvoices", division, invoices)
            put("salesinvoice/salesinvoicelines", division, invoice_lines)
    return totals


def reset_sandbox(store: Store, *, keep_apps: bool = True, seed: bool = True) -> None:
    """Back to a fresh demo administration; run-time state (counters, faults, limits, clock) too."""
    from .faults import faults
    from .limits import limiter
    from .query import PAGE_SIZES
    from .shop.seed import reset_shop
    from .shop.store import shop_store

    reset_shop(shop_store(), keep_keys=keep_apps, seed=seed)
    store.wipe(keep_apps=keep_apps)
    if seed:
        seed_demo(store)
    else:
        with store.write() as db:
            for d in DIVISIONS:
                db.execute("INSERT OR REPLACE INTO divisions(code, data) VALUES (?, json(?))",
                           (d["Code"], json.dumps(d)))
    monitor.reset()
    limiter.reset()
    faults.clear()
    PAGE_SIZES.update({"standard": 60, "bulk": 1000})
    clock.offset = 0.0


def ensure_seeded(store: Store) -> bool:
    """Seed an empty database (first start), Exact and the webshop each; return True when it did."""
    from .shop.seed import ensure_shop_seeded
    from .shop.store import shop_store

    seeded_shop = ensure_shop_seeded(shop_store())
    if store.division_codes():
        return seeded_shop
    seed_demo(store)
    return True
