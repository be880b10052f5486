"""Export and import without a sandbox: the shipped integrations out, into an emptied database and back; a
second import changes nothing; a dry run shows exactly one changed step; bad documents apply nothing."""

from __future__ import annotations

import copy
import io
import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from clients.models import HttpClient
from configuration.documents import dump_document
from configuration.export import export_config, read_directory, write_directory
from configuration.importer import ImportRefused, apply_import, plan_import
from configuration.models import Variable
from connections.models import Incoming, Outgoing, Route, Storage, Transformer
from integrations.seed import install_webshop_integrations, shop_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated():
    Variable.objects.create(name="SHOP_URL", value="http://127.0.0.1:8001/shop/api/v1")
    exact = HttpClient(name="Exact Online sandbox", kind="exact_online",
                       config={"base_url": "http://127.0.0.1:8001", "client_id": "b81cc4de-d192-400e-bcb4-09254394c52a",
                               "scopes": ""})
    exact.set_secrets({"client_secret": "s3cret-exact"})
    exact.save()
    integrations = install_webshop_integrations(exact, shop_client("http://127.0.0.1:8001", "shop-key-123"))
    shop = integrations.shop_client
    shop.config = {**shop.config, "base_url": "${SHOP_URL}"}
    shop.save()
    return integrations


def wipe() -> None:
    for route in Route.objects.all():
        route.delete()
    Incoming.objects.all().delete()
    Outgoing.objects.all().delete()
    Transformer.objects.all().delete()
    Storage.objects.all().delete()
    HttpClient.objects.all().delete()


def without_time(document):
    return {k: v for k, v in document.items() if k != "exported_at"}


def test_export_into_an_empty_database_and_back_then_a_second_import_changes_nothing(populated):
    document = export_config()
    text = json.dumps(document)
    assert "s3cret-exact" not in text and "shop-key-123" not in text  # secrets are never exported
    assert document["variables"] == [{"name": "SHOP_URL", "description": "", "encrypted": False}]
    lookup = next(step for t in document["transformers"] for step in t["steps"] if step["type"] == "http_lookup")
    assert lookup["params"]["http_client"] == "exact-online-sandbox"  # a stable key, not a database id

    wipe()
    plan = apply_import(plan_import(dump_document(document, "yaml")))
    assert plan.applied and plan.counts["create"] == 17 and plan.counts["unchanged"] == 1  # the variable
    assert "client “exact-online-sandbox”: enter client_secret" in plan.to_enter
    assert "client “demo-webshop-sandbox”: enter api_key" in plan.to_enter
    exact = HttpClient.objects.get(key="exact-online-sandbox")
    order_steps = Transformer.objects.get(name="Webshop order → Exact sales order").steps
    assert order_steps[0]["params"]["http_client"] == exact.pk  # back to this database's id
    assert [t.name for t in Route.objects.get(name="Webshop orders → Exact sales orders").ordered_transformers()] \
        == ["Webshop order → Exact sales order"]

    again = without_time(export_config())
    for section in ("clients", "incomings", "outgoings", "webhooks"):
        for obj in again[section]:
            obj.pop("secrets", None)
    original = without_time(document)
    for section in ("clients", "incomings", "outgoings", "webhooks"):
        for obj in original[section]:
            obj.pop("secrets", None)
    assert again == original

    second = apply_import(plan_import(document))
    assert second.counts == {"create": 0, "update": 0, "unchanged": 18, "conflict": 0, "invalid": 0, "missing": 0}
    assert not second.changes_anything


def test_a_dry_run_of_one_changed_transformer_step_shows_exactly_that_diff_and_applies_nothing(populated):
    document = export_config()
    changed = copy.deepcopy(document)
    transformer = next(t for t in changed["transformers"] if t["name"] == "Exact item → webshop price and stock")
    transformer["steps"][0]["params"]["expression"] = "{path: {sku: Code}, payload: {price: StandardSalesPrice}}"
    before = Transformer.objects.get(name=transformer["name"]).steps

    plan = plan_import(changed)
    assert plan.ok and not plan.applied
    touched = [o for o in plan.objects if o.action != "unchanged"]
    assert [(o.section, o.key, o.action) for o in touched] == [("transformers", transformer["name"], "update")]
    [change] = touched[0].changes
    assert change.path == "steps[0].params.expression"
    assert change.old == "{path: {sku: Code}, payload: {price: StandardSalesPrice, stock: Stock}}"
    assert change.new == "{path: {sku: Code}, payload: {price: StandardSalesPrice}}"
    assert Transformer.objects.get(name=transformer["name"]).steps == before  # nothing applied


def test_a_missing_variable_or_client_is_reported_and_nothing_is_applied(populated):
    document = export_config()
    wipe()
    Variable.objects.all().delete()
    document["clients"] = [c for c in document["clients"] if c["key"] != "exact-online-sandbox"]
    plan = plan_import(document)
    assert not plan.ok
    assert "variable ${SHOP_URL}" in plan.missing
    assert any("client “exact-online-sandbox”" in item for item in plan.missing)
    with pytest.raises(ImportRefused):
        apply_import(plan)
    assert not HttpClient.objects.exists() and not Route.objects.exists()


