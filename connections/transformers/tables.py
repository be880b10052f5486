"""Value-mapper tables: rows of ``from`` → ``to``, written as CSV in the editor and refused with duplicates."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

__all__ = ["mapping_key", "table_from_csv", "table_to_csv"]

_HEADERS = {("from", "to"), ("van", "naar"), ("key", "value"), ("source", "target")}


def mapping_key(value: Any, *, case_sensitive: bool = True) -> str | None:
    """The lookup key of a value: text as is, numbers/booleans/null as JSON text; objects and lists have none."""
    if isinstance(value, str):
        key = value
    elif value is None or isinstance(value, bool | int | float):
        key = json.dumps(value)
    else:
        return None
    return key if case_sensitive else key.casefold()


def table_from_csv(text: str) -> list[dict[str, Any]]:
    """Rows from CSV (comma or semicolon, optional header). Raises ``ValueError`` naming a duplicate key's rows."""
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        if not record or all(not cell.strip() for cell in record):
            continue
        if number == 1 and tuple(cell.strip().lower() for cell in record[:2]) in _HEADERS:
            continue
        if len(record) < 2:
            raise ValueError(f"line {number}: expected two columns (from, to), found {len(record)}")
        if len(record) > 2:
            raise ValueError(f"line {number}: expected two columns (from, to), found {len(record)}")
        key, value = record[0], record[1]
        if key in seen:
            raise ValueError(f"line {number}: duplicate key '{key}' (first on line {seen[key]})")
        seen[key] = number
        rows.append({"from": key, "to": value})
    return rows


def table_to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from", "to"])
    for row in rows:
        value = row.get("to")
        writer.writerow([row.get("from", ""), value if isinstance(value, str) else json.dumps(value)])
    return out.getvalue()
