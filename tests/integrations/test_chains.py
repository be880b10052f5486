"""The shipped integrations' chains on the pure transformer engine (lookups answered by a fake provider)."""

from __future__ import annotations

from typing import Any

import pytest

from connections.transformers import Context, ServiceError, TransformError, run_chain
from connections.transformers.services import InMemoryStorage
from integrations.chains import customer_to_account, item_to_product, order_to_sales_order

ORDER = {"id": 7, "number": "1007", "status": "paid", "customer": {"email": "info3@example.invalid"},
         "lines": [{"sku": "ART00001", "quantity": 2, "unit_price": 10.5, "name": "Stoel"},
                   {"sku": "ART00002", "quantity": 1, "unit_price": 3.0, "name": "Lamp"}]}


def exact_lookup(calls: list[dict[str, Any]]) -> Any:
    def lookup(client: Any, request: dict[str, Any]) -> Any:
        calls.append(request)
        text = request["query"]["$filter"]
        if "Email eq 'info3@example.invalid'" in text:
            return {"d": {"results": [{"ID": "acc-3"}]}}
        if "Code eq 'ART0000" in text:
            return {"d": {"results": [{"ID": "item-" + text[-2]}]}}
        return {"d": {"results": []}}

    return lookup


def test_an_order_becomes_one_sales_order_with_its_lines_by_item_code():
    calls: list[dict[str, Any]] = []
    result = run_chain(order_to_sales_order(1), ORDER,
                       Context(storage=InMemoryStorage(), lookup=exact_lookup(calls)), trace=False)
    assert len(result.entities) == 1
    assert result.entities[0]["payload"] == {
        "OrderedBy": "acc-3", "YourRef": "1007", "Description": "Webshop order 1007",
        "SalesOrderLines": [{"Item": "item-1", "Quantity": 2, "UnitPrice": 10.5, "Description": "Stoel"},
                            {"Item": "item-2", "Quantity": 1, "UnitPrice": 3.0, "Description": "Lamp"}]}
    assert [c["path"] for c in calls] == ["crm/Accounts", "logistics/Items", "logistics/Items"]
    assert result.deferred  # remembered only once published


def test_an_order_of_a_customer_not_in_exact_yet_waits_with_the_reason():
    unknown = {**ORDER, "customer": {"email": "new@shop.example.invalid"}}
    with pytest.raises(TransformError, match="found nothing yet: waiting") as info:
        run_chain(order_to_sales_order(1), unknown,
                  Context(storage=InMemoryStorage(), lookup=exact_lookup([])), trace=False)
    assert info.value.retryable  # the customers route may not have made the account yet


def test_an_order_whose_lookup_found_exact_unreachable_waits_and_an_unknown_item_fails():
    def down(client: Any, request: dict[str, Any]) -> Any:
        raise ServiceError("HTTP lookup GET crm/Accounts: Exact Online could not be reached", retryable=True)

    with pytest.raises(TransformError, match="could not be reached") as info:
        run_chain(order_to_sales_order(1), ORDER, Context(storage=InMemoryStorage(), lookup=down), trace=False)
    assert info.value.retryable
    no_item = {**ORDER, "lines": [{"sku": "NOPE", "quantity": 1, "unit_price": 1.0, "name": "x"}]}
    with pytest.raises(TransformError, match="found nothing") as info:
        run_chain(order_to_sales_order(1), no_item, Context(storage=InMemoryStorage(), lookup=exact_lookup([])),
                  trace=False)
    assert not info.value.retryable


def test_a_customer_becomes_an_account_payload_named_after_the_company_or_the_person():
    person = {"id": 3, "email": "a@b.invalid", "first_name": "Anna", "last_name": "Smit", "company": "",
              "phone": "06", "address": {"line1": "Dorpsstraat 1", "postcode": "1234 AB", "city": "Delft",
                                         "country": "NL"}}
    payload = run_chain(customer_to_account(), person, Context(storage=InMemoryStorage()),
                        trace=False).entities[0]["payload"]
    assert payload["Name"] == "Anna Smit" and payload["Email"] == "a@b.invalid" and payload["City"] == "Delft"
    company = run_chain(customer_to_account(), {**person, "company": "Smit B.V."},
                        Context(storage=InMemoryStorage()), trace=False).entities[0]["payload"]
    assert company["Name"] == "Smit B.V."


def test_an_item_becomes_a_price_and_stock_update_of_the_product_with_that_sku():
    item = {"Code": "ART00004", "StandardSalesPrice": 19.95, "Stock": 37.0, "Description": "x"}
    entity = run_chain(item_to_product(), item, Context(storage=InMemoryStorage()), trace=False).entities[0]
    assert entity == {"path": {"sku": "ART00004"}, "payload": {"price": 19.95, "stock": 37.0}}
