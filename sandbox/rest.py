"""REST like Exact's (API.md §3-§8): ``/api/v1/current/Me``, divisions and every catalog entity at its URI.

Order of checks for one call: bearer token (401) -> error budget (429, opt-in) -> division granted (403
WrongDivision) -> rate limit (429) -> method allowed -> the operation. Rate-limit headers go on every answer
after the limit check.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings

from .catalog import Endpoint, catalog
from .http import ApiError, Request, Response, json_response
from .limits import limiter
from .oauth import DEMO_USERS, Grant, authenticate
from .odata import ODataError, evaluate, parse_filter, parse_literal_list, rename_fields
from .query import (
    Columns,
    entity_uri,
    key_literal,
    list_entities,
    owner_of,
    parse_key,
    parse_select,
    render_row,
    render_rows,
    stored_key_name,
)
from .records import create, delete, update
from .store import get_store
from .values import exact_now, utc_offset_seconds
from .webhooks import SUBSCRIPTIONS, publish, send_validation

__all__ = ["handle_api"]

_KEYED = re.compile(r"^(?P<name>[^()]+)\((?P<key>.*)\)$")
DIVISION_ENDPOINTS = {"system/divisions", "hrm/divisions", "system/alldivisions"}
ERROR_STATUSES = {400, 401, 403, 404}


def handle_api(request: Request) -> Response:
    segments = [s for s in request.path[len("/api/v1/"):].split("/") if s]
    if segments and segments[0].lower() == "beta":
        segments = segments[1:]
    if not segments:
        raise ApiError(404, "Not found.")
    division_guess = int(segments[0]) if segments[0].isdigit() else 0
    endpoint = "/".join(s.split("(")[0] for s in segments[1 if division_guess else 0:]).lower()
    try:
        grant = authenticate(request)
    except ApiError:
        if request.client_id:
            limiter.record_error((request.client_id, division_guess, endpoint))
        raise
    error_key = (grant.client_id, division_guess, endpoint)
    if limiter.error_blocked(error_key):
        raise ApiError(429, "API rate limit exceeded: too many errors on this endpoint in the last hour.",
                       reason="ErrorLimitExceeded")
    try:
        return _handle(request, grant, segments)
    except ApiError as exc:
        if exc.status in ERROR_STATUSES:
            limiter.record_error(error_key)
        raise


def _handle(request: Request, grant: Grant, segments: list[str]) -> Response:
    wants_json = "json" in request.headers.get("accept", "") or (request.option("$format") or "").lower() == "json"
    if getattr(settings, "SANDBOX_STRICT_ACCEPT", False) and not wants_json:
        # Exact answers Atom XML unless asked for JSON; a client that forgets the header would choke on it.
        raise ApiError(406, "The sandbox answers JSON only: send Accept: application/json "
                            "(Exact answers Atom XML without it).")
    if segments[0].lower() == "current" and len(segments) >= 2 and segments[1].split("(")[0].lower() == "me":
        request.division = grant.current_division
        return _limited(request, grant, grant.current_division, lambda: _me(request, grant))
    if segments[0].lower() == "system" and len(segments) >= 2 and segments[1].split("(")[0].lower() == "users":
        segments = [str(grant.current_division), *segments]
    if not segments[0].isdigit():
        raise ApiError(404, "Not found.")
    division = int(segments[0])
    request.division = division
    store = get_store()
    if division not in grant.divisions or division not in store.division_codes():
        raise ApiError(403, "Forbidden - WrongDivision", reason="WrongDivision")
    return _limited(request, grant, division, lambda: _entity(request, grant, division, segments[1:]))


def _limited(request: Request, grant: Grant, division: int, call: Any) -> Response:
    decision = limiter.check(grant.client_id, division)
    if not decision.allowed:
        return Response(429, b"", decision.headers)
    try:
        response = call()
    except ApiError as exc:
        exc.headers.extend(decision.headers)
        raise
    response.headers.extend(decision.headers)
    return response


def _me(request: Request, grant: Grant) -> Response:
    user = DEMO_USERS.get(grant.user, {})
    ep = catalog().get("current/Me")
    assert ep is not None
    record = {
        **user, "UserName": grant.user, "CurrentDivision": grant.current_division,
        "AccountingDivision": grant.current_division, "DivisionCustomer": "7a1f0d3e-0000-4000-8000-00000000c001",
        "DivisionCustomerCode": "1", "DivisionCustomerName": "Demo Administratie B.V.", "Language": "NL",
        "LanguageCode": "nl-NL", "Legislation": 1, "Initials": "D.", "IsClientUser": False,
        "ServerTime": exact_now().isoformat(timespec="milliseconds"), "ServerUtcOffset": utc_offset_seconds(),
        "PackageCode": "SANDBOX",
    }
    select = parse_select(request, Columns(ep))
    names = select or [n for n, p in ep.properties.items() if not p.is_navigation]
    row: dict[str, Any] = {"__metadata": {"uri": f"{request.host_url}/api/v1/current/Me(guid'{user.get('UserID')}')",
                          "type": "Exact.Web.Api.Models.System.Me"}}
    row |= {name: record.get(name) for name in names}
    return json_response({"d": {"results": [row]}})


def _split(rest: list[str]) -> tuple[str, str | None, str | None, bool]:
    """[crm, Accounts(guid'…'), BankAccounts] -> ("crm/Accounts", "guid'…'", "BankAccounts", count?)."""
    count = bool(rest) and rest[-1] == "$count"
    if count:
        rest = rest[:-1]
    nav = None
    key = None
    if len(rest) >= 2 and _KEYED.match(rest[-2]) and not _KEYED.match(rest[-1]):
        nav = rest[-1]
        rest = rest[:-1]
    if rest:
        match = _KEYED.match(rest[-1])
        if match:
            key = match.group("key")
            rest = [*rest[:-1], match.group("name")]
    return "/".join(rest), key, nav, count


def _entity(request: Request, grant: Grant, division: int, rest: list[str]) -> Response:
    path, key_text, nav, count = _split(rest)
    ep = catalog().get(path)
    if ep is None:
        raise ApiError(404, f"Resource not found for the segment '{path.split('/')[-1] if path else ''}'.")
    scope = ep.scope or owner_of(ep).scope
    if not grant.allows(scope):
        verb = "read" if request.method == "GET" else "write"
        raise ApiError(403, f"Forbidden - Application Scope Violated. Cannot {verb}", reason="ScopeViolated")
    if request.method not in ep.methods:
        raise ApiError(405, f"The HTTP method '{request.method}' is not allowed on '{ep.endpoint}'.")
    if ep.endpoint.lower() in DIVISION_ENDPOINTS:
        return _divisions(request, grant, ep)
    if ep.endpoint.lower() == "read/sync/sync/synctimestamp":
        return _sync_timestamp(request, division, ep)
    store = get_store()
    owner = owner_of(ep)
    if request.method == "GET":
        return _get(request, grant, division, ep, owner, key_text, nav, count)
    if request.method == "POST":
        if key_text is not None:
            raise ApiError(405, "POST is not allowed on a single entity.")
        return _post(request, grant, division, ep, owner)
    if key_text is None:
        raise ApiError(405, f"{request.method} needs a key: {ep.endpoint}(guid'…').")
    key = parse_key(owner, key_text)
    if request.method == "PUT":
        update(store, ep, division, grant, key, _body(request))
        publish(store, request.host_url, division, owner, "Update", key_literal(owner, key), key)
        return Response(204)
    delete(store, ep, division, grant, key)
    publish(store, request.host_url, division, owner, "Delete", key_literal(owner, key), key)
    return Response(204)


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Error processing request stream. The request should be a valid top-level resource "
                            "object.") from exc


def _get(request: Request, grant: Grant, division: int, ep: Endpoint, owner: Endpoint, key_text: str | None,
         nav: str | None, count: bool) -> Response:
    store = get_store()
    extra_where, extra_params = "", []
    if owner.resource == SUBSCRIPTIONS:  # an app sees its own subscriptions only
        extra_where, extra_params = " AND json_extract(data, '$.ClientID') = ?", [grant.client_id]
    if key_text is None:
        if (getattr(settings, "SANDBOX_MANDATORY_FILTER", False) and ep.kind != "sync" and nav is None
                and not (request.option("$filter") or "").strip() and _has_sync_twin(owner)):
            # July 2021: standard and bulk endpoints with a sync twin must be filtered (FIELD-NOTES C4).
            raise ApiError(400, "A GET request for this endpoint must have a $filter parameter.")
        if count:
            listing = list_entities(store, ep, division, _count_request(request), extra_where=extra_where,
                                    extra_params=extra_params)
            return Response(200, str(listing.count or 0), content_type="text/plain;charset=utf-8")
        listing = list_entities(store, ep, division, request, extra_where=extra_where, extra_params=extra_params)
        body: dict[str, Any] = {"results": listing.rows}
        if listing.count is not None:
            body["__count"] = str(listing.count)
        if listing.next_url:
            body["__next"] = listing.next_url
        return json_response({"d": body})
    key = parse_key(owner, key_text)
    found = store.get(owner.resource, division, key)
    if found is None or (extra_where and found[1].get("ClientID") != grant.client_id):
        raise ApiError(404, "Record not found.")
    ts, data = found
    if nav is not None:
        prop = owner.property_ci(nav)
        if prop is None or prop.name not in owner.children:
            raise ApiError(404, f"Resource not found for the segment '{nav}'.")
        child_resource, parent_field = owner.children[prop.name]
        child = catalog().endpoints[child_resource]
        listing = list_entities(store, child, division, request,
                                extra_where=f" AND json_extract(data, '$.{parent_field}') = ?", extra_params=[key])
        nav_body: dict[str, Any] = {"results": listing.rows}
        if listing.next_url:
            nav_body["__next"] = listing.next_url
        return json_response({"d": nav_body})
    select = parse_select(request, Columns(ep))
    expand = [n.strip() for n in (request.option("$expand") or "").split(",") if n.strip()]
    row = {"key": key, "ts": ts, "data": json.dumps(data)}
    item = render_rows(store, ep, division, request.host_url, [row], select, expand)[0]
    return json_response({"d": item})


def _count_request(request: Request) -> Request:
    request.query_items = [(k, v) for k, v in request.query_items if k.lower() != "$inlinecount"]
    request.query_items.append(("$inlinecount", "allpages"))
    request.query_items.append(("$top", "1"))
    return request


def _post(request: Request, grant: Grant, division: int, ep: Endpoint, owner: Endpoint) -> Response:
    store = get_store()
    body = _body(request)
    if owner.resource == SUBSCRIPTIONS:
        body = _subscription_body(store, grant, division, ep, body)
    key, ts, data, sent = create(store, ep, division, grant, body)
    if owner.resource == SUBSCRIPTIONS:
        send_validation(str(data.get("CallbackURL")), grant.client_id)
    publish(store, request.host_url, division, owner, "Create", key_literal(owner, key), key)
    prefer = request.headers.get("prefer", "").lower()
    # Exact: without the Prefer header only the values sent (and the key) come back, the rest null.
    shown = data if "return=representation" in prefer else {**{k: data.get(k) for k in sent},
                                                             stored_key_name(owner): key}
    item = render_row(ep, division, request.host_url, key, ts, shown, None)
    return json_response({"d": item}, 201, [("Location", entity_uri(request.host_url, division, ep, key, ts))])


def _subscription_body(store: Any, grant: Grant, division: int, ep: Endpoint, body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    topic = str(body.get("Topic") or "")
    callback = str(body.get("CallbackURL") or body.get("CallbackUrl") or "")
    if not topic or not callback:
        raise ApiError(400, "Mandatory field missing: " + ("Topic" if not topic else "CallbackURL"))
    if topic.lower() not in catalog().topics():
        raise ApiError(400, f"Invalid topic: {topic}")
    for row in store.select("SELECT data FROM records WHERE resource = ? AND division = ?", [SUBSCRIPTIONS, division]):
        sub = json.loads(row["data"])
        if (sub.get("ClientID") == grant.client_id and str(sub.get("Topic", "")).lower() == topic.lower()
                and sub.get("CallbackURL") == callback):
            raise ApiError(500, "Data already exists")
    body = {k: v for k, v in body.items() if k.lower() != "callbackurl"}
    user = DEMO_USERS.get(grant.user, {})
    return {**body, "CallbackURL": callback, "ClientID": grant.client_id, "UserID": user.get("UserID"),
            "Division": division}


def _divisions(request: Request, grant: Grant, ep: Endpoint) -> Response:
    store = get_store()
    rows = store.divisions()
    if ep.endpoint.lower() != "system/alldivisions":
        rows = [r for r in rows if r["Code"] in grant.divisions]
    cols = Columns(ep)
    raw = request.option("$filter")
    if raw:
        try:
            ast = rename_fields(parse_filter(raw), lambda n: cols.canonical(n) or n)
        except ODataError as exc:
            raise ApiError(400, f"Bad Request - Error in query syntax. {exc}") from exc
        rows = [r for r in rows if evaluate(ast, r)]
    select = parse_select(request, cols)
    results = [render_row(ep, r["Code"], request.host_url, r["Code"], 0, r, select) for r in rows]
    for item, r in zip(results, rows, strict=True):
        item["__metadata"]["uri"] = f"{request.host_url}/api/v1/{request.division}/{ep.endpoint}({r['Code']})"
    return json_response({"d": {"results": results}})


def _sync_timestamp(request: Request, division: int, ep: Endpoint) -> Response:
    """``read/sync/Sync/SyncTimestamp?modified=datetime'…'&endPoint='Accounts'``: where to start a sync from a date.

    The sandbox's reading (Exact documents no more than the fields): ``TimeStampAsBigInt`` is the highest row
    version of the endpoint's records modified before the date, so ``Timestamp gt <it>`` returns the rest.
    """
    modified_text = request.option("modified") or ""
    api_text = (request.option("endPoint") or "").strip().strip("'")
    try:
        values = parse_literal_list(modified_text)
        modified = int(values[0])
    except (ODataError, IndexError, TypeError, ValueError) as exc:
        raise ApiError(400, "Please provide the query options modified=datetime'…' and endPoint='…'.") from exc
    target = next((e for e in catalog().endpoints.values() if e.kind == "sync"
                   and e.name.lower() == api_text.split("/")[-1].lower()), None)
    if target is None:
        raise ApiError(400, f"Unknown sync API '{api_text}'.")
    store = get_store()
    row = store.db.execute(
        "SELECT max(ts) FROM records WHERE resource = ? AND division = ? AND json_extract(data, '$.Modified') < ?",
        (target.resource, division, modified)).fetchone()
    stamp = int(row[0] or 1)
    item = {"__metadata": {"uri": f"{request.host_url}/api/v1/{division}/{ep.endpoint}", "type": ep.type_name},
            "Modified": f"/Date({modified})/", "API": target.name, "TimeStampAsBigInt": stamp}
    return json_response({"d": {"results": [item]}})


def _has_sync_twin(owner: Endpoint) -> bool:
    return any(e.kind == "sync" and e.resource == owner.resource for e in catalog().endpoints.values())
