"""The checks behind ``/health``: database, broker and worker, each ``ok`` or an error string."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from .models import WorkerHeartbeat

__all__ = ["check_all"]


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
