"""The checks behind ``/health``: database, broker and worker, each ``ok`` or an error string.

``/health`` is public (load balancers call it without a session), so the full check, which opens a broker
connection, runs at most once per ``HEALTH_CACHE_SECONDS`` per process; callers in between get the last
result. Anonymous callers see only the overall status (see ``public_view``).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from .models import WorkerHeartbeat

__all__ = ["cached_check", "check_all", "clear_cache", "public_view"]


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        return {"status": "error", "error": type(exc).__name__}


def check_broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    transport = url.split("://", 1)[0]
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return {"status": "ok", "transport": transport}
    except Exception as exc:
        return {"status": "error", "transport": transport, "error": type(exc).__name__}


def check_worker() -> dict[str, Any]:
    latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if latest is None:
        return {"status": "unknown", "error": "no worker heartbeat yet"}
    age = timezone.now() - latest.seen_at
    stale = age > timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_AFTER)
    return {"status": "stale" if stale else "ok", "last_seen": latest.seen_at.isoformat(),
            "age_seconds": round(age.total_seconds())}


def check_all() -> dict[str, Any]:
    checks = {"database": check_database(), "broker": check_broker()}
    checks["worker"] = check_worker() if checks["database"]["status"] == "ok" else {"status": "unknown"}
    healthy = checks["database"]["status"] == "ok" and checks["broker"]["status"] == "ok"
    return {"status": "ok" if healthy else "error", **checks}


_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, Any]] | None = None


def cached_check() -> dict[str, Any]:
    """``check_all()``, reused for ``HEALTH_CACHE_SECONDS``: a flood of requests opens one broker connection."""
    global _cached
    ttl = settings.HEALTH_CACHE_SECONDS
    with _cache_lock:  # one request checks, the others wait for its answer instead of checking too
        now = time.monotonic()
        if _cached is None or now - _cached[0] >= ttl:
            _cached = (now, check_all())
        return _cached[1]


def clear_cache() -> None:
    """Forget the cached result (tests, and after a settings change)."""
    global _cached
    with _cache_lock:
        _cached = None


def public_view(result: dict[str, Any]) -> dict[str, Any]:
    """What an anonymous caller may see: the overall status, no vendor, transport, errors or timings."""
    return {"status": result["status"]}
