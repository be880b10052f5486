"""The webshop's page at ``/shop/``: catalogue, customers, orders, API keys, webhooks, faults and logs.

Like the Exact page it has no login (the sandbox is a local test double); API keys and webhook secrets are
shown because a consultant copies them from here into the product.
"""

from __future__ import annotations

import time
from typing import Any

from django.template.loader import render_to_string

from ..guard import form_token
from ..http import Request, Response
from .api import API_PREFIX, ShopError, shop_faults, shop_monitor, subscribe
from .limits import shop_limits
from .seed import reset_shop
from .store import shop_store

__all__ = ["shop_page", "shop_page_post"]


def _times(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for entry in entries:
        entry["time"] = time.strftime("%H:%M:%S", time.localtime(entry["at"]))
    return entries


def _render(request: Request, message: str = "", error: str = "", status: int = 200) -> Response:
    shop = shop_store()
    context = {
        "base_url": request.host_url, "api_url": f"{request.host_url}{API_PREFIX}",
        "counts": shop.counts(), "keys": shop.api_keys(), "webhooks": shop.webhooks(),
        "products": shop.latest("products"), "customers": shop.latest("customers"), "orders": shop.latest("orders"),
        "requests": _times(shop_monitor.recent(100)), "deliveries": _times(shop_monitor.recent_webhooks(30)),
        "faults": shop_faults.describe(), "limits": shop_limits.snapshot(),
        "counters": shop_monitor.snapshot(), "message": message, "error": error, "form_token": form_token(request),
        "refresh": request.option("refresh") if (request.option("refresh") or "").isdigit() else "",
    }
    return Response(status, render_to_string("sandbox/shop.html", context), content_type="text/html; charset=utf-8")


def shop_page(request: Request) -> Response:
    return _render(request)


def shop_page_post(request: Request) -> Response:
    """The page's forms: create an API key, add or delete a webhook, reset the shop."""
    form = request.form()
    shop = shop_store()
    action = request.path.rstrip("/")
    if action == "/shop/keys":
        name = form.get("name", "").strip()
        if not name:
            return _render(request, error="Give the key a name (e.g. the integration that will use it).", status=400)
        key = shop.create_key(name)
        return _render(request, message=f"API key “{name}” created: {key['key']}", status=201)
    if action == "/shop/webhooks":
        topics = [t for t in ("order.created", "order.updated") if form.get(t) == "on"]
        try:
            hook = subscribe(shop, form.get("url", "").strip(), topics or None)
        except ShopError as exc:
            return _render(request, error=f"Webhook not added: {exc.message}.", status=400)
        return _render(request, message=f"Webhook {hook['id']} added; its signing secret is {hook['secret']}",
                       status=201)
    if action.startswith("/shop/webhooks/") and action.endswith("/delete"):
        raw = action.split("/")[3]
        if raw.isdigit():
            shop.delete_webhook(int(raw))
        return Response(303, b"", [("Location", "/shop/")])
    if action == "/shop/reset":
        reset_shop(shop, keep_keys=form.get("keep_keys") == "on")
        return Response(303, b"", [("Location", "/shop/")])
    return Response(404, "Not found", content_type="text/plain")
