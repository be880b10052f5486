"""Typed errors of the Exact Online HTTP layer: each says whether retrying can help (``permanent``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from lib.http import Refused

__all__ = [
    "AddressRefused",
    "BadResponse",
    "CircuitOpen",
    "ExactError",
    "Forbidden",
    "NeedsReconnect",
    "NotFound",
    "QuotaWait",
    "Throttled",
    "Unauthorized",
    "Unavailable",
    "ValidationError",
    "is_outage",
    "outage_reason",
    "outage_until",
]


class ExactError(Exception):
    """An error talking to Exact Online, with a message a user can act on (never a token or secret)."""

    permanent: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        body: str = "",
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.body = body[:2000]
        if permanent is not None:
            self.permanent = permanent

    def __str__(self) -> str:
        return self.message


class AddressRefused(ExactError, Refused):
    """The address is not Exact Online's nor on the allow-list, or resolves to a private one: nothing was sent."""


class Unauthorized(ExactError):
    """401 that survived a refresh and retries with backoff: transient, since Exact did not refuse the grant."""

    permanent = False


class NeedsReconnect(ExactError):
    """Exact refused the grant (invalid_grant, old refresh token, expired chain): a user must grant access again."""


class Forbidden(ExactError):
    """403; ``reason`` carries Exact's Reason header (WrongDivision, NoDivisionAccess, ...)."""


class NotFound(ExactError):
    """404."""


class ValidationError(ExactError):
    """400, or a 500 whose text is a validation message: permanent, never retried."""


class Throttled(ExactError):
    """429 beyond the maximum wait."""

    permanent = False


class QuotaWait(Throttled):
    """Nothing was sent: the division's quota (``which``: minutely, daily, parked after a 429, or the route's
    share) has no call left before ``until`` (epoch seconds). Not a failure: the work waits until then."""

    def __init__(self, message: str, *, until: float, division: int | None, which: str, body: str = "") -> None:
        super().__init__(message, status=429, body=body)
        self.until = until
        self.division = division
        self.which = which

    @property
    def wait_reason(self) -> str:
        """What the pages say while the work waits (the platform adds "until <time>")."""
        where = f"division {self.division}" if self.division else "the API"
        if self.which == "daily":
            return f"Daily quota of Exact Online used up for {where}"
        if self.which == "share":
            return f"Sharing Exact Online's minute with other routes of {where}"
        if self.which == "limiter":
            return f"The quota limiter (Redis) cannot be reached for {where}"
        return f"Throttled by Exact Online for {where}"


class Unavailable(ExactError):
    """5xx, 408, 599, timeouts and connection errors."""

    permanent = False


# Answers that say "not now" rather than "not this": the gateway or Exact itself is down or busy.
OUTAGE_STATUSES = frozenset({408, 502, 503, 504, 599})


def is_outage(error: ExactError) -> bool:
    """Exact did not answer (connection refused or reset, timeout), said it cannot now (408, 502, 503, 504,
    599), or refused a token fresh from a refresh (a 401 blip). The work waits for Exact (a deferral, not an
    attempt, never a sleep in a worker); a plain 500 is an answer about this request and counts as an attempt."""
    if isinstance(error, Unauthorized):
        return True
    return isinstance(error, Unavailable) and (error.status is None or error.status in OUTAGE_STATUSES)


def outage_until() -> datetime:
    """When work that met an outage (``errors.is_outage``) tries again: ``DASH_EXACT_OUTAGE_WAIT`` seconds on,
    jittered so that deferred batches do not all come back at once."""
    from django.conf import settings

    wait = float(getattr(settings, "EXACT_OUTAGE_WAIT", 30.0))
    return datetime.now(tz=UTC) + timedelta(seconds=wait * random.uniform(1.0, 1.2))


def outage_reason(error: ExactError, division: int | None) -> str:
    """What the pages say while work waits for Exact to answer again (the platform adds "until <time>")."""
    where = f"division {division}" if division else "the API"
    if isinstance(error, Unauthorized):
        return f"Exact Online refused a fresh access token for {where} (HTTP 401)"
    if error.status:
        return f"Exact Online unavailable for {where} (HTTP {error.status})"
    return f"Exact Online not reachable for {where}"


class BadResponse(ExactError):
    """A body that is not the JSON Exact should send (HTML maintenance pages, truncated JSON)."""

    permanent = False


class CircuitOpen(ExactError):
    """The error-budget guard refused to send (too many 4xx on one endpoint and division): nothing reached Exact.

    Permanent for the caller: retrying before ``until`` (epoch seconds) only meets the same refusal.
    """

    endpoint: str = ""
    division: int | None = None
    errors: int = 0
    until: float = 0.0

    def with_budget(self, *, endpoint: str, division: int | None, errors: int, until: float) -> CircuitOpen:
        self.endpoint, self.division, self.errors, self.until = endpoint, division, errors, until
        return self
