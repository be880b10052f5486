"""Step 2, transform: a route's transformer chain as the reader's per-entity hook, and the Outgoing's own
transformer applied just before publishing.

The engine (``connections.transformers``) is pure; here it meets the database: the chains come from
``Transformer`` rows and the storage steps ("Filter previously stored entities") get the database
storage, so a second run with nothing changed publishes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ..models import Incoming, Outgoing, Route
from ..publishers import PublishError
from ..storage_service import DatabaseStorage, PageWrites
from ..transformers.errors import ServiceError, TransformError
from ..transformers.limits import Budget, Limits
from ..transformers.services import Context, InMemoryStorage, StorageService
from ..waits import WaitUntil, until_text

__all__ = [
    "DEFERRED_KEY", "ChainOutcome", "OutgoingOutcome", "RouteChain", "apply_deferred", "attach_deferred", "route_chain",
    "run_outgoing_transformer", "sample_entities", "split_deferred", "task_limits", "tester_limits",
]

# Storage writes a chain defers until the task succeeds ("Filter previously stored entities" with
# record=deferred) travel with the transformed entity under this key and are applied after publishing.
DEFERRED_KEY = "__dash_deferred__"


@dataclass
class ChainOutcome:
    """What the route's chain made of one entity: entities to publish, or a skip reason, or an error."""

    entities: list[Any] = field(default_factory=list)
    skipped_reason: str | None = None
    error: str | None = None
    retryable: bool = False  # the error may pass later (a lookup not answered yet): wait, then run again
    deferred: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OutgoingOutcome:
    """What the Outgoing's own transformer made of a task's data: the entity to publish, or a skip reason."""

    entity: Any = None
    skipped_reason: str | None = None


def task_limits() -> Limits:
    """What the transformers may make of one read entity in a run (``DASH_TRANSFORM_*``)."""
    return Limits(max_entities=settings.TRANSFORM_MAX_ENTITIES, max_bytes=settings.TRANSFORM_MAX_BYTES,
                  max_seconds=settings.TRANSFORM_MAX_SECONDS, max_trace_bytes=0, scope="task")


def tester_limits() -> Limits:
    """What one run of the tester may make, all inputs together (``DASH_TRANSFORM_*``, ``DASH_TESTER_*``)."""
    return Limits(max_entities=settings.TRANSFORM_MAX_ENTITIES, max_bytes=settings.TRANSFORM_MAX_BYTES,
                  max_seconds=settings.TESTER_MAX_SECONDS, max_trace_bytes=settings.TESTER_TRACE_BYTES,
                  scope="test")


def _context(*, dry: bool) -> Context:
    storage: StorageService = DatabaseStorage()
    if dry:
        # A dry run reads the real stores but keeps its own writes: nothing is recorded as "seen".
        storage = InMemoryStorage(backing=storage)
    return Context(storage=storage)


class _Reached(Exception):
    """Raised by the probe's lookup: the chain needs another system's answer (never caught by the engine)."""


