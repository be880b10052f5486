"""The database-backed storage service the transformer engine receives in its ``Context``.

One call is one query (and a write its own statement) unless a reader works a page at a time: between
``begin_page`` and ``end_page`` the entries the page will ask for are loaded in one query per storage, the
answers come from memory (with the page's own writes in them, so a key seen twice in a page reads what the
first one stored), and the page's writes go to the database in one upsert per kind when ``end_page`` is
called, inside the transaction that saves the page's tasks: a page that is not saved leaves no hash behind.
A reader that saves a page in another thread while it transforms the next takes the writes with ``take_page``
instead: until that page commits, the next page reads its entries from memory, not from the database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup, Q
from django.utils import timezone

from connections.models import Storage, StorageEntry
from connections.transformers import ServiceError, content_hash
from connections.transformers.paths import clone

__all__ = ["DatabaseStorage", "PageWrites"]

PREFETCH_CHUNK = 500  # keys per IN (...) list: within SQLite's parameter limit
_UNKNOWN: Any = object()  # a known entry whose value was not loaded (only its hash was asked for)


class _AnyOf(Lookup):
    """``column = ANY(%s)`` with the keys as one array (PostgreSQL): a thousand ``IN`` parameters were most of the
    time of a page's look-up, spent putting them into the query text."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))


