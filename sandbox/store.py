"""The sandbox's own storage: a SQLite file (``settings.SANDBOX_DB_PATH``), never the product's ORM tables.

Every business object lives in one generic table ``records(resource, division, key, ts, data)`` with a
unique index on ``(resource, division, key)`` (paging by key is an index range scan) and one on
``(resource, division, ts)`` (sync endpoints page on the row version). ``ts`` is a global, strictly
increasing row version handed out inside the write transaction: the ``Timestamp`` of the sync API.
Values in ``data`` are stored as Exact would compare them: ``Edm.DateTime`` as milliseconds, GUIDs in
lower case; rendering to ``/Date(ms)/`` happens on the way out.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

__all__ = ["Store", "clock", "get_store"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    resource TEXT NOT NULL,
    division INTEGER NOT NULL,
    key NOT NULL,
    ts INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_key ON records(resource, division, key);
CREATE INDEX IF NOT EXISTS records_ts ON records(resource, division, ts);
-- incremental reads of standard endpoints filter and order on Modified: an expression index serves both
CREATE INDEX IF NOT EXISTS records_modified ON records(resource, division, json_extract(data, '$.Modified'), key);
CREATE TABLE IF NOT EXISTS divisions (code INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY, name TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    client_secret TEXT NOT NULL, webhook_secret TEXT NOT NULL, created REAL NOT NULL, scopes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, user TEXT NOT NULL,
    divisions TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL, used_at REAL
);
CREATE TABLE IF NOT EXISTS chains (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, user TEXT NOT NULL, divisions TEXT NOT NULL,
    created REAL NOT NULL, last_token_at REAL NOT NULL, refreshes INTEGER NOT NULL DEFAULT 0,
    revoked_at REAL, revoked_reason TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, chain_id INTEGER NOT NULL, issued REAL NOT NULL,
    expires REAL NOT NULL, used_at REAL
);
CREATE INDEX IF NOT EXISTS tokens_chain ON tokens(chain_id, kind);
"""

TS_START = 10_000_000  # row versions look like Exact's (big integers), and never start at 0


class Clock:
    """The sandbox clock: wall time plus an offset that tests may move forward (``/sandbox/api/clock``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    @property
    def scale(self) -> float:
        return float(getattr(settings, "SANDBOX_TIME_SCALE", 1.0) or 1.0)

    def seconds(self, real_seconds: float) -> float:
        """A duration of Exact's (600 s token life ...) in sandbox seconds: divided by the time scale."""
        return real_seconds / self.scale


clock = Clock()


class Store:
    """Thread-safe access to the sandbox database (one connection per thread, WAL, short write transactions)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(apps)")}
        if "scopes" not in columns:  # a database from before app scopes
            self.db.execute("ALTER TABLE apps ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]'")
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('ts', ?)", (TS_START,))

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: writers queue on the database lock instead of failing later."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- row versions -----------------------------------------------------------------------------
    @staticmethod
    def next_ts(db: sqlite3.Connection, count: int = 1) -> int:
        """Reserve ``count`` row versions inside the current write transaction; return the first."""
        row = db.execute("UPDATE meta SET value = value + ? WHERE key = 'ts' RETURNING value", (count,)).fetchone()
        return int(row[0]) - count + 1

    # --- records ----------------------------------------------------------------------------------
    def insert_many(self, resource: str, division: int, rows: Iterable[tuple[Any, dict[str, Any]]],
                    *, db: sqlite3.Connection | None = None) -> int:
        rows = list(rows)
        if not rows:
            return 0

        def run(conn: sqlite3.Connection) -> None:
            first = self.next_ts(conn, len(rows))
            conn.executemany(
                "INSERT INTO records(resource, division, key, ts, data) VALUES (?, ?, ?, ?, ?)",
                [(resource, division, key, first + i, json.dumps(data, separators=(",", ":")))
                 for i, (key, data) in enumerate(rows)],
            )

        if db is not None:
            run(db)
        else:
            with self.write() as conn:
                run(conn)
        return len(rows)

    def get(self, resource: str, division: int, key: Any) -> tuple[int, dict[str, Any]] | None:
        row = self.db.execute(
            "SELECT ts, data FROM records WHERE resource = ? AND division = ? AND key = ?", (resource, division, key)
        ).fetchone()
        return (row["ts"], json.loads(row["data"])) if row else None

    def select(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def count_resource(self, resource: str, division: int) -> int:
        return int(self.db.execute("SELECT count(*) FROM records WHERE resource = ? AND division = ?",
                                   (resource, division)).fetchone()[0])

    def counts(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT resource, division, count(*) AS n FROM records GROUP BY resource, division ORDER BY resource"
        ).fetchall()

    # --- meta -------------------------------------------------------------------------------------
    def meta_get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, key: str, value: Any) -> None:
        with self.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                       (key, value, value))

    # --- divisions --------------------------------------------------------------------------------
    def divisions(self) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in self.db.execute("SELECT data FROM divisions ORDER BY code")]

    def division_codes(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT code FROM divisions ORDER BY code")]

    # --- reset ------------------------------------------------------------------------------------
    def wipe(self, *, keep_apps: bool) -> None:
        with self.write() as db:
            db.execute("DELETE FROM records")
            db.execute("DELETE FROM divisions")
            db.execute("UPDATE meta SET value = ? WHERE key = 'ts'", (TS_START,))
            db.execute("DELETE FROM meta WHERE key <> 'ts'")
            if not keep_apps:
                for table in ("apps", "codes", "chains", "tokens"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


_store: Store | None = None
_store_lock = threading.Lock()


def get_store() -> Store:
    """The process-wide store on ``settings.SANDBOX_DB_PATH`` (opened lazily)."""
    global _store
    with _store_lock:
        if _store is None or _store.path != str(settings.SANDBOX_DB_PATH):
            _store = Store(settings.SANDBOX_DB_PATH)
        return _store