class _Probe:
    """A storage that answers as if it held nothing and writes nowhere, noting every call in ``events``; its
    lookup stops the chain (``_Reached``)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.hashes: list[tuple[str, str]] = []
        self.values: list[tuple[str, str]] = []
        self.reached = False

    def get(self, store: str, key: str) -> Any:
        self.events.append(("get", store, key))
        self.values.append((store, key))
        raise KeyError(key)

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        self.events.append(("has_hash", store, key, content_hash))
        self.hashes.append((store, key))
        return False

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None:
        self.events.append(("set", store, key, value, ttl))

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None:
        self.events.append(("set_hash", store, key, content_hash, ttl))

    def lookup(self, client: Any, request: dict[str, Any]) -> Any:
        self.reached = True
        raise _Reached


def _as_probed(storage: DatabaseStorage, kind: str, store: str, key: str, rest: list[Any]) -> bool:
    """Whether ``storage`` answers this read as the probe did: nothing stored."""
    if kind == "has_hash":
        return not storage.has_hash(store, key, rest[0])
    try:
        storage.get(store, key)
    except KeyError:
        return True
    return False


class RouteChain:
    """All the route's transformers, in order, as the hook the reader calls per entity read.

    A reader that works a page at a time calls ``begin_page`` with the page's entities first: each runs
    through the chain with a probe in place of the storage (it answers "nothing stored", writes nowhere and
    notes every call; a lookup stops it). The storage then loads every key the probe was asked for in one
    query per storage. When an entity's turn comes, its probe run stands if the storage now answers each of its
    questions as the probe did (a key not stored yet, the usual case on a first read): the probe's writes are
    made and its outcome returned, the chain having run once. Otherwise (a key stored already, a lookup) the
    chain runs again against the storage, which answers the keys loaded from memory. So "Filter previously
    stored entities" costs a query per page, not one per entity, and every outcome is the one an entity-by-
    entity run would give. ``end_page`` writes what the page's chains stored, inside the caller's transaction.
    """

    def __init__(self, route: Route, *, dry: bool = False) -> None:
        self.chains = [(t.name, t.compiled()) for t in route.ordered_transformers()]
        self.dry = dry
        self.context = _context(dry=dry)
        self.limits = task_limits()
        self._ready: dict[int, tuple[Any, ChainOutcome, list[tuple[Any, ...]]]] = {}

    def __call__(self, entity: Any) -> ChainOutcome:
        ready = self._ready.pop(id(entity), None)
        if ready is not None and ready[0] is entity and self._replay(ready[2]):
            return ready[1]
        return self._run(entity, self.context)

    def _replay(self, events: list[tuple[Any, ...]]) -> bool:
        """Whether the storage answers the probe's questions as the probe did; if so its writes are made."""
        if not events:
            return True
        storage = self.context.storage
        assert isinstance(storage, DatabaseStorage)
        written: set[tuple[str, str]] = set()
        try:
            for kind, store, key, *rest in events:
                if kind in ("set", "set_hash"):
                    written.add((store, key))
                    if not storage.knows(store):
                        return False
                elif (store, key) in written or not _as_probed(storage, kind, store, key, rest):
                    return False  # (a read of its own write is not worth following: the chain runs again)
        except ServiceError:
            return False
        for kind, store, key, *rest in events:
            if kind == "set":
                storage.set(store, key, rest[0], ttl=rest[1])
            elif kind == "set_hash":
                storage.set_hash(store, key, rest[0], ttl=rest[1])
        return True

    def _run(self, entity: Any, context: Context) -> ChainOutcome:
        entities = [entity]
        deferred: list[dict[str, Any]] = []
        budget = Budget(self.limits)  # one read entity: all its transformers and branches together
        for name, chain in self.chains:
            produced: list[Any] = []
            budget.new_stage()
            last = len(entities) - 1
            for position, item in enumerate(entities):
                try:
                    result = chain.run(item, context, trace=False, budget=budget)
                except TransformError as exc:
                    return ChainOutcome(error=f"Transformer {name}: {exc}", retryable=exc.retryable)
                except WaitUntil as wait:  # a lookup's quota or outage: workers defer (read/publish), a dry run says so
                    if not self.dry:
                        raise
                    return ChainOutcome(error=f"Transformer {name}: {wait.reason} until {until_text(wait.until)}",
                                        retryable=True)
                produced.extend(result.entities)
                if position < last:  # the stage's next items count what this one made (the next stage starts anew)
                    budget.keep(result.entities)
                deferred.extend(result.deferred)
                if not result.entities and len(entities) == 1:
                    return ChainOutcome(skipped_reason=f"{name}: {result.skipped_reason or 'skipped'}")
            entities = produced
        if not entities:
            return ChainOutcome(skipped_reason="every branch was skipped")
        return ChainOutcome(entities=entities, deferred=deferred)

    def begin_page(self, entities: list[Any]) -> None:
        """Run ``entities`` with the probe, keep their outcomes and calls, load the keys they asked for."""
        self._ready = {}
        storage = self.context.storage
        if not isinstance(storage, DatabaseStorage):
            return
        probe = _Probe()
        context = Context(storage=probe, lookup=probe.lookup, variables=self.context.variables,
                          cache=self.context.cache)  # answers already cached count; the probe adds none
        for entity in entities:
            probe.events, probe.reached = [], False
            try:
                outcome = self._run(entity, context)
            except Exception:  # noqa: S112 - _Reached, or what the real run meets again and reports for this entity
                continue
            if not probe.reached:
                self._ready[id(entity)] = (entity, outcome, probe.events)
        storage.begin_page(probe.hashes, probe.values)

    def end_page(self) -> int:
        """Write what the page's chains stored (call it inside the transaction saving the page)."""
        self._ready = {}
        storage = self.context.storage
        return storage.end_page() if isinstance(storage, DatabaseStorage) else 0

    def take_page(self) -> PageWrites:
        """What writes the page's stores, to call (in any thread) inside the transaction saving the page; the
        next page may begin meanwhile (``DatabaseStorage.take_page``)."""
        self._ready = {}
        storage = self.context.storage
        return storage.take_page() if isinstance(storage, DatabaseStorage) else PageWrites()


