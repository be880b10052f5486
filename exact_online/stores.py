"""Django-backed stores for ``ExactApi``: the grant (row-locked single-flight refresh), quota and request log.

The grant row is the one authoritative token store (FIELD-NOTES A1, A9): every process reads it, and a
refresh happens inside ``transaction.atomic()`` holding ``select_for_update()`` on the row (PostgreSQL);
on SQLite the IMMEDIATE transaction takes the database write lock, which serialises refreshers the same way.
The new pair is committed before the lock is released and before anyone uses it.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from clients.grants import DjangoRequestLogger, GrantRowStore, save_token, token_of
from clients.models import HttpClient

from .error_budget import BudgetState, ErrorBudgetStore
from .errors import NeedsReconnect
from .models import ErrorBudget, QuotaState
from .oauth import ExactOAuth, RefreshingGrantStore, Token
from .quota import (
    LimiterSettings,
    QuotaScope,
    QuotaStore,
    RateLimits,
    Reservation,
    current_scope,
    merge_headers,
    park_state,
    parse_rate_limits,
    release_state,
    reserve,
)

__all__ = ["DjangoErrorBudgetStore", "DjangoGrantStore", "DjangoQuotaStore", "DjangoRequestLogger", "RedisQuotaStore",
           "budget_state", "quota_store_for", "save_token", "token_of"]

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
    """Rate-limit state per (client, division) in ``QuotaState`` rows, shared by every process.

    ``record`` writes what the headers said in one UPDATE (the dashboard shows it); ``reserve`` takes the row
    lock (``select_for_update``; SQLite's IMMEDIATE transaction), folds the last headers into the limiter
    state (``QuotaState.limiter``), reserves and writes it back: no two processes take the same slot.
    """

    def __init__(self, client: HttpClient, config: LimiterSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.config = config or LimiterSettings.from_settings()
        self.clock = clock
        self._known: set[int] = set()

    @staticmethod
    def _division(division: int | None) -> int:
        return int(division or 0)

    def _rows(self, division: int | None) -> Any:
        return QuotaState.objects.filter(client_id=self.client.pk, division=self._division(division))

    def _ensure(self, division: int | None) -> None:
        code = self._division(division)
        if code in self._known:
            return
        if not self._rows(division).exists():
            try:
                with transaction.atomic():
                    QuotaState.objects.create(client_id=self.client.pk, division=code)
            except IntegrityError:  # another process created it first
                pass
        self._known.add(code)

    def reserve(self, division: int | None, *, scope: QuotaScope | None = None) -> Reservation:
        scope = scope or current_scope()
        self._ensure(division)
        with transaction.atomic():
            row = self._rows(division).select_for_update().values(
                "pk", "limiter", "parked_until", "minutely_limit", "minutely_remaining", "minutely_reset",
                "daily_limit", "daily_remaining", "daily_reset").get()
            state = dict(row["limiter"] or {})
            merge_headers(state, RateLimits(
                daily_limit=row["daily_limit"], daily_remaining=row["daily_remaining"], daily_reset=row["daily_reset"],
                minutely_limit=row["minutely_limit"], minutely_remaining=row["minutely_remaining"],
                minutely_reset=row["minutely_reset"]))
            if row["parked_until"]:
                park_state(state, row["parked_until"].timestamp())
            found = reserve(state, self.clock(), scope=scope, config=self.config)
            QuotaState.objects.filter(pk=row["pk"]).update(limiter=state)
        return found

    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        limits = parse_rate_limits(headers)
        if limits.empty and status != 429:
            return
        values: dict[str, Any] = {k: v for k, v in vars(limits).items() if v is not None}
        values["updated_at"] = timezone.now()
        if status == 429:
            values["throttled_count"] = F("throttled_count") + 1
        rows = self._rows(division)
        if rows.update(**values):  # one statement: the write lock is held as briefly as possible
            return
        try:
            with transaction.atomic():
                QuotaState.objects.create(client_id=self.client.pk, division=self._division(division),
                                          **{k: v for k, v in values.items() if k != "throttled_count"},
                                          throttled_count=1 if status == 429 else 0)
        except IntegrityError:  # another process created it first
            rows.update(**values)

    def release(self, division: int | None) -> None:
        with transaction.atomic():
            row = self._rows(division).select_for_update().values("pk", "limiter").first()
            if row is not None and row["limiter"]:
                state = dict(row["limiter"])
                release_state(state)
                QuotaState.objects.filter(pk=row["pk"]).update(limiter=state)

    def park(self, division: int | None, until: float) -> None:
        QuotaState.objects.update_or_create(
            client_id=self.client.pk, division=self._division(division),
            defaults={"parked_until": _dt(until), "updated_at": timezone.now()},
        )


class RedisQuotaStore(DjangoQuotaStore):
    """The same limiter with its state in Redis: a reservation is one ``WATCH``/``MULTI`` transaction on the
    division's key (retried when another process changed it meanwhile). What the headers said still goes to
    ``QuotaState`` too (the dashboard reads it there)."""

    # The database's name and the client's creation time keep another database on the same Redis (a second
    # deployment, a parallel test worker) or a recreated one (a test run) from sharing or inheriting a count.
    KEY = "dash:exact-quota:{client}:{division}"

    def __init__(self, client: HttpClient, redis: Any, config: LimiterSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, config, clock)
        self.redis = redis

    def _key(self, division: int | None) -> str:
        return self.KEY.format(client=self.key_of(self.client), division=self._division(division))

    @staticmethod
    def key_of(client: HttpClient) -> str:
        database = Path(str(connections[client._state.db or "default"].settings_dict["NAME"])).name
        created = getattr(client, "created_at", None)
        return f"{database}-{client.pk}-{int(created.timestamp() * 1000) if created else 0}"

    # While Redis cannot be reached (restarting, loading its data), nothing is sent: the work waits this long.
    UNREACHABLE_WAIT = 5.0

    def reserve(self, division: int | None, *, scope: QuotaScope | None = None) -> Reservation:
        import redis as redis_lib

        scope = scope or current_scope()
        key = self._key(division)
        ttl = int(self.config.day) + 3600
        while True:
            try:
                with self.redis.pipeline() as pipe:
                    try:
                        pipe.watch(key, key + ":headers")
                        raw, headers = pipe.get(key), pipe.get(key + ":headers")
                        state = jsonlib.loads(raw) if raw else {}
                        if headers:
                            merge_headers(state, _limits_from_json(jsonlib.loads(headers)))
                        found = reserve(state, self.clock(), scope=scope, config=self.config)
                        pipe.multi()
                        pipe.set(key, jsonlib.dumps(state), ex=ttl)
                        pipe.execute()
                        return found
                    except redis_lib.WatchError:
                        continue
            except redis_lib.RedisError as error:  # no reservation, no call: the caller defers (QuotaWait)
                log.warning("quota limiter: Redis cannot be reached (%s); nothing sent", error)
                return Reservation(False, until=self.clock() + self.UNREACHABLE_WAIT, which="limiter")

    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        import redis as redis_lib

        limits = parse_rate_limits(headers)
        if not limits.empty:
            try:  # the call was sent: losing what its headers said must not lose its outcome
                self.redis.set(self._key(division) + ":headers", jsonlib.dumps(_limits_to_json(limits)),
                               ex=int(self.config.day) + 3600)
            except redis_lib.RedisError as error:
                log.warning("quota limiter: Redis cannot be reached (%s); the rate-limit headers are not kept", error)
        super().record(division, headers, status)

    def _rewrite(self, division: int | None, change: Callable[[dict[str, Any]], None], *, create: bool,
                 **set_options: Any) -> None:
        """Read, change and write the division's state atomically (WATCH, retried on a concurrent write);
        ``create`` says whether a division without state gets one. Redis errors are the caller's."""
        import redis as redis_lib

        key = self._key(division)
        while True:
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if not raw and not create:
                        return
                    state = jsonlib.loads(raw) if raw else {}
                    change(state)
                    pipe.multi()
                    pipe.set(key, jsonlib.dumps(state), **set_options)
                    pipe.execute()
                    return
                except redis_lib.WatchError:
                    continue

    def release(self, division: int | None) -> None:
        import redis as redis_lib

        try:
            self._rewrite(division, release_state, create=False, keepttl=True)
        except redis_lib.RedisError as error:  # the slot stays taken: the limiter errs on the safe side
            log.warning("quota limiter: Redis cannot be reached (%s); a call that never left is not given back", error)

    def park(self, division: int | None, until: float) -> None:
        import redis as redis_lib

        try:
            self._rewrite(division, lambda state: park_state(state, until), create=True,
                          ex=int(self.config.day) + 3600)
        except redis_lib.RedisError as error:  # the database row below still parks the division for the page
            log.warning("quota limiter: Redis cannot be reached (%s); the 429's park is kept in the database only",
                        error)
        super().park(division, until)


def _limits_to_json(limits: RateLimits) -> dict[str, Any]:
    return {k: (v.timestamp() if isinstance(v, datetime) else v) for k, v in vars(limits).items()}


def _limits_from_json(data: dict[str, Any]) -> RateLimits:
    values: dict[str, Any] = {k: (_dt(v) if k.endswith("_reset") and v is not None else v)
                              for k, v in data.items() if k in RateLimits.__dataclass_fields__}
    return RateLimits(**values)


_REDIS: dict[str, Any] = {}


def quota_store_for(client: HttpClient) -> QuotaStore:
    """The limiter every process shares: in Redis when one is configured (``EXACT_QUOTA_REDIS_URL``), else in
    the database."""
    url = str(getattr(settings, "EXACT_QUOTA_REDIS_URL", "") or "")
    if not url.startswith(("redis://", "rediss://")):
        return DjangoQuotaStore(client)
    if url not in _REDIS:
        import redis as redis_lib

        _REDIS[url] = redis_lib.Redis.from_url(url)
    return RedisQuotaStore(client, _REDIS[url])


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
