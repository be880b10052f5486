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
from ..storage_service import DatabaseStorage
from ..transformers.errors import TransformError
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
    """A storage that notes the keys a chain asks for, answering as if it held nothing, and writes nowhere; its
    lookup stops the chain (``_Reached``). ``touched``: the chain used either."""

    def __init__(self) -> None:
        self.hashes: list[tuple[str, str]] = []
        self.values: list[tuple[str, str]] = []
        self.touched = False

    def get(self, store: str, key: str) -> Any:
        self.touched = True
        self.values.append((store, key))
        raise KeyError(key)

    def has_hash(self, store: str, key: str, content_hash: str) -> bool:
        self.touched = True
        self.hashes.append((store, key))
        return False

    def set(self, store: str, key: str, value: Any, *, ttl: int | None = None) -> None:
        self.touched = True

    def set_hash(self, store: str, key: str, content_hash: str, *, ttl: int | None = None) -> None:
        self.touched = True

    def lookup(self, client: Any, request: dict[str, Any]) -> Any:
        self.touched = True
        raise _Reached


class RouteChain:
    """All the route's transformers, in order, as the hook the reader calls per entity read.

    A reader that works a page at a time calls ``begin_page`` with the page's entities first: each runs
    through the chain with a probe in place of the storage and the lookups. An entity whose chain uses neither
    has its outcome then (the call for it returns it). For the others the probe noted the keys the chain asks
    for along the way an entity never seen before takes (every key "not stored yet"; it stops at a lookup),
    and the storage loads all of them in one query per storage before the entities run for real: "Filter
    previously stored entities" costs a query per page, not one per entity; a key the probe did not foresee is
    asked when it comes. ``end_page`` writes what the page's chains stored, inside the caller's transaction.
    """

    def __init__(self, route: Route, *, dry: bool = False) -> None:
        self.chains = [(t.name, t.compiled()) for t in route.ordered_transformers()]
        self.context = _context(dry=dry)
        self.limits = task_limits()
        self._ready: dict[int, tuple[Any, ChainOutcome]] = {}

    def __call__(self, entity: Any) -> ChainOutcome:
        ready = self._ready.pop(id(entity), None)
        if ready is not None and ready[0] is entity:
            return ready[1]
        return self._run(entity, self.context)

    def _run(self, entity: Any, context: Context) -> ChainOutcome:
        entities = [entity]
        deferred: list[dict[str, Any]] = []
        budget = Budget(self.limits)  # one read entity: all its transformers and branches together
        for name, chain in self.chains:
            produced: list[Any] = []
            budget.new_stage()
            for item in entities:
                try:
                    result = chain.run(item, context, trace=False, budget=budget)
                except TransformError as exc:
                    return ChainOutcome(error=f"Transformer {name}: {exc}", retryable=exc.retryable)
                except WaitUntil as wait:  # a lookup's quota or outage: workers defer (read/publish), a dry run says so
                    if not dry:
                        raise
                    return ChainOutcome(error=f"Transformer {name}: {wait.reason} until {until_text(wait.until)}",
                                        retryable=True)
                produced.extend(result.entities)
                budget.keep(result.entities)
                deferred.extend(result.deferred)
                if not result.entities and len(entities) == 1:
                    return ChainOutcome(skipped_reason=f"{name}: {result.skipped_reason or 'skipped'}")
            entities = produced
        if not entities:
            return ChainOutcome(skipped_reason="every branch was skipped")
        return ChainOutcome(entities=entities, deferred=deferred)

    def begin_page(self, entities: list[Any]) -> None:
        """Run ``entities`` as far as the storage or a lookup, keep the finished outcomes, load the keys asked."""
        self._ready = {}
        storage = self.context.storage
        if not isinstance(storage, DatabaseStorage):
            return
        probe = _Probe()
        context = Context(storage=probe, lookup=probe.lookup, variables=self.context.variables,
                          cache=self.context.cache)  # answers already cached count; the probe adds none
        for entity in entities:
            probe.touched = False
            try:
                outcome = self._run(entity, context)
            except Exception:  # noqa: S112 - _Reached, or what the real run meets again and reports for this entity
                continue
            if not probe.touched:
                self._ready[id(entity)] = (entity, outcome)
        storage.begin_page(probe.hashes, probe.values)

    def end_page(self) -> int:
        """Write what the page's chains stored (call it inside the transaction saving the page)."""
        self._ready = {}
        storage = self.context.storage
        return storage.end_page() if isinstance(storage, DatabaseStorage) else 0


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
