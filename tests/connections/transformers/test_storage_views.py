"""Storage screens: list, create, browse and search entries, delete entries and storages, per persona."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Storage, StorageEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage():
    store = Storage.objects.create(name="accounts", description="Code to GUID", ttl_seconds=60)
    value = {"ID": "guid-1", "Name": "Zoë"}
    StorageEntry.objects.create(storage=store, key="C0001", value=value, content_hash="a" * 64)
    StorageEntry.objects.create(storage=store, key="C0002", value=None, content_hash="b" * 64)
    StorageEntry.objects.create(storage=store, key="old", value=1, expires_at=timezone.now() - timedelta(seconds=5))
    return store


def test_list_and_empty_state(viewer_client, editor_client, storage):
    page = viewer_client.get(reverse("connections:storage_list")).content.decode()
    assert "accounts" in page and "60 s" in page and "Create Storage" not in page
    assert "Create Storage" in editor_client.get(reverse("connections:storage_list")).content.decode()
    Storage.objects.all().delete()
    assert "No storages yet" in viewer_client.get(reverse("connections:storage_list")).content.decode()


def test_browse_and_search_entries(viewer_client, storage):
    url = reverse("connections:storage_detail", args=[storage.pk])
    page = viewer_client.get(url).content.decode()
    assert "C0001" in page and "guid-1" in page and "only a hash" in page and "expired" in page
    assert "Delete" not in page.split('id="entries"')[1]
    page = viewer_client.get(url, {"q": "0002"}, HTTP_HX_REQUEST="true").content.decode()
    assert "C0002" in page and "C0001" not in page and "<html" not in page


def test_editor_creates_a_storage_and_bad_names_are_refused(editor_client):
    data = {"name": "seen-orders", "ttl_seconds": "86400"}
    response = editor_client.post(reverse("connections:storage_create"), data)
    created = Storage.objects.get(name="seen-orders")
    assert response["Location"] == reverse("connections:storage_detail", args=[created.pk])
    assert created.ttl_seconds == 86400
    response = editor_client.post(reverse("connections:storage_create"), {"name": "has spaces"})
    assert response.status_code == 400 and Storage.objects.count() == 1


def test_editor_deletes_entries_purges_and_deletes_the_storage(editor_client, storage):
    entry = StorageEntry.objects.get(key="C0001")
    editor_client.post(reverse("connections:storage_entry_delete", args=[storage.pk, entry.pk]))
    assert not StorageEntry.objects.filter(pk=entry.pk).exists()
    editor_client.post(reverse("connections:storage_purge", args=[storage.pk]))
    assert list(storage.entries.values_list("key", flat=True)) == ["C0002"]
    assert "its 1 entry" in editor_client.get(reverse("connections:storage_delete", args=[storage.pk])).content.decode()
    editor_client.post(reverse("connections:storage_delete", args=[storage.pk]))
    assert not Storage.objects.exists() and not StorageEntry.objects.exists()


def test_viewer_cannot_change_storages(viewer_client, storage):
    entry = StorageEntry.objects.get(key="C0001")
    for name, args in [
        ("storage_entry_delete", [storage.pk, entry.pk]),
        ("storage_purge", [storage.pk]),
        ("storage_delete", [storage.pk]),
        ("storage_edit", [storage.pk]),
    ]:
        assert viewer_client.post(reverse(f"connections:{name}", args=args)).status_code == 403
    assert viewer_client.post(reverse("connections:storage_create"), {"name": "x"}).status_code == 403
    assert Storage.objects.count() == 1 and StorageEntry.objects.count() == 3
