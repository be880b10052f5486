"""The webshop's tables in the sandbox's SQLite file (beside Exact's ``records``, never the product's ORM).

One generic table ``shop_records(kind, id, updated_at, data)`` holds customers, products and orders (an
order's lines live inside its JSON, as a shop API returns them). ``updated_at`` is an ISO-8601 UTC text of
fixed width, so text order is time order, and strictly increasing across all writes (one microsecond
apart at least): ``updated_after=<the last value seen>`` never misses a record written in the same instant.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..store import Store, clock, get_store

__all__ = ["KINDS", "ShopStore", "format_stamp", "parse_stamp", "shop_store"]

KINDS = ("customers", "products", "orders")
SCHEMA = """
CREATE TABLE IF NOT EXISTS shop_records (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS shop_records_updated ON shop_records(kind, updated_at, id);
CREATE INDEX IF NOT EXISTS shop_records_sku ON shop_records(kind, json_extract(data, '$.sku'));
CREATE INDEX IF NOT EXISTS shop_records_email ON shop_records(kind, lower(json_extract(data, '$.email')));
CREATE TABLE IF NOT EXISTS shop_keys (key TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS shop_webhooks (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, topics TEXT NOT NULL, secret TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS shop_idempotency (
    api_key TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (api_key, key)
);
"""
STAMP_META = "shop_last_stamp_us"


def format_stamp(micros: int) -> str:
    """Microseconds since the epoch -> ``2026-11-29T16:40:00.123456Z`` (fixed width: sorts as text)."""
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(value: str) -> str:
    """Any ISO-8601 instant (``Z``, an offset or naive UTC; date only) -> the stored fixed-width form."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)  # ValueError on junk: the API answers 400
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ShopStore:
    """Reads and writes of the webshop, on the sandbox's store (its connection per thread, its write lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.store.db.executescript(SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        return self.store.db

    # --- time -------------------------------------------------------------------------------------
    def next_stamps(self, db: sqlite3.Connection, count: int = 1) -> list[str]:
        """``count`` strictly increasing ``updated_at`` values (now, or just after the last one handed out)."""
        row = db.execute("SELECT value FROM meta WHERE key = ?", (STAMP_META,)).fetchone()
        last = int(row[0]) if row else 0
        first = max(int(clock.now() * 1_000_000), last + 1)
        db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (STAMP_META, first + count - 1))
        return [format_stamp(first + i) for i in range(count)]

    # --- records ----------------------------------------------------------------------------------
    @staticmethod
    def next_id(db: sqlite3.Connection, kind: str) -> int:
        row = db.execute("SELECT max(id) FROM shop_records WHERE kind = ?", (kind,)).fetchone()
        return int(row[0] or 0) + 1

    def get(self, kind: str, record_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM shop_records WHERE kind = ? AND id = ?", (kind, record_id)).fetchone()
        return json.loads(row["data"]) if row else None

    def find(self, kind: str, field: str, value: str, db: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        """The record whose ``sku`` (exact) or ``email`` (case-insensitive) is ``value``."""
        conn = db or self.db
        if field == "email":
            row = conn.execute("SELECT data FROM shop_records WHERE kind = ? AND "
                               "lower(json_extract(data, '$.email')) = lower(?) ORDER BY id LIMIT 1",
                               (kind, value)).fetchone()
        else:
            row = conn.execute("SELECT data FROM shop_records WHERE kind = ? AND json_extract(data, '$.sku') = ? "
                               "ORDER BY id LIMIT 1", (kind, value)).fetchone()
        return json.loads(row["data"]) if row else None

    @staticmethod
    def save(db: sqlite3.Connection, kind: str, record: dict[str, Any]) -> None:
        db.execute("INSERT INTO shop_records(kind, id, updated_at, data) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(kind, id) DO UPDATE SET updated_at = excluded.updated_at, data = excluded.data",
                   (kind, record["id"], record["updated_at"], json.dumps(record, separators=(",", ":"))))

    def delete(self, kind: str, record_id: int) -> bool:
        with self.store.write() as db:
            return db.execute("DELETE FROM shop_records WHERE kind = ? AND id = ?", (kind, record_id)).rowcount > 0

    def insert_many(self, kind: str, records: Iterable[dict[str, Any]], db: sqlite3.Connection) -> int:
        rows = [(kind, r["id"], r["updated_at"], json.dumps(r, separators=(",", ":"))) for r in records]
        db.executemany("INSERT INTO shop_records(kind, id, updated_at, data) VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def page(self, kind: str, where: list[str], params: list[Any], order: str, limit: int,
             offset: int = 0) -> list[dict[str, Any]]:
        """Records of ``kind``: ``where``, ``order`` are the API's fixed SQL fragments, values go in ``params``."""
        conditions = "".join(" AND " + w for w in where)
        sql = f"SELECT data FROM shop_records WHERE kind = ?{conditions} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
        rows = self.db.execute(sql, [kind, *params, limit, offset]).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def counts(self) -> dict[str, int]:
        found = {r["kind"]: r["n"] for r in self.db.execute(
            "SELECT kind, count(*) AS n FROM shop_records GROUP BY kind")}
        return {kind: int(found.get(kind, 0)) for kind in KINDS}

    def latest(self, kind: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT data FROM shop_records WHERE kind = ? ORDER BY updated_at DESC LIMIT ?",
                               (kind, limit)).fetchall()
        return [json.loads(r["data"]) for r in rows]

    # --- API keys ---------------------------------------------------------------------------------
    def create_key(self, name: str, key: str | None = None) -> dict[str, Any]:
        record = {"key": key or f"shop_{secrets.token_urlsafe(24)}", "name": name, "created": clock.now()}
        with self.store.write() as db:
            db.execute("INSERT OR REPLACE INTO shop_keys(key, name, created) VALUES (?, ?, ?)",
                       (record["key"], record["name"], record["created"]))
        return record

    def key_exists(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM shop_keys WHERE key = ?", (key,)).fetchone() is not None

    def api_keys(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT key, name, created FROM shop_keys ORDER BY created")]

    def delete_key(self, key: str) -> bool:
        with self.store.write() as db:
            return db.execute("DELETE FROM shop_keys WHERE key = ?", (key,)).rowcount > 0

    # --- webhook subscriptions --------------------------------------------------------------------
    def add_webhook(self, url: str, topics: list[str], secret: str | None = None) -> dict[str, Any]:
        secret = secret or f"whsec_{secrets.token_urlsafe(24)}"
        with self.store.write() as db:
            cursor = db.execute("INSERT INTO shop_webhooks(url, topics, secret, created) VALUES (?, ?, ?, ?)",
                                (url, json.dumps(topics), secret, clock.now()))
            new_id = cursor.lastrowid
        return {"id": new_id, "url": url, "topics": topics, "secret": secret}

    def webhooks(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT id, url, topics, secret, created FROM shop_webhooks ORDER BY id").fetchall()
        return [{**dict(r), "topics": json.loads(r["topics"])} for r in rows]

    def delete_webhook(self, webhook_id: int) -> bool:
        with self.store.write() as db:
            return db.execute("DELETE FROM shop_webhooks WHERE id = ?", (webhook_id,)).rowcount > 0

    # --- idempotency keys -------------------------------------------------------------------------
    def replay(self, api_key: str, key: str) -> tuple[int, str] | None:
        row = self.db.execute("SELECT status, body FROM shop_idempotency WHERE api_key = ? AND key = ?",
                              (api_key, key)).fetchone()
        return (int(row["status"]), str(row["body"])) if row else None

    @staticmethod
    def remember(db: sqlite3.Connection, api_key: str, key: str, status: int, body: str) -> None:
        db.execute("INSERT OR REPLACE INTO shop_idempotency(api_key, key, status, body, created) VALUES (?,?,?,?,?)",
                   (api_key, key, status, body, clock.now()))

    # --- reset ------------------------------------------------------------------------------------
    def wipe(self, *, keep_keys: bool) -> None:
        with self.store.write() as db:
            db.execute("DELETE FROM shop_records")
            db.execute("DELETE FROM shop_idempotency")
            db.execute("DELETE FROM meta WHERE key = ?", (STAMP_META,))
            if not keep_keys:
                db.execute("DELETE FROM shop_keys")
                db.execute("DELETE FROM shop_webhooks")


_shop: ShopStore | None = None
_lock = threading.Lock()


def shop_store() -> ShopStore:
    """The webshop's store on the process-wide sandbox store (follows it when the settings change)."""
    global _shop
    store = get_store()
    with _lock:
        if _shop is None or _shop.store is not store:
            _shop = ShopStore(store)
        return _shop
