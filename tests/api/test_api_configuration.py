"""Export and import through the API (the configuration app's functions), and API writes in the audit trail."""

from __future__ import annotations

import json

import yaml

from audit.models import AuditEntry
from connections.models import Transformer

from .conftest import CANARY


def test_export_gives_the_document_as_json_or_yaml_without_secrets(world, editor_api):
    document = editor_api.call("GET", "/api/v1/export").json()
    assert [r["name"] for r in document["routes"]] == [world.route.name]
    assert CANARY not in json.dumps(document)
    response = editor_api.call("GET", "/api/v1/export?format=yaml")
    assert response["Content-Type"] == "application/yaml"
    assert yaml.safe_load(response.content)["schema"] == document["schema"]


def test_an_import_is_a_dry_run_until_asked_and_then_applies_what_it_showed(world, editor_api):
    document = editor_api.call("GET", "/api/v1/export").json()
    document["transformers"][0]["description"] = "From Git"
    dry = editor_api.call("POST", "/api/v1/import", document).json()
    change = next(o for o in dry["objects"] if o["section"] == "transformers")
    assert dry["ok"] and not dry["applied"] and change["action"] == "update"
    assert change["changes"] == [{"path": "description", "old": "", "new": "From Git"}]
    assert Transformer.objects.get(pk=world.transformer.pk).description == ""
    applied = editor_api.call("POST", "/api/v1/import?dry_run=false", document).json()
    assert applied["applied"] and applied["counts"]["update"] == 1
    assert Transformer.objects.get(pk=world.transformer.pk).description == "From Git"
    again = editor_api.call("POST", "/api/v1/import?dry_run=false", document).json()
    assert again["counts"]["update"] == again["counts"]["create"] == 0
    as_yaml = editor_api.call("GET", "/api/v1/export?format=yaml").content.decode()
    assert editor_api.call("POST", "/api/v1/import", as_yaml.replace("From Git", "From YAML")).json()["counts"][
        "update"] == 1


def test_a_refused_import_writes_nothing_and_says_why(world, editor_api):
    document = editor_api.call("GET", "/api/v1/export").json()
    document["routes"][0]["incoming"] = "No such incoming"
    document["transformers"][0]["description"] = "must not land"
    response = editor_api.call("POST", "/api/v1/import?dry_run=false", document)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["plan"]["ok"] is False
    assert Transformer.objects.get(pk=world.transformer.pk).description == ""
    garbage = editor_api.call("POST", "/api/v1/import", {"schema": "something else"}).json()
    assert garbage["ok"] is False and garbage["errors"]


def test_an_import_larger_than_the_limit_is_refused_unread(world, editor_api, settings):
    settings.CONFIG_IMPORT_MAX_BYTES = 1_000
    response = editor_api.call("POST", "/api/v1/import", {"pad": "x" * 2_000})
    assert response.status_code == 413


def test_api_writes_land_in_the_audit_trail_with_the_tokens_user(world, editor_api, editor_user):
    editor_api.call("PATCH", f"/api/v1/transformers/{world.transformer.pk}", {"description": "audited"})
    entry = AuditEntry.objects.filter(object_type="connections.transformer").latest("at")
    assert (entry.user, entry.action, entry.message) == (editor_user, AuditEntry.Action.UPDATE, "through the API")
    assert "audited" in json.dumps(entry.changes)
    editor_api.call("POST", f"/api/v1/tasks/{world.failed.pk}/retry")
    assert AuditEntry.objects.filter(action=AuditEntry.Action.API, object_type="connections.task",
                                     user=editor_user).exists()


def test_making_and_revoking_a_token_is_in_the_audit_trail(editor_client, editor_user):
    editor_client.post("/account/api-tokens/", {"name": "deploy", "days": "7"})
    token = editor_user.api_tokens.get()
    editor_client.post(f"/account/api-tokens/{token.pk}/revoke/")
    messages = list(AuditEntry.objects.filter(object_type="api.apitoken").order_by("at").values_list("message",
                                                                                                     flat=True))
    assert messages == ["API token “deploy” created", "API token “deploy” revoked"]


