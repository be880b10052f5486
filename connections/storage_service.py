"""The database-backed storage service the transformer engine receives in its ``Context``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from connections.models import Storage, StorageEntry
from connections.transformers import ServiceError, content_hash

__all__ = ["DatabaseStorage"]


class DatabaseStorage:
    """Implements ``connections.transformers.StorageService`` on Storage/StorageEntry rows.

    Storages are looked up by name once per instance; a name that does not exist is a ``ServiceError``
    (the step fails naming it) rather than a store created by a typo.
    """

    def __init__(self) -> None:
        self._stores: dict[str, Storage] = {}

    def _store(self, name: str) -> Storage:
        store = self._stores.get(name)
        if store is None:
            store = Storage.objects.filter(name=name).first()
            if store is None:
                raise ServiceError(f"storage '{name}' does not exist")
            self._stores[name] = store
        return store

    def _entry(self, store: str, key: str) -> StorageEntry | None:
        return StorageEntry.objects.live().filter(storage=self._store(store), key=key).first()

    def get(self, store: str, key: str) -> Any:
        entry = self._entry(store, key)
        if entry is None:
            raise KeyError(key)
        return entry.value

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None:
        storage = self._store(store)
        StorageEntry.objects.update_or_create(
            storage=storage,
            key=key,
            defaults={"value": value, "content_hash": content_hash(value), "expires_at": storage.expiry_from_now(ttl)},
        )

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        return (
            StorageEntry.objects.live().filter(storage=self._store(store), key=key, content_hash=content_hash).exists()
        )

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None:
        storage = self._store(store)
        StorageEntry.objects.update_or_create(
            storage=storage,
            key=key,
            defaults={
                "content_hash": content_hash,
                "expires_at": storage.expiry_from_now(ttl),
                "updated_at": timezone.now(),
            },
        )

