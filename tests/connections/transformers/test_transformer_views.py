"""Transformer screens for each persona: list, create, edit through the chain editor, duplicate, delete, tester."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from connections.models import Storage, StorageEntry, Transformer
from connections.transformers import register_lookup_provider, unregister_lookup_provider

from .helpers import step

pytestmark = pytest.mark.django_db

CHAIN = [step("move", source="Naam", target="Name"), step("cast", path="Modified", to="date")]


@pytest.fixture
def transformer():
    return Transformer.objects.create(name="Accounts out", description="Shapes accounts", steps=CHAIN)


def _fields(steps, **extra):
    """The chain editor's POST for ``steps`` (as the browser sends it)."""
    from connections.transformers.formdata import params_to_form

    data = {"step_count": str(len(steps)), **extra}
    for index, item in enumerate(steps):
        data[f"step-{index}-type"] = item["type"]
        for name, text in params_to_form(item["type"], item.get("params", {})).items():
            if text:
                data[f"step-{index}-p-{name}"] = text
        if item.get("disabled"):
            data[f"step-{index}-disabled"] = "on"
    return data


def test_list_shows_rows_empty_state_and_filter(viewer_client, editor_client, transformer):
    Transformer.objects.create(name="Orders in")
    page = viewer_client.get(reverse("connections:transformer_list")).content.decode()
    assert "Accounts out" in page and "Orders in" in page and "Create Transformer" not in page
    page = editor_client.get(reverse("connections:transformer_list"), {"q": "orders"}).content.decode()
    assert "Orders in" in page and "Accounts out" not in page and "Create Transformer" in page
    rows = editor_client.get(reverse("connections:transformer_list"), {"q": "acc"}, HTTP_HX_REQUEST="true")
    assert "Accounts out" in rows.content.decode() and b"<html" not in rows.content
    Transformer.objects.all().delete()
    assert "No transformers yet" in viewer_client.get(reverse("connections:transformer_list")).content.decode()


def test_viewer_sees_the_chain_read_only_and_cannot_change(viewer_client, transformer):
    page = viewer_client.get(reverse("connections:transformer_detail", args=[transformer.pk])).content.decode()
    assert 'data-testid="readonly-steps"' in page and "Move / rename" in page and "Save transformer" not in page
    assert viewer_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), {}).status_code == 403
    assert viewer_client.post(reverse("connections:transformer_duplicate", args=[transformer.pk])).status_code == 403
    assert viewer_client.post(reverse("connections:transformer_delete", args=[transformer.pk])).status_code == 403
    assert viewer_client.get(reverse("connections:transformer_create")).status_code == 403
    assert viewer_client.post(reverse("connections:transformer_chain"), {"op": "add"}).status_code == 403
    assert Transformer.objects.count() == 1


def test_editor_creates_a_transformer_from_step_forms(editor_client):
    data = _fields(CHAIN, name="New one", description="d")
    response = editor_client.post(reverse("connections:transformer_create"), data)
    created = Transformer.objects.get(name="New one")
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:transformer_detail", args=[created.pk])
    assert created.steps == [
        {"type": "move", "params": {"source": "Naam", "target": "Name", "if_missing": "skip"}},
        {
            "type": "cast",
            "params": {
                "path": "Modified",
                "to": "date",
                "format": "iso",
                "timezone": "Europe/Amsterdam",
                "exact_wallclock": True,
                "epoch_unit": "ms",
                "on_error": "fail",
            },
        },
    ]


def test_invalid_chain_is_refused_with_the_step_and_reason(editor_client, transformer):
    data = _fields([step("filter", condition="Status ==")], name="Accounts out")
    response = editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), data)
    page = response.content.decode()
    assert response.status_code == 400 and "not a valid JMESPath expression" in page and "needs attention" in page
    transformer.refresh_from_db()
    assert transformer.steps == CHAIN


def test_steps_count_from_one_and_a_failed_save_keeps_the_testers_input(editor_client, transformer):
    page = editor_client.get(reverse("connections:transformer_detail", args=[transformer.pk])).content.decode()
    assert '<span class="tf-num">1</span>' in page and '<span class="tf-num">0</span>' not in page
    typed = '{"Naam": "typed by the user before saving"}'
    data = _fields([step("filter", condition="Status ==")], name="Accounts out", tester_input=typed)
    page = editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), data).content.decode()
    assert "typed by the user before saving" in page  # in the tester's textarea, not the default sample
    assert "Jansen B.V." not in page


