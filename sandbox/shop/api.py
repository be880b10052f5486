"""The webshop's REST API under ``/shop/api/v1/``: customers, products, orders, webhook subscriptions.

Every call needs an API key (``X-API-Key`` header, ``Authorization: Bearer <key>`` or ``?api_key=``). Lists
answer ``{"data": [...], "has_more": bool, "next_cursor": str|null, "next_url": str|null}`` plus
``Link: <...>; rel="next"``;
errors answer ``{"error": {"code": ..., "message": ...}}``. See sandbox/README.md for the full reference.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ..faults import HTML_PAGE, FaultSet, apply_drop
from ..http import Request, Response, json_response
from ..monitor import Monitor
from .limits import shop_limits
from .store import ShopStore, parse_stamp, shop_store
from .webhooks import notify

__all__ = ["API_PREFIX", "ORDER_STATUSES", "ShopError", "create_order", "handle_shop_api", "shop_faults",
           "shop_monitor"]

API_PREFIX = "/shop/api/v1"
ORDER_STATUSES = ("pending", "paid", "shipped", "completed", "cancelled", "refunded")
READ_ONLY = {"id", "created_at", "updated_at", "number", "total", "customer"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_PARAMS = {"limit", "cursor", "page", "per_page", "offset", "updated_after", "updated_at_min", "sort", "api_key"}
FILTERS = {"customers": {"email"}, "products": {"sku", "active"}, "orders": {"status", "customer_id", "email"}}

shop_faults = FaultSet()
shop_monitor = Monitor()


class ShopError(Exception):
    """An error the shop answers as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, list(headers or [])

    def response(self) -> Response:
        return json_response({"error": {"code": self.code, "message": self.message}}, self.status, self.headers)


