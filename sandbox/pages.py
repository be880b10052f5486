"""The sandbox's own page: apps, divisions, token chains, quota use, faults, request and webhook logs.

It is a separate Exact Online, so it has no product login. Secrets of an app are shown once, on the page
that answers its registration (as Exact's app centre does), and never in the lists.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from .faults import faults
from .guard import form_token
from .http import Request, Response
from .limits import limiter
from .monitor import monitor
from .oauth import chains, register_app
from .seed import reset_sandbox
from .store import clock, get_store

__all__ = ["index_page", "register_page", "reset_page"]


def _html(context: dict[str, Any], status: int = 200) -> Response:
    return Response(status, render_to_string("sandbox/index.html", context), content_type="text/html; charset=utf-8")


def _context(request: Request) -> dict[str, Any]:
    store = get_store()
    now = clock.now()
    apps = [dict(r) for r in store.db.execute(
        "SELECT client_id, name, redirect_uri, created, scopes FROM apps ORDER BY created DESC").fetchall()]
    for app in apps:
        app["scopes"] = ", ".join(json.loads(app["scopes"] or "[]")) or "all"
    chain_rows = chains(store)
    for chain in chain_rows:
        expires = chain.get("access_expires") or 0
        chain["seconds_left"] = max(int(expires - now), 0)
        chain["status"] = "revoked" if chain["revoked_at"] else ("active" if expires > now else "expired")
    requests_ = monitor.recent(100)
    for entry in requests_:
        entry["time"] = time.strftime("%H:%M:%S", time.localtime(entry["at"]))
    deliveries = monitor.recent_webhooks(30)
    for entry in deliveries:
        entry["time"] = time.strftime("%H:%M:%S", time.localtime(entry["at"]))
    return {
        "base_url": request.host_url,
        "apps": apps,
        "divisions": store.divisions(),
        "chains": chain_rows,
        "requests": requests_,
        "deliveries": deliveries,
        "limits": limiter.snapshot(),
        "counters": monitor.snapshot(),
        "faults": faults.describe(),
        "records": [dict(r) for r in store.counts()],
        "time_scale": clock.scale,
        "demo_user": "demo",
        "demo_password_is_default": str(settings.SANDBOX_DEMO_PASSWORD) == "demo",
        "form_token": form_token(request),
        "created_app": None,
        "message": "",
        "refresh": request.option("refresh") if (request.option("refresh") or "").isdigit() else "",
    }


def index_page(request: Request) -> Response:
    return _html(_context(request))


def register_page(request: Request) -> Response:
    form = request.form()
    name, redirect_uri = form.get("name", "").strip(), form.get("redirect_uri", "").strip()
    context = _context(request)
    if not name or not redirect_uri:
        context["message"] = "Name and Redirect URI are both required."
        return _html(context, 400)
    app = register_app(name, redirect_uri, scopes=form.get("scopes", "").split(","))
    context = _context(request)
    context["created_app"] = app
    context["message"] = f"App '{name}' registered. Copy the secrets now: they are not shown again."
    return _html(context, 201)


def reset_page(request: Request) -> Response:
    keep_apps = request.form().get("keep_apps") == "on"
    reset_sandbox(get_store(), keep_apps=keep_apps)
    return Response(303, b"", [("Location", "/")])
