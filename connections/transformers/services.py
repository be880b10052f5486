"""What a chain may ask of the outside world, as small protocols the platform fills in.

The engine never imports Django or a connector: steps that store, compare or look things up receive a
``Context`` with a ``storage`` service and a ``lookup`` callable. The platform registers its lookup
provider at start-up (``register_lookup_provider``); tests pass fakes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ServiceError

__all__ = [
    "Context",
    "InMemoryStorage",
    "LookupProvider",
    "StorageService",
    "content_hash",
    "get_lookup_provider",
    "register_lookup_provider",
    "unregister_lookup_provider",
]

LookupProvider = Callable[[Any, dict[str, Any]], Any]
"""``(http_client_id, request_spec) -> JSON``; request_spec has method, path, query, body.

Raise ``ServiceError`` for a failure the chain should report (not found, refused, quota spent)."""


class StorageService(Protocol):
    """Named key → JSON stores with an optional time-to-live, and content hashes for "only what changed"."""

    def get(self, store: str, key: str) -> Any:
        """The value, or raise ``KeyError`` when there is none (or it expired)."""

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None: ...

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        """Whether ``key`` was last stored with this content hash (and has not expired)."""

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None: ...


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any) -> str:
    """A stable hash of JSON: key order and whitespace do not matter."""
    text = _CANONICAL.encode(value)  # one encoder, not one per call as json.dumps with options builds
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Entry:
    value: Any
    content_hash: str
    expires_at: float | None


class InMemoryStorage:
    """A storage service in a dict, for tests, the benchmark and the tester's dry runs.

    ``backing`` lets the tester read real stores while keeping its writes to itself.
    """

    def __init__(self, *, backing: StorageService | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.data: dict[tuple[str, str], _Entry] = {}
        self.backing = backing
        self.clock = clock
        self.writes: list[tuple[str, str]] = []

    def _live(self, store: str, key: str) -> _Entry | None:
        entry = self.data.get((store, key))
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self.clock():
            del self.data[(store, key)]
            return None
        return entry

    def get(self, store: str, key: str) -> Any:
        entry = self._live(store, key)
        if entry is not None:
            return entry.value
        if self.backing is not None:
            return self.backing.get(store, key)
        raise KeyError(key)

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None:
        expires = self.clock() + ttl if ttl else None
        self.data[(store, key)] = _Entry(value, content_hash(value), expires)
        self.writes.append((store, key))

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        entry = self._live(store, key)
        if entry is not None:
            return entry.content_hash == content_hash
        return self.backing.has_hash(store, key, content_hash) if self.backing is not None else False

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None:
        expires = self.clock() + ttl if ttl else None
        self.data[(store, key)] = _Entry(None, content_hash, expires)
        self.writes.append((store, key))


_lookup_providers: list[LookupProvider] = []


def register_lookup_provider(provider: LookupProvider) -> LookupProvider:
    """Install the platform's HTTP lookup (the last one registered wins); usable as a decorator."""
    _lookup_providers.append(provider)
    return provider


def unregister_lookup_provider(provider: LookupProvider) -> None:
    if provider in _lookup_providers:
        _lookup_providers.remove(provider)


def get_lookup_provider() -> LookupProvider | None:
    return _lookup_providers[-1] if _lookup_providers else None


def _no_lookup(client: Any, request: dict[str, Any]) -> Any:
    raise ServiceError("no lookup provider configured: install a connector that provides HTTP lookups")


@dataclass
class Context:
    """The services a run may use. ``lookup=None`` means: the registered provider, found at call time."""

    storage: StorageService | None = None
    lookup: LookupProvider | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)

    def resolve_lookup(self) -> LookupProvider:
        return self.lookup or get_lookup_provider() or _no_lookup

    def require_storage(self) -> StorageService:
        if self.storage is None:
            raise ServiceError("no storage configured for this run")
        return self.storage
