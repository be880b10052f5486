"""The webshop's part of the sandbox control API (``/sandbox/api/shop/...``), for tests and benchmarks.

    GET|POST /sandbox/api/shop/keys {name}            -> keys / a new key {key, name}
    GET|POST|DELETE /sandbox/api/shop/faults {"rules": [...]}   (rules as for Exact, see sandbox.faults)
    GET|POST /sandbox/api/shop/limits {per_minute, page_size, max_page_size, reset_counters}
    GET|POST /sandbox/api/shop/webhooks {url, topics?, secret?}; DELETE /sandbox/api/shop/webhooks/{id}
    GET  /sandbox/api/shop/deliveries                 -> recent webhook deliveries
    GET|DELETE /sandbox/api/shop/counters             -> record counts, requests by status, counters
    GET  /sandbox/api/shop/requests                   -> recent API requests (newest first)
    POST /sandbox/api/shop/reset {keep_keys: true, seed: true}
    POST /sandbox/api/shop/generate {count}           -> appends ``count`` orders
"""

from __future__ import annotations

from typing import Any

from ..http import Response, json_response
from .api import ShopError, shop_faults, shop_monitor, subscribe
from .limits import shop_limits
from .seed import generate_orders, reset_shop
from .store import shop_store

__all__ = ["shop_control"]


def shop_control(method: str, path: str, body: dict[str, Any]) -> Response:
    """``path`` is what follows ``/sandbox/api/shop``."""
    shop = shop_store()
    try:
        if path == "/keys":
            if method == "POST":
                return json_response(shop.create_key(str(body.get("name") or "tests")), 201)
            return json_response({"keys": shop.api_keys()})
        if path == "/faults":
            if method == "POST":
                return json_response({"rules": shop_faults.set(list(body.get("rules", [])))})
            if method == "DELETE":
                shop_faults.clear()
            return json_response({"rules": shop_faults.describe()})
        if path == "/limits":
            if method == "POST":
                shop_limits.configure(body)
            return json_response(shop_limits.snapshot())
        if path == "/webhooks":
            if method == "POST":
                secret = body.get("secret")
                return json_response(subscribe(shop, body.get("url"), body.get("topics"),
                                               str(secret) if secret else None), 201)
            return json_response({"webhooks": shop.webhooks()})
        if path.startswith("/webhooks/") and method == "DELETE":
            raw = path.rsplit("/", 1)[1]
            return json_response({"deleted": raw.isdigit() and shop.delete_webhook(int(raw))})
        if path == "/deliveries":
            return json_response({"deliveries": shop_monitor.recent_webhooks(200)})
        if path == "/counters":
            if method == "DELETE":
                shop_monitor.reset()
            return json_response({**shop_monitor.snapshot(), "records": shop.counts()})
        if path == "/requests":
            return json_response({"requests": shop_monitor.recent(2000)})
        if path == "/reset" and method == "POST":
            reset_shop(shop, keep_keys=bool(body.get("keep_keys", True)), seed=bool(body.get("seed", True)))
            return json_response({"ok": True})
        if path == "/generate" and method == "POST":
            return json_response({"created": generate_orders(shop, int(body["count"]))}, 201)
    except ShopError as exc:
        return json_response({"error": exc.message}, 400)
    except (KeyError, ValueError, TypeError) as exc:
        return json_response({"error": f"invalid request: {exc}"}, 400)
    return json_response({"error": "not found"}, 404)
