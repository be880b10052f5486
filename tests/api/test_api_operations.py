"""Every operation of the OpenAPI document, driven once: the document validates, each operation has a case
here (a new endpoint without one fails), an Editor's call succeeds, a Viewer's token reads but gets 403 on
every write, and no answer ever carries a stored secret (the canary)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_spec_validator import validate

from api.v1 import api
from configuration.export import export_config

from .conftest import CANARY, World


@dataclass(frozen=True)
class Case:
    status: int
    url: Callable[[World], str]
    body: Callable[[World], Any] | None = None


def _transformer_body(w: World) -> dict[str, Any]:
    return {"name": "Uppercase names", "description": "API-made", "steps": []}


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/me"): Case(200, lambda w: "/api/v1/me"),
    ("GET", "/api/v1/clients"): Case(200, lambda w: "/api/v1/clients?q=Sho"),
    ("POST", "/api/v1/clients"): Case(201, lambda w: "/api/v1/clients", lambda w: {
        "name": "Other shop", "kind": "http", "base_url": "http://127.0.0.1:9/other", "timeout": 10,
        "auth": "api_key", "api_key_name": "X-Key", "api_key_in": "header", "api_key": CANARY}),
    ("GET", "/api/v1/clients/{pk}"): Case(200, lambda w: f"/api/v1/clients/{w.client.pk}"),
    ("PATCH", "/api/v1/clients/{pk}"): Case(200, lambda w: f"/api/v1/clients/{w.client.pk}",
                                            lambda w: {"name": "Shop (renamed)", "log_requests": True}),
    ("DELETE", "/api/v1/clients/{pk}"): Case(409, lambda w: f"/api/v1/clients/{w.client.pk}"),  # still used
    ("GET", "/api/v1/clients/{pk}/status"): Case(200, lambda w: f"/api/v1/clients/{w.client.pk}/status"),
    ("GET", "/api/v1/incomings"): Case(200, lambda w: "/api/v1/incomings"),
    ("POST", "/api/v1/incomings"): Case(201, lambda w: "/api/v1/incomings", lambda w: {
        "name": "Customers", "subscriber": "http", "http_client": w.client.pk, "request_path": "/customers",
        "method": "GET", "items": "data", "paging": "none", "pagination": True, "incremental": False}),
    ("GET", "/api/v1/incomings/{pk}"): Case(200, lambda w: f"/api/v1/incomings/{w.incoming.pk}"),
    ("PATCH", "/api/v1/incomings/{pk}"): Case(200, lambda w: f"/api/v1/incomings/{w.incoming.pk}",
                                              lambda w: {"page_cap": 3}),
    ("DELETE", "/api/v1/incomings/{pk}"): Case(409, lambda w: f"/api/v1/incomings/{w.incoming.pk}"),  # a route reads it
    ("GET", "/api/v1/outgoings"): Case(200, lambda w: "/api/v1/outgoings"),
    ("POST", "/api/v1/outgoings"): Case(201, lambda w: "/api/v1/outgoings", lambda w: {
        "name": "Put products", "publisher": "http", "http_client": w.client.pk, "action": "update",
        "entity": "/products/{id}"}),
    ("GET", "/api/v1/outgoings/{pk}"): Case(200, lambda w: f"/api/v1/outgoings/{w.outgoing.pk}"),
    ("PATCH", "/api/v1/outgoings/{pk}"): Case(200, lambda w: f"/api/v1/outgoings/{w.outgoing.pk}",
                                              lambda w: {"path": {"division": 2}}),
    ("DELETE", "/api/v1/outgoings/{pk}"): Case(409, lambda w: f"/api/v1/outgoings/{w.outgoing.pk}"),
    ("GET", "/api/v1/transformers"): Case(200, lambda w: "/api/v1/transformers"),
    ("POST", "/api/v1/transformers"): Case(201, lambda w: "/api/v1/transformers", _transformer_body),
    ("GET", "/api/v1/transformers/{pk}"): Case(200, lambda w: f"/api/v1/transformers/{w.transformer.pk}"),
    ("PATCH", "/api/v1/transformers/{pk}"): Case(200, lambda w: f"/api/v1/transformers/{w.transformer.pk}",
                                                 lambda w: {"description": "Changed by the API"}),
    ("DELETE", "/api/v1/transformers/{pk}"): Case(200, lambda w: f"/api/v1/transformers/{w.transformer.pk}"),
    ("GET", "/api/v1/routes"): Case(200, lambda w: "/api/v1/routes?q=Orders"),
    ("POST", "/api/v1/routes"): Case(201, lambda w: "/api/v1/routes", lambda w: {
        "name": "Orders again", "incoming": w.incoming.pk, "outgoing": w.outgoing.pk, "transformer_1": w.transformer.pk,
        "max_attempts": 3, "backoff_seconds": 10, "batch_size": 20, "schedule_kind": "none",
        "timezone": "Europe/Amsterdam"}),
    ("GET", "/api/v1/routes/{pk}"): Case(200, lambda w: f"/api/v1/routes/{w.route.pk}"),
    ("PATCH", "/api/v1/routes/{pk}"): Case(200, lambda w: f"/api/v1/routes/{w.route.pk}", lambda w: {"enabled": False}),
    ("DELETE", "/api/v1/routes/{pk}"): Case(409, lambda w: f"/api/v1/routes/{w.route.pk}"),  # its run is going
    ("POST", "/api/v1/routes/{pk}/runs"): Case(409, lambda w: f"/api/v1/routes/{w.route.pk}/runs"),  # idem
    ("GET", "/api/v1/webhooks"): Case(200, lambda w: "/api/v1/webhooks"),
    ("POST", "/api/v1/webhooks"): Case(201, lambda w: "/api/v1/webhooks", lambda w: {
        "name": "Orders hook", "enabled": True, "parser": "json", "items_path": "orders", "use_hmac": True,
        "hmac_header": "X-Signature", "hmac_algorithm": "sha256", "hmac_encoding": "hex", "hmac_secret": CANARY,
        "dedup_window_seconds": 600, "timestamp_tolerance": 300, "routes": [w.route.pk]}),
    ("GET", "/api/v1/webhooks/{pk}"): Case(200, lambda w: f"/api/v1/webhooks/{w.webhook.pk}"),
    ("PATCH", "/api/v1/webhooks/{pk}"): Case(200, lambda w: f"/api/v1/webhooks/{w.webhook.pk}",
                                             lambda w: {"routes": [w.route.pk]}),
    ("DELETE", "/api/v1/webhooks/{pk}"): Case(200, lambda w: f"/api/v1/webhooks/{w.webhook.pk}"),
    ("GET", "/api/v1/runs"): Case(200, lambda w: f"/api/v1/runs?route={w.route.pk}&status=publishing"),
    ("GET", "/api/v1/runs/{pk}"): Case(200, lambda w: f"/api/v1/runs/{w.route_run.pk}"),
    ("GET", "/api/v1/tasks"): Case(200, lambda w: "/api/v1/tasks?status=failed&find=Order"),
    ("GET", "/api/v1/tasks/{pk}"): Case(200, lambda w: f"/api/v1/tasks/{w.failed.pk}"),
    ("POST", "/api/v1/tasks/{pk}/retry"): Case(200, lambda w: f"/api/v1/tasks/{w.failed.pk}/retry"),
    ("POST", "/api/v1/tasks/{pk}/skip"): Case(200, lambda w: f"/api/v1/tasks/{w.waiting.pk}/skip"),
    ("GET", "/api/v1/variables"): Case(200, lambda w: "/api/v1/variables?q=SHOP"),
    ("POST", "/api/v1/variables"): Case(201, lambda w: "/api/v1/variables", lambda w: {
        "name": "SHOP_TOKEN", "encrypted": True, "value": CANARY}),
    ("GET", "/api/v1/variables/{pk}"): Case(200, lambda w: f"/api/v1/variables/{w.variable.pk}"),
    ("PATCH", "/api/v1/variables/{pk}"): Case(200, lambda w: f"/api/v1/variables/{w.variable.pk}",
                                              lambda w: {"description": "the shop's key"}),
    ("DELETE", "/api/v1/variables/{pk}"): Case(200, lambda w: f"/api/v1/variables/{w.variable.pk}"),
    ("GET", "/api/v1/export"): Case(200, lambda w: f"/api/v1/export?routes={w.route.name}"),
    ("POST", "/api/v1/import"): Case(200, lambda w: "/api/v1/import", lambda w: export_config()),
}
# Reads the pages keep for Editors (the export page is an Editor's): a Viewer gets 403 there too.
EDITOR_READS = {("GET", "/api/v1/export")}


def _operations() -> list[tuple[str, str]]:
    spec = api.get_openapi_schema()
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item)


OPERATIONS = _operations()
WRITES = [op for op in OPERATIONS if op[0] != "GET"]


def test_the_openapi_document_validates():
    spec = json.loads(json.dumps(api.get_openapi_schema()))  # as served: status codes are strings in JSON
    validate(spec)
    assert spec["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_every_operation_of_the_document_has_a_case_and_no_case_is_stale():
    assert sorted(CASES) == OPERATIONS


def test_every_operation_names_its_role_and_every_write_needs_an_editor():
    spec = api.get_openapi_schema()
    roles = {(method.upper(), path): operation["x-required-role"]
             for path, item in spec["paths"].items() for method, operation in item.items()}
    assert {op: role for op, role in roles.items() if role != "Viewer"} == {
        **dict.fromkeys(WRITES, "Editor"), **dict.fromkeys(EDITOR_READS, "Editor")}


def test_the_document_is_served_and_the_docs_page_uses_local_assets_only(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Exact Dash API"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "//cdn" not in html and "https://" not in html
    assert "Content-Security-Policy" in page and "unsafe" not in page["Content-Security-Policy"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_an_editor_token_calls_each_operation(method, path, world, editor_api):
    case = CASES[(method, path)]
    response = editor_api.call(method, case.url(world), case.body(world) if case.body else None)
    assert response.status_code == case.status, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == case.status
    assert CANARY not in response.content.decode()


def test_a_viewer_token_reads_everything_but_gets_403_on_every_write(world, viewer_api):
    for method, path in OPERATIONS:
        case = CASES[(method, path)]
        response = viewer_api.call(method, case.url(world), case.body(world) if case.body else None)
        if method == "GET" and (method, path) not in EDITOR_READS:
            assert response.status_code == 200, (method, path, response.content)
        else:
            assert response.status_code == 403, (method, path, response.status_code)
            assert response["Content-Type"] == "application/problem+json"
        assert CANARY not in response.content.decode()


def test_lists_page_with_a_bounded_limit_and_tasks_count_like_the_tasks_page(world, viewer_api, settings):
    page = viewer_api.call("GET", "/api/v1/tasks?limit=1").json()
    assert (len(page["items"]), page["count"], page["count_exact"]) == (1, 2, True)
    assert viewer_api.call("GET", "/api/v1/tasks?limit=1&offset=1").json()["items"][0]["id"] == world.failed.pk
    assert viewer_api.call("GET", "/api/v1/tasks?limit=100000").status_code == 422
    settings.TASK_COUNT_CAP = 1
    assert viewer_api.call("GET", "/api/v1/tasks?status=failed").json()["count_exact"] is True  # 1: at the cap
    settings.TASK_COUNT_CAP = 0
    over = viewer_api.call("GET", "/api/v1/tasks?status=failed").json()  # over the cap: not counted to the end
    assert over["count_exact"] is False and len(over["items"]) == 1
