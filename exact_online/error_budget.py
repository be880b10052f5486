"""The error-budget guard: a circuit breaker per (client, endpoint, division) (API.md §7, FIELD-NOTES B5).

Exact blocks an API key for an hour after more than 10 errors (400, 401, 403, 404) per user, division
and endpoint in an hour. The connector never retries those (ExactApi), and this guard stops sending:

* after ``consecutive`` counted errors in a row (default 3) the circuit opens for ``cooldown`` seconds,
  capped at the end of the current hour window (the default 3600 s means "until the window ends"); when it
  has passed, one probe goes through: a success closes it, another error opens it again at once;
* after ``per_hour`` counted errors in one clock-hour window (default 5) it stays open until the window ends.

Half of Exact's budget per clock-aligned hour keeps any rolling hour (which spans at most two windows)
at or below Exact's 10, whichever way Exact aligns its hour.

``ErrorBudgetStore`` is where the state lives: ``InMemoryErrorBudgetStore`` for one process (the plain
shell), ``stores.DjangoErrorBudgetStore`` shares it between processes through the database. The check
before a call is a read; only errors (and the first success after an error) write.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .errors import CircuitOpen, ExactError, NeedsReconnect, ValidationError

__all__ = [
    "WINDOW",
    "BudgetState",
    "ErrorBudgetGuard",
    "ErrorBudgetPolicy",
    "ErrorBudgetStore",
    "InMemoryErrorBudgetStore",
    "after_error",
    "endpoint_of",
    "open_until",
    "window_of",
]

WINDOW = 3600.0  # Exact's budget is per hour
_API_PREFIX = re.compile(r"^/?api/v\d+/(?:beta/)?(?:(?:\d+|\{division\})/)?", re.IGNORECASE)


def endpoint_of(path: str) -> str:
    """The entity path without host, division, key or query: ``crm/Accounts`` for ``crm/Accounts(guid'..')?$x``.

    Absolute URLs (``__next`` links) and ``/api/v1/{division}/...`` paths reduce to the same endpoint.
    """
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path
    path = path.split("?", 1)[0].split("#", 1)[0]
    path = _API_PREFIX.sub("", path.lstrip("/") if path.startswith("/api/") else path)
    if path.startswith("beta/"):
        path = path[len("beta/") :]
    return path.split("(", 1)[0].strip("/") or "(root)"


def window_of(now: float) -> float:
    """Start of the clock-hour window that holds ``now`` (epoch seconds)."""
    return now - now % WINDOW


@dataclass(frozen=True)
class ErrorBudgetPolicy:
    """How many errors the guard lets through, and which statuses count (Exact's: 400, 401, 403, 404)."""

    per_hour: int = 5
    consecutive: int = 3
    cooldown: float = WINDOW
    statuses: frozenset[int] = frozenset({400, 401, 403, 404})

    @classmethod
    def from_settings(cls) -> ErrorBudgetPolicy:
        from django.conf import settings

        return cls(
            per_hour=int(getattr(settings, "DASH_ERROR_BUDGET_PER_HOUR", 5)),
            consecutive=int(getattr(settings, "DASH_ERROR_BUDGET_CONSECUTIVE", 3)),
            cooldown=float(getattr(settings, "DASH_ERROR_BUDGET_COOLDOWN", WINDOW)),
            statuses=frozenset(int(s) for s in getattr(settings, "DASH_ERROR_BUDGET_STATUSES", (400, 401, 403, 404))),
        )

    def counts(self, error: ExactError) -> bool:
        """Whether ``error`` costs budget: a counted status (a 5xx only when it carries validation text)."""
        if error.status is None or error.status not in self.statuses or isinstance(error, (CircuitOpen,
                                                                                            NeedsReconnect)):
            return False
        return error.status < 500 or isinstance(error, ValidationError)


@dataclass
class BudgetState:
    """One (endpoint, division): errors in the current window, errors in a row, and when a block ends."""

    window_start: float = 0.0
    errors: int = 0
    consecutive: int = 0
    open_until: float = 0.0
    last_status: int | None = None
    last_error: str = ""


def after_error(state: BudgetState, now: float, policy: ErrorBudgetPolicy, status: int | None,
                message: str) -> BudgetState:
    """The state after one more counted error at ``now``."""
    new = replace(state)
    if window_of(now) != new.window_start:
        new.window_start, new.errors = window_of(now), 0
    new.errors += 1
    new.consecutive += 1
    new.last_status, new.last_error = status, message[:500]
    window_end = new.window_start + WINDOW
    if new.errors >= policy.per_hour:
        new.open_until = max(new.open_until, window_end)
    elif new.consecutive >= policy.consecutive:
        new.open_until = max(new.open_until, min(now + policy.cooldown, window_end))
    return new


def open_until(state: BudgetState | None, now: float, policy: ErrorBudgetPolicy) -> float | None:
    """When the circuit closes again, or None when a call may go out now."""
    if state is None:
        return None
    if state.open_until > now:
        return state.open_until
    if window_of(now) == state.window_start and state.errors >= policy.per_hour:
        return state.window_start + WINDOW
    return None


class ErrorBudgetStore(ABC):
    """Where the budget state per (endpoint, division) lives."""

    @abstractmethod
    def get(self, endpoint: str, division: int | None) -> BudgetState | None:
        """The current state (None: never failed)."""

    @abstractmethod
    def update(self, endpoint: str, division: int | None, change: Callable[[BudgetState], BudgetState]) -> BudgetState:
        """Atomically replace the state with ``change(state)`` (a fresh state when there is none)."""

    @abstractmethod
    def clear_consecutive(self, endpoint: str, division: int | None) -> None:
        """A success: the next error starts a new run of consecutive errors."""


@dataclass
class InMemoryErrorBudgetStore(ErrorBudgetStore):
    """The budget of one process (plain shell, tests)."""

    states: dict[tuple[str, int | None], BudgetState] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, endpoint: str, division: int | None) -> BudgetState | None:
        with self.lock:
            state = self.states.get((endpoint, division))
            return replace(state) if state else None

    def update(self, endpoint: str, division: int | None, change: Callable[[BudgetState], BudgetState]) -> BudgetState:
        with self.lock:
            new = change(self.states.get((endpoint, division)) or BudgetState())
            self.states[(endpoint, division)] = new
            return replace(new)

    def clear_consecutive(self, endpoint: str, division: int | None) -> None:
        with self.lock:
            state = self.states.get((endpoint, division))
            if state is not None:
                state.consecutive = 0


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H:%M:%S UTC")


