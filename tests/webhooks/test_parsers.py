"""Parsers: JSON with a JMESPath to the items, CSV with delimiter/quote/header, XML read with defusedxml."""

from __future__ import annotations

import pytest

from webhooks.parsers import ParseError, parse_items


def test_json_items_at_a_jmespath():
    body = b'{"data": {"orders": [{"id": 1}, {"id": 2}]}}'
    assert parse_items("json", {"items_path": "data.orders"}, body) == [{"id": 1}, {"id": 2}]
    assert parse_items("json", {"items_path": "data.orders[?id > `1`]"}, body) == [{"id": 2}]
    assert parse_items("json", {}, b'{"id": 7}') == [{"id": 7}]  # one object is one item
    assert parse_items("json", {}, b'[{"id": 1}, {"id": 2}]') == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize(("body", "config", "message"), [
    (b"{not json", {}, "Not valid JSON"),
    (b'{"a": 1}', {"items_path": "orders"}, "found nothing"),
    (b"\xff\xfe", {}, "not utf-8"),
])
def test_json_errors_say_what_is_wrong(body, config, message):
    with pytest.raises(ParseError, match=message):
        parse_items("json", config, body)


def test_csv_with_header_delimiter_and_quotes():
    body = b'id;name;note\n1;"Smith; J.";"said ""hi"""\n2;Doe;\n'
    assert parse_items("csv", {"delimiter": ";"}, body) == [
        {"id": "1", "name": "Smith; J.", "note": 'said "hi"'}, {"id": "2", "name": "Doe", "note": ""}]
    assert parse_items("csv", {"header": False}, b"a,b\n") == [{"column_1": "a", "column_2": "b"}]


def test_csv_with_a_short_line_fails_with_its_number():
    with pytest.raises(ParseError, match="line 3"):
        parse_items("csv", {}, b"id,name\n1,a\n2\n")


def test_xml_items():
    body = b'<feed><order id="1"><sku>A</sku><sku>B</sku></order><order id="2"><sku>C</sku></order></feed>'
    assert parse_items("xml", {"item_tag": "order"}, body) == [
        {"@id": "1", "sku": ["A", "B"]}, {"@id": "2", "sku": "C"}]
    assert parse_items("xml", {}, b"<r><a>1</a><b>2</b></r>") == ["1", "2"]


def test_xml_entity_expansion_is_refused():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
    with pytest.raises(ParseError, match="unsafe XML"):
        parse_items("xml", {}, bomb)
    external = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(ParseError, match="unsafe XML"):
        parse_items("xml", {}, external)


def test_broken_xml():
    with pytest.raises(ParseError, match="Not valid XML"):
        parse_items("xml", {}, b"<r><a></r>")
