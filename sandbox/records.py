"""Writing entities: POST (201, nested lines, mandatory fields), PUT (204, merge), DELETE (204, sync/Deleted).

Every write gets a fresh row version (``Timestamp``) inside one IMMEDIATE transaction, and announces a
webhook event after the commit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .catalog import DELETED_ENTITY_TYPES, Endpoint, catalog
from .http import ApiError
from .oauth import DEMO_USERS, Grant
from .query import owner_of, stored_key_name
from .store import Store
from .values import coerce, exact_now_ms

__all__ = ["create", "delete", "update"]

_SERVER_FIELDS = {"Created", "Modified", "Creator", "Modifier", "CreatorFullName", "ModifierFullName", "Division"}


def _stream_error(ep: Endpoint, name: str) -> ApiError:
    return ApiError(400, f"Error processing request stream. The property '{name}' does not exist on type "
                         f"'{ep.type_name}'. Make sure to only use property names that are defined by the type.")


def _coerce_body(ep: Endpoint, body: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Split a JSON body into stored scalar values and nested collections; refuse unknown properties."""
    if not isinstance(body, dict):
        raise ApiError(400, "Error processing request stream. The request should be a valid top-level resource "
                            "object.")
    values: dict[str, Any] = {}
    nested: dict[str, list[Any]] = {}
    for raw_name, raw_value in body.items():
        if raw_name == "__metadata":
            continue
        prop = ep.property_ci(raw_name)
        if prop is None:
            raise _stream_error(ep, raw_name)
        if prop.is_navigation:
            if raw_value is None:
                continue
            if isinstance(raw_value, dict) and isinstance(raw_value.get("results"), list):
                raw_value = raw_value["results"]
            if not isinstance(raw_value, list):
                raise ApiError(400, "Error processing request stream. The request should be a valid top-level "
                                    "resource object.")
            nested[prop.name] = raw_value
            continue
        values[prop.name] = coerce(ep, prop, raw_value)
    return values, nested


def _stamp(values: dict[str, Any], ep: Endpoint, grant: Grant, division: int, *, created: bool) -> None:
    now = exact_now_ms()
    user = DEMO_USERS.get(grant.user, {})
    fields = {"Modified": now, "Modifier": user.get("UserID"), "ModifierFullName": user.get("FullName"),
              "Division": division}
    if created:
        fields |= {"Created": now, "Creator": user.get("UserID"), "CreatorFullName": user.get("FullName")}
    for name, value in fields.items():
        if name in ep.properties:
            values[name] = value


def _new_key(store: Store, db: Any, owner: Endpoint, division: int) -> Any:
    if owner.primary_key_type in {"Edm.Int32", "Edm.Int64", "Edm.Int16"}:
        row = db.execute("SELECT max(key) FROM records WHERE resource = ? AND division = ?",
                         (owner.resource, division)).fetchone()
        return int(row[0] or 0) + 1
    if owner.primary_key_type == "Edm.Guid" or owner.kind == "sync":
        return str(uuid.uuid4())
    return uuid.uuid4().hex[:12].upper()


def _pad_account_code(owner: Endpoint, values: dict[str, Any]) -> None:
    """Exact stores account codes right-aligned in 18 characters (API.md §4.3)."""
    if owner.resource == "crm/accounts" and isinstance(values.get("Code"), str) and values["Code"].strip():
        values["Code"] = values["Code"].strip().rjust(18)


