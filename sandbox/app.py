"""The sandbox's WSGI application: Exact's URLs, the control API for tests, and the sandbox's own page.

Control API (the token ``SANDBOX_CONTROL_TOKEN`` in ``X-Sandbox-Token`` and JSON bodies, see sandbox.guard;
``health`` is open)::

    GET  /sandbox/api/health                      -> {"ok": true}
    POST /sandbox/api/apps      {name, redirect_uri, scopes?}  -> {client_id, client_secret, webhook_secret, ...}
    GET|POST|DELETE /sandbox/api/faults   {"rules": [...]}   (see sandbox.faults)
    GET|POST /sandbox/api/limits {minutely, daily, token_daily, apps: {client_id: {...} or null} (merged),
                                  page_size_standard, page_size_bulk, reset_counters}
    GET|DELETE /sandbox/api/counters              -> token calls, refusals, requests per status ...
    POST /sandbox/api/reset     {keep_apps: true, seed: true}
    GET|POST /sandbox/api/clock {advance: seconds} (moves the sandbox clock forward)
    POST /sandbox/api/generate  {entity, count, division}
    GET  /sandbox/api/requests, /sandbox/api/webhooks  (recent log entries)
    POST /sandbox/api/webhooks  {delivery: false}  (drop Exact webhook events, as Exact sometimes does; true again)
    /sandbox/api/shop/...                          the demo webshop's controls (see sandbox.shop.control)

The demo webshop's API lives under ``/shop/api/v1/`` and its page at ``/shop/`` (see sandbox.shop).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from .faults import DUTCH_VALIDATION, HTML_PAGE, apply_drop, faults
from .guard import control_refusal, csrf_cookie_header, csrf_refusal, host_refusal
from .http import ApiError, Request, Response, drop_connection, json_response, www_authenticate
from .limits import limiter
from .monitor import monitor
from .oauth import auth_page, register_app, token_endpoint
from .pages import index_page, register_page, reset_page
from .query import PAGE_SIZES
from .rest import handle_api
from .seed import generate, reset_sandbox
from .shop.api import API_PREFIX as SHOP_API_PREFIX
from .shop.api import handle_shop_api, shop_monitor
from .shop.control import shop_control
from .shop.pages import shop_page, shop_page_post
from .store import clock, get_store
from .webhooks import delivery as webhook_delivery

__all__ = ["application"]

logger = logging.getLogger(__name__)


def _control(request: Request) -> Response:
    path = request.path.rstrip("/")[len("/sandbox/api"):]
    method = request.method
    if path == "/health":
        return json_response({"ok": True, "time_scale": clock.scale})
    refusal = control_refusal(request)
    if refusal:
        return refusal
    body: dict[str, Any] = {}
    if method in {"POST", "PUT"} and request.body:
        try:
            body = request.json() or {}
        except ValueError:
            return json_response({"error": "invalid JSON"}, 400)
        if not isinstance(body, dict):
            return json_response({"error": "the body must be a JSON object"}, 400)
    if path.startswith("/shop/"):
        return shop_control(method, path[len("/shop"):], body)
    if path == "/apps" and method == "POST":
        if not body.get("name") or not body.get("redirect_uri"):
            return json_response({"error": "name and redirect_uri are required"}, 400)
        scopes = body.get("scopes") or []
        if not isinstance(scopes, list):
            return json_response({"error": "scopes must be a list of Exact scope labels"}, 400)
        return json_response(register_app(str(body["name"]), str(body["redirect_uri"]),
                                          scopes=[str(s) for s in scopes]), 201)
    if path == "/faults":
        if method == "POST":
            try:
                return json_response({"rules": faults.set(list(body.get("rules", [])))})
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 400)
        if method == "DELETE":
            faults.clear()
        return json_response({"rules": faults.describe()})
    if path == "/limits":
        if method == "POST":
            limiter.configure(body)
            for kind in ("standard", "bulk"):
                if f"page_size_{kind}" in body:
                    PAGE_SIZES[kind] = int(body[f"page_size_{kind}"])
        return json_response({**limiter.snapshot(), "page_sizes": PAGE_SIZES})
    if path == "/counters":
        if method == "DELETE":
            monitor.reset()
        return json_response(monitor.snapshot())
    if path == "/reset" and method == "POST":
        reset_sandbox(get_store(), keep_apps=bool(body.get("keep_apps", True)), seed=bool(body.get("seed", True)))
        return json_response({"ok": True})
    if path == "/clock":
        if method == "POST":
            clock.offset += float(body.get("advance", 0))
        return json_response({"now": clock.now(), "offset": clock.offset, "time_scale": clock.scale})
    if path == "/generate" and method == "POST":
        try:
            made = generate(get_store(), str(body["entity"]), int(body["count"]), int(body["division"]))
        except (KeyError, ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"created": made}, 201)
    if path == "/requests":
        return json_response({"requests": monitor.recent(2000)})
    if path == "/webhooks":
        if method == "POST" and "delivery" in body:
            webhook_delivery["enabled"] = bool(body["delivery"])
        return json_response({"deliveries": monitor.recent_webhooks(200), "delivery": webhook_delivery["enabled"]})
    return json_response({"error": "not found"}, 404)


def _api(request: Request) -> tuple[Response, str]:
    """Exact's endpoints with the injected faults around them; returns the response and a fault label."""
    lowered = request.path.lower()
    plan = faults.plan(request.method, request.path)
    faults.wait(plan)
    if plan.short_circuits:
        if plan.expired_token and lowered.startswith("/api/v1/"):
            return ApiError(401, "Unauthorized", headers=[www_authenticate("access token expired")]).response(), \
                "expired_token"
        if plan.throttle:
            return Response(429, b"", limiter.storm_headers(request.client_id or "")), "throttle"
        if plan.html_status:
            return Response(plan.html_status, HTML_PAGE, content_type="text/html; charset=utf-8"), "html"
        if plan.error_status:
            return ApiError(plan.error_status, "A problem has occurred. The cause of this issue will be "
                                               "investigated as soon as possible.").response(), "error"
        if plan.validation_500 and lowered.startswith("/api/v1/"):
            return ApiError(500, DUTCH_VALIDATION).response(), "validation_500"
    try:
        if lowered == "/api/oauth2/auth":
            response = auth_page(request)
        elif lowered == "/api/oauth2/token":
            response = token_endpoint(request) if request.method == "POST" else Response(405)
        elif lowered.startswith("/api/v1/"):
            response = handle_api(request)
        else:
            response = ApiError(404, "Not found.").response()
    except ApiError as exc:
        response = exc.response()
    return apply_drop(plan, response)


