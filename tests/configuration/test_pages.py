"""Settings → Environment variables and Settings → Export and import, through the pages."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from clients.models import HttpClient
from configuration.models import Variable
from connections.models import Storage, Transformer

pytestmark = pytest.mark.django_db


def test_an_encrypted_value_is_shown_once_then_masked_and_kept_when_left_empty(editor_client, viewer_client):
    response = editor_client.post("/settings/variables/create/", {
        "name": "SHOP_KEY", "description": "the shop's API key", "encrypted": "on", "new_value": "k-9f8e7d"})
    assert response.status_code == 200 and b"k-9f8e7d" in response.content  # the one time
    for client in (editor_client, viewer_client):
        page = client.get("/settings/variables/")
        assert b"SHOP_KEY" in page.content and b"k-9f8e7d" not in page.content
    variable = Variable.objects.get(name="SHOP_KEY")
    edit = editor_client.get(f"/settings/variables/{variable.pk}/edit/")
    assert b"k-9f8e7d" not in edit.content
    editor_client.post(f"/settings/variables/{variable.pk}/edit/", {"name": "SHOP_KEY", "description": "",
                                                                    "new_value": ""})
    variable.refresh_from_db()
    assert variable.encrypted and variable.secret == "k-9f8e7d"  # empty keeps it
    assert viewer_client.post("/settings/variables/create/", {"name": "X", "new_value": "1"}).status_code == 403


def test_the_page_shows_where_a_variable_is_used_and_refuses_to_delete_it_then(editor_client):
    variable = Variable.objects.create(name="GREETING", value="hello")
    Transformer.objects.create(name="Greeter", steps=[
        {"type": "set_value", "params": {"path": "greeting", "template": "${GREETING}"}}])
    page = editor_client.get("/settings/variables/")
    assert b"Greeter" in page.content and b"GREETING" in page.content
    editor_client.post(f"/settings/variables/{variable.pk}/delete/")
    assert Variable.objects.filter(name="GREETING").exists()
    Transformer.objects.all().delete()
    editor_client.post(f"/settings/variables/{variable.pk}/delete/")
    assert not Variable.objects.filter(name="GREETING").exists()


def test_export_then_a_dry_run_shows_the_diff_and_apply_writes_it(editor_client):
    client = HttpClient(name="Shop", kind="http", config={"base_url": "http://shop.invalid/api", "auth": "none"})
    client.set_secrets({"api_key": "never-shown-42"})
    client.save()
    Storage.objects.create(name="seen", description="old")
    download = editor_client.get("/settings/configuration/export/", {"format": "yaml"})
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert b"never-shown-42" not in download.content
    document = yaml.safe_load(download.content)
    document["storages"][0]["description"] = "new"
    text = yaml.safe_dump(document)

    preview = editor_client.post("/settings/configuration/import/",
                                 {"file": SimpleUploadedFile("export.yaml", text.encode())})
    assert preview.status_code == 200
    assert b"Dry run" in preview.content and b"description" in preview.content and b"Apply import" in preview.content
    assert Storage.objects.get(name="seen").description == "old"

    token = re.search(r'name="dry_run" value="([^"]+)"', preview.content.decode()).group(1)
    applied = editor_client.post("/settings/configuration/import/apply/", {"dry_run": token}, follow=True)
    assert applied.status_code == 200 and b"1 updated" in applied.content
    assert Storage.objects.get(name="seen").description == "new"
    again = editor_client.post("/settings/configuration/import/apply/", {"dry_run": token})
    assert again.status_code == 400 and b"run the dry run again" in again.content  # used once


def test_a_bad_document_is_explained_and_nothing_is_applied(editor_client):
    response = editor_client.post("/settings/configuration/import/",
                                  {"text": "schema: exact-dash/configuration\nversion: 7\n"})
    assert response.status_code == 400 and b"version 7 is not supported" in response.content
    assert b"Apply import" not in response.content
    assert editor_client.post("/settings/configuration/import/apply/", {"dry_run": "made-up"}).status_code == 400


def test_viewers_cannot_reach_export_and_import(viewer_client):
    assert viewer_client.get("/settings/configuration/").status_code == 403
