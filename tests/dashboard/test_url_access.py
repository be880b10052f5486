"""Walk every URL pattern of the product: anonymous users go to login, each role gets exactly its pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dashboard.roles import Role

# Views anyone may reach: login and friends (allauth), static files, the OAuth callback, health.
PUBLIC_NAMES = {"health", "clients:oauth_callback", "hook"}
OUR_NAMESPACES = {"api", "dashboard", "clients", "connections", "webhooks", "exact_online", "alerts", "configuration"}

SAMPLE_BY_CONVERTER = {"int": "999999", "str": "zz", "slug": "zz", "uuid": str(uuid.uuid4()), "path": "zz"}


def _walk(patterns, prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str, str, object]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else (entry.name or "")
            yield name, prefix + str(entry.pattern), entry.callback


def _sample_url(route: str) -> str:
    url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_BY_CONVERTER.get(m.group(1) or "str", "zz"), route)
    return "/" + url.lstrip("^").rstrip("$")


def our_views() -> list[tuple[str, str, object]]:
    return [
        (name, _sample_url(route), view)
        for name, route, view in _walk(get_resolver().url_patterns)
        if name.split(":")[0] in OUR_NAMESPACES or name in PUBLIC_NAMES
    ]


VIEWS = our_views()


def test_the_walk_finds_the_product_pages():
    names = {name for name, _, _ in VIEWS}
    assert {"dashboard:home", "dashboard:users", "health"} <= names


@pytest.mark.parametrize(("name", "url", "view"), VIEWS, ids=[v[0] for v in VIEWS])
def test_every_view_declares_its_role_or_is_public(name, url, view):
    assert name in PUBLIC_NAMES or hasattr(view, "required_role"), f"{name} has no role decorator"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url", "view"), VIEWS, ids=[v[0] for v in VIEWS])
def test_anonymous_is_sent_to_login(client: Client, name, url, view):
    response = client.get(url)
    if name in PUBLIC_NAMES:
        assert response.status_code != 302 or "/accounts/login/" not in response.get("Location", "")
    else:
        assert response.status_code == 302, f"{name}: {response.status_code}"
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "url", "view"),
    [v for v in VIEWS if v[0] not in PUBLIC_NAMES],
    ids=[v[0] for v in VIEWS if v[0] not in PUBLIC_NAMES],
)
def test_each_role_gets_exactly_its_pages(name, url, view, admin_client, editor_client, viewer_client, norole_client):
    required: Role = view.required_role
    for role, client in [
        (Role.ADMINISTRATOR, admin_client),
        (Role.EDITOR, editor_client),
        (Role.VIEWER, viewer_client),
        (Role.NONE, norole_client),
    ]:
        for method in ("get", "post"):
            status = getattr(client, method)(url).status_code
            if role < required:
                assert status == 403, f"{name} {method.upper()} as {role.label}: {status}, expected 403"
            else:
                assert status != 403, f"{name} {method.upper()} as {role.label}: 403, expected access"
                assert status < 500, f"{name} {method.upper()} as {role.label}: {status}"
