"""Reading entities: ``$filter``, ``$select``, ``$orderby``, ``$top``, ``$skip``, ``$skiptoken``, ``$inlinecount``.

Paging is a keyset scan in SQL (``ORDER BY <orderby...>, key LIMIT n+1``), so a page of 1000 costs the same
at row 100 and at row 99,000. ``__next`` is an absolute URL carrying the original options, the remaining
``$top`` and a ``$skiptoken`` made of the last row's order-by values and key (API.md §4.2).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .catalog import Endpoint, Property, catalog
from .http import ApiError, Request
from .odata import (
    ODataError,
    compile_sql,
    fields_of,
    format_literal,
    parse_filter,
    parse_literal_list,
    parse_orderby,
    rename_fields,
)
from .store import Store
from .values import render_value

__all__ = ["PAGE_SIZES", "Listing", "entity_uri", "list_entities", "owner_of", "render_row"]

PAGE_SIZES = {"standard": 60, "bulk": 1000}
SELECT_REQUIRED = "Please add a $select or a $top=1 statement to the query string."
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def owner_of(ep: Endpoint) -> Endpoint:
    """The standard endpoint whose records ``ep`` serves (itself for standard endpoints)."""
    return catalog().endpoints.get(ep.resource, ep)


def stored_key_name(owner: Endpoint) -> str:
    """The property stored in the ``key`` column: the owner's primary key (``ID`` for sync-only resources)."""
    return owner.primary_key if owner.kind != "sync" else "ID"


def stored_key_type(owner: Endpoint) -> str:
    return owner.primary_key_type if owner.kind != "sync" else "Edm.Guid"


def key_literal(owner: Endpoint, key: Any) -> str:
    return format_literal(key, stored_key_type(owner))


def entity_uri(host_url: str, division: int, ep: Endpoint, key: Any, ts: int) -> str:
    owner = owner_of(ep)
    literal = f"{ts}L" if ep.kind == "sync" else key_literal(owner, key)
    return f"{host_url}/api/v1/{division}/{ep.endpoint}({literal})"


def parse_key(owner: Endpoint, text: str) -> Any:
    """``guid'…'`` / ``123`` / ``'ABC'`` from a URL -> the stored key."""
    try:
        values = parse_literal_list(text)
    except ODataError as exc:
        raise ApiError(400, f"Bad Request - Error in query syntax: {exc}") from exc
    if len(values) != 1:
        raise ApiError(400, "Bad Request - Error in query syntax.")
    value = values[0]
    if owner.primary_key_type in {"Edm.Int32", "Edm.Int64", "Edm.Int16"}:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "Bad Request - Error in query syntax.") from exc
    return str(value).lower() if owner.primary_key_type == "Edm.Guid" else value


class Columns:
    """Maps property names of an endpoint to SQL over the records table."""

    def __init__(self, ep: Endpoint) -> None:
        self.ep = ep
        self.owner = owner_of(ep)

    def canonical(self, name: str) -> str | None:
        prop = self.ep.property_ci(name) or self.owner.property_ci(name)
        if prop is not None:
            return prop.name
        return "Timestamp" if name.lower() == "timestamp" else None

    def prop(self, name: str) -> Property | None:
        return self.ep.properties.get(name) or self.owner.properties.get(name)

    def sql(self, name: str) -> str:
        if name == stored_key_name(self.owner):
            return "key"
        if name == "Timestamp":
            return "ts"
        if name == "Division":
            return "division"
        if not _NAME.match(name):
            raise ApiError(400, f"Invalid property name '{name}'.")
        return f"json_extract(data, '$.{name}')"

    def edm(self, name: str) -> str:
        if name == "Timestamp":
            return "Edm.Int64"
        prop = self.prop(name)
        return prop.type if prop else "Edm.String"


@dataclass
class Listing:
    rows: list[dict[str, Any]]
    next_url: str | None
    count: int | None


