"""The sandbox's own reading of the entity catalog (``exact_online/data/entities.json``, read as data).

The sandbox never imports ``exact_online``: it opens the JSON file by path. Standard, bulk and sync
endpoints of one business object share one stored *resource* (``crm/Accounts``), so that a record
created through ``crm/Accounts`` shows up in ``bulk/CRM/Accounts`` and ``sync/CRM/Accounts``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

__all__ = ["DELETED_ENTITY_TYPES", "Endpoint", "Property", "catalog", "resolve"]

CATALOG_PATH = Path(settings.BASE_DIR) / "exact_online" / "data" / "entities.json"

# Sync endpoints whose business object carries another name on the standard endpoint.
_SYNC_ALIASES = {"salesorderheaders": "salesorder/salesorders", "quotationheaders": "crm/quotations"}

# EntityType codes of sync/Deleted rows (API.md §5), keyed by the resource's entity name.
DELETED_ENTITY_TYPES = {
    "TransactionLines": 1, "Accounts": 2, "Addresses": 3, "Attachments": 4, "Contacts": 5, "Documents": 6,
    "GLAccounts": 7, "ItemPrices": 8, "Items": 9, "PaymentTerms": 10, "SalesOrders": 12, "SalesInvoices": 13,
    "TimeCostTransactions": 14, "StockPositions": 15, "GoodsDeliveries": 16, "GoodsDeliveryLines": 17,
    "GLClassifications": 18, "ItemWarehouses": 19, "StorageLocationStockPositions": 20, "Projects": 21,
    "PurchaseOrders": 22, "Subscriptions": 23, "SubscriptionLines": 24, "ProjectWBS": 25, "ProjectPlanning": 26,
    "LeaveAbsenceHoursByDay": 27, "SerialBatchNumbers": 28, "StockSerialBatchNumbers": 29, "ItemAccounts": 30,
    "DiscountTables": 31, "SalesOrderHeaders": 32, "SalesOrderLines": 33, "QuotationHeaders": 34,
    "QuotationLines": 35, "ShopOrders": 36,
}


@dataclass(frozen=True)
class Property:
    """One property of an entity as the catalog describes it."""

    name: str
    type: str
    mandatory: bool
    post: bool | None

    @property
    def is_navigation(self) -> bool:
        """Collections and complex types are not Edm scalars: they render as ``__deferred`` links."""
        return not self.type.startswith("Edm.")


@dataclass
class Endpoint:
    """One endpoint of the catalog (``crm/Accounts``, ``bulk/CRM/Accounts``, ``sync/Deleted`` ...)."""

    name: str
    service: str
    endpoint: str
    kind: str
    methods: tuple[str, ...]
    primary_key: str
    primary_key_type: str
    division_in_path: bool
    properties: dict[str, Property]
    scope: str | None = None
    resource: str = ""
    children: dict[str, tuple[str, str]] = field(default_factory=dict)  # nav prop -> (resource, parent key field)

    @property
    def page_size_kind(self) -> str:
        return "bulk" if self.kind in {"bulk", "sync"} else "standard"

    @property
    def mandatory(self) -> list[str]:
        return [p.name for p in self.properties.values() if p.mandatory and not p.is_navigation]

    @property
    def scalar_names(self) -> list[str]:
        return [p.name for p in self.properties.values() if not p.is_navigation]

    @property
    def type_name(self) -> str:
        """The ``__metadata.type`` Exact reports, e.g. ``Exact.Web.Api.Models.Account``."""
        base = self.name[:-1] if self.name.endswith("s") and not self.name.endswith("ss") else self.name
        return f"Exact.Web.Api.Models.{base}"

    def property_ci(self, name: str) -> Property | None:
        prop = self.properties.get(name)
        if prop is not None:
            return prop
        lowered = name.lower()
        return next((p for p in self.properties.values() if p.name.lower() == lowered), None)


class Catalog:
    """All endpoints, indexed by lower-cased endpoint path."""

    def __init__(self, raw: list[dict[str, Any]]) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        for item in raw:
            props = {}
            for p in item.get("properties", []):
                props[p["name"]] = Property(p["name"], p.get("type") or "Edm.String", p.get("mandatory") is True,
                                            p.get("post"))
            ep = Endpoint(
                name=item["name"], service=item["service"], endpoint=item["endpoint"], kind=item["kind"],
                methods=tuple(item.get("methods") or ("GET",)), primary_key=item.get("primary_key") or "ID",
                primary_key_type=item.get("primary_key_type") or "Edm.String",
                division_in_path=bool(item.get("division_in_path", True)), properties=props,
                scope=item.get("scope"),
            )
            self.endpoints[ep.endpoint.lower()] = ep
        self._link_resources()

    def _link_resources(self) -> None:
        standard = {k: e for k, e in self.endpoints.items() if e.kind == "standard"}
        by_name: dict[str, list[Endpoint]] = {}
        for ep in standard.values():
            by_name.setdefault(ep.name.lower(), []).append(ep)
        for key, ep in self.endpoints.items():
            if ep.kind == "standard":
                ep.resource = key
                continue
            suffix = ep.service.split("/", 1)[1].lower() if "/" in ep.service else ""
            candidate = f"{suffix}/{ep.name.lower()}"
            alias = _SYNC_ALIASES.get(ep.name.lower())
            if candidate in standard:
                ep.resource = candidate
            elif alias and alias in standard:
                ep.resource = alias
            elif len(by_name.get(ep.name.lower(), [])) == 1:
                ep.resource = by_name[ep.name.lower()][0].endpoint.lower()
            else:
                ep.resource = key
        for ep in standard.values():
            service = ep.service.lower()
            for prop in ep.properties.values():
                if not prop.is_navigation:
                    continue
                inner = re.sub(r"^Collection\((.*)\)$", r"\1", prop.type)
                for child_name in (prop.name, inner, inner + "s"):
                    child = standard.get(f"{service}/{child_name.lower()}")
                    if child is not None and child is not ep and ep.primary_key in child.properties:
                        ep.children[prop.name] = (child.endpoint.lower(), ep.primary_key)
                        break

    def get(self, path: str) -> Endpoint | None:
        return self.endpoints.get(path.lower())

    def by_resource(self, resource: str) -> Endpoint:
        """The standard endpoint that owns ``resource`` (or the only endpoint with that path)."""
        return self.endpoints[resource]

    def topics(self) -> dict[str, Endpoint]:
        """Webhook topics: entity name (lower-case) -> standard endpoint storing it."""
        out: dict[str, Endpoint] = {}
        for ep in self.endpoints.values():
            if ep.kind == "standard" and "POST" in ep.methods:
                out.setdefault(ep.name.lower(), ep)
        return out


@cache
def catalog() -> Catalog:
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return Catalog(data["entities"])


def resolve(path: str) -> Endpoint | None:
    """Find the endpoint for a service path such as ``CRM/Accounts`` (case-insensitive)."""
    return catalog().get(path.strip("/"))
