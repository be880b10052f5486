"""Signed webhooks of the webshop: ``order.created`` and ``order.updated`` to every subscribed URL.

The body is ``{"id": "evt_…", "type": "order.created", "created_at": …, "data": {the order}}``. Headers::

    X-Shop-Topic: order.created
    X-Shop-Event-Id: evt_…
    X-Shop-Timestamp: 1764434400                  (Unix seconds when the event was signed)
    X-Shop-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body, keyed by the subscription secret>

A receiver recomputes the HMAC over the timestamp, a dot and the raw bytes it received, compares in
constant time, and refuses a timestamp older than a few minutes (replays). Deliveries go through the
sandbox's webhook worker (background threads, retried with back-off like Exact's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

from ..store import clock
from ..webhooks import enqueue
from .store import format_stamp

if TYPE_CHECKING:
    from .store import ShopStore

__all__ = ["notify", "sign"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<timestamp>." + body``: what ``X-Shop-Signature`` carries."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def notify(shop: ShopStore, topic: str, record: dict[str, Any]) -> int:
    """Queue one signed delivery of ``topic`` per subscription that wants it; return how many."""
    from .api import shop_monitor

    count = 0
    for hook in shop.webhooks():
        if topic not in hook["topics"]:
            continue
        event_id = f"evt_{uuid.uuid4().hex[:20]}"
        body = json.dumps({"id": event_id, "type": topic, "created_at": format_stamp(int(clock.now() * 1e6)),
                           "data": record}, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(clock.now()))
        headers = {"Content-Type": "application/json", "X-Shop-Topic": topic, "X-Shop-Event-Id": event_id,
                   "X-Shop-Timestamp": timestamp, "X-Shop-Signature": sign(hook["secret"], timestamp, body)}
        enqueue({"kind": "event", "url": hook["url"], "body": body, "headers": headers, "topic": topic,
                 "action": topic.split(".")[1], "key": record.get("id", ""), "monitor": shop_monitor})
        count += 1
    if count:
        shop_monitor.incr("webhook_events", count)
    return count