def test_variables_keep_an_encrypted_value_write_only_and_are_not_deleted_while_used(world, editor_api):
    from configuration.models import Variable

    url = f"/api/v1/variables/{world.variable.pk}"
    assert editor_api.call("GET", url).json()["value"] is None
    editor_api.call("PATCH", url, {"description": "rotated monthly"})
    assert Variable.objects.get(pk=world.variable.pk).current_value == CANARY  # left out: kept
    plain = editor_api.call("POST", "/api/v1/variables", {"name": "SHOP_PATH", "value": "/orders"}).json()
    assert plain["value"] == "/orders" and plain["encrypted"] is False
    patched = editor_api.call("PATCH", f"/api/v1/outgoings/{world.outgoing.pk}", {"payload": {"p": "${SHOP_PATH}"}})
    assert patched.status_code == 200, patched.content
    refused = editor_api.call("DELETE", f"/api/v1/variables/{plain['id']}")
    assert refused.status_code == 409 and "Post orders" in refused.json()["detail"]
    unknown = editor_api.call("PATCH", f"/api/v1/outgoings/{world.outgoing.pk}", {"payload": {"p": "${NOPE}"}})
    assert unknown.status_code == 422  # the form's check of unknown variables, as on the page


def test_a_patch_keeps_what_it_leaves_out_secrets_and_a_routes_chain_included(world, editor_api):
    from clients.models import HttpClient
    from webhooks.models import Webhook

    editor_api.call("PATCH", f"/api/v1/clients/{world.client.pk}", {"name": "Shop (API)"})
    client = HttpClient.objects.get(pk=world.client.pk)
    assert client.name == "Shop (API)" and client.get_secrets()["api_key"] == CANARY
    assert client.status == HttpClient.Status.GRANTED  # nothing it is bound to changed: the grant stays
    editor_api.call("PATCH", f"/api/v1/webhooks/{world.webhook.pk}", {"enabled": False})
    assert Webhook.objects.get(pk=world.webhook.pk).get_secrets()["shared_secret"] == CANARY
    route = editor_api.call("POST", "/api/v1/routes", {
        "name": "Chained", "incoming": world.incoming.pk, "outgoing": world.outgoing.pk,
        "transformer_1": world.transformer.pk}).json()
    assert route["transformers"] == [world.transformer.pk]
    patched = editor_api.call("PATCH", f"/api/v1/routes/{route['id']}", {"batch_size": 5}).json()
    assert (patched["transformers"], patched["batch_size"], patched["name"]) == ([world.transformer.pk], 5, "Chained")
    moved = editor_api.call("PATCH", f"/api/v1/clients/{world.client.pk}", {"base_url": "http://127.0.0.1:9/v2"})
    assert moved.json()["status"] == HttpClient.Status.NOT_GRANTED  # as on the page: a new address forgets secrets
    assert HttpClient.objects.get(pk=world.client.pk).get_secrets() == {}


def test_invalid_input_is_a_problem_naming_the_fields(world, editor_api):
    response = editor_api.call("POST", "/api/v1/routes", {"name": "", "outgoing": 999999, "colour": "red"})
    assert response.status_code == 422 and response.json()["errors"] == {"colour": ["Not a field of this form."]}
    response = editor_api.call("POST", "/api/v1/routes", {"name": "", "outgoing": 999999})
    errors = response.json()["errors"]
    assert response.status_code == 422 and {"name", "outgoing"} <= set(errors)
    typed = editor_api.call("PATCH", f"/api/v1/routes/{world.route.pk}", {"batch_size": "many"})
    assert typed.status_code == 422 and "batch_size" in typed.json()["errors"]
    assert editor_api.call("GET", "/api/v1/routes/999999").json()["status"] == 404


def test_client_status_carries_the_grant_and_the_quota_per_division(world, viewer_api, monkeypatch):
    from clients.models import HttpClient
    from clients.registry import QuotaInfo

    monkeypatch.setattr(HttpClient, "quotas", lambda self: [QuotaInfo(division=101001, daily_limit=5000,
                                                                      daily_remaining=4200, minutely_limit=60)])
    status = viewer_api.call("GET", f"/api/v1/clients/{world.client.pk}/status").json()
    assert status["status"] == "granted"
    assert status["quotas"] == [{"division": 101001, "daily_limit": 5000, "daily_remaining": 4200,
                                 "minutely_limit": 60, "minutely_remaining": None, "parked_until": None,
                                 "throttled_count": 0}]


def test_an_exact_online_client_through_the_api_keeps_its_secret_write_only(db, editor_api):
    import uuid

    from clients.models import HttpClient

    made = editor_api.call("POST", "/api/v1/clients", {
        "name": "Exact", "kind": "exact_online", "base_uri": "custom", "custom_base_uri": "http://127.0.0.1:8001",
        "client_id": str(uuid.uuid4()), "client_secret": CANARY})
    assert made.status_code == 201 and CANARY not in made.content.decode()
    renamed = editor_api.call("PATCH", f"/api/v1/clients/{made.json()['id']}", {"name": "Exact (prod)"})
    assert renamed.json()["name"] == "Exact (prod)" and CANARY not in renamed.content.decode()
    assert HttpClient.objects.get(pk=made.json()["id"]).get_secrets() == {"client_secret": CANARY}
