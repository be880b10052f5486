"""Transformer validation on save, duplication, dependents; the database storage service with TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from connections.flow.transform import apply_deferred
from connections.models import Storage, StorageEntry, Transformer
from connections.storage_service import DatabaseStorage
from connections.transformers import Context, ServiceError, TransformError, run_chain

from .helpers import step

pytestmark = pytest.mark.django_db


def test_clean_refuses_an_invalid_chain_with_step_and_reason():
    transformer = Transformer(name="Bad", steps=[step("set_value", path="a", value=1), {"type": "teleport"}])
    with pytest.raises(ValidationError) as info:
        transformer.full_clean()
    assert "step 2 (teleport)" in str(info.value.message_dict["steps"])
    Transformer(name="Good", steps=[step("set_value", path="a", value=1)]).full_clean()


def test_duplicate_finds_a_free_name_and_copies_the_chain():
    original = Transformer.objects.create(name="Accounts", steps=[step("set_value", path="a", value=1)])
    first, second = original.duplicate(), original.duplicate()
    assert (first.name, second.name) == ("Copy of Accounts", "Copy of Accounts (2)")
    assert second.steps == original.steps and second.pk != original.pk
    assert original.compiled().run({}).entities == [{"a": 1}]


def test_database_storage_get_set_hash_and_ttl():
    Storage.objects.create(name="accounts", ttl_seconds=3600)
    service = DatabaseStorage()
    with pytest.raises(KeyError):
        service.get("accounts", "C1")
    service.set("accounts", "C1", {"ID": "g1"})
    entry = StorageEntry.objects.get(key="C1")
    assert entry.value == {"ID": "g1"} and len(entry.content_hash) == 64
    assert timedelta(minutes=59) < entry.expires_at - timezone.now() <= timedelta(hours=1)
    assert service.get("accounts", "C1") == {"ID": "g1"}
    assert service.has_hash("accounts", "C1", entry.content_hash)
    StorageEntry.objects.filter(pk=entry.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not service.has_hash("accounts", "C1", entry.content_hash)
    with pytest.raises(KeyError):
        service.get("accounts", "C1")
    assert Storage.objects.get(name="accounts").purge_expired() == 1


def test_unknown_store_is_a_service_error_and_fails_the_step():
    with pytest.raises(ServiceError, match="storage 'nope' does not exist"):
        DatabaseStorage().get("nope", "k")
    with pytest.raises(TransformError, match="storage 'nope' does not exist"):
        run_chain([step("storage_save", store="nope", key="k")], {}, Context(storage=DatabaseStorage()))


def test_skip_unchanged_against_the_database_across_runs():
    Storage.objects.create(name="seen")
    chain = [step("skip_unchanged", store="seen", key="&{ID}")]
    assert run_chain(chain, {"ID": 1, "v": 1}, Context(storage=DatabaseStorage())).entities
    assert run_chain(chain, {"ID": 1, "v": 1}, Context(storage=DatabaseStorage())).skipped_reason
    assert run_chain(chain, {"ID": 1, "v": 2}, Context(storage=DatabaseStorage())).entities
    assert StorageEntry.objects.filter(storage__name="seen").count() == 1


def test_deferred_hashes_are_remembered_only_when_the_platform_commits_them():
    Storage.objects.create(name="sent")
    chain = [step("skip_unchanged", store="sent", key="&{ID}", record="deferred")]
    first = run_chain(chain, {"ID": 7}, Context(storage=DatabaseStorage()))
    assert first.entities and not StorageEntry.objects.exists()
    apply_deferred(first.deferred)  # what the publish step does after the task published successfully
    assert run_chain(chain, {"ID": 7}, Context(storage=DatabaseStorage())).skipped_reason


def test_dependents_name_what_refers_to_a_transformer():
    from connections.models import Incoming

    transformer = Transformer.objects.create(name="Params")
    assert transformer.dependents() == []
    Incoming.objects.create(name="Accounts in", subscriber="exact_online", transformer=transformer)
    [dependent] = transformer.dependents()
    assert dependent.count == 1 and not dependent.protects and "incoming" in dependent.label.lower()
