"""Writing like Exact (API.md §5-§6): POST 201, PUT/DELETE 204, mandatory fields, Timestamp, sync/Deleted, lines."""

from __future__ import annotations

import requests

from sandbox.odata import format_literal


def exact_counters(exact) -> dict[str, int]:
    return requests.get(f"{exact.base}/sandbox/api/counters", headers=exact.control_headers,
                        timeout=10).json()["requests_by_method"]


def _sync_timestamp(exact, entity_id: str) -> int:
    body = exact.get(f"sync/CRM/Accounts?$select=ID,Timestamp&$filter=ID eq guid'{entity_id}'").json()["d"]
    return body["results"][0]["Timestamp"]


def test_post_returns_201_with_the_key_and_nulls_unless_representation_is_asked(exact) -> None:
    created = exact.post("crm/Accounts", {"Name": "Sandbox Test B.V.", "City": "Delft", "Code": "4711"})
    assert created.status_code == 201
    entity = created.json()["d"]
    assert entity["Name"] == "Sandbox Test B.V."
    assert entity["ID"] and entity["__metadata"]["uri"].endswith(f"crm/Accounts(guid'{entity['ID']}')")
    assert entity["Created"] is None  # not sent, so null without Prefer: return=representation
    assert entity["Code"] == "4711".rjust(18)  # account codes are right-aligned in 18 characters
    assert created.headers["Location"] == entity["__metadata"]["uri"]

    full = exact.post("crm/Accounts", {"Name": "Representation"}, headers={"Prefer": "return=representation"})
    assert full.status_code == 201
    assert full.json()["d"]["Created"].startswith("/Date(")
    assert full.json()["d"]["Division"] == exact.division