# The HTML forms (POST targets) that need the page's CSRF token; the shop's page posts to /shop/...
FORM_PATHS = {"/sandbox/apps", "/sandbox/reset", "/api/oauth2/auth"}


def _is_form_post(request: Request) -> bool:
    lowered = request.path.lower()
    shop_form = lowered.startswith("/shop") and not request.path.startswith(SHOP_API_PREFIX)
    return request.method == "POST" and (lowered in FORM_PATHS or shop_form)


def _dispatch(request: Request) -> tuple[Response, str]:
    lowered = request.path.lower()
    refusal = host_refusal(request)
    if refusal is None and _is_form_post(request):
        refusal = csrf_refusal(request)
    if refusal:
        return refusal, ""
    if lowered.startswith("/api/"):
        return _api(request)
    if lowered.startswith("/sandbox/api/"):
        return _control(request), ""
    if request.path.startswith(SHOP_API_PREFIX):
        return handle_shop_api(request)
    if request.path.startswith("/shop"):
        if request.method == "GET" and request.path in {"/shop", "/shop/"}:
            return shop_page(request), ""
        if request.method == "POST":
            return shop_page_post(request), ""
    if request.path == "/" and request.method == "GET":
        return index_page(request), ""
    if request.path == "/sandbox/apps" and request.method == "POST":
        return register_page(request), ""
    if request.path == "/sandbox/reset" and request.method == "POST":
        return reset_page(request), ""
    return Response(404, "Not found", content_type="text/plain"), ""


def _redact_key(query: str) -> str:
    """The shop accepts ``?api_key=``: its log shows that one was sent, never its value."""
    return re.sub(r"(?i)(^|&)(api_key=)[^&]*", r"\1\2***", query)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    started = time.perf_counter()
    request = Request(environ)
    try:
        response, fault = _dispatch(request)
    except Exception:
        logger.exception("sandbox crashed on %s %s", request.method, request.path)
        response, fault = ApiError(500, "An internal error occurred in the sandbox.").response(), ""
    is_shop = request.path.startswith(SHOP_API_PREFIX)
    if is_shop or request.path.lower().startswith("/api/"):  # the log shows what clients did, not page views
        (shop_monitor if is_shop else monitor).record_request({
            "method": request.method, "path": request.path,
            "query": (_redact_key(request.query_string) if is_shop else request.query_string)[:300],
            "status": "dropped" if response.drop else response.status,
            "ms": round((time.perf_counter() - started) * 1000, 1), "client_id": request.client_id,
            "division": request.division, "fault": fault,
        })
    if response.drop:
        drop_connection(environ)
    cookie = csrf_cookie_header(request)
    headers = [*response.headers, *([cookie] if cookie else []), ("Content-Length", str(len(response.body)))]
    start_response(response.status_line(), headers)
    return [response.body]