def test_unreadable_table_csv_is_refused_on_its_field(editor_client, transformer):
    data = _fields([], name="Accounts out", step_count="1")
    data.update({"step-0-type": "value_map", "step-0-p-path": "S", "step-0-p-table": "from,to\nA,1\nA,2\n"})
    page = editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), data).content.decode()
    assert "duplicate key &#x27;A&#x27;" in page and "A,2" in page  # the raw text stays to be fixed


def test_chain_editor_actions(editor_client):
    url = reverse("connections:transformer_chain")
    chain = [step("set_value", path="a", value=1), step("remove", paths=["b"]), step("copy", source="a", target="c")]
    page = editor_client.post(url, _fields(chain, op="add", step_type="split")).content.decode()
    assert page.count("data-step-type=") == 4 and 'data-step-type="split"' in page
    page = editor_client.post(url, _fields(chain, op="up", index="2")).content.decode()
    assert page.index('data-step-type="copy"') < page.index('data-step-type="remove"')
    page = editor_client.post(url, _fields(chain, op="remove", index="0")).content.decode()
    assert 'data-step-type="set_value"' not in page
    page = editor_client.post(url, _fields(chain, op="toggle", index="1")).content.decode()
    assert "&quot;disabled&quot;: true" in page and 'name="step-1-disabled"' in page
    applied = json.dumps([step("expression", expression="a")])
    page = editor_client.post(url, {"op": "apply_json", "chain_json": applied}).content.decode()
    assert 'data-step-type="expression"' in page and 'value="a"' in page
    page = editor_client.post(url, {"op": "apply_json", "chain_json": "[oops"}).content.decode()
    assert "The JSON is not valid" in page


def test_duplicate_and_delete_with_confirmation(editor_client, transformer):
    response = editor_client.post(reverse("connections:transformer_duplicate", args=[transformer.pk]))
    copy = Transformer.objects.get(name="Copy of Accounts out")
    assert response["Location"] == reverse("connections:transformer_detail", args=[copy.pk])
    confirm = editor_client.get(reverse("connections:transformer_delete", args=[copy.pk])).content.decode()
    assert "Nothing uses this transformer" in confirm
    editor_client.post(reverse("connections:transformer_delete", args=[copy.pk]))
    assert not Transformer.objects.filter(pk=copy.pk).exists()


def test_tester_runs_steps_json_and_shows_trace(viewer_client):
    steps = json.dumps([step("set_value", path="Hello", template="Hi &{Name}"), step("split", path="Lines")])
    page = _tester(viewer_client, steps, json.dumps({"Name": "Zoë", "Lines": [{"a": 1}, {"a": 2}]}))
    assert page.count('data-testid="tester-entity"') == 1 and "2 out" in page and 'data-step-location="1"' in page
    assert "Hi Zoë" in page and "diff-add" in page


def test_tester_uses_editor_fields_and_reports_errors_with_step_and_path(editor_client):
    data = _fields([step("cast", path="Amount", to="integer")], input='[{"Amount": "12"}, {"Amount": "12.5"}]')
    page = editor_client.post(reverse("connections:transformer_test"), data).content.decode()
    assert page.count('data-testid="tester-entity"') == 2
    assert '<a href="#step-0"><strong>1</strong></a> (cast) at <code>Amount</code>' in page
    page = _tester(editor_client, "[]", "{nope")
    assert "not valid JSON" in page
    page = _tester(editor_client, '[{"type": "x"}]', "{}")
    assert "unknown step type" in page


def test_tester_keeps_storage_writes_to_itself(editor_client):
    Storage.objects.create(name="seen")
    steps = json.dumps([step("skip_unchanged", store="seen", key="&{ID}")])
    for _ in range(2):
        page = _tester(editor_client, steps, '{"ID": 1}')
        assert 'data-status="ok"' in page
    assert not StorageEntry.objects.exists()


def _tester(client, steps_json, input_text):
    return client.post(
        reverse("connections:transformer_test"), {"steps_json": steps_json, "input": input_text}
    ).content.decode()


LOOKUP = json.dumps([step("http_lookup", http_client=1, path="crm/Accounts", target="ID", result="id")])


