"""The REST API, version 1 (``/api/v1/``): configurations, runs, tasks, client status.

Assembled here (authentication, rate limit, error answers, the document) from one module per resource in
``api.resources``, each with its router.

Thin like the views: every operation carries the same role decorator as the page that does the same thing
(``dashboard.access``), loads its object through ``get_for_user``, validates writes with the page's own form,
and changes state through the domain's functions (``start_route_run``, ``requeue_tasks``, ``skip_task``).
Authentication is a personal API token (``api.models.ApiToken``) acting as its user; every token has its own
rate budget (``DASH_API_RATE``); every error is a problem document (``api.problems``).
"""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.operation import Operation
from ninja.security import HttpBearer
from ninja.throttling import AuthRateThrottle

from .models import ApiToken
from .problems import install_handlers
from .resources import (
    account,
    clients,
    export_import,
    incomings,
    outgoings,
    routes,
    runs,
    tasks,
    transformers,
    variables,
    webhooks,
)

__all__ = ["api"]


class TokenAuth(HttpBearer):
    """``Authorization: Bearer xd_…``: the token's user becomes ``request.user`` (its role, its access)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = ApiToken.objects.authenticate(token)
        if found is not None:
            request.user = found.user
        return found


class DashApi(NinjaAPI):
    """The API, whose document says what its errors are: ``application/problem+json``."""

    _schemas: dict[str, Any]

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Built once per process and prefix (it only changes with the code), then served from memory."""
        key = repr((args, sorted(kwargs.items())))
        cache = self.__dict__.setdefault("_schemas", {})
        if key not in cache:
            cache[key] = self._build_schema(*args, **kwargs)
        return copy.deepcopy(cache[key])

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """``api_v1_<function>`` wherever the function lives (ninja would name its module): the ids are what
        generated clients call, and stay as they were when every operation was in this module."""
        return f"api_v1_{operation.view_func.__name__}"

    def _build_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema["paths"].values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        return schema


api = DashApi(
    title="Exact Dash API",
    version="1",
    description="Configurations, runs and tasks of Exact Dash. Authenticate with a personal API token (your "
                "user page → API tokens) as `Authorization: Bearer <token>`; it acts with your role: a Viewer "
                "reads, an Editor also writes. Errors are problem details (RFC 9457).",
    urls_namespace="api_v1",
    auth=TokenAuth(),
    throttle=[AuthRateThrottle(settings.DASH_API_RATE)],
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_handlers(api)


# One module per resource (``api.resources``), each with its router; their operations' paths are absolute.
for _module in (account, clients, incomings, outgoings, transformers, routes, variables, webhooks, runs, tasks,
                export_import):
    api.add_router("", _module.router)


def _document_roles() -> None:
    """Name each operation's role in the document (``x-required-role`` and its description), read from the role
    decorator it carries: the document cannot drift from the check. An operation without one fails here."""
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                role = getattr(operation.view_func, "required_role", None)
                if role is None:
                    raise ImproperlyConfigured(f"API operation {operation.view_func.__name__} declares no role")
                operation.openapi_extra = {**(operation.openapi_extra or {}), "x-required-role": role.label}
                operation.description = f"Role: {role.label} or higher."


_document_roles()


def api_urls() -> Any:
    """The API's URL patterns, reachable without a session: the token (or nothing, for the docs) decides."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False  # type: ignore[union-attr]
    return patterns, app_name, namespace

