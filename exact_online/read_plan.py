"""Where an Exact read goes (``plan``), spending as little quota as possible.

- Reads go to the entity's **sync** counterpart whenever it carries the selected fields (1,000 rows per call
  instead of 60, and a ``Timestamp gt NL`` cursor, so a full read also leaves the cursor an incremental read
  goes on from); full reads go to **bulk** where no sync endpoint carries them;
  other entities use a ``Modified ge`` cursor with overlap (``cursors.py``). A user can pin the endpoint.
- ``$select`` is always sent: the chosen properties, or every scalar property of the endpoint called, plus
  what the cursor and the task identifier need. Never ``*``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from connections.subscribers import ReadError, RequestHook

from .catalog import Entity
from .cursors import CURSOR_PROPERTY, cursor_view
from .odata_filter import FilterError, validate_filter

__all__ = ["ReadPlan", "build_plan", "choose_target", "counterpart", "split_select"]


@dataclass
class ReadPlan:
    """Where one division's read goes and with which parameters."""

    entity: Entity
    path: dict[str, Any]
    params: dict[str, str]
    cursor_kind: str | None
    cursor_applied: dict[str, Any] | None
    key: str | None
    reason: str
    ordered: bool = False
    notes: list[str] = field(default_factory=list)


def split_select(value: str | list[str] | None) -> list[str]:
    """The properties of a ``$select`` (text or list), trimmed."""
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [item.strip() for item in items if item and item.strip()]


def counterpart(entity: Entity, kind: str) -> Entity | None:
    """The entity's standard, bulk or sync endpoint (None when Exact has none)."""
    return {"standard": entity.standard_counterpart, "bulk": entity.bulk_counterpart,
            "sync": entity.sync_counterpart}.get(kind)


def needed_properties(entity: Entity, query: dict[str, Any]) -> list[str]:
    """What a counterpart must carry to serve this read: the selected, filtered and ordered properties."""
    needed = split_select(query.get("$select"))
    # A bad filter is refused by the form; a stored one fails at Exact with Exact's own message.
    with contextlib.suppress(FilterError):
        needed += validate_filter(str(query.get("$filter") or ""),
                                  lambda n: t.type if (t := entity.get_property(n)) else None)
    needed += [part.split()[0] for part in str(query.get("$orderby") or "").split(",") if part.strip()]
    return needed


def choose_target(entity: Entity, mode: str, query: dict[str, Any], *, incremental: bool) -> tuple[Entity, str]:
    """The endpoint to call and why (for the run log and the form)."""
    if mode != "auto":
        target = counterpart(entity, mode)
        if target is None:
            raise ReadError(f"{entity.name} has no {mode} endpoint.", permanent=True)
        return target, f"pinned to the {mode} endpoint"
    chosen = needed_properties(entity, query)
    bulk, sync = entity.bulk_counterpart, entity.sync_counterpart
    if incremental:
        if sync is not None and sync.carries(chosen):
            return sync, "incremental read: sync endpoint with a Timestamp cursor (1,000 rows per call)"
        return entity, "incremental read: no sync endpoint carries the selected fields"
    # A full read through sync costs the same calls as bulk and leaves a Timestamp cursor behind: turning the
    # Incoming incremental later reads only what changed since, instead of everything once more.
    if sync is not None and sync.carries(chosen):
        return sync, "full read: sync endpoint (1,000 rows per call; leaves a Timestamp cursor for incremental reads)"
    if bulk is not None and bulk.carries(chosen):
        why = "no sync endpoint" if sync is None else "the sync endpoint does not carry the selected fields"
        return bulk, f"full read: bulk endpoint (1,000 rows per call; {why})"
    return entity, "no bulk or sync endpoint carries the selected fields"


def build_plan(target: Entity, reason: str, *, division: int | None, path: dict[str, Any],
               query: dict[str, Any], incremental: bool, webhook_fed: bool,
               cursor: dict[str, Any] | None = None, request_hook: RequestHook | None = None) -> ReadPlan:
    """The request for one division: ``$select`` completed, the cursor's filter added, the hook applied."""
    query = {k: str(v) for k, v in query.items() if v not in (None, "")}
    select = [target.canonical(s) for s in split_select(query.get("$select"))] or target.default_select
    key = target.record_key
    if target.name == "Deleted" and target.has_property("EntityKey"):
        key = "EntityKey"
    cursor_kind: str | None = None
    if target.kind == "sync" and target.has_property("Timestamp"):
        cursor_kind = "timestamp"
    elif target.has_property("Modified"):
        cursor_kind = "modified"
    needed = [n for n in (key, CURSOR_PROPERTY.get(cursor_kind or "")) if n]
    if webhook_fed and target.has_property("Modified"):
        needed.append("Modified")  # the version a webhook delivered: reconciliation skips it
    for name in needed:
        if name not in select:
            select.append(name)
    query["$select"] = ",".join(select)
    notes: list[str] = []
    if cursor and cursor.get("kind") != cursor_kind:
        notes.append(f"stored cursor is a {cursor.get('kind')} cursor but {target.endpoint} needs "
                     f"{cursor_kind or 'none'}: reading everything")
        cursor = None
    path = {k: v for k, v in path.items() if k != "division"}
    path["division"] = division
    if request_hook is not None:
        changed = request_hook({"path": dict(path), "query": dict(query), "cursor": cursor_view(cursor)})
        path = dict(changed.get("path") or path)
        query = {k: str(v) for k, v in (changed.get("query") or {}).items() if v not in (None, "")}
    applied = None
    if incremental and cursor_kind is not None:
        view = cursor_view(cursor)
        if view is not None:
            applied = cursor
            query["$filter"] = f"({query['$filter']}) and {view['filter']}" if query.get("$filter") else view["filter"]
        elif cursor_kind == "timestamp":
            query["$filter"] = f"({query['$filter']}) and Timestamp gt 1L" if query.get("$filter") \
                else "Timestamp gt 1L"
    ordered = cursor_kind == "timestamp" and not query.get("$orderby")
    return ReadPlan(entity=target, path=path, params=query, cursor_kind=cursor_kind, cursor_applied=applied,
                    key=key, reason=reason, ordered=ordered, notes=notes)