def test_mandatory_and_unknown_properties_are_refused(exact) -> None:
    missing = exact.post("crm/Accounts", {"City": "Delft"})
    assert missing.status_code == 400
    assert "Name" in missing.json()["error"]["message"]["value"]
    contact = exact.post("crm/Contacts", {"FirstName": "Anna"})
    assert contact.status_code == 400
    message = contact.json()["error"]["message"]["value"]
    assert "Account" in message and "LastName" in message
    unknown = exact.post("crm/Accounts", {"Name": "x", "Naem": "typo"})
    assert unknown.status_code == 400
    assert "Naem" in unknown.json()["error"]["message"]["value"]
    wrong_type = exact.post("crm/Contacts", {"Account": "not-a-guid", "FirstName": "a", "LastName": "b"})
    assert wrong_type.status_code == 400
    not_json = exact.session.post(exact.url("crm/Accounts"), data="{nope", timeout=10,
                                  headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400


def test_put_delete_and_the_sync_trail(exact) -> None:
    entity = exact.post("crm/Accounts", {"Name": "To change"}).json()["d"]
    key = f"crm/Accounts(guid'{entity['ID']}')"
    before = _sync_timestamp(exact, entity["ID"])

    updated = exact.put(key, {"Name": "Changed", "City": "Gent"})
    assert updated.status_code == 204
    assert updated.content == b""
    assert exact.get(f"{key}?$select=Name,City").json()["d"]["Name"] == "Changed"
    after = _sync_timestamp(exact, entity["ID"])
    assert after > before
    changed = exact.get(f"sync/CRM/Accounts?$select=ID,Name,Timestamp&$filter=Timestamp gt {before}L").json()["d"]
    assert entity["ID"] in [r["ID"] for r in changed["results"]]
    assert all(r["Timestamp"] > before for r in changed["results"])

    writes_before = exact_counters(exact)
    assert exact.delete(key).status_code == 204
    assert exact_counters(exact)["DELETE"] == writes_before.get("DELETE", 0) + 1
    assert exact.get(key).status_code == 404
    assert exact.delete(key).status_code == 404
    deleted = exact.get(
        f"sync/Deleted?$select=EntityKey,EntityType,Timestamp,DeletedDate&$filter=Timestamp gt {after}L")
    rows = deleted.json()["d"]["results"]
    assert [(r["EntityKey"], r["EntityType"]) for r in rows] == [(entity["ID"], 2)]
    assert rows[0]["DeletedDate"].startswith("/Date(")


def test_sync_pages_on_timestamp(exact) -> None:
    body = exact.get("sync/CRM/Accounts?$select=ID,Timestamp&$filter=Timestamp gt 1L").json()["d"]
    stamps = [r["Timestamp"] for r in body["results"]]
    assert stamps == sorted(stamps)
    assert len(stamps) <= 1000
    if "__next" in body:
        assert f"$skiptoken={stamps[-1]}L" in body["__next"]


def test_nested_lines_and_expand(exact) -> None:
    account = exact.post("crm/Accounts", {"Name": "Order customer"}).json()["d"]["ID"]
    item = exact.get("logistics/Items?$select=ID&$top=1").json()["d"]["results"][0]["ID"]
    order = exact.post("salesorder/SalesOrders", {
        "OrderedBy": account, "Description": "Two lines", "OrderDate": "2024-02-03T00:00:00",
        "SalesOrderLines": [{"Item": item, "Quantity": 2, "UnitPrice": 9.5}, {"Item": item, "Quantity": 1}],
    }, headers={"Prefer": "return=representation"})
    assert order.status_code == 201, order.text
    order_id = order.json()["d"]["OrderID"]
    assert order.json()["d"]["OrderDate"] == "/Date(1706918400000)/"
    expanded = exact.get(f"salesorder/SalesOrders(guid'{order_id}')?$expand=SalesOrderLines").json()["d"]
    lines = expanded["SalesOrderLines"]["results"]
    assert sorted((line["LineNumber"], line["Quantity"]) for line in lines) == [(1, 2), (2, 1)]
    assert all(line["OrderID"] == order_id for line in lines)
    navigated = exact.get(f"salesorder/SalesOrders(guid'{order_id}')/SalesOrderLines").json()["d"]["results"]
    assert len(navigated) == 2
    no_lines = exact.post("salesorder/SalesOrders", {"OrderedBy": account})
    assert no_lines.status_code == 400
    assert "SalesOrderLines" in no_lines.json()["error"]["message"]["value"]


def test_sync_timestamp_starts_a_sync_from_a_date(exact) -> None:
    before = exact.post("crm/Accounts", {"Name": "Old"}, headers={"Prefer": "return=representation"}).json()["d"]
    modified_ms = int(before["Modified"][6:-2]) + 1
    newer = exact.post("crm/Accounts", {"Name": "New"}).json()["d"]["ID"]
    exact.put(f"crm/Accounts(guid'{newer}')", {"City": "Later"})
    literal = format_literal(modified_ms + 5, "Edm.DateTime")
    response = exact.get(f"read/sync/Sync/SyncTimestamp?modified={literal}&endPoint='Accounts'")
    assert response.status_code == 200, response.text
    stamp = response.json()["d"]["results"][0]["TimeStampAsBigInt"]
    rows = exact.get(f"sync/CRM/Accounts?$select=ID&$filter=Timestamp gt {stamp}L").json()["d"]["results"]
    ids = [r["ID"] for r in rows]
    assert before["ID"] not in ids
    assert exact.get("read/sync/Sync/SyncTimestamp").status_code == 400


def test_expanded_lines_page_like_entity_sets(exact) -> None:
    account = exact.post("crm/Accounts", {"Name": "Many lines"}).json()["d"]["ID"]
    item = exact.get("logistics/Items?$select=ID&$top=1").json()["d"]["results"][0]["ID"]
    lines = [{"Item": item, "Quantity": n} for n in range(1, 76)]
    invoice = exact.post("salesinvoice/SalesInvoices", {"OrderedBy": account, "Journal": "70",
                                                        "SalesInvoiceLines": lines}).json()["d"]["InvoiceID"]
    expanded = exact.get(f"salesinvoice/SalesInvoices(guid'{invoice}')?$expand=SalesInvoiceLines").json()["d"]
    nested = expanded["SalesInvoiceLines"]
    assert len(nested["results"]) == 60
    rest = exact.get(nested["__next"]).json()["d"]
    assert len(rest["results"]) == 15 and "__next" not in rest
    quantities = sorted(r["Quantity"] for r in nested["results"] + rest["results"])
    assert quantities == list(range(1, 76))
