"""Turning a delivery's raw body into items: JSON (+ a JMESPath to the items), CSV, XML (defusedxml).

Pure functions over bytes; a body that does not parse raises ``ParseError`` with a message for the page.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import jmespath
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CONTENT_TYPES", "ParseError", "ParserConfig", "check_jmespath", "content_type_allowed", "parse_items",
           "pick"]

# Content types each parser accepts (a missing or other type is answered 415).
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "json": ("application/json", "text/json", "application/*+json"),
    "csv": ("text/csv", "text/plain", "application/csv"),
    "xml": ("application/xml", "text/xml", "application/*+xml"),
}


class ParseError(Exception):
    """The body could not be read with the hook's parser; the delivery keeps it and can be replayed."""


class ParserConfig(BaseModel):
    """Settings of all three parsers (unused ones are ignored)."""

    model_config = ConfigDict(extra="ignore")

    items_path: str = Field("", description="JSON: JMESPath to the list of items; empty = the whole body.")
    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    item_tag: str = Field("", description="XML: the element name of one item; empty = the root's children.")
    encoding: str = "utf-8"


def check_jmespath(expression: str) -> str:
    """A compiled-check of a JMESPath expression; returns the error text or ''."""
    if not expression.strip():
        return ""
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        return str(exc).strip().splitlines()[0]
    return ""


def pick(expression: str, value: Any) -> Any:
    return jmespath.search(expression, value)


def content_type_allowed(parser: str, content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    for allowed in CONTENT_TYPES.get(parser, ()):
        if allowed == media or (allowed.startswith("application/*+") and media.endswith(allowed[13:])
                                and media.startswith("application/")):
            return True
    return False


def _text(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding or "utf-8").lstrip("\ufeff")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ParseError(f"The body is not {encoding or 'utf-8'} text: {exc}") from None


def _json_items(body: bytes, config: ParserConfig) -> list[Any]:
    try:
        value = json.loads(_text(body, config.encoding))
    except ValueError as exc:
        raise ParseError(f"Not valid JSON: {exc}") from None
    if config.items_path.strip():
        try:
            value = jmespath.search(config.items_path, value)
        except JMESPathError as exc:
            raise ParseError(f"The items path {config.items_path!r} is not valid JMESPath: {exc}") from None
        if value is None:
            raise ParseError(f"The items path {config.items_path!r} found nothing in the body.")
    return value if isinstance(value, list) else [value]


def _csv_items(body: bytes, config: ParserConfig) -> list[Any]:
    text = _text(body, config.encoding)
    if len(config.delimiter) != 1 or len(config.quotechar) != 1:
        raise ParseError("The CSV delimiter and quote character must be one character each.")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=config.delimiter, quotechar=config.quotechar,
                            strict=True)
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise ParseError(f"Not valid CSV: {exc}") from None
    if not config.header:
        return [{f"column_{i + 1}": v for i, v in enumerate(row)} for row in rows]
    if not rows:
        return []
    header, *data = rows
    items = []
    for number, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise ParseError(f"CSV line {number} has {len(row)} fields; the header has {len(header)}.")
        items.append(dict(zip(header, row, strict=True)))
    return items


def _element(node: Any) -> Any:
    children = list(node)
    if not children:
        text = (node.text or "").strip()
        return {**{f"@{k}": v for k, v in node.attrib.items()}, "#text": text} if node.attrib else text
    out: dict[str, Any] = {f"@{k}": v for k, v in node.attrib.items()}
    for child in children:
        value = _element(child)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def _xml_items(body: bytes, config: ParserConfig) -> list[Any]:
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError(f"Refused unsafe XML ({type(exc).__name__}).") from None
    except ElementTree.ParseError as exc:
        raise ParseError(f"Not valid XML: {exc}") from None
    nodes = root.iter(config.item_tag) if config.item_tag.strip() else list(root)
    return [_element(node) for node in nodes]


def parse_items(parser: str, config: dict[str, Any], body: bytes) -> list[Any]:
    """The items of a body (each one becomes a task); raises ``ParseError``."""
    parsed = ParserConfig.model_validate(config or {})
    if parser == "json":
        return _json_items(body, parsed)
    if parser == "csv":
        return _csv_items(body, parsed)
    if parser == "xml":
        return _xml_items(body, parsed)
    raise ParseError(f"Unknown parser {parser!r}.")