def test_a_conflicting_kind_is_reported_and_nothing_is_applied(populated):
    document = export_config()
    document["clients"][0]["kind"] = "exact_online" if document["clients"][0]["kind"] == "http" else "http"
    document["storages"].append({"name": "new-store", "description": "", "ttl_seconds": None})
    plan = plan_import(document)
    assert next(o.action for o in plan.objects if o.section == "clients") == "conflict"
    with pytest.raises(ImportRefused, match="kind"):
        apply_import(plan)
    assert not Storage.objects.filter(name="new-store").exists()


@pytest.mark.parametrize(("text", "reason"), [
    ("{\"schema\": ", "Not valid JSON"),
    ("schema: [unclosed", "Not valid YAML"),
    ('{"schema": "exact-dash/configuration", "version": 99}', "version 99 is not supported"),
    ('{"schema": "something-else", "version": 1}', "Not an Exact Dash configuration"),
    ('{"schema": "exact-dash/configuration", "version": 1, "routes": [{"name": "x"}]}', "routes.0.outgoing"),
    ("a: &x [1]\nb: *x\n", "aliases"),
    ('{"schema": "exact-dash/configuration", "version": 1, "n": NaN}', "Not valid JSON"),
])
def test_bad_documents_give_a_clear_reason(text, reason):
    plan = plan_import(text)
    assert not plan.ok and reason in plan.errors[0]
    with pytest.raises(ImportRefused):
        apply_import(plan)


def test_a_document_over_the_size_limit_is_refused_unread(settings):
    settings.CONFIG_IMPORT_MAX_BYTES = 1000
    plan = plan_import('{"schema": "exact-dash/configuration", "version": 1, "x": "' + "a" * 2000 + '"}')
    assert "over the limit of 0.0 MB" in plan.errors[0]


def test_a_fifty_megabyte_file_is_refused_by_the_command(tmp_path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_config", str(big), stdout=out)
    assert "over the limit of 5.2 MB" in out.getvalue()


def test_one_file_per_object_for_git_reads_back_the_same_document(populated, tmp_path):
    document = export_config()
    write_directory(document, tmp_path)
    assert (tmp_path / "clients" / "exact-online-sandbox.yaml").is_file()
    assert len(list((tmp_path / "routes").glob("*.yaml"))) == 3
    loaded = yaml.safe_load((tmp_path / "clients" / "exact-online-sandbox.yaml").read_text())
    assert loaded["key"] == "exact-online-sandbox" and "s3cret-exact" not in json.dumps(loaded)
    plan = plan_import(read_directory(tmp_path))
    assert plan.ok and not plan.changes_anything


def test_a_selection_brings_what_it_uses(populated):
    document = export_config({"routes": ["Exact items → webshop products"]})
    assert [r["name"] for r in document["routes"]] == ["Exact items → webshop products"]
    assert [i["name"] for i in document["incomings"]] == ["Exact webshop items"]
    assert {c["key"] for c in document["clients"]} == {"exact-online-sandbox", "demo-webshop-sandbox"}
    assert [s["name"] for s in document["storages"]] == ["exact-items-to-webshop"]
    assert [v["name"] for v in document["variables"]] == ["SHOP_URL"]


def test_the_commands_export_a_route_and_dry_run_it(populated, tmp_path):
    out = io.StringIO()
    call_command("export_config", "--format", "yaml", "--route", "Exact items → webshop products", stdout=out)
    document = yaml.safe_load(out.getvalue())
    assert [r["name"] for r in document["routes"]] == ["Exact items → webshop products"]
    path = tmp_path / "export.yaml"
    path.write_text(out.getvalue())
    report = io.StringIO()
    call_command("import_config", str(path), "--dry-run", stdout=report)
    assert "unchanged routes/Exact items → webshop products" in report.getvalue()
    assert "Dry run: 8 unchanged." in report.getvalue()
    call_command("export_config", "--dir", str(tmp_path / "git"), stderr=io.StringIO())
    call_command("import_config", "--dir", str(tmp_path / "git"), stdout=report)
    assert "Applied: 18 unchanged." in report.getvalue()


def test_an_outgoing_the_form_would_refuse_is_invalid_in_the_dry_run_and_nothing_is_applied(populated):
    document = export_config()
    outgoing = next(o for o in document["outgoings"] if o["action"] == "upsert")
    outgoing["config"] = {**outgoing["config"], "upsert_key": "", "reference_field": "SearchCode",
                          "reference_overwrite": False}
    before = Outgoing.objects.get(name=outgoing["name"]).config
    plan = plan_import(document)
    [obj] = [o for o in plan.objects if o.section == "outgoings" and o.key == outgoing["name"]]
    assert obj.action == "invalid" and not plan.ok
    assert any(p.startswith("upsert_key: Upsert needs an upsert key") for p in obj.problems)
    assert any(p.startswith("reference_overwrite: ") and "SearchCode" in p for p in obj.problems)
    with pytest.raises(ImportRefused, match="upsert key"):
        apply_import(plan)
    assert Outgoing.objects.get(name=outgoing["name"]).config == before
