"""Webhooks like Exact's (API.md §10, FIELD-NOTES G1-G4): a validation POST, then signed, thin deliveries.

The body is ``{"Content":{...},"HashCode":"<HEX>"}`` where HashCode is the upper-case hex HMAC-SHA256 of the
raw ``Content`` JSON text under the app's webhook secret. Deliveries leave from a background thread and
are retried a few times with back-off (scaled by the time scale).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from typing import Any

import requests
from django.conf import settings

from .catalog import Endpoint
from .monitor import monitor
from .oauth import get_app
from .store import Store, clock
from .values import exact_now

__all__ = ["SUBSCRIPTIONS", "enqueue", "publish", "send_validation", "sign", "start_worker"]

logger = logging.getLogger(__name__)
SUBSCRIPTIONS = "webhooks/webhooksubscriptions"
_queue: queue.Queue[dict[str, Any]] = queue.Queue()
_started = threading.Event()
# Switched off through the control API (tests of a receiver's reconciliation): events are dropped, as Exact
# sometimes does, and counted as "webhook_suppressed".
delivery = {"enabled": True}


def sign(content_text: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), content_text.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def send_validation(callback_url: str, client_id: str) -> None:
    """Exact sends an empty POST to a new subscription's callback about a second after creating it."""
    _queue.put({"kind": "validation", "url": callback_url, "client_id": client_id, "body": b"", "attempt": 1,
                "not_before": time.monotonic() + clock.seconds(1)})


def publish(store: Store, host_url: str, division: int, ep: Endpoint, action: str, key_literal: str,
            key: Any) -> int:
    """Queue one signed delivery per subscription of ``division`` on the topic ``ep.name``; return how many."""
    rows = store.select("SELECT data FROM records WHERE resource = ? AND division = ?", [SUBSCRIPTIONS, division])
    if not delivery["enabled"]:
        if rows:
            monitor.incr("webhook_suppressed")
        return 0
    count = 0
    for row in rows:
        sub = json.loads(row["data"])
        if str(sub.get("Topic", "")).lower() != ep.name.lower():
            continue
        app = get_app(str(sub.get("ClientID", "")), store)
        if app is None:
            continue
        content = {
            "Topic": ep.name, "ClientId": app["client_id"], "Division": division, "Action": action, "Key": key,
            "ExactOnlineEndpoint": f"{host_url}/api/v1/{division}/{ep.endpoint}({key_literal})",
            "EventCreatedOn": exact_now().isoformat(timespec="milliseconds"),
        }
        content_text = json.dumps(content, separators=(",", ":"))
        body = '{"Content":' + content_text + ',"HashCode":"' + sign(content_text, app["webhook_secret"]) + '"}'
        _queue.put({"kind": "event", "url": sub.get("CallbackURL"), "client_id": app["client_id"],
                    "body": body.encode("utf-8"), "attempt": 1, "not_before": 0.0, "topic": ep.name,
                    "action": action, "key": key})
        count += 1
    if count:
        monitor.incr("webhook_events", count)
    return count


def enqueue(job: dict[str, Any]) -> None:
    """Queue one delivery: ``url``, ``body`` bytes, ``kind`` ("event" is retried) and optionally ``headers``,
    ``monitor`` (whose log records it; the webshop keeps its own) and ``topic``/``action``/``key`` for the log."""
    _queue.put({"attempt": 1, "not_before": 0.0, **job})


def _deliver(job: dict[str, Any]) -> None:
    headers = job.get("headers") or ({"Content-Type": "application/json"} if job["body"] else {})
    log = job.get("monitor") or monitor
    status: int | str
    try:
        response = requests.post(job["url"], data=job["body"], headers=headers, timeout=5, allow_redirects=False)
        status = response.status_code
        ok = status in {200, 201, 202, 204}
    except requests.RequestException as exc:
        status, ok = type(exc).__name__, False
    log.record_webhook({"kind": job["kind"], "url": job["url"], "status": status, "attempt": job["attempt"],
                        "topic": job.get("topic", ""), "action": job.get("action", ""), "key": job.get("key", "")})
    log.incr("webhook_delivered" if ok else "webhook_failed")
    retries = int(getattr(settings, "SANDBOX_WEBHOOK_RETRIES", 3))
    if not ok and job["kind"] == "event" and job["attempt"] < retries:
        job["attempt"] += 1
        job["not_before"] = time.monotonic() + clock.seconds(2 ** job["attempt"])
        _queue.put(job)


def _worker() -> None:
    while True:
        job = _queue.get()
        wait = job["not_before"] - time.monotonic()
        if wait > 0:
            if _queue.qsize() > 0:
                _queue.put(job)  # let due jobs pass first
                time.sleep(min(wait, 0.05))
                continue
            time.sleep(wait)
        try:
            _deliver(job)
        except Exception:
            logger.exception("webhook delivery crashed")


def start_worker(threads: int = 2) -> None:
    if _started.is_set():
        return
    _started.set()
    for i in range(threads):
        threading.Thread(target=_worker, name=f"sandbox-webhooks-{i}", daemon=True).start()