def route_chain(route: Route, *, dry: bool = False) -> RouteChain:
    """The hook the reader calls per entity read: all the route's transformers, in order."""
    return RouteChain(route, dry=dry)


def run_outgoing_transformer(outgoing: Outgoing, data: Any) -> OutgoingOutcome:
    """Apply the Outgoing's optional transformer just before publishing (one entity in, one out)."""
    transformer = outgoing.transformer
    if transformer is None:
        return OutgoingOutcome(entity=data)
    try:
        result = transformer.compiled().run(data, _context(dry=False), trace=False, budget=Budget(task_limits()))
    except TransformError as exc:
        raise PublishError(f"Outgoing transformer {transformer.name}: {exc}", permanent=True) from exc
    if not result.entities:
        return OutgoingOutcome(skipped_reason=result.skipped_reason or "skipped")
    if len(result.entities) > 1:
        raise PublishError(
            f"Outgoing transformer {transformer.name} made {len(result.entities)} entities of one task; "
            "split entities in the route's transformers instead.", permanent=True,
        )
    return OutgoingOutcome(entity=result.entities[0])


def attach_deferred(entities: list[Any], deferred: list[dict[str, Any]]) -> list[Any]:
    if not deferred:
        return entities
    return [{**item, DEFERRED_KEY: deferred} if isinstance(item, dict) else item for item in entities]


def split_deferred(data: Any) -> tuple[Any, list[dict[str, Any]]]:
    """(the data without the deferred writes, the deferred writes)."""
    if isinstance(data, dict) and DEFERRED_KEY in data:
        rest = {k: v for k, v in data.items() if k != DEFERRED_KEY}
        return rest, list(data[DEFERRED_KEY] or [])
    return data, []


def apply_deferred(deferred: list[dict[str, Any]]) -> None:
    """Record the content hashes of a task that was published (the next run skips it while unchanged)."""
    if not deferred:
        return
    storage = DatabaseStorage()
    for item in deferred:
        storage.set_hash(item["store"], item["key"], item["hash"], ttl=item.get("ttl"))


def sample_entities(incoming: Incoming, *, limit: int = 10) -> list[Any]:
    """A first page of the Incoming (the subscriber's Fetch sample), for dry runs."""
    subscriber_cls = incoming.subscriber_class
    if subscriber_cls is None:
        raise LookupError(f"No subscriber registered for {incoming.subscriber!r}")
    sample = subscriber_cls(incoming).fetch_sample(limit=limit)
    return list(sample.entities)
