"""The platform's subscriber registry: a subscriber reads entities out of an outside system, page by page.

A connector registers its subscriber class in its ``AppConfig.ready()``; the platform (forms, runner,
views) only knows this interface, never the connector (``connections`` imports no connector).

A subscriber is a plugin (``lib.plugins``: ``kind``, ``label``, typed ``Config``, ``secret_fields``,
``form_fields``) with a check of a configuration before any call (``clean``), the request it would send
(``preview``), a one-off ``fetch_sample`` and ``read``, which streams :class:`Page` objects so that memory
stays flat however many entities a run reads. It is instantiated per use with its ``Incoming``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import ConfigDict

from lib.plugins import EmptyConfig, Plugin, Registry

__all__ = [
    "SUBSCRIBERS",
    "Page",
    "ReadError",
    "RequestSpec",
    "ResumePoint",
    "Sample",
    "Subscriber",
    "SubscriberConfig",
    "get_subscriber",
    "register_subscriber",
    "subscriber_choices",
]

RequestHook = Callable[[dict[str, Any]], dict[str, Any]]
"""Applied to ``{"path", "query", "cursor"}`` before a division's first request (the request transformer)."""


class SubscriberConfig(EmptyConfig):
    """Base of every subscriber's typed config: unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ReadError(Exception):
    """Reading failed. ``permanent`` errors will fail again on retry; others (outage, timeout) may not."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass
class RequestSpec:
    """The request a subscriber will send for one division, shown in the form and on the run."""

    division: int | None
    endpoint: str
    url: str
    params: dict[str, str]
    reason: str = ""


@dataclass
class Page:
    """One page of entities for one division.

    ``next_url`` is what the next call will fetch (None on the last page); ``cursor`` is where an incremental
    read may start once this division is complete. The runner stores both after every page, so a resumed
    run passes them back to ``read`` and continues at the next page.
    """

    division: int | None
    number: int
    entities: list[dict[str, Any]]
    next_url: str | None
    endpoint: str
    api_calls: int = 1
    cursor: dict[str, Any] | None = None
    dropped: int = 0  # duplicates removed at a cursor boundary


@dataclass
class Sample:
    spec: RequestSpec
    entities: list[dict[str, Any]]
    api_calls: int
    has_more: bool


@dataclass
class ResumePoint:
    """Where to continue a division: the next URL to fetch and what the previous pages established."""

    next_url: str | None = None
    page: int = 0
    cursor: dict[str, Any] | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Subscriber(Plugin):
    """Base class. ``incoming`` is a ``connections.Incoming``; ``config`` its validated ``Config``
    (plain config and decrypted secrets together)."""

    Config: ClassVar[type[SubscriberConfig]] = SubscriberConfig
    form_template: ClassVar[str | None] = None  # renders the subscriber's own fields inside the Incoming form
    # New Incomings of this kind read incrementally unless unticked: for a source where a full re-read on
    # every scheduled run costs more calls than the schedule allows.
    incremental_by_default: ClassVar[bool] = False

    @classmethod
    def form_context(cls, form: Any) -> dict[str, Any]:
        """Extra context for ``form_template`` (e.g. the chosen entity's details)."""
        return {}

    def __init__(self, incoming: Any) -> None:
        self.incoming = incoming
        secrets = incoming.get_secrets() if self.secret_fields else {}
        self.config = self.Config.model_validate({**(incoming.config or {}), **secrets})

    # -- configuration -----------------------------------------------------------------------------------
    @classmethod
    def initial(cls, config: dict[str, Any], *, path: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        """Form initial values of this subscriber's fields from a stored Incoming (never its secrets).

        ``query`` may be trimmed in place of the keys a field of this subscriber shows, so the platform's
        *Other query parameters* keeps only the rest."""
        return {k: v for k, v in config.items() if k not in cls.secret_fields}

    @classmethod
    def clean(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Check a whole configuration before any call; ``data`` has the platform fields (path, query,
        pagination, page_cap, incremental, http_client) and this subscriber's form fields.

        Returns ``({"config", "path", "query"}, errors)`` with errors keyed by form field name (``__all__``
        for the form). ``config`` includes the secret fields; the platform stores them apart, encrypted.
        """
        return {"config": cls.Config.model_validate({}).model_dump(mode="json")}, {}

    @classmethod
    def summary(cls, incoming: Any) -> list[tuple[str, str]]:
        """(label, value) pairs shown on the Incoming page; secrets only as "stored (hidden)"."""
        rows = [(k.replace("_", " ").capitalize(), str(v)) for k, v in (incoming.config or {}).items()
                if k not in cls.secret_fields]
        stored = incoming.get_secrets()
        return rows + [(k.replace("_", " ").capitalize(), "stored (hidden)" if stored.get(k) else "not set")
                       for k in cls.secret_fields]

    # -- behaviour ---------------------------------------------------------------------------------------
    def divisions(self) -> list[int | None]:
        """What one run fans out over (each with its own cursor); ``[None]`` when there is no such notion."""
        return [None]

    def preview(self, *, request_hook: RequestHook | None = None,
                cursors: dict[int, dict[str, Any]] | None = None) -> list[RequestSpec]:
        """The requests the next run would send first, without calling the outside system."""
        raise NotImplementedError

    def preview_url(self, *, request_hook: RequestHook | None = None) -> str:
        specs = self.preview(request_hook=request_hook)
        return specs[0].url if specs else ""

    def fetch_sample(self, *, limit: int = 5, request_hook: RequestHook | None = None) -> Sample:
        raise NotImplementedError

    def read(self, division: int | None, *, resume: ResumePoint | None = None,
             cursor: dict[str, Any] | None = None, request_hook: RequestHook | None = None) -> Iterator[Page]:
        """Stream pages of one division, starting at ``resume.next_url`` when given."""
        raise NotImplementedError

    def identifier(self, entity: dict[str, Any]) -> str:
        """The entity's key, stored on its Task."""
        return str(entity.get("ID") or entity.get("id") or "")


SUBSCRIBERS: Registry[Subscriber] = Registry("subscriber")
register_subscriber = SUBSCRIBERS.register


def get_subscriber(kind: str) -> type[Subscriber]:
    """The subscriber class ``kind``; ``LookupError`` when it is not installed."""
    return SUBSCRIBERS.get(kind)


def subscriber_choices() -> list[tuple[str, str]]:
    return SUBSCRIBERS.choices()
