"""The platform's publisher registry: a publisher writes one task's data to an outside system.

A connector registers its publisher class in its ``AppConfig.ready()``; the platform only knows this
interface, never the connector (``connections`` imports no connector). A publisher is a plugin
(``lib.plugins``: ``kind``, ``label``, typed ``Config``, ``secret_fields``, ``form_fields``), used as an
instance made without arguments; the ``Outgoing`` comes with each job.

A publisher raises :class:`PublishError` with ``permanent`` set: permanent errors fail the task with
the other side's own message and are never retried; transient ones (throttling, outages, lost
responses) are retried by the route's retry policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lib.plugins import Plugin, Registry

__all__ = [
    "ACTIONS",
    "PUBLISHERS",
    "PublishError",
    "PublishJob",
    "PublishResult",
    "Publisher",
    "get_publisher",
    "publisher_choices",
    "register_publisher",
]

# The actions every publisher is asked about; a publisher may support a subset.
ACTIONS: list[tuple[str, str]] = [
    ("create", "Create"),
    ("update", "Update"),
    ("delete", "Delete"),
    ("upsert", "Upsert (find by key, then create or update)"),
    ("get", "Get"),
]


class PublishError(Exception):
    """Publishing one task failed. ``permanent`` errors are never retried.

    ``request``/``response`` describe the exchange (secrets already redacted) so that the task page
    can show what was sent and what came back.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        log: list[str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the other side's Retry-After: the retry waits at least this long
        self.message = message
        self.permanent = permanent
        self.request = request
        self.response = response
        self.log = log or []


@dataclass
class PublishJob:
    """One task's work, as the publisher sees it.

    ``data`` is the task's data after all transformers: its ``path``, ``query`` and ``payload`` keys
    (when present) are merged over the outgoing's static ones by the platform before the call.
    ``maybe_published`` says an earlier attempt may have reached the other side without its answer
    being recorded (a lost response, a worker killed mid-call): look before writing again.
    """

    outgoing: Any
    path: dict[str, Any]
    query: dict[str, Any]
    payload: dict[str, Any]
    source_id: str
    reference: str
    attempt: int
    maybe_published: bool
    lookup_target: Callable[[str], str | None] = field(default=lambda _source: None)
    config: dict[str, Any] = field(default_factory=dict)
    # What the publisher's ``prepare_batch`` learned for this job (opaque to the platform), e.g. a key it
    # resolved for the whole batch in one call; ``publish`` reads it instead of asking again.
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass
class PublishResult:
    """What a publish did: the key of the record written (if any), the exchange and log lines."""

    external_key: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    log: list[str] = field(default_factory=list)
    # The source id -> target id pair to remember for later updates, if the action made one.
    remember: tuple[str, str] | None = None
    forget: str | None = None
    calls: int = 0


class Publisher(Plugin):
    """Base class: one per kind of outside system. Subclasses set ``kind`` and ``label``.

    ``form_fields()`` are added to the Outgoing form; their cleaned values (secrets apart, encrypted) are
    stored in ``Outgoing.config`` and reach ``publish`` as ``job.config``. ``free_entity`` publishers take
    any text as the entity (e.g. a path) instead of one of ``entity_choices``.
    """

    free_entity: ClassVar[bool] = False
    entity_label: ClassVar[str] = "Entity"

    def actions(self) -> list[tuple[str, str]]:
        return list(ACTIONS)

    def entity_choices(self, action: str | None = None) -> list[tuple[str, str]]:
        """(value, label) pairs of the entities this publisher can write with ``action``."""
        return []

    def reference_field_choices(self, entity: str) -> list[tuple[str, str]]:
        """Fields of ``entity`` that can carry the idempotency reference."""
        return []

    def default_reference_field(self, entity: str) -> str:
        return ""

    # A template showing the chosen entity in the Outgoing form (its fields, key, methods), or None.
    entity_template: str | None = None

    def entity_context(self, entity: str, action: str) -> dict[str, Any]:
        """What ``entity_template`` renders for ``entity``; empty when unknown."""
        return {}

    def key_field_choices(self, entity: str) -> list[tuple[str, str]]:
        """Fields of ``entity`` an upsert can find a record by."""
        return []

    def validate(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any],
                 payload: dict[str, Any], config: dict[str, Any]) -> dict[str, list[str]]:
        """Errors per form field name; an empty dict when the configuration is fine."""
        return {}

    def payload_template(self, *, action: str, entity: str) -> dict[str, Any]:
        return {}

    def describe(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any]) -> str:
        """A one-line description of the request this configuration sends (for dry runs)."""
        return f"{action} {entity}"

    def prepare_batch(self, jobs: list[PublishJob]) -> int:
        """Look up what a batch of jobs needs in as few calls as possible, before ``publish`` runs on each.

        Called once per worker batch with the jobs of one Outgoing; writes its findings into each job's
        ``prepared``. Returns the number of calls made. The default does nothing: ``publish`` must still work
        on a job that was never prepared (a single task, or a batch look-up that failed).
        """
        return 0

    def publish(self, job: PublishJob) -> PublishResult:  # pragma: no cover - interface
        raise NotImplementedError


PUBLISHERS: Registry[Publisher] = Registry("publisher")
register_publisher = PUBLISHERS.register


def get_publisher(kind: str) -> Publisher:
    """An instance of the publisher ``kind``; ``LookupError`` when it is not installed."""
    return PUBLISHERS.get(kind)()


def publisher_choices() -> list[tuple[str, str]]:
    return PUBLISHERS.choices()
