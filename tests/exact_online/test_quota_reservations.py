"""The limiter reserves a call before it is sent: the minute and the day are never overdrawn, whatever number of
threads or processes reserve at once; consumers share a minute; interactive calls keep a daily reserve."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from clients.models import HttpClient
from exact_online.quota import LimiterSettings, QuotaScope, merge_headers, park_state, parse_rate_limits, reserve
from exact_online.stores import DjangoQuotaStore, RedisQuotaStore

MINUTE = LimiterSettings(minute=60.0, daily_reserve=0)
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


BACKGROUND = QuotaScope()


def take(state, now, n, scope=BACKGROUND, config=MINUTE):
    return [reserve(state, now, scope=scope, config=config) for _ in range(n)]


def test_the_minute_and_the_day_are_never_overdrawn():
    state: dict = {}
    found = take(state, T0 + 1, 61)
    assert sum(r.ok for r in found) == 60
    assert (found[-1].ok, found[-1].until, found[-1].which) == (False, T0 + 60, "minutely")
    assert sum(r.ok for r in take(state, T0 + 60, 61)) == 60  # a new window
    state["d_limit"] = 125
    found = take(state, T0 + 120, 10)
    assert sum(r.ok for r in found) == 5 and found[-1].which == "daily" and found[-1].until == T0 + 86400 - T0 % 86400


def test_exact_headers_correct_the_count_and_a_429_parks_the_division():
    state: dict = {}
    take(state, T0 + 1, 2)
    reset = datetime.fromtimestamp(T0 + 60, tz=UTC)
    # Exact counted 50 (another installation of the same app): 10 are left, not 58.
    merge_headers(state, parse_rate_limits({"X-RateLimit-Minutely-Limit": "60", "X-RateLimit-Minutely-Remaining": "10",
                                            "X-RateLimit-Minutely-Reset": str(int(reset.timestamp() * 1000))}))
    assert sum(r.ok for r in take(state, T0 + 2, 20)) == 10
    park_state(state, T0 + 130)
    found = reserve(state, T0 + 65, scope=QuotaScope(), config=MINUTE)
    assert (found.ok, found.until, found.which) == (False, T0 + 130, "parked")
    assert reserve(state, T0 + 131, scope=QuotaScope(), config=MINUTE).ok


def test_routes_share_the_minute_and_a_big_backlog_cannot_starve_a_small_one():
    state: dict = {}
    big, small = QuotaScope("outgoing:1"), QuotaScope("outgoing:2")
    assert sum(r.ok for r in take(state, T0 + 1, 5, small)) == 5
    found = take(state, T0 + 2, 60, big)
    assert sum(r.ok for r in found) == 30  # its half while the small route is active
    assert (found[-1].until, found[-1].which) == (T0 + 30, "share")
    assert sum(r.ok for r in take(state, T0 + 3, 10, small)) == 10  # the small route still gets through
    assert sum(r.ok for r in take(state, T0 + 31, 60, big)) == 15  # the second half: what is left, for anyone
    alone: dict = {}
    assert sum(r.ok for r in take(alone, T0 + 1, 60, big)) == 60  # alone, a route has the whole minute


def test_interactive_calls_keep_a_reserve_of_the_day():
    config = LimiterSettings(minute=60.0, daily_reserve=250)
    state: dict = {"d_limit": 5000, "d_used": 4740, "d_end": T0 + 3600}
    background = take(state, T0 + 1, 20, QuotaScope("outgoing:1"), config)
    assert sum(r.ok for r in background) == 10 and background[-1].which == "daily"
    assert sum(r.ok for r in take(state, T0 + 1, 5, QuotaScope(interactive=True), config)) == 5


def _hammer(make_store, threads: int = 8, each: int = 15) -> int:
    taken: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        store = make_store()
        start.wait()
        for _ in range(each):
            ok = store.reserve(101001, scope=QuotaScope()).ok
            with lock:
                taken.append(ok)
        connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(taken)


@pytest.mark.django_db(transaction=True)
def test_reservations_in_the_database_are_atomic_across_connections():
    client = HttpClient.objects.create(name="quota atomic", kind="exact_online", config={"base_url": "http://x"})
    config = LimiterSettings(minute=3600.0)  # one window for the whole test, however slow the machine

    assert _hammer(lambda: DjangoQuotaStore(client, config)) == 60  # 120 asked for by 8 connections at once


@pytest.mark.django_db(transaction=True)
def test_reservations_in_redis_are_atomic_across_connections():
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("Redis is the broker only in the PostgreSQL + Redis pass (CELERY_BROKER_URL=redis://...)")
    import redis

    client = HttpClient.objects.create(name="quota atomic redis", kind="exact_online", config={"base_url": "http://x"})
    config = LimiterSettings(minute=3600.0)
    r = redis.Redis.from_url(url)
    r.delete(RedisQuotaStore.KEY.format(client=RedisQuotaStore.key_of(client), division=101001))
    try:
        assert _hammer(lambda: RedisQuotaStore(client, redis.Redis.from_url(url), config)) == 60
    finally:
        r.delete(RedisQuotaStore.KEY.format(client=RedisQuotaStore.key_of(client), division=101001))


def test_a_call_at_the_end_of_a_window_is_counted_in_the_next_one_too():
    state: dict = {}
    assert sum(r.ok for r in take(state, T0 + 59.8, 10)) == 10  # plenty left: no wait at the edge
    assert sum(r.ok for r in take(state, T0 + 61, 60)) == 50  # Exact may count those 10 in this window


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["database", "redis"])
def test_a_released_call_gives_its_slot_back(where):
    """``release``: a call that never reached Exact (no connection) does not stay counted in the minute or day."""
    client = HttpClient.objects.create(name=f"quota release {where}", kind="exact_online",
                                       config={"base_url": "http://x"})
    config = LimiterSettings(minute=3600.0)
    if where == "redis":
        url = settings.CELERY_BROKER_URL
        if not url.startswith("redis://"):
            pytest.skip("Redis is the broker only in the PostgreSQL + Redis pass (CELERY_BROKER_URL=redis://...)")
        import redis

        r = redis.Redis.from_url(url)
        key = RedisQuotaStore.KEY.format(client=RedisQuotaStore.key_of(client), division=101001)
        r.delete(key)
        store: DjangoQuotaStore = RedisQuotaStore(client, r, config)
    else:
        store = DjangoQuotaStore(client, config)
    try:
        assert sum(store.reserve(101001).ok for _ in range(60)) == 60
        assert not store.reserve(101001).ok  # the minute is used up
        store.release(101001)
        assert store.reserve(101001).ok  # the slot given back is taken again
        assert not store.reserve(101001).ok
    finally:
        if where == "redis":
            r.delete(key)


@pytest.mark.django_db
def test_the_redis_key_of_a_client_names_its_database():
    """Two databases on one Redis (parallel test workers, a second deployment) each count their own client 1."""
    client = HttpClient.objects.create(name="quota key", kind="exact_online", config={"base_url": "http://x"})
    key = RedisQuotaStore.key_of(client)
    assert key.startswith(f"{Path(str(connection.settings_dict['NAME'])).name}-{client.pk}-")
    original = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = "another_database"
    try:
        assert RedisQuotaStore.key_of(client) != key
    finally:
        connection.settings_dict["NAME"] = original
