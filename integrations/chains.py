"""The transformer chains of the shipped webshop ↔ Exact Online integrations (plain JSON, no Django).

Lookups name the Exact HTTP client by id; the seed passes the one it created.
"""

from __future__ import annotations

from typing import Any

__all__ = ["customer_to_account", "item_to_product", "order_to_sales_order"]


def customer_to_account() -> list[dict[str, Any]]:
    """A shop customer -> the payload of an Exact Account (upserted by Email), skipped when unchanged."""
    return [
        {"type": "expression", "note": "name: the company, else the person", "params": {
            "expression": "{payload: {Name: (company || join(' ', [first_name, last_name])), Email: email, "
                          "Phone: phone, AddressLine1: address.line1, Postcode: address.postcode, "
                          "City: address.city, Country: address.country, Status: 'C'}}"}},
        {"type": "skip_unchanged", "params": {"store": "webshop-customers-to-exact", "key": "&{payload.Email}",
                                              "record": "deferred"}},
    ]


def order_to_sales_order(exact_client: int) -> list[dict[str, Any]]:
    """A shop order -> an Exact SalesOrder with its lines: the Account by e-mail, each Item by its code.

    The lookups go through the Exact client, in its default division (the one the orders are written to).
    An order whose customer the customers route has not made yet waits (retried with the route's backoff,
    up to its attempts) instead of failing; so does one whose lookup found Exact unreachable.
    """
    return [
        {"type": "http_lookup", "note": "the customer's Exact Account (made by the customers route)", "params": {
            "http_client": exact_client, "path": "crm/Accounts",
            "query": {"$filter": "Email eq '&{customer.email}'", "$select": "ID", "$top": "1"},
            "result": "d.results[0].ID", "target": "account_id", "when_missing": "wait"}},
        {"type": "split", "note": "one branch per order line", "params": {
            "path": "lines", "parent_fields": {"order_number": "number", "account_id": "account_id"}}},
        {"type": "http_lookup", "note": "the line's Exact Item by code (= the shop's SKU)", "params": {
            "http_client": exact_client, "path": "logistics/Items",
            "query": {"$filter": "Code eq '&{sku}'", "$select": "ID", "$top": "1"},
            "result": "d.results[0].ID", "target": "item_id", "when_missing": "fail"}},
        {"type": "merge", "note": "the lines back into one order", "params": {
            "group_by": "order_number", "mode": "collect", "into": "lines"}},
        {"type": "expression", "params": {
            "expression": "{payload: {OrderedBy: lines[0].account_id, YourRef: order_number, "
                          "Description: join('', ['Webshop order ', order_number]), "
                          "SalesOrderLines: lines[].{Item: item_id, Quantity: quantity, UnitPrice: unit_price, "
                          "Description: name}}}"}},
        {"type": "skip_unchanged", "params": {"store": "webshop-orders-to-exact", "key": "&{payload.YourRef}",
                                              "record": "deferred"}},
    ]


def item_to_product() -> list[dict[str, Any]]:
    """An Exact Item -> the shop product with that SKU: price and stock only, skipped when unchanged."""
    return [
        {"type": "expression", "params": {
            "expression": "{path: {sku: Code}, payload: {price: StandardSalesPrice, stock: Stock}}"}},
        {"type": "skip_unchanged", "params": {"store": "exact-items-to-webshop", "key": "&{path.sku}",
                                              "record": "deferred"}},
    ]
