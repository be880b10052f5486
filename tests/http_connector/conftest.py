"""Fixtures of the generic HTTP connector's tests: a real local API/OAuth server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clients.models import HttpClient
from connections.models import Incoming
from http_connector.config import SECRET_FIELDS, RestClientConfig

from .server import ApiServer


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    server = ApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_client(db, api_server) -> Callable[..., HttpClient]:
    def make(name: str = "Local API", **settings: Any) -> HttpClient:
        secrets = {k: settings.pop(k) for k in list(settings) if k in SECRET_FIELDS}
        config = RestClientConfig.model_validate({"base_url": api_server.url, **settings}).model_dump(mode="json")
        client = HttpClient(name=name, kind="http", config=config, status=HttpClient.Status.GRANTED)
        client.set_secrets(secrets)
        client.save()
        return client

    return make


@pytest.fixture
def make_incoming(db) -> Callable[..., Incoming]:
    def make(client: HttpClient, *, incremental: bool = False, page_cap: int | None = None,
             query: dict[str, Any] | None = None, path: dict[str, Any] | None = None, **config: Any) -> Incoming:
        from http_connector.subscriber import HttpSubscriberConfig

        values = HttpSubscriberConfig.model_validate(config).model_dump(mode="json")
        return Incoming.objects.create(name=f"in {Incoming.objects.count() + 1}", subscriber="http", config=values,
                                       http_client=client, incremental=incremental, page_cap=page_cap,
                                       query=query or {}, path=path or {})

    return make