def _int_option(request: Request, name: str) -> int | None:
    raw = request.option(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid value for {name}: '{raw}'.") from exc
    if value < 0:
        raise ApiError(400, f"Invalid value for {name}: '{raw}'.")
    return value


def parse_select(request: Request, cols: Columns) -> list[str] | None:
    raw = request.option("$select")
    if raw is None or raw.strip() in {"", "*"}:
        return None
    names = []
    for part in raw.split(","):
        name = cols.canonical(part.strip().split("/")[0])
        if name is None:
            raise ApiError(400, f"No property '{part.strip()}' exists in type '{cols.ep.type_name}'.")
        if name not in names:
            names.append(name)
    return names


def _keyset(sort: list[tuple[str, bool]], values: list[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in the order ``sort`` (NULLs first ascending, as SQLite sorts)."""
    ors: list[str] = []
    params: list[Any] = []
    for i, (col, desc) in enumerate(sort):
        parts: list[str] = []
        part_params: list[Any] = []
        for (prev_col, _), prev_val in zip(sort[:i], values[:i], strict=True):
            if prev_val is None:
                parts.append(f"{prev_col} IS NULL")
            else:
                parts.append(f"{prev_col} = ?")
                part_params.append(prev_val)
        value = values[i]
        if value is None:
            if desc:
                continue  # nothing sorts after NULL when descending
            parts.append(f"{col} IS NOT NULL")
        elif desc:
            parts.append(f"({col} < ? OR {col} IS NULL)")
            part_params.append(value)
        else:
            parts.append(f"{col} > ?")
            part_params.append(value)
        ors.append("(" + " AND ".join(parts) + ")")
        params.extend(part_params)
    return ("(" + " OR ".join(ors) + ")" if ors else "0"), params


def _next_url(request: Request, top_left: int | None, token: str) -> str:
    parts = []
    for key, value in request.query_items:
        if key.lower() in {"$skiptoken", "$skip", "$top"}:
            continue
        parts.append(f"{quote(key, safe='$')}={quote(value, safe=chr(39) + ',()$')}")
    if top_left is not None:
        parts.append(f"$top={top_left}")
    parts.append(f"$skiptoken={quote(token, safe=chr(39) + ',()-')}")
    return f"{request.host_url}{request.path}?{'&'.join(parts)}"


def build_where(ep: Endpoint, cols: Columns, request: Request) -> tuple[str, list[Any]]:
    raw = request.option("$filter")
    if raw is None or not raw.strip():
        return "", []
    try:
        ast = parse_filter(raw)
    except ODataError as exc:
        raise ApiError(400, f"Bad Request - Error in query syntax. {exc}") from exc
    for name in fields_of(ast):
        if cols.canonical(name) is None:
            raise ApiError(400, f"No property '{name}' exists in type '{ep.type_name}'.")
    ast = rename_fields(ast, lambda n: cols.canonical(n) or n)
    sql, params = compile_sql(ast, cols.sql)
    return f" AND {sql}", params


def list_entities(store: Store, ep: Endpoint, division: int, request: Request, *,
                  extra_where: str = "", extra_params: list[Any] | None = None) -> Listing:
    cols = Columns(ep)
    select = parse_select(request, cols)
    top = _int_option(request, "$top")
    skip = _int_option(request, "$skip") or 0
    if ep.kind in {"bulk", "sync"} and select is None and top != 1:
        raise ApiError(400, SELECT_REQUIRED)
    page_size = PAGE_SIZES[ep.page_size_kind]
    where, params = build_where(ep, cols, request)
    where += extra_where
    params += extra_params or []
    base_params: list[Any] = [ep.resource, division]
    count = None
    if (request.option("$inlinecount") or "").lower() == "allpages":
        count = int(store.db.execute(f"SELECT count(*) FROM records WHERE resource = ? AND division = ?{where}",  # noqa: S608
                                     base_params + params).fetchone()[0])
    key_col = "ts" if ep.kind == "sync" and not request.option("$orderby") else "key"
    key_type = "Edm.Int64" if key_col == "ts" else stored_key_type(cols.owner)
    sort: list[tuple[str, bool]] = []
    sort_types: list[str] = []
    sort_names: list[str] = []
    if request.option("$orderby"):
        try:
            for name, desc in parse_orderby(request.option("$orderby") or "", cols.canonical):
                sort.append((cols.sql(name), desc))
                sort_types.append(cols.edm(name))
                sort_names.append(name)
        except ODataError as exc:
            raise ApiError(400, str(exc)) from exc
    sort.append((key_col, False))
    sort_types.append(key_type)
    token = request.option("$skiptoken")
    if token:
        try:
            values = parse_literal_list(token)
        except ODataError as exc:
            raise ApiError(400, "Invalid $skiptoken.") from exc
        if len(values) != len(sort):
            raise ApiError(400, "Invalid $skiptoken.")
        values = [v.lower() if isinstance(v, str) and t == "Edm.Guid" else v for v, t in zip(values, sort_types,
                                                                                              strict=True)]
        ks_sql, ks_params = _keyset(sort, values)
        where += f" AND {ks_sql}"
        params += ks_params
    limit = min(top, page_size) if top is not None else page_size
    order = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in sort)
    sort_cols = ", ".join(f"{c} AS s{i}" for i, (c, _) in enumerate(sort))
    sql = (f"SELECT key, ts, data, {sort_cols} FROM records WHERE resource = ? AND division = ?{where} "  # noqa: S608
           f"ORDER BY {order} LIMIT ? OFFSET ?")
    rows = store.select(sql, base_params + params + [limit + 1, skip])
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more and rows and limit > 0:
        top_left = None if top is None else top - len(rows)
        if top_left is None or top_left > 0:
            last = rows[-1]
            token_text = ",".join(format_literal(last[f"s{i}"], t) for i, t in enumerate(sort_types))
            next_url = _next_url(request, top_left, token_text)
    expand = [n.strip() for n in (request.option("$expand") or "").split(",") if n.strip()]
    rendered = render_rows(store, ep, division, request.host_url, rows, select, expand)
    return Listing(rendered, next_url, count)


def render_rows(store: Store, ep: Endpoint, division: int, host_url: str, rows: list[Any],
                select: list[str] | None, expand: list[str]) -> list[dict[str, Any]]:
    owner = owner_of(ep)
    children: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for name in expand:
        prop = owner.property_ci(name)
        if prop is None or prop.name not in owner.children:
            raise ApiError(400, f"No navigation property '{name}' exists in type '{ep.type_name}'.")
        child_resource, parent_field = owner.children[prop.name]
        keys = [r["key"] for r in rows]
        grouped: dict[Any, list[dict[str, Any]]] = {}
        if keys:
            marks = ",".join("?" * len(keys))
            child_ep = catalog().endpoints[child_resource]
            child_rows = store.select(
                f"SELECT key, ts, data FROM records WHERE resource = ? AND division = ? "  # noqa: S608
                f"AND json_extract(data, '$.{parent_field}') IN ({marks}) ORDER BY key",
                [child_resource, division, *keys])
            for crow in child_rows:
                rendered = render_row(child_ep, division, host_url, crow["key"], crow["ts"], json.loads(crow["data"]),
                                      None)
                grouped.setdefault(json.loads(crow["data"]).get(parent_field), []).append(rendered)
        children[prop.name] = grouped
    out = []
    for row in rows:
        data = json.loads(row["data"])
        item = render_row(ep, division, host_url, row["key"], row["ts"], data, select)
        for name, grouped in children.items():
            # Expanded collections page on their own, like the entity sets (FIELD-NOTES C2).
            lines = grouped.get(row["key"], [])
            size = PAGE_SIZES["standard"]
            item[name] = {"results": lines[:size]}
            if len(lines) > size:
                child_ep = catalog().endpoints[owner.children[name][0]]
                last_key = lines[size - 1][stored_key_name(child_ep)]
                token = quote(key_literal(child_ep, last_key), safe="',()-")
                item[name]["__next"] = f"{item['__metadata']['uri']}/{name}?$skiptoken={token}"
        out.append(item)
    return out


def render_row(ep: Endpoint, division: int, host_url: str, key: Any, ts: int, data: dict[str, Any],
               select: list[str] | None) -> dict[str, Any]:
    uri = entity_uri(host_url, division, ep, key, ts)
    item: dict[str, Any] = {"__metadata": {"uri": uri, "type": ep.type_name}}
    names = select if select is not None else list(ep.properties)
    props = ep.properties
    for name in names:
        prop = props.get(name)
        if name == "Timestamp":
            item[name] = ts
        elif prop is not None and prop.is_navigation:
            item[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
        else:
            item[name] = render_value(prop, data.get(name))
    return item
