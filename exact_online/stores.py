"""Django-backed stores for ``ExactApi``: the grant (row-locked single-flight refresh), quota and request log.

The grant row is the one authoritative token store (FIELD-NOTES A1, A9): every process reads it, and a
refresh happens inside ``transaction.atomic()`` holding ``select_for_update()`` on the row (PostgreSQL);
on SQLite the IMMEDIATE transaction takes the database write lock, which serialises refreshers the same way.
The new pair is committed before the lock is released and before anyone uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clients.models import AuthEvent, HttpClient, OAuthGrant, RequestLog

from .error_budget import BudgetState, ErrorBudgetStore
from .errors import NeedsReconnect
from .models import ErrorBudget, QuotaState
from .oauth import ExactOAuth, RefreshingGrantStore, Token
from .quota import QuotaStore, parse_rate_limits
from .transport import RequestRecord

__all__ = ["DjangoErrorBudgetStore", "DjangoGrantStore", "DjangoQuotaStore", "DjangoRequestLogger", "budget_state",
           "save_token", "token_of"]

log = logging.getLogger(__name__)


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def token_of(grant: OAuthGrant) -> Token | None:
    if not grant.refresh_token or grant.issued_at is None or grant.expires_at is None:
        return None
    return Token(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_in=grant.expires_in,
        issued_at=_ts(grant.issued_at),
        expires_at=_ts(grant.expires_at),
        version=grant.version,
    )


def save_token(grant: OAuthGrant, token: Token, *, refreshed: bool) -> None:
    """Write ``token`` onto ``grant`` (the caller holds the row lock and commits)."""
    now = timezone.now()
    grant.access_token = token.access_token
    grant.refresh_token = token.refresh_token
    grant.expires_in = token.expires_in
    grant.issued_at = _dt(token.issued_at)
    grant.expires_at = _dt(token.expires_at)
    grant.version = token.version
    fields = ["access_token", "refresh_token", "expires_in", "issued_at", "expires_at", "version"]
    if refreshed:
        grant.refreshed_at = now
        grant.refresh_used_at = now
        grant.refresh_count = (grant.refresh_count or 0) + 1
        fields += ["refreshed_at", "refresh_used_at", "refresh_count"]
    grant.save(update_fields=fields)


class DjangoGrantStore(RefreshingGrantStore):
    """The grant of one ``HttpClient`` in the database, shared by web processes and workers."""

    def __init__(self, client: HttpClient, oauth: ExactOAuth, **kwargs: Any) -> None:
        super().__init__(oauth, **kwargs)
        self.client = client
        self._cached: Token | None = None

    def _missing(self) -> NeedsReconnect:
        status = HttpClient.objects.filter(pk=self.client.pk).values_list("status", "status_message").first()
        if status and status[0] == HttpClient.Status.NEEDS_RECONNECT:
            return NeedsReconnect(f"{self.client.name} needs to be reconnected: {status[1] or 'grant access again'}")
        if status and status[0] == HttpClient.Status.REVOKED:
            return NeedsReconnect(f"Access for {self.client.name} was revoked: grant access again to use it.")
        return NeedsReconnect(f"{self.client.name} has no access to Exact Online yet: grant access first.")

    def load(self) -> Token | None:
        row = (
            OAuthGrant.objects.filter(client_id=self.client.pk)
            .values_list("version", "client__status")
            .first()
        )
        if row is None or row[1] != HttpClient.Status.GRANTED:
            self._cached = None
            return None
        if self._cached is not None and self._cached.version == row[0]:
            return self._cached
        grant = OAuthGrant.objects.filter(client_id=self.client.pk).first()
        self._cached = token_of(grant) if grant else None
        return self._cached

    def current_secrets(self) -> list[str]:
        token = self._cached
        return [token.access_token, token.refresh_token] if token else []

    @contextmanager
    def locked(self) -> Iterator[tuple[Token | None, Callable[[Token], Token]]]:
        with transaction.atomic():
            grant = (
                OAuthGrant.objects.select_for_update(of=("self",))
                .select_related("client")
                .filter(client_id=self.client.pk)
                .first()
            )
            usable = grant is not None and grant.client.status == HttpClient.Status.GRANTED
            token = token_of(grant) if usable and grant is not None else None

            def save(new: Token) -> Token:
                assert grant is not None
                save_token(grant, new, refreshed=True)
                self._cached = new
                return new

            yield token, save

    def on_refreshed(self, old: Token, new: Token) -> None:
        AuthEvent.record(self.client, AuthEvent.Event.REFRESHED,
                         f"Access token refreshed (grant version {new.version}); valid for {new.expires_in:g} s.",
                         details={"version": new.version, "expires_in": new.expires_in})

    def on_refused(self, error: NeedsReconnect) -> None:
        with transaction.atomic():
            OAuthGrant.objects.filter(client_id=self.client.pk).update(access_token="", refresh_token="")
            self.client.mark_needs_reconnect(error.message)
        self._cached = None
        AuthEvent.record(self.client, AuthEvent.Event.REFRESH_REFUSED, error.message,
                         details={"status": error.status, "reason": error.reason})
        AuthEvent.record(self.client, AuthEvent.Event.RECONNECT_NEEDED,
                         f"{self.client.name} needs to be reconnected: grant access to Exact Online again.")
        log.warning("Exact Online refused the refresh for client %s: %s", self.client.pk, error.message)

    def refresh_now(self) -> Token:
        """Refresh as soon as Exact allows (keep-alive); waits for the window if it is not open yet."""
        token = self.load()
        if token is None:
            raise self._missing()
        return self._refresh(seen_version=token.version, force=False)


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


class DjangoRequestLogger:
    """Writes each (already redacted) request of a client with *Log requests* on to ``RequestLog``."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def log(self, record: RequestRecord) -> None:
        RequestLog.objects.create(
            client_id=self.client.pk,
            kind=record.kind,
            method=record.method,
            url=record.url,
            status=record.status,
            duration_ms=record.duration_ms,
            request_headers=record.request_headers,
            request_body=record.request_body,
            response_headers=record.response_headers,
            response_body=record.response_body,
            error=record.error,
        )
