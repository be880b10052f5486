"""Webhook fixtures: a hook with validators, and a route it feeds (publishing through the routes' fake publisher)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from connections.models import Route
from tests.connections.routes.conftest import SCRIPT, make_route, script  # noqa: F401  (fixtures and the publisher)
from webhooks.models import Webhook

HMAC_SECRET = "hmac-secret-for-tests-5b1f"


def sign(body: bytes, secret: str = HMAC_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def make_webhook(db) -> Callable[..., Webhook]:
    def make(name: str = "shop orders", *, hmac_check: bool = True, **fields: Any) -> Webhook:
        validation = {"hmac": {"header": "X-Signature", "algorithm": "sha256", "encoding": "hex",
                               "prefix": "sha256="}} if hmac_check else {}
        fields.setdefault("parser_config", {"items_path": "orders"})
        hook = Webhook(name=name, validation=fields.pop("validation", validation), **fields)
        hook.set_secrets({"hmac_secret": HMAC_SECRET})
        hook.save()
        return hook

    return make


@pytest.fixture
def fed_route(make_route, make_webhook) -> tuple[Webhook, Route]:  # noqa: F811
    hook = make_webhook()
    route = make_route()
    route.incoming = None
    route.webhook = hook
    route.save()
    return hook, route


def post(client: Client, hook: Webhook, payload: Any, *, signature: str | None = None,
         content_type: str = "application/json", **headers: str) -> Any:
    """POST ``payload`` to the hook, signed unless ``signature`` is given; ``headers`` as X_Name=value."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return client.generic("POST", hook.hook_path, body, content_type=content_type,
                          HTTP_X_SIGNATURE=sign(body) if signature is None else signature, **extra)