@dataclass
class _Known:
    """An entry as the page sees it: ``content_hash`` and ``value`` (or ``_UNKNOWN``) with its expiry."""

    content_hash: str
    value: Any
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class DatabaseStorage:
    """Implements ``connections.transformers.StorageService`` on Storage/StorageEntry rows.

    Storages are looked up by name once per instance; a name that does not exist is a ``ServiceError``
    (the step fails naming it) rather than a store created by a typo.
    """

    def __init__(self) -> None:
        self._stores: dict[str, Storage] = {}
        # Page mode (between begin_page and end_page): what the page knows, None for "no such entry".
        self._known: dict[tuple[str, str], _Known | None] | None = None
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}
        # The entries of the page taken last (``take_page``) until it commits, never changed once made: the next
        # page reads them from here, as the database may not hold them yet. ``_page_taken``: this page's copy.
        self._taken: dict[tuple[str, str], _Known] = {}
        self._page_taken: dict[tuple[str, str], _Known] = {}
        self._lock = threading.Lock()

    def _store(self, name: str) -> Storage:
        store = self._stores.get(name)
        if store is None:
            store = Storage.objects.filter(name=name).first()
            if store is None:
                raise ServiceError(f"storage '{name}' does not exist")
            self._stores[name] = store
        return store

    def knows(self, store: str) -> bool:
        """Whether the storage exists (a write to it would not fail)."""
        try:
            self._store(store)
        except ServiceError:
            return False
        return True

    def _entry(self, store: str, key: str) -> StorageEntry | None:
        return StorageEntry.objects.live().filter(storage=self._store(store), key=key).first()

    # -- a page at a time ---------------------------------------------------------------------------------
    @property
    def in_page(self) -> bool:
        return self._known is not None

    def begin_page(self, hashes: Iterable[tuple[str, str]] = (), values: Iterable[tuple[str, str]] = ()) -> None:
        """Start a page: load the entries of ``hashes`` (their content hash) and ``values`` (hash and value),
        ``(store, key)`` pairs, in one query per storage and chunk; writes wait for ``end_page``. Starting
        again drops what an unsaved page wrote."""
        self._known, self._pending = {}, {}
        self._page_taken = taken = self._taken  # before the loads: a page committing meanwhile is in both
        wanted: dict[str, dict[str, bool]] = {}  # store -> key -> with its value
        for store, key in hashes:
            wanted.setdefault(store, {}).setdefault(key, False)
        for store, key in values:
            wanted.setdefault(store, {})[key] = True
        for name, keys in wanted.items():
            try:
                storage = self._store(name)
            except ServiceError:
                continue  # the step that asks fails, naming it, as without a page
            with_values = [key for key, value in keys.items() if value]
            hash_only = [key for key, value in keys.items() if not value]
            postgres = connections[router.db_for_read(StorageEntry)].vendor == "postgresql"
            for chunk_keys, fields in ((with_values, ("key", "content_hash", "expires_at", "value")),
                                       (hash_only, ("key", "content_hash", "expires_at"))):
                size = max(len(chunk_keys), 1) if postgres else PREFETCH_CHUNK
                for start in range(0, len(chunk_keys), size):
                    chunk = chunk_keys[start:start + size]
                    for key in chunk:
                        self._known[(name, key)] = None
                    match = _AnyOf(F("key"), chunk) if postgres else Q(key__in=chunk)
                    rows = StorageEntry.objects.filter(match, storage=storage).values_list(*fields)
                    for row in rows:
                        value = row[3] if len(row) > 3 else _UNKNOWN
                        self._known[(name, row[0])] = _Known(row[1], value, row[2])
        for entry, known in taken.items():
            if entry in self._known:
                self._known[entry] = known

    def end_page(self) -> int:
        """Write the page's entries (one upsert per kind) and leave page mode; returns how many were written.

        Call it inside the transaction that saves the page, so both are kept or neither."""
        writes = self.take_page()
        written = writes()
        writes.discard()  # written on this connection: no later page needs them from memory
        return written

    def take_page(self) -> PageWrites:
        """Leave page mode; returns what writes the page's entries (in any thread, inside the transaction saving
        the page). Until that transaction commits, the next page reads them from memory."""
        in_page, pending, known = self._known is not None, self._pending, self._known or {}
        self._known, self._pending = None, {}
        rows = [(self._store(store).pk, key, row) for (store, key), row in pending.items()]
        taken = {entry: entry_known for entry in pending if (entry_known := known.get(entry)) is not None}
        if in_page:
            with self._lock:
                self._taken = taken
        return PageWrites(self, rows, taken)

    def _forget(self, taken: dict[tuple[str, str], _Known]) -> None:
        with self._lock:
            if self._taken is taken:  # not a later page's
                self._taken = {}

    def _page_entry(self, store: str, key: str) -> _Known | bool | None:
        """The page's knowledge of an entry: a live ``_Known``, None (none, or expired), or False (not known)."""
        if self._known is None:
            return False
        if (store, key) in self._known:
            known = self._known[(store, key)]
        elif (store, key) in self._page_taken:  # written by the page before, which may not be committed yet
            known = self._page_taken[(store, key)]
        else:
            return False
        return known if known is not None and known.live(timezone.now()) else None

    def _remember(self, store: str, key: str, digest: str, expires_at: datetime | None, value: Any) -> None:
        assert self._known is not None
        self._store(store)  # an unknown storage fails now, as an immediate write would
        row = self._pending.setdefault((store, key), {})
        row.update({"content_hash": digest, "expires_at": expires_at})
        if value is not _UNKNOWN:
            row["value"] = value
        elif "value" in row:
            value = row["value"]
        else:
            earlier = self._known.get((store, key), self._page_taken.get((store, key)))
            value = earlier.value if earlier is not None else _UNKNOWN
        self._known[(store, key)] = _Known(digest, value, expires_at)

    # -- the StorageService protocol ------------------------------------------------------------------------
    def get(self, store: str, key: str) -> Any:
        known = self._page_entry(store, key)
        if known is None:
            raise KeyError(key)
        if isinstance(known, _Known):
            if known.value is not _UNKNOWN:
                return clone(known.value)
            # Only its hash is known (written by set_hash in this page, or prefetched for a hash): the value
            # is the stored one, or null for an entry the page's set_hash creates.
            row = StorageEntry.objects.filter(storage=self._store(store), key=key).values_list("value").first()
            return row[0] if row else None
        entry = self._entry(store, key)
        if entry is None:
            raise KeyError(key)
        return entry.value

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None:
        storage = self._store(store)
        if self._known is not None:
            self._remember(store, key, content_hash(value), storage.expiry_from_now(ttl), value)
            return
        StorageEntry.objects.update_or_create(
            storage=storage,
            key=key,
            defaults={"value": value, "content_hash": content_hash(value), "expires_at": storage.expiry_from_now(ttl)},
        )

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        known = self._page_entry(store, key)
        if known is not False:
            return isinstance(known, _Known) and known.content_hash == content_hash
        return (
            StorageEntry.objects.live().filter(storage=self._store(store), key=key, content_hash=content_hash).exists()
        )

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None:
        storage = self._store(store)
        if self._known is not None:
            self._remember(store, key, content_hash, storage.expiry_from_now(ttl), _UNKNOWN)
            return
        StorageEntry.objects.update_or_create(
            storage=storage,
            key=key,
            defaults={
                "content_hash": content_hash,
                "expires_at": storage.expiry_from_now(ttl),
                "updated_at": timezone.now(),
            },
        )