def create(store: Store, ep: Endpoint, division: int, grant: Grant, body: Any) -> tuple[Any, int, dict[str, Any],
                                                                                         dict[str, Any]]:
    """Insert one record (and its nested lines); return (key, ts, stored data, the values sent)."""
    owner = owner_of(ep)
    values, nested = _coerce_body(ep, body)
    sent = dict(values)
    missing = [n for n in ep.mandatory if values.get(n) in (None, "") and n not in nested]
    missing += [n for n in ep.properties if ep.properties[n].mandatory and ep.properties[n].is_navigation
                and not nested.get(n)]
    if missing:
        raise ApiError(400, "\r\n".join(f"Mandatory field missing: {n}" for n in missing))
    _pad_account_code(owner, values)
    key_name = stored_key_name(owner)
    with store.write() as db:
        key = values.get(key_name)
        if key is None:
            key = _new_key(store, db, owner, division)
        elif db.execute("SELECT 1 FROM records WHERE resource = ? AND division = ? AND key = ?",
                        (owner.resource, division, key)).fetchone():
            raise ApiError(500, "Data already exists")
        values[key_name] = key
        _stamp(values, ep, grant, division, created=True)
        store.insert_many(owner.resource, division, [(key, values)], db=db)
        for prop_name, lines in nested.items():
            _create_lines(store, db, owner, prop_name, key, division, grant, lines)
        ts = db.execute("SELECT ts FROM records WHERE resource = ? AND division = ? AND key = ?",
                        (owner.resource, division, key)).fetchone()[0]
    return key, ts, values, sent


def _create_lines(store: Store, db: Any, owner: Endpoint, prop_name: str, parent_key: Any, division: int,
                  grant: Grant, lines: list[Any]) -> None:
    link = owner.children.get(prop_name)
    if link is None:
        return  # a complex collection the sandbox does not store separately
    child_resource, parent_field = link
    child = catalog().endpoints[child_resource]
    rows = []
    for number, line in enumerate(lines, start=1):
        values, _ = _coerce_body(child, line)
        values[parent_field] = parent_key
        if "LineNumber" in child.properties and values.get("LineNumber") is None:
            values["LineNumber"] = number
        key = values.get(child.primary_key) or str(uuid.uuid4())
        values[child.primary_key] = key
        _stamp(values, child, grant, division, created=True)
        rows.append((key, values))
    store.insert_many(child_resource, division, rows, db=db)


def update(store: Store, ep: Endpoint, division: int, grant: Grant, key: Any, body: Any) -> dict[str, Any]:
    owner = owner_of(ep)
    values, _nested = _coerce_body(ep, body)
    values.pop(stored_key_name(owner), None)
    _pad_account_code(owner, values)
    with store.write() as db:
        row = db.execute("SELECT data FROM records WHERE resource = ? AND division = ? AND key = ?",
                         (owner.resource, division, key)).fetchone()
        if row is None:
            raise ApiError(404, "Record not found.")
        data = json.loads(row["data"])
        data.update({k: v for k, v in values.items() if k not in _SERVER_FIELDS})
        _stamp(data, ep, grant, division, created=False)
        ts = store.next_ts(db)
        db.execute("UPDATE records SET data = ?, ts = ? WHERE resource = ? AND division = ? AND key = ?",
                   (json.dumps(data, separators=(",", ":")), ts, owner.resource, division, key))
    return data


def delete(store: Store, ep: Endpoint, division: int, grant: Grant, key: Any) -> None:
    owner = owner_of(ep)
    user = DEMO_USERS.get(grant.user, {})
    with store.write() as db:
        gone = db.execute("DELETE FROM records WHERE resource = ? AND division = ? AND key = ? RETURNING key",
                          (owner.resource, division, key)).fetchone()
        if gone is None:
            raise ApiError(404, "Record not found.")
        for child_resource, parent_field in owner.children.values():
            db.execute(f"DELETE FROM records WHERE resource = ? AND division = ? "  # noqa: S608
                       f"AND json_extract(data, '$.{parent_field}') = ?", (child_resource, division, key))
        entity_type = DELETED_ENTITY_TYPES.get(owner.name)
        if entity_type is not None:
            deleted_id = str(uuid.uuid4())
            store.insert_many("sync/deleted", division, [(deleted_id, {
                "ID": deleted_id, "EntityKey": key, "EntityType": entity_type, "DeletedBy": user.get("UserID"),
                "DeletedDate": exact_now_ms(), "Division": division,
            })], db=db)
