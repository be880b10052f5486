"""The database storage a page at a time: the page's keys in one query, answers from memory with the page's own
writes in them, and the writes in one upsert when the page is saved (none when it is not)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import Storage, StorageEntry
from connections.storage_service import DatabaseStorage
from connections.transformers import ServiceError, content_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen() -> Storage:
    store = Storage.objects.create(name="seen")
    for n in range(5):
        StorageEntry.objects.create(storage=store, key=f"k{n}", content_hash=f"h{n}", value={"n": n})
    return store


def test_a_page_asks_for_its_keys_once_and_answers_from_memory(seen):
    service = DatabaseStorage()
    service.begin_page([("seen", f"k{n}") for n in range(200)])
    with CaptureQueriesContext(connection) as queries:
        answers = [service.has_hash("seen", f"k{n}", f"h{n}") for n in range(200)]
        unknown = service.has_hash("seen", "k1", "other")
    assert answers == [n < 5 for n in range(200)] and not unknown
    assert len(queries) == 0


def test_the_page_reads_its_own_writes_and_the_database_sees_them_only_at_end_page(seen):
    service = DatabaseStorage()
    service.begin_page([("seen", "k0"), ("seen", "new")], values=[("seen", "k1")])
    service.set_hash("seen", "new", "hn")
    service.set_hash("seen", "k0", "changed")
    service.set("seen", "k1", {"n": "one"})
    assert service.has_hash("seen", "new", "hn") and service.has_hash("seen", "k0", "changed")
    assert service.get("seen", "k1") == {"n": "one"}
    assert service.get("seen", "k0") == {"n": 0}  # set_hash keeps the value
    assert not StorageEntry.objects.filter(key="new").exists()
    assert StorageEntry.objects.get(key="k0").content_hash == "h0"
    with CaptureQueriesContext(connection) as queries:
        assert service.end_page() == 3
    assert len(queries) == 2  # one upsert for hashes, one for values
    rows = {e.key: (e.content_hash, e.value) for e in StorageEntry.objects.filter(storage=seen)}
    assert rows["new"] == ("hn", None)
    assert rows["k0"] == ("changed", {"n": 0})
    assert rows["k1"] == (content_hash({"n": "one"}), {"n": "one"})
    assert not service.in_page  # back to one query per call, written at once
    service.set_hash("seen", "k4", "h4b")
    assert StorageEntry.objects.get(key="k4").content_hash == "h4b"


def test_a_page_that_is_not_saved_leaves_nothing_behind(seen):
    service = DatabaseStorage()
    service.begin_page([("seen", "x")])
    service.set_hash("seen", "x", "hx")
    service.begin_page([("seen", "x")])  # the next page: the first was never saved
    assert not service.has_hash("seen", "x", "hx")
    assert service.end_page() == 0
    assert not StorageEntry.objects.filter(key="x").exists()


def test_expired_entries_are_absent_in_a_page_as_outside(seen):
    StorageEntry.objects.filter(key="k2").update(expires_at=timezone.now() - timedelta(seconds=1))
    StorageEntry.objects.filter(key="k3").update(expires_at=timezone.now() + timedelta(hours=1))
    service = DatabaseStorage()
    service.begin_page([("seen", "k2"), ("seen", "k3")], values=[("seen", "k2")])
    assert not service.has_hash("seen", "k2", "h2") and service.has_hash("seen", "k3", "h3")
    with pytest.raises(KeyError):
        service.get("seen", "k2")


def test_keys_the_page_did_not_load_are_asked_one_by_one(seen):
    service = DatabaseStorage()
    service.begin_page([("seen", "k0")])
    with CaptureQueriesContext(connection) as queries:
        assert service.has_hash("seen", "k1", "h1")
        assert service.get("seen", "k2") == {"n": 2}
    assert len(queries) == 2


def test_ttl_and_an_unknown_storage_in_a_page():
    Storage.objects.create(name="short", ttl_seconds=60)
    service = DatabaseStorage()
    service.begin_page([("short", "a"), ("nope", "b")])
    service.set_hash("short", "a", "ha")
    with pytest.raises(ServiceError, match="storage 'nope' does not exist"):
        service.set_hash("nope", "b", "hb")
    service.end_page()
    entry = StorageEntry.objects.get(key="a")
    assert timedelta(seconds=50) < entry.expires_at - timezone.now() <= timedelta(seconds=60)