class PageWrites:
    """A page's storage writes, taken from the page (``DatabaseStorage.take_page``): calling it writes them, inside
    the transaction saving the page, on the calling thread's connection; once that commits, or ``discard`` says it
    did not, the next pages stop reading them from memory."""

    def __init__(self, storage: DatabaseStorage | None = None,
                 rows: list[tuple[int, str, dict[str, Any]]] | None = None,
                 taken: dict[tuple[str, str], _Known] | None = None) -> None:
        self.storage, self.rows, self.taken = storage, rows or [], taken or {}

    def __call__(self) -> int:
        if self.rows:
            _write_entries(self.rows)
        transaction.on_commit(self.discard)
        return len(self.rows)

    def discard(self) -> None:
        if self.storage is not None:
            self.storage._forget(self.taken)


def _write_entries(rows: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Upsert ``(storage pk, key, fields)`` rows, one statement per kind (with or without a value), on this
    thread's connection."""
    with_value = [row for row in rows if "value" in row[2]]
    hash_only = [row for row in rows if "value" not in row[2]]
    for chunk, fields in ((with_value, ["value", "content_hash", "expires_at", "updated_at"]),
                          (hash_only, ["content_hash", "expires_at", "updated_at"])):
        if not chunk:
            continue
        if connections[router.db_for_write(StorageEntry)].vendor == "postgresql":
            _upsert_arrays(chunk, fields)
            continue
        StorageEntry.objects.bulk_create(
            [StorageEntry(storage_id=storage, key=key, **row) for storage, key, row in chunk],
            batch_size=PREFETCH_CHUNK, update_conflicts=True, unique_fields=["storage", "key"],
            update_fields=fields)


def _upsert_arrays(rows: list[tuple[int, str, dict[str, Any]]], fields: list[str]) -> None:
    """The same upsert as ``bulk_create(update_conflicts=True)`` in one statement over arrays (PostgreSQL):
    building a thousand model instances and their SQL was most of a page's storage time."""
    meta = StorageEntry._meta
    connection = connections[router.db_for_write(StorageEntry)]
    quote = connection.ops.quote_name
    value_field = meta.get_field("value")
    assert isinstance(value_field, models.JSONField)
    encoder = value_field.encoder
    now = timezone.now()
    storages, keys, values, hashes, expiries = [], [], [], [], []
    for storage, key, row in rows:
        storages.append(storage)
        keys.append(key)
        value = row.get("value")
        values.append(None if value is None else json.dumps(value, cls=encoder))
        hashes.append(row["content_hash"])
        expiries.append(row["expires_at"])
    names = ("storage", "key", "value", "content_hash", "expires_at", "created_at", "updated_at")
    column = {field.name: quote(str(field.column)) for field in meta.concrete_fields if field.name in names}
    updates = ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in fields)
    # The names come from the model, every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({column['storage']}, {column['key']}, {column['value']}, "  # noqa: S608
        f"{column['content_hash']}, {column['expires_at']}, {column['created_at']}, {column['updated_at']}) "
        "SELECT s, k, v::jsonb, h, e, %s, %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], "
        "%s::timestamptz[]) AS t(s, k, v, h, e) "
        f"ON CONFLICT ({column['storage']}, {column['key']}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, storages, keys, values, hashes, expiries])
