"""Cursors of incremental Exact reads: what a stored cursor means, its filter, and how a page moves it.

Two kinds: the sync endpoints' ``Timestamp`` (strictly increasing, ``Timestamp gt NL``) and everyone
else's ``Modified`` (``Modified ge`` with overlap: the keys already read at exactly the cursor value are kept
so those rows are dropped next time, and rows sharing a timestamp at a boundary are neither lost nor read
twice). Exact serialises ``Modified`` as Amsterdam wall-clock milliseconds; they are compared as sent.
"""

from __future__ import annotations

from typing import Any

from connections.transformers.dates import exact_ms, wall_clock

from .dates import EXACT_TIME_ZONE, to_exact_filter_literal

__all__ = ["MAX_SEEN", "advance", "cursor_view", "date_ms", "drop_boundary_rows", "ms_literal"]

MAX_SEEN = 10_000  # keys kept at a Modified cursor's boundary value
CURSOR_PROPERTY = {"timestamp": "Timestamp", "modified": "Modified"}


def date_ms(value: Any) -> int | None:
    """Wall-clock milliseconds of an Exact ``/Date(ms)/`` value (or ISO text), compared as Exact sent it."""
    return exact_ms(value, EXACT_TIME_ZONE)


def ms_literal(ms: int) -> str:
    """The ``datetime'…'`` literal for a value Exact serialised as ``/Date(ms)/`` (the same wall clock)."""
    return to_exact_filter_literal(wall_clock(ms))


def cursor_view(cursor: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a request transformer sees of a cursor: kind, value, the OData literal and a ready filter."""
    if not cursor or not cursor.get("value"):
        return None
    if cursor["kind"] == "timestamp":
        literal = f"{int(cursor['value'])}L"
        return {"kind": "timestamp", "value": cursor["value"], "literal": literal, "filter": f"Timestamp gt {literal}"}
    literal = ms_literal(int(cursor["value"]))
    return {"kind": "modified", "value": cursor["value"], "literal": literal, "filter": f"Modified ge {literal}",
            "iso": literal[len("datetime'"):-1]}


def drop_boundary_rows(rows: list[dict[str, Any]], applied: dict[str, Any] | None, key: str | None,
                       ) -> tuple[list[dict[str, Any]], int]:
    """Drop the rows a ``Modified ge`` read already returned last time (same key at the boundary value)."""
    if not applied or applied.get("kind") != "modified":
        return rows, 0
    seen = set(applied.get("seen_keys") or [])
    if not seen:
        return rows, 0
    boundary = int(applied["value"])
    kept = [r for r in rows if not (date_ms(r.get("Modified")) == boundary and str(r.get(key or "")) in seen)]
    return kept, len(rows) - len(kept)


def advance(candidate: dict[str, Any] | None, kind: str | None, key: str | None, endpoint: str,
            rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cursor after these rows: the highest Timestamp, or the latest Modified with its keys."""
    if kind == "timestamp":
        best = int((candidate or {}).get("value") or 0)
        for row in rows:
            ts = row.get("Timestamp")
            if ts is not None and int(ts) > best:
                best = int(ts)
        return {"kind": "timestamp", "value": str(best), "seen_keys": [], "endpoint": endpoint} if best else candidate
    if kind == "modified":
        latest = int((candidate or {}).get("value") or 0) or None
        seen = set((candidate or {}).get("seen_keys") or [])
        for row in rows:
            ms = date_ms(row.get("Modified"))
            if ms is None:
                continue
            row_key = str(row.get(key or "") or "")
            if latest is None or ms > latest:
                latest, seen = ms, {row_key}
            elif ms == latest:
                seen.add(row_key)
        if latest is None:
            return candidate
        # Bounded: beyond MAX_SEEN rows in one millisecond, the rest are read once more next time (never lost).
        return {"kind": "modified", "value": str(latest), "seen_keys": sorted(seen)[:MAX_SEEN], "endpoint": endpoint}
    return None
