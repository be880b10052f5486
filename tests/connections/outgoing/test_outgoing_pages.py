"""Connections → Outgoing: create with validation against the catalog, template, duplicate, delete, roles."""

from __future__ import annotations

import json

from django.urls import reverse

from connections.models import Incoming, Outgoing, Route


def form_data(http_client, **overrides):
    data = {"name": "Accounts into B", "publisher": "exact_online", "action": "create", "entity": "crm/Accounts",
            "path": "division=101002", "query": "", "payload": '{"Status": "C"}', "reference_field": "SearchCode",
            "reference_overwrite": "on", "upsert_key": "", "transformer": "", "http_client": http_client.pk,
            "payload_from_tasks": "on"}
    data.update(overrides)
    return data


def test_an_editor_creates_an_outgoing(editor_client, http_client):
    response = editor_client.post(reverse("connections:outgoing_create"), form_data(http_client))
    outgoing = Outgoing.objects.get(name="Accounts into B")
    assert response.status_code == 302 and response["Location"] == outgoing.get_absolute_url()
    assert outgoing.path == {"division": "101002"}  # key=value lines, as on the Incoming
    assert outgoing.payload == {"Status": "C"}
    assert outgoing.reference_field == "SearchCode"
    assert outgoing.config["reference_salt"]
    page = editor_client.get(outgoing.get_absolute_url()).content.decode()
    assert "Accounts into B" in page and "SearchCode" in page


def test_unknown_and_missing_properties_are_refused_with_the_reason(editor_client, http_client):
    response = editor_client.post(reverse("connections:outgoing_create"),
                                  form_data(http_client, payload='{"Citty": "Delft"}', payload_from_tasks=""))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Citty" in page and "Missing mandatory properties: Name" in page
    assert not Outgoing.objects.exists()


def test_a_partial_static_payload_is_fine_when_tasks_supply_the_rest(editor_client, http_client):
    response = editor_client.post(reverse("connections:outgoing_create"),
                                  form_data(http_client, payload='{"Citty": "Delft"}'))
    assert response.status_code == 400 and "Citty" in response.content.decode()
    assert "Missing mandatory" not in response.content.decode()


def test_bad_json_and_an_unsupported_action_are_refused(editor_client, http_client):
    response = editor_client.post(reverse("connections:outgoing_create"), form_data(http_client, payload="{oops"))
    assert response.status_code == 400 and "Not valid JSON" in response.content.decode()
    response = editor_client.post(reverse("connections:outgoing_create"),
                                  form_data(http_client, entity="bulk/CRM/Accounts"))
    assert response.status_code == 400  # bulk endpoints are not in the choices of any write action


def test_entity_choices_follow_the_action(editor_client):
    page = editor_client.get(reverse("connections:outgoing_create"), {"action": "delete"}).content.decode()
    assert 'value="crm/Accounts"' in page
    assert 'value="bulk/CRM/Accounts"' not in page


def test_the_chosen_entity_shows_its_properties(editor_client):
    page = editor_client.get(reverse("connections:outgoing_create"),
                             {"action": "create", "entity": "crm/Accounts"}).content.decode()
    assert 'data-testid="publisher-entity"' in page
    assert "SearchCode" in page and "mandatory" in page


def test_payload_template_is_generated_from_the_catalog(editor_client):
    response = editor_client.get(reverse("connections:outgoing_payload_template"),
                                 {"action": "create", "entity": "crm/Accounts"})
    assert response.status_code == 200
    text = response.content.decode()
    assert text.startswith('<textarea name="payload"')
    assert "&quot;Name&quot;" in text


def test_duplicate_gets_its_own_reference_salt(editor_client, http_client):
    editor_client.post(reverse("connections:outgoing_create"), form_data(http_client))
    original = Outgoing.objects.get()
    response = editor_client.post(reverse("connections:outgoing_duplicate", args=[original.pk]))
    copy = Outgoing.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302 and copy.name == "Copy of Accounts into B"
    assert copy.config["reference_salt"] != original.config["reference_salt"]
    assert copy.idempotency_reference("x", 1) != original.idempotency_reference("x", 1)


def test_delete_refuses_while_a_route_uses_it(editor_client, http_client):
    editor_client.post(reverse("connections:outgoing_create"), form_data(http_client))
    outgoing = Outgoing.objects.get()
    incoming = Incoming.objects.create(name="in", subscriber="exact_online")
    Route.objects.create(name="r", incoming=incoming, outgoing=outgoing)
    response = editor_client.post(reverse("connections:outgoing_delete", args=[outgoing.pk]), follow=True)
    assert Outgoing.objects.filter(pk=outgoing.pk).exists()
    assert "is used by the routes r" in response.content.decode()