class ErrorBudgetGuard:
    """The guard ``ExactApi`` consults before each call and informs after it."""

    def __init__(self, store: ErrorBudgetStore | None = None, policy: ErrorBudgetPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store if store is not None else InMemoryErrorBudgetStore()
        self.policy = policy or ErrorBudgetPolicy()
        self.clock = clock

    def check(self, endpoint: str, division: int | None) -> BudgetState | None:
        """Raise ``CircuitOpen`` when the circuit is open; else return what was read (for ``record_success``)."""
        state = self.store.get(endpoint, division)
        until = open_until(state, self.clock(), self.policy)
        if until is not None and state is not None:
            where = f"{endpoint} in division {division}" if division is not None else endpoint
            last = f" (last: HTTP {state.last_status})" if state.last_status else ""
            raise CircuitOpen(
                f"Not sent to Exact Online: {where} is paused until {_when(until)} after {state.errors} client "
                f"error{'s' if state.errors != 1 else ''} this hour and {state.consecutive} in a row{last}. "
                f"Exact blocks the API key after 10 errors per endpoint and division in an hour; fix the cause, "
                f"then retry after {_when(until)}.",
                status=None, reason="ErrorBudget", body=state.last_error, permanent=True,
            ).with_budget(endpoint=endpoint, division=division, errors=state.errors, until=until)
        return state

    def record(self, endpoint: str, division: int | None, error: ExactError | None,
               seen: BudgetState | None) -> None:
        """Count ``error`` if it costs budget; on success (None) close the consecutive run if one was seen."""
        if error is None:
            if seen is not None and seen.consecutive > 0:
                self.store.clear_consecutive(endpoint, division)
            return
        if not self.policy.counts(error):
            return
        now = self.clock()
        self.store.update(endpoint, division,
                          lambda state: after_error(state, now, self.policy, error.status, error.message))


def open_circuits(states: Iterable[tuple[str, int | None, BudgetState]], now: float,
                  policy: ErrorBudgetPolicy) -> list[tuple[str, int | None, BudgetState, float]]:
    """The (endpoint, division, state, until) of every circuit that is open at ``now``."""
    out = []
    for endpoint, division, state in states:
        until = open_until(state, now, policy)
        if until is not None:
            out.append((endpoint, division, state, until))
    return out
