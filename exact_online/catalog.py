"""The entity catalog: Exact Online's REST entities, loaded from the package data ``data/entities.json``.

The catalog is data, never hand-typed: every entity list in the product comes from here. Besides plain
look-ups it knows each entity's *counterparts*: the bulk and sync endpoints that serve the same records
at 1,000 rows per call instead of 60, which the subscriber uses to spend less of Exact's quota.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Catalog", "Entity", "Property", "catalog"]

DATA_FILE = Path(__file__).resolve().parent / "data" / "entities.json"
KINDS = ("standard", "bulk", "sync")


@dataclass(frozen=True, slots=True)
class Property:
    """One property of an entity, as the reference documents it."""

    name: str
    type: str
    description: str = ""
    mandatory: bool | None = None
    primary_key: bool = False
    post: bool | None = None
    put: bool | None = None

    @property
    def is_scalar(self) -> bool:
        """Edm.* values can be selected and filtered; navigation collections (``BankAccounts``) cannot."""
        return self.type.startswith("Edm.")

    @property
    def short_type(self) -> str:
        return self.type.removeprefix("Edm.")


@dataclass(frozen=True)
class Entity:
    """One endpoint of the catalog (``crm/Accounts``, ``bulk/CRM/Accounts`` and ``sync/CRM/Accounts`` are three)."""

    name: str
    service: str
    endpoint: str
    uri: str
    kind: str
    methods: tuple[str, ...]
    primary_key: str | None
    primary_key_type: str | None
    division_in_path: bool = True
    beta: bool = False
    scope: str | None = None
    documentation: str | None = None
    mandatory_on_post: tuple[str, ...] = ()
    properties: tuple[Property, ...] = ()
    _by_name: dict[str, Property] = field(default_factory=dict, repr=False, compare=False)
    _catalog: Catalog | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name.lower(): p for p in self.properties})

    # -- properties --------------------------------------------------------------------------------------
    def get_property(self, name: str) -> Property | None:
        return self._by_name.get(name.strip().lower())

    def has_property(self, name: str) -> bool:
        return name.strip().lower() in self._by_name

    @property
    def property_names(self) -> list[str]:
        return [p.name for p in self.properties]

    @property
    def scalar_property_names(self) -> list[str]:
        return [p.name for p in self.properties if p.is_scalar]

    @property
    def default_select(self) -> list[str]:
        """What ``$select`` sends when the user chose nothing: every scalar property (never ``*``)."""
        return self.scalar_property_names

    def canonical(self, name: str) -> str:
        """The property name spelled as the catalog spells it (``modified`` -> ``Modified``)."""
        prop = self.get_property(name)
        return prop.name if prop else name

    # -- shape -------------------------------------------------------------------------------------------
    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.uri)

    @property
    def is_readable(self) -> bool:
        return "GET" in self.methods

    def supports(self, method: str) -> bool:
        return method.upper() in self.methods

    @property
    def record_key(self) -> str | None:
        """The key that identifies a *record* (sync endpoints are keyed on Timestamp, a row version)."""
        if self.kind == "sync":
            for candidate in ("ID", "EntityKey"):
                if self.has_property(candidate):
                    return self.canonical(candidate)
        return self.primary_key

    @property
    def page_size(self) -> int:
        return 1000 if self.kind in ("bulk", "sync") else 60

    @property
    def label(self) -> str:
        return f"{self.name} ({self.endpoint})"

    def carries(self, names: Iterable[str]) -> bool:
        return all(self.has_property(n) for n in names)

    # -- counterparts ------------------------------------------------------------------------------------
    @property
    def standard_counterpart(self) -> Entity | None:
        return self._counterpart("standard")

    @property
    def bulk_counterpart(self) -> Entity | None:
        return self._counterpart("bulk")

    @property
    def sync_counterpart(self) -> Entity | None:
        return self._counterpart("sync")

    def _counterpart(self, kind: str) -> Entity | None:
        if self.kind == kind:
            return self
        if self._catalog is None:
            return None
        return self._catalog.counterpart(self, kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "methods": list(self.methods),
            "primary_key": self.primary_key,
        }


def _segment(service: str) -> str:
    """The business area of a service: ``bulk/CRM`` -> ``crm``, ``financialtransaction`` -> itself."""
    parts = service.lower().split("/")
    return parts[1] if len(parts) > 1 and parts[0] in ("bulk", "sync") else parts[0]


class Catalog:
    """All entities, with look-ups by endpoint or name, search and counterparts."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.entities: list[Entity] = []
        for item in raw["entities"]:
            props = tuple(
                Property(
                    name=p["name"],
                    type=p.get("type") or "Edm.String",
                    description=p.get("description") or "",
                    mandatory=p.get("mandatory"),
                    primary_key=bool(p.get("primary_key")),
                    post=p.get("post"),
                    put=p.get("put"),
                )
                for p in item.get("properties", [])
            )
            self.entities.append(
                Entity(
                    name=item["name"],
                    service=item["service"],
                    endpoint=item["endpoint"],
                    uri=item["uri"],
                    kind=item["kind"],
                    methods=tuple(m.upper() for m in item.get("methods", [])),
                    primary_key=item.get("primary_key"),
                    primary_key_type=item.get("primary_key_type"),
                    division_in_path=bool(item.get("division_in_path", True)),
                    beta=bool(item.get("beta")),
                    scope=item.get("scope"),
                    documentation=item.get("documentation"),
                    mandatory_on_post=tuple(item.get("mandatory_on_post") or ()),
                    properties=props,
                    _catalog=self,
                )
            )
        self._by_endpoint = {e.endpoint.lower(): e for e in self.entities}
        self._by_name: dict[str, list[Entity]] = {}
        for e in self.entities:
            self._by_name.setdefault(e.name.lower(), []).append(e)
        self._counterparts: dict[tuple[str, str], Entity | None] = {}

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> Catalog:
        with path.open(encoding="utf-8") as fh:
            return cls(json.load(fh))

    def __len__(self) -> int:
        return len(self.entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities)

    def get(self, name_or_endpoint: str) -> Entity | None:
        """By endpoint (``crm/Accounts``, any case) or by name; a bare name prefers the standard endpoint."""
        key = name_or_endpoint.strip().strip("/").lower()
        if key in self._by_endpoint:
            return self._by_endpoint[key]
        candidates = self._by_name.get(key, [])
        if not candidates:
            return None
        for kind in KINDS:
            for entity in candidates:
                if entity.kind == kind:
                    return entity
        return candidates[0]

    def __getitem__(self, name_or_endpoint: str) -> Entity:
        entity = self.get(name_or_endpoint)
        if entity is None:
            raise KeyError(name_or_endpoint)
        return entity

    def search(self, query: str = "", *, kind: str | None = None, method: str | None = None,
               limit: int | None = None) -> list[Entity]:
        """Entities whose name, endpoint, scope or a property name contains every word of ``query``.

        Name and endpoint matches rank before matches on a property only.
        """
        words = [w for w in query.lower().split() if w]
        ranked: list[tuple[int, str, Entity]] = []
        for entity in self.entities:
            if kind and entity.kind != kind:
                continue
            if method and not entity.supports(method):
                continue
            head = f"{entity.name} {entity.endpoint} {entity.scope or ''}".lower()
            if all(w in head for w in words):
                rank = 0 if entity.name.lower() == query.strip().lower() else 1
            elif all(w in head or any(w in p.name.lower() for p in entity.properties) for w in words):
                rank = 2
            else:
                continue
            ranked.append((rank, entity.endpoint.lower(), entity))
        ranked.sort(key=lambda item: (item[0], item[1]))
        result = [entity for _, _, entity in ranked]
        return result[:limit] if limit else result

    def counterpart(self, entity: Entity, kind: str) -> Entity | None:
        """The same records behind another kind of endpoint: same name and the same business area.

        ``financialtransaction/TransactionLines`` pairs with ``sync/Financial/TransactionLines``; payroll's
        ``sync/Payroll/BankAccounts`` does *not* pair with ``crm/BankAccounts``.
        """
        cache_key = (entity.endpoint.lower(), kind)
        if cache_key not in self._counterparts:
            mine = _segment(entity.service)
            found = None
            for other in self._by_name.get(entity.name.lower(), []):
                if other.kind != kind or other is entity or other.service.lower().startswith("read/"):
                    continue
                theirs = _segment(other.service)
                if theirs == mine or mine.startswith(theirs) or theirs.startswith(mine):
                    found = other
                    break
            self._counterparts[cache_key] = found
        return self._counterparts[cache_key]


@cache
def catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return Catalog.load()