def test_a_viewer_reads_but_cannot_change(viewer_client, editor_client, http_client):
    editor_client.post(reverse("connections:outgoing_create"), form_data(http_client))
    outgoing = Outgoing.objects.get()
    assert viewer_client.get(reverse("connections:outgoing_list")).status_code == 200
    page = viewer_client.get(outgoing.get_absolute_url()).content.decode()
    assert "Edit</a>" not in page
    assert viewer_client.get(reverse("connections:outgoing_create")).status_code == 403
    assert viewer_client.post(reverse("connections:outgoing_delete", args=[outgoing.pk])).status_code == 403
    assert json.loads(json.dumps(Outgoing.objects.get().payload)) == {"Status": "C"}


def test_deep_nesting_and_nan_in_the_payload_are_refused_with_a_form_message(editor_client, http_client):
    url = reverse("connections:outgoing_create")
    deep = '{"a":' * 10_000 + "1" + "}" * 10_000
    for payload, reason in ((deep, "nested too deeply"), ('{"Amount": NaN}', "NaN is not a JSON value"),
                            ('{"Amount": 1e999}', "out of range")):
        response = editor_client.post(url, form_data(http_client, payload=payload))
        assert response.status_code == 400, reason
        assert reason in response.content.decode()
    assert not Outgoing.objects.exists()


def test_the_reference_stays_on_our_side_unless_an_overwrite_is_confirmed(editor_client, http_client):
    page = editor_client.get(reverse("connections:outgoing_create"), {"entity": "crm/Accounts"}).content.decode()
    assert '<option value="" selected>— keep it on our side (nothing written) —</option>' in page
    refused = editor_client.post(reverse("connections:outgoing_create"),
                                 form_data(http_client, reference_overwrite=""))
    assert refused.status_code == 400 and not Outgoing.objects.exists()
    assert "Overwrite SearchCode" in refused.content.decode()
    kept = editor_client.post(reverse("connections:outgoing_create"),
                              form_data(http_client, reference_field="", reference_overwrite=""))
    assert kept.status_code == 302
    outgoing = Outgoing.objects.get()
    assert outgoing.reference_field == "" and not outgoing.config["reference_overwrite"]
    assert "kept on our side" in editor_client.get(outgoing.get_absolute_url()).content.decode()


def test_an_upsert_without_an_upsert_key_does_not_save(editor_client, http_client):
    response = editor_client.post(reverse("connections:outgoing_create"),
                                  form_data(http_client, action="upsert", reference_field="", upsert_key=""))
    assert response.status_code == 400 and not Outgoing.objects.exists()
    assert "Upsert needs an upsert key" in response.content.decode()
    saved = editor_client.post(reverse("connections:outgoing_create"),
                               form_data(http_client, action="upsert", reference_field="", upsert_key="Code"))
    assert saved.status_code == 302 and Outgoing.objects.get().upsert_key == "Code"


def test_the_entity_is_searched_and_path_and_query_are_key_value_lines_as_on_the_incoming(editor_client, http_client):
    page = editor_client.get(reverse("connections:outgoing_create")).content.decode()
    assert 'list="outgoing-entity-options"' in page and '<option value="crm/Accounts">Accounts (crm/Accounts)' in page
    response = editor_client.post(reverse("connections:outgoing_create"), form_data(
        http_client, entity="accounts (crm/accounts)", path='{"division": 101002}', query="$top=5\n# a comment"))
    assert response.status_code == 302
    outgoing = Outgoing.objects.get(name="Accounts into B")
    assert outgoing.entity == "crm/Accounts" and outgoing.path == {"division": "101002"}
    assert outgoing.query == {"$top": "5"}
    edit = editor_client.get(reverse("connections:outgoing_edit", args=[outgoing.pk])).content.decode()
    assert "division=101002</textarea>" in edit and 'value="crm/Accounts"' in edit
    response = editor_client.post(reverse("connections:outgoing_create"), form_data(
        http_client, name="Broken", path="division", entity="Nothing like it"))
    assert response.status_code == 400
    assert "is not key=value, one key=value per line" in response.content.decode()
    assert "Select a valid choice" in response.content.decode()
