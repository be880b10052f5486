"""Django-backed stores for ``ExactApi``: the grant (row-locked single-flight refresh), quota and request log.

The grant row is the one authoritative token store (FIELD-NOTES A1, A9): every process reads it, and a
refresh happens inside ``transaction.atomic()`` holding ``select_for_update()`` on the row (PostgreSQL);
on SQLite the IMMEDIATE transaction takes the database write lock, which serialises refreshers the same way.
The new pair is committed before the lock is released and before anyone uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clients.grants import DjangoRequestLogger, GrantRowStore, save_token, token_of
from clients.models import HttpClient

from .error_budget import BudgetState, ErrorBudgetStore
from .errors import NeedsReconnect
from .models import ErrorBudget, QuotaState
from .oauth import ExactOAuth, RefreshingGrantStore, Token
from .quota import QuotaStore, parse_rate_limits

__all__ = ["DjangoErrorBudgetStore", "DjangoGrantStore", "DjangoQuotaStore", "DjangoRequestLogger", "budget_state",
           "save_token", "token_of"]

log = logging.getLogger(__name__)


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


class DjangoGrantStore(GrantRowStore, RefreshingGrantStore):
    """The grant of one ``HttpClient`` in the database (``clients.grants``) with Exact's refresh rules."""

    system = "Exact Online"
    token_class = Token

    def __init__(self, client: HttpClient, oauth: ExactOAuth, **kwargs: Any) -> None:
        RefreshingGrantStore.__init__(self, oauth, **kwargs)
        self.client = client
        self._cached = None

    def refused_error(self, message: str) -> NeedsReconnect:
        return NeedsReconnect(message)

    def _missing(self) -> Exception:
        return GrantRowStore.missing(self)


class DjangoQuotaStore(QuotaStore):
    """Rate-limit state per (client, division) in ``QuotaState`` rows, shared by every process."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    @staticmethod
    def _division(division: int | None) -> int:
        return int(division or 0)

    def acquire(self, division: int | None) -> float:
        now = timezone.now()
        row = (
            QuotaState.objects.filter(client_id=self.client.pk, division=self._division(division))
            .values("pk", "parked_until", "minutely_remaining", "minutely_limit", "minutely_reset", "daily_remaining",
                    "daily_reset")
            .first()
        )
        if row is None:
            return 0.0
        if row["parked_until"] and row["parked_until"] > now:
            return (row["parked_until"] - now).total_seconds()
        if row["daily_remaining"] is not None and row["daily_remaining"] <= 0 and row["daily_reset"] \
                and row["daily_reset"] > now:
            return (row["daily_reset"] - now).total_seconds()
        remaining, limit = row["minutely_remaining"], row["minutely_limit"] or 0
        if remaining is not None and remaining > max(5, limit // 5):
            return 0.0  # plenty left: no write (the next response's headers bring the exact count)
        if remaining is not None and row["minutely_reset"] and row["minutely_reset"] > now:
            taken = QuotaState.objects.filter(pk=row["pk"], minutely_remaining__gt=0).update(
                minutely_remaining=F("minutely_remaining") - 1
            )
            if not taken:
                return max(0.05, (row["minutely_reset"] - now).total_seconds())
        return 0.0

    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        limits = parse_rate_limits(headers)
        if limits.empty and status != 429:
            return
        values: dict[str, Any] = {k: v for k, v in vars(limits).items() if v is not None}
        values["updated_at"] = timezone.now()
        if status == 429:
            values["throttled_count"] = F("throttled_count") + 1
        rows = QuotaState.objects.filter(client_id=self.client.pk, division=self._division(division))
        if rows.update(**values):  # one statement: the write lock is held as briefly as possible
            return
        try:
            with transaction.atomic():
                QuotaState.objects.create(client_id=self.client.pk, division=self._division(division),
                                          **{k: v for k, v in values.items() if k != "throttled_count"},
                                          throttled_count=1 if status == 429 else 0)
        except IntegrityError:  # another process created it first
            rows.update(**values)

    def park(self, division: int | None, until: float) -> None:
        QuotaState.objects.update_or_create(
            client_id=self.client.pk, division=self._division(division),
            defaults={"parked_until": _dt(until), "updated_at": timezone.now()},
        )


def budget_state(row: ErrorBudget) -> BudgetState:
    return BudgetState(window_start=_ts(row.window_start), errors=row.errors, consecutive=row.consecutive,
                       open_until=_ts(row.open_until), last_status=row.last_status, last_error=row.last_error)


class DjangoErrorBudgetStore(ErrorBudgetStore):
    """Error-budget state per (client, division, endpoint) in ``ErrorBudget`` rows, shared by every process.

    Reads are plain; an error is counted under the row lock (``select_for_update``; on SQLite the IMMEDIATE
    transaction serialises writers), so concurrent errors are never lost.
    """

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def _rows(self, endpoint: str, division: int | None) -> Any:
        return ErrorBudget.objects.filter(client_id=self.client.pk, division=int(division or 0), endpoint=endpoint)

    def get(self, endpoint: str, division: int | None) -> BudgetState | None:
        row = self._rows(endpoint, division).first()
        return budget_state(row) if row else None

    def update(self, endpoint: str, division: int | None,
               change: Callable[[BudgetState], BudgetState]) -> BudgetState:
        for _ in range(2):
            try:
                with transaction.atomic():
                    row = self._rows(endpoint, division).select_for_update().first()
                    if row is None:
                        row = ErrorBudget.objects.create(client_id=self.client.pk, division=int(division or 0),
                                                         endpoint=endpoint[:200])
                    new = change(budget_state(row))
                    row.window_start = _dt(new.window_start) if new.window_start else None
                    row.errors, row.consecutive = new.errors, new.consecutive
                    row.open_until = _dt(new.open_until) if new.open_until else None
                    row.last_status, row.last_error = new.last_status, new.last_error
                    row.updated_at = timezone.now()
                    row.save()
                    return new
            except IntegrityError:  # another process created the row first: lock it and count again
                continue
        raise RuntimeError(f"could not record an error for {endpoint}")

    def clear_consecutive(self, endpoint: str, division: int | None) -> None:
        self._rows(endpoint, division).filter(consecutive__gt=0).update(consecutive=0, updated_at=timezone.now())
