"""API fixtures: a token per role and a small world of configurations (an HTTP client holding a canary secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from clients.models import HttpClient
from configuration.models import Variable
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task, Transformer
from webhooks.models import Webhook

CANARY = "canary-7f3a9c-never-shown"


class ApiClient:
    """A Django test client that sends one bearer token and JSON bodies."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, url: str, body: Any = None, **query: Any) -> Any:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if isinstance(body, str):
            kwargs.update(data=body, content_type="application/yaml")
        elif body is not None:
            kwargs.update(data=body, content_type="application/json")
        elif query:
            kwargs["data"] = query
        return getattr(self.client, method.lower())(url, **kwargs)


@pytest.fixture(autouse=True)
def _no_rate_limit_between_tests(db):
    from django.core.cache import cache

    cache.clear()


def _token(user, days: int = 30) -> str:
    return ApiToken.issue(user, name=f"{user.username} script", days=days)[1]


@pytest.fixture
def admin_api(admin_user) -> ApiClient:
    return ApiClient(_token(admin_user))


@pytest.fixture
def editor_api(editor_user) -> ApiClient:
    return ApiClient(_token(editor_user))


@pytest.fixture
def viewer_api(viewer_user) -> ApiClient:
    return ApiClient(_token(viewer_user))


@dataclass
class World:
    client: HttpClient
    transformer: Transformer
    incoming: Incoming
    outgoing: Outgoing
    route: Route
    webhook: Webhook
    variable: Variable
    route_run: RouteRun
    failed: Task
    waiting: Task


@pytest.fixture
def world(db) -> World:
    from http_connector.config import RestClientConfig

    config = RestClientConfig.model_validate({"base_url": "http://127.0.0.1:9/api", "auth": "api_key",
                                              "api_key_name": "X-API-Key"}).model_dump(mode="json")
    client = HttpClient(name="Shop", kind="http", config=config, status=HttpClient.Status.GRANTED)
    client.set_secrets({"api_key": CANARY})
    client.save()
    transformer = Transformer.objects.create(name="Keep all", steps=[])
    incoming = Incoming.objects.create(name="Orders", subscriber="http", http_client=client,
                                       config={"request_path": "/orders"})
    outgoing = Outgoing.objects.create(name="Post orders", publisher="http", action="create", entity="/orders",
                                       http_client=client)
    route = Route.objects.create(name="Orders → shop", incoming=incoming, outgoing=outgoing)
    webhook = Webhook.objects.create(name="Shop hook")
    webhook.set_secrets({"shared_secret": CANARY})
    webhook.save()
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED, finished_at=timezone.now())
    failed = Task.objects.create(run=run, incoming=incoming, identifier="o-1", label="Order 1",
                                 status=Task.Status.FAILED, data={"id": 1}, error="boom")
    waiting = Task.objects.create(run=run, incoming=incoming, identifier="o-2", label="Order 2",
                                  status=Task.Status.RETRY, data={"id": 2},
                                  next_attempt_at=timezone.now() + timedelta(hours=1))
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    variable = Variable(name="SHOP_KEY", encrypted=True)
    variable.set_value(CANARY)
    variable.save()
    return World(client, transformer, incoming, outgoing, route, webhook, variable, route_run, failed, waiting)