def test_tester_lookup_provider_missing_registered_and_refused_to_viewers(editor_client, viewer_client):
    page = _tester(editor_client, LOOKUP, "{}")
    assert "HTTP lookup: there is no HTTP client &#x27;1&#x27;" in page  # the platform's provider answers

    def provider(client, request):
        return {"id": f"found-{client}-{request['path']}"}

    register_lookup_provider(provider)
    try:
        page = _tester(editor_client, LOOKUP, "{}")
        assert "found-1-crm/Accounts" in page
        page = _tester(viewer_client, LOOKUP, "{}")
        assert "need the Editor role" in page
    finally:
        unregister_lookup_provider(provider)


def test_lookup_and_storage_steps_offer_existing_clients_and_storages(editor_client):
    from clients.models import HttpClient

    client = HttpClient.objects.create(name="Exact NL", kind="exact_online")
    Storage.objects.create(name="accounts-by-code")
    chain = [step("http_lookup", http_client=client.pk, path="crm/Accounts", target="ID")]
    data = _fields(chain, op="add", step_type="storage_get")
    html = editor_client.post(reverse("connections:transformer_chain"), data).content.decode()
    assert f'<option value="{client.pk}" selected>Exact NL</option>' in html
    assert '<option value="accounts-by-code">' in html
    data = _fields([step("storage_save", store="typo", key="k")], op="noop")
    html = editor_client.post(reverse("connections:transformer_chain"), data).content.decode()
    assert "no storage named &#x27;typo&#x27; yet" in html


def test_tester_runs_a_saved_transformer_by_id(viewer_client, transformer):
    data = {"transformer": str(transformer.pk), "input": '{"Naam": "Zoë", "Modified": "/Date(0)/"}'}
    page = viewer_client.post(reverse("connections:transformer_test"), data).content.decode()
    assert "1970-01-01T00:00:00+01:00" in page  # wall-clock reading and 'data-status="ok"' in page
    assert viewer_client.post(reverse("connections:transformer_test"), {"transformer": "999"}).status_code == 404


def test_nested_steps_get_the_same_forms_as_top_level_ones(editor_client, transformer):
    nested = [step("set_value", path="bulk", value=True), {"type": "nope"}]
    data = _fields([step("conditional", condition="Qty > `1`", then=nested)], op="noop")
    html = editor_client.post(reverse("connections:transformer_chain"), data).content.decode()
    # The Then branch is rendered as step forms (not a JSON box), numbered inside their parent.
    assert 'name="step-0-p-then-count" value="2"' in html
    assert 'name="step-0-p-then-0-type" value="set_value"' in html and 'name="step-0-p-then-0-p-path"' in html
    assert '<span class="tf-num">1 › then › 1</span>' in html
    assert "unknown step type" in html and 'id="step-0.then.1"' in html

    # The posted nested forms are read back; "Add to Then" and moves work inside the branch.
    form = {"step_count": "1", "step-0-type": "conditional", "step-0-p-condition": "Qty > `1`",
            "step-0-p-then-count": "1", "step-0-p-then-0-type": "set_value", "step-0-p-then-0-p-path": "bulk",
            "step-0-p-then-0-p-value": "true", "step-0-p-else-count": "0"}
    added = editor_client.post(reverse("connections:transformer_chain"),
                               {**form, "op": "add", "target": "0.then", "step_type@0.then": "remove"}).content.decode()
    assert 'name="step-0-p-then-1-type" value="remove"' in added
    moved = editor_client.post(reverse("connections:transformer_chain"), {
        **form, "step-0-p-then-count": "2", "step-0-p-then-1-type": "remove", "step-0-p-then-1-p-paths": "Tmp",
        "op": "up", "index": "0.then.1"}).content.decode()
    assert 'name="step-0-p-then-0-type" value="remove"' in moved
    saved = editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]),
                               {**form, "name": transformer.name})
    assert saved.status_code == 302
    transformer.refresh_from_db()
    assert transformer.steps[0]["params"]["then"] == [
        {"type": "set_value", "params": {"path": "bulk", "value": True, "only_if_missing": False}}]


def test_tester_says_until_when_a_lookup_must_wait_instead_of_waiting(editor_client):
    from datetime import timedelta

    from django.utils import timezone

    from connections.waits import WaitUntil

    def provider(client, request):  # the quota of the lookup's system is used up (or it is down)
        raise WaitUntil("Daily quota of Exact Online used up for division 7", timezone.now() + timedelta(hours=2))

    register_lookup_provider(provider)
    try:
        page = _tester(editor_client, LOOKUP, "{}")
    finally:
        unregister_lookup_provider(provider)
    assert "Daily quota of Exact Online used up for division 7 until" in page and "try again then" in page