# --- validation ---------------------------------------------------------------------------------------
def _text(data: dict[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ShopError(422, "invalid", f"{name} is required")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ShopError(422, "invalid", f"{name} must be a string")
    text = str(value).strip()
    if required and not text:
        raise ShopError(422, "invalid", f"{name} must not be empty")
    if len(text) > limit:
        raise ShopError(422, "invalid", f"{name} is longer than {limit} characters")
    return text


def _number(value: Any, name: str, *, integer: bool = False, minimum: float | None = 0) -> float | int:
    if isinstance(value, bool):
        raise ShopError(422, "invalid", f"{name} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ShopError(422, "invalid", f"{name} must be a number, not {value!r}") from None
    if number != number or number in {float("inf"), float("-inf")}:
        raise ShopError(422, "invalid", f"{name} must be a finite number")
    if integer:
        if number != int(number):
            raise ShopError(422, "invalid", f"{name} must be a whole number")
        number = int(number)
    if minimum is not None and number < minimum:
        raise ShopError(422, "invalid", f"{name} must be at least {minimum:g}")
    return number if integer else round(number, 2)


def _check_fields(data: Any, allowed: set[str], what: str) -> dict[str, Any]:
    """Refuse unknown fields (a typo must not vanish silently); drop read-only ones a client echoes back."""
    if not isinstance(data, dict):
        raise ShopError(400, "invalid_json", f"the body must be a JSON object ({what})")
    unknown = sorted(set(data) - allowed - READ_ONLY)
    if unknown:
        raise ShopError(422, "unknown_field", f"unknown field(s) {', '.join(unknown)} for {what}; "
                                              f"allowed: {', '.join(sorted(allowed))}")
    return {k: v for k, v in data.items() if k in allowed or k not in READ_ONLY}


CUSTOMER_FIELDS = {"email", "first_name", "last_name", "company", "phone", "address"}
ADDRESS_FIELDS = {"line1", "postcode", "city", "country"}
PRODUCT_FIELDS = {"sku", "name", "description", "price", "stock", "active"}
ORDER_FIELDS = {"customer_id", "customer", "lines", "status", "note", "currency"}
LINE_FIELDS = {"sku", "quantity", "unit_price", "name"}


def clean_customer(data: Any, *, partial: bool) -> dict[str, Any]:
    data = _check_fields(data, CUSTOMER_FIELDS, "a customer")
    clean: dict[str, Any] = {}
    if "email" in data or not partial:
        email = _text(data, "email", required=True) or ""
        if not EMAIL_RE.match(email):
            raise ShopError(422, "invalid", f"email {email!r} is not an e-mail address")
        clean["email"] = email
    for name in ("first_name", "last_name", "company", "phone"):
        if name in data:
            clean[name] = _text(data, name) or ""
    if "address" in data:
        address = _check_fields(data["address"] or {}, ADDRESS_FIELDS, "an address")
        clean["address"] = {name: _text(address, name) or "" for name in sorted(ADDRESS_FIELDS)}
    return clean


def clean_product(data: Any, *, partial: bool) -> dict[str, Any]:
    data = _check_fields(data, PRODUCT_FIELDS, "a product")
    clean: dict[str, Any] = {}
    if "sku" in data or not partial:
        clean["sku"] = _text(data, "sku", required=True, limit=64)
    if "name" in data or not partial:
        clean["name"] = _text(data, "name", required=True)
    if "description" in data:
        clean["description"] = _text(data, "description", limit=2000) or ""
    if "price" in data:
        clean["price"] = _number(data["price"], "price")
    if "stock" in data:
        clean["stock"] = _number(data["stock"], "stock", integer=True, minimum=None)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ShopError(422, "invalid", "active must be true or false")
        clean["active"] = data["active"]
    return clean


# --- writes -------------------------------------------------------------------------------------------
def _customer_summary(customer: dict[str, Any]) -> dict[str, Any]:
    return {k: customer.get(k, "") for k in ("id", "email", "first_name", "last_name", "company")}


def _create(shop: ShopStore, db: sqlite3.Connection, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    stamp = shop.next_stamps(db)[0]
    record = {"id": shop.next_id(db, kind), **values, "created_at": stamp, "updated_at": stamp}
    shop.save(db, kind, record)
    return record


def create_customer(shop: ShopStore, db: sqlite3.Connection, values: dict[str, Any]) -> dict[str, Any]:
    if shop.find("customers", "email", values["email"], db):
        raise ShopError(409, "duplicate", f"a customer with email {values['email']} exists already")
    base = {"first_name": "", "last_name": "", "company": "", "phone": "",
            "address": dict.fromkeys(sorted(ADDRESS_FIELDS), "")}
    return _create(shop, db, "customers", {**base, **values})


def create_product(shop: ShopStore, db: sqlite3.Connection, values: dict[str, Any]) -> dict[str, Any]:
    if shop.find("products", "sku", values["sku"], db):
        raise ShopError(409, "duplicate", f"a product with SKU {values['sku']} exists already")
    return _create(shop, db, "products", {"description": "", "price": 0.0, "stock": 0, "active": True,
                                          "currency": "EUR", **values})


def create_order(shop: ShopStore, db: sqlite3.Connection, data: Any) -> dict[str, Any]:
    """Validate an order (customer by id or found/created by email, lines by SKU) and store it."""
    data = _check_fields(data, ORDER_FIELDS, "an order")
    if data.get("customer_id") is not None:
        customer = shop.get("customers", int(_number(data["customer_id"], "customer_id", integer=True)))
        if customer is None:
            raise ShopError(422, "invalid", f"customer {data['customer_id']} does not exist")
    elif data.get("customer") is not None:
        values = clean_customer(data["customer"], partial=False)
        customer = shop.find("customers", "email", values["email"], db) or create_customer(shop, db, values)
    else:
        raise ShopError(422, "invalid", "an order needs customer_id or customer {email, ...}")
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ShopError(422, "invalid", "lines must be a non-empty list of {sku, quantity}")
    status = str(data.get("status") or "pending")
    if status not in ORDER_STATUSES:
        raise ShopError(422, "invalid", f"status must be one of {', '.join(ORDER_STATUSES)}")
    order_id = shop.next_id(db, "orders")
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        line = _check_fields(raw, LINE_FIELDS, f"order line {number}")
        sku = _text(line, "sku", required=True, limit=64) or ""
        product = shop.find("products", "sku", sku, db)
        if product is None:
            raise ShopError(422, "invalid", f"line {number}: no product with SKU {sku}")
        quantity = _number(line.get("quantity", 1), f"line {number} quantity", integer=True, minimum=1)
        price = _number(line["unit_price"], f"line {number} unit_price") if "unit_price" in line else product["price"]
        lines.append({"id": order_id * 1000 + number, "line_number": number, "product_id": product["id"], "sku": sku,
                      "name": _text(line, "name") or product["name"], "quantity": quantity, "unit_price": price,
                      "total": round(quantity * price, 2)})
    stamp = shop.next_stamps(db)[0]
    order = {"id": order_id, "number": str(1000 + order_id), "status": status, "currency": "EUR",
             "customer_id": customer["id"], "customer": _customer_summary(customer),
             "note": _text(data, "note", limit=2000) or "", "lines": lines,
             "total": round(sum(line["total"] for line in lines), 2), "created_at": stamp, "updated_at": stamp}
    shop.save(db, "orders", order)
    return order


def _update(shop: ShopStore, db: sqlite3.Connection, kind: str, record: dict[str, Any],
            changes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Apply ``changes``; a write that changes nothing keeps ``updated_at`` (no false incremental hits)."""
    merged = {**record, **changes}
    if merged == record:
        return record, False
    merged["updated_at"] = shop.next_stamps(db)[0]
    shop.save(db, kind, merged)
    return merged, True


# --- reads --------------------------------------------------------------------------------------------
def _encode_cursor(sort: str, record: dict[str, Any]) -> str:
    raw = json.dumps([sort, record["updated_at"], record["id"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, stamp, last_id = json.loads(raw)
        if kind != sort:
            raise ValueError
        return str(stamp), int(last_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ShopError(400, "invalid_cursor", "cursor is not one this API handed out (for this sort)") from None


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.option(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ShopError(400, "invalid_parameter", f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ShopError(400, "invalid_parameter", f"{name} must be {bound}")
    return value


def list_records(request: Request, kind: str) -> Response:
    known = LIST_PARAMS | FILTERS[kind]
    unknown = sorted({k for k, _ in request.query_items} - known)
    if unknown:
        raise ShopError(400, "invalid_parameter", f"unknown query parameter(s) {', '.join(unknown)}; "
                                                  f"known: {', '.join(sorted(known - {'api_key'}))}")
    limits = shop_limits
    limit = _int_param(request, "limit", limits.page_size, 1, limits.max_page_size)
    limit = _int_param(request, "per_page", limit, 1, limits.max_page_size)
    sort = request.option("sort") or "updated_at"
    if sort not in {"updated_at", "id"}:
        raise ShopError(400, "invalid_parameter", "sort must be updated_at or id")
    where: list[str] = []
    params: list[Any] = []
    for name, op in (("updated_after", ">"), ("updated_at_min", ">=")):
        value = request.option(name)
        if value:
            try:
                params.append(parse_stamp(value))
            except ValueError:
                raise ShopError(400, "invalid_parameter",
                                f"{name} must be an ISO-8601 time like 2026-01-31T12:00:00Z, not {value!r}") from None
            where.append(f"updated_at {op} ?")
    for name in sorted(FILTERS[kind]):
        value = request.option(name)
        if value is None:
            continue
        if name == "email":
            path = "$.customer.email" if kind == "orders" else "$.email"
            where.append(f"lower(json_extract(data, '{path}')) = lower(?)")
            params.append(value)
        elif name in {"customer_id"}:
            where.append("json_extract(data, '$.customer_id') = ?")
            params.append(_int_param(request, name, 0, 1))
        elif name == "active":
            where.append("json_extract(data, '$.active') = ?")
            params.append(1 if value.lower() in {"1", "true", "yes"} else 0)
        else:
            where.append(f"json_extract(data, '$.{name}') = ?")
            params.append(value)
    order = "updated_at, id" if sort == "updated_at" else "id"
    page = _int_param(request, "page", 0, 1)
    offset = _int_param(request, "offset", (page - 1) * limit if page else 0, 0)
    cursor = request.option("cursor")
    if cursor:
        if page or request.option("offset"):
            raise ShopError(400, "invalid_parameter", "use cursor, page or offset, not several")
        stamp, last_id = _decode_cursor(cursor, sort)
        if sort == "updated_at":
            where.append("(updated_at, id) > (?, ?)")
            params.extend([stamp, last_id])
        else:
            where.append("id > ?")
            params.append(last_id)
        offset = 0
    rows = shop_store().page(kind, where, params, order, limit + 1, offset)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(sort, rows[-1]) if has_more and rows else None
    body: dict[str, Any] = {"data": rows, "has_more": has_more, "next_cursor": next_cursor, "next_url": None}
    headers: list[tuple[str, str]] = []
    if has_more:
        keep = [(k, v) for k, v in request.query_items if k not in {"cursor", "page", "offset", "api_key"}]
        if page:
            keep.append(("page", str(page + 1)))
            body["page"] = page
        elif request.option("offset"):
            keep.append(("offset", str(offset + limit)))
        else:
            keep.append(("cursor", next_cursor or ""))
        body["next_url"] = f"{request.host_url}{request.path}?{urlencode(keep)}"
        headers.append(("Link", f'<{body["next_url"]}>; rel="next"'))
    return json_response(body, 200, headers)


# --- routing ------------------------------------------------------------------------------------------
def _body(request: Request) -> Any:
    if not request.body:
        raise ShopError(400, "invalid_json", "a JSON body is required")
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise ShopError(400, "invalid_json", "the body is not valid JSON") from None


def _record_or_404(shop: ShopStore, kind: str, raw_id: str) -> dict[str, Any]:
    record = shop.get(kind, int(raw_id)) if raw_id.isdigit() else None
    if record is None:
        raise ShopError(404, "not_found", f"no {kind[:-1]} with id {raw_id}")
    return record


def _write(shop: ShopStore, work: Callable[[sqlite3.Connection], tuple[dict[str, Any], int, list[str]]]) -> Response:
    """Run ``work`` in one write transaction; then send its webhook events (after commit)."""
    with shop.store.write() as db:
        record, status, events = work(db)
    for topic in events:
        notify(shop, topic, record)
    return json_response(record, status)


def _route(request: Request, parts: list[str]) -> Response:
    shop = shop_store()
    method = request.method
    if not parts:
        return json_response({"resources": ["customers", "products", "orders", "webhooks"]})
    kind = parts[0]
    if kind == "webhooks":
        return _webhooks(request, shop, parts[1:])
    if kind not in FILTERS:
        raise ShopError(404, "not_found", f"no resource {kind!r}; try customers, products, orders or webhooks")
    if len(parts) == 1:
        if method == "GET":
            return list_records(request, kind)
        if method == "POST":
            payload = _body(request)
            if kind == "orders":
                return _write(shop, lambda db: (create_order(shop, db, payload), 201, ["order.created"]))
            if kind == "customers":
                values = clean_customer(payload, partial=False)
                return _write(shop, lambda db: (create_customer(shop, db, values), 201, []))
            values = clean_product(payload, partial=False)
            return _write(shop, lambda db: (create_product(shop, db, values), 201, []))
        raise ShopError(405, "method_not_allowed", f"{method} is not allowed on /{kind}; use GET or POST")
    if kind == "products" and len(parts) == 3 and parts[1] == "sku":
        record = shop.find("products", "sku", parts[2])
        if record is None and method == "PUT":  # PUT by SKU creates: an idempotent upsert for publishers
            values = clean_product({"sku": parts[2], **_as_dict(_body(request))}, partial=False)
            return _write(shop, lambda db: (create_product(shop, db, values), 201, []))
        if record is None:
            raise ShopError(404, "not_found", f"no product with SKU {parts[2]}")
    elif len(parts) == 2:
        record = _record_or_404(shop, kind, parts[1])
    else:
        raise ShopError(404, "not_found", f"no such path {request.path}")
    if method == "GET":
        return json_response(record)
    if method == "DELETE":
        if kind == "orders":
            raise ShopError(405, "method_not_allowed", "orders cannot be deleted; set status cancelled")
        shop.delete(kind, record["id"])
        return Response(204)
    if method in {"PUT", "PATCH"}:
        payload = _body(request)
        if kind == "orders":
            changes = _check_fields(payload, {"status", "note"}, "an order update (status, note)")
            if "status" in changes and changes["status"] not in ORDER_STATUSES:
                raise ShopError(422, "invalid", f"status must be one of {', '.join(ORDER_STATUSES)}")
        elif kind == "customers":
            changes = clean_customer(payload, partial=True)
        else:
            changes = clean_product(payload, partial=True)

        def update(db: sqlite3.Connection) -> tuple[dict[str, Any], int, list[str]]:
            current = shop.get(kind, record["id"]) or record
            unique = "email" if kind == "customers" else "sku"
            if unique in changes:
                other = shop.find(kind, unique, changes[unique], db)
                if other and other["id"] != current["id"]:
                    raise ShopError(409, "duplicate", f"another {kind[:-1]} has {unique} {changes[unique]}")
            updated, changed = _update(shop, db, kind, current, changes)
            return updated, 200, ["order.updated"] if changed and kind == "orders" else []

        return _write(shop, update)
    raise ShopError(405, "method_not_allowed", f"{method} is not allowed here")


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ShopError(400, "invalid_json", "the body must be a JSON object")
    return value


def _webhooks(request: Request, shop: ShopStore, parts: list[str]) -> Response:
    if not parts and request.method == "GET":
        return json_response({"data": [{k: v for k, v in w.items() if k != "secret"} for w in shop.webhooks()]})
    if not parts and request.method == "POST":
        body = _as_dict(_body(request))
        return json_response(subscribe(shop, body.get("url"), body.get("topics")), 201)
    if len(parts) == 1 and request.method == "DELETE":
        if not (parts[0].isdigit() and shop.delete_webhook(int(parts[0]))):
            raise ShopError(404, "not_found", f"no webhook {parts[0]}")
        return Response(204)
    raise ShopError(405, "method_not_allowed", "webhooks: GET, POST, or DELETE /webhooks/{id}")


TOPICS = ("order.created", "order.updated")


def subscribe(shop: ShopStore, url: Any, topics: Any, secret: str | None = None) -> dict[str, Any]:
    """A webhook subscription (the secret is answered once, here)."""
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise ShopError(422, "invalid", "url must be an http(s) URL")
    chosen = list(topics or TOPICS)
    if not all(t in TOPICS for t in chosen):
        raise ShopError(422, "invalid", f"topics must be among {', '.join(TOPICS)}")
    return shop.add_webhook(url, chosen, secret)


def _api_key(request: Request) -> str:
    key = request.headers.get("x-api-key") or request.bearer() or request.option("api_key")
    if not key:
        raise ShopError(401, "unauthorized", "missing API key: send it in the X-API-Key header "
                                             "(or Authorization: Bearer <key>, or ?api_key=)")
    if not shop_store().key_exists(key):
        raise ShopError(401, "unauthorized", "invalid API key")
    return key


def _idempotent(request: Request, api_key: str, run: Callable[[], Response]) -> Response:
    """POST with ``Idempotency-Key``: the first answer is stored and replayed for the same key."""
    key = request.headers.get("idempotency-key")
    if request.method != "POST" or not key:
        return run()
    shop = shop_store()
    stored = shop.replay(api_key, key)
    if stored is not None:
        return json_response(json.loads(stored[1]), stored[0], [("Idempotent-Replayed", "true")])
    response = run()
    if response.status < 500:
        with shop.store.write() as db:
            shop.remember(db, api_key, key, response.status, response.body.decode("utf-8"))
    return response


def handle_shop_api(request: Request) -> tuple[Response, str]:
    """One API call with the injected faults around it; returns the response and a fault label."""
    plan = shop_faults.plan(request.method, request.path)
    shop_faults.wait(plan)
    if plan.throttle:
        return ShopError(429, "rate_limited", "too many requests", [("Retry-After", "1")]).response(), "throttle"
    if plan.html_status:
        return Response(plan.html_status, HTML_PAGE, content_type="text/html; charset=utf-8"), "html"
    if plan.error_status:
        return ShopError(plan.error_status, "server_error", "the shop had a problem; try again").response(), "error"
    if plan.expired_token:
        return ShopError(401, "unauthorized", "invalid API key").response(), "expired_token"
    try:
        api_key = _api_key(request)
        allowed, rate_headers = shop_limits.check(api_key)
        if not allowed:
            raise ShopError(429, "rate_limited", f"over {shop_limits.per_minute} requests per minute for this key",
                            rate_headers)
        parts = [p for p in request.path[len(API_PREFIX):].split("/") if p]
        response = _idempotent(request, api_key, lambda: _route(request, parts))
        response.headers.extend(rate_headers)
    except ShopError as exc:
        response = exc.response()
    return apply_drop(plan, response)
