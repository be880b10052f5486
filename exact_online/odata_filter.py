"""A small validator for OData ``$filter`` expressions, so that the form refuses what Exact would refuse.

Exact answers a bad ``$filter`` with an error that counts against its error budget (10 per endpoint per
hour), so we check before sending: balanced quotes and parentheses, known property names, well-formed
literals (``guid'…'``, ``datetime'…'``, ``123L``), literals that fit the property's type, and no
comparison of one field with another (Exact does not support it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["FilterError", "validate_filter"]

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {
    "substringof": 2, "startswith": 2, "endswith": 2, "indexof": 2, "replace": 3, "substring": None,
    "tolower": 1, "toupper": 1, "trim": 1, "concat": 2, "length": 1,
    "year": 1, "month": 1, "day": 1, "hour": 1, "minute": 1, "second": 1,
    "round": 1, "floor": 1, "ceiling": 1,
}
NUMERIC = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte", "Edm.Double", "Edm.Decimal", "Edm.Single"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<typed>(?:guid|datetime|datetimeoffset|time|binary|X)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlMmDdFf]?)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_/.]*)
    """,
    re.VERBOSE,
)


class FilterError(ValueError):
    """The expression would be refused; ``str(error)`` is a reason a user can act on."""


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass
class _Operand:
    kind: str  # "property" | "literal" | "call"
    type: str | None  # Edm type of the value when known
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] == "'" or text.count("'", pos) % 2:
                raise FilterError(f"Unbalanced quote at position {pos + 1}: every text value needs a closing '.")
            raise FilterError(f"Unexpected character {text[pos]!r} at position {pos + 1}.")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _check_typed_literal(text: str) -> str:
    prefix, _, rest = text.partition("'")
    value = rest[:-1]
    if prefix == "guid":
        try:
            uuid.UUID(value)
        except ValueError:
            raise FilterError(f"{text} is not a valid guid literal (expected guid'xxxxxxxx-xxxx-…').") from None
        return "Edm.Guid"
    if prefix in ("datetime", "datetimeoffset"):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(f"{text} is not a valid datetime (expected datetime'2024-01-31T00:00:00').") from None
        if "T" not in value:
            raise FilterError(f"{text}: Exact needs a time part in datetime literals (datetime'{value}T00:00:00').")
        return "Edm.DateTime"
    return "Edm.String"


class _Parser:
    def __init__(self, text: str, lookup: Callable[[str], str | None]) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.lookup = lookup
        self.properties: list[str] = []

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def peek_kind(self) -> str | None:
        tok = self.peek()
        return tok.kind if tok is not None else None

    def peek_text(self) -> str:
        tok = self.peek()
        return tok.text if tok is not None else ""

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FilterError("The filter ends too early: an operand or a closing parenthesis is missing.")
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "name" and tok.text.lower() in words

    def parse(self) -> None:
        if not self.tokens:
            return
        self.expr()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise FilterError(f"Unbalanced parentheses: ')' at position {tok.pos + 1} has no opening '('.")
            raise FilterError(f"Unexpected {tok.text!r} at position {tok.pos + 1}: expected 'and' or 'or'.")

    def expr(self) -> None:
        self.conjunction()
        while self.word("or"):
            self.take()
            self.conjunction()

    def conjunction(self) -> None:
        self.condition()
        while self.word("and"):
            self.take()
            self.condition()

    def condition(self) -> None:
        if self.word("not"):
            self.take()
            self.condition()
            return
        tok = self.peek()
        if tok is not None and tok.kind == "lparen":
            # A parenthesised condition, unless it is the start of an operand such as (Amount) gt 5: rare, ignored.
            self.take()
            self.expr()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise FilterError("Unbalanced parentheses: a '(' is never closed.")
            self.take()
            return
        left = self.operand()
        if self.peek_kind() == "name" and self.peek_text().lower() in COMPARISONS:
            op = self.take().text.lower()
            right = self.operand()
            self.compare(left, op, right)
        elif left.kind in ("call", "property") and left.type == "Edm.Boolean":
            return
        else:
            where = self.peek()
            at = f" at position {where.pos + 1}" if where else ""
            raise FilterError(f"Expected a comparison (eq, ne, gt, ge, lt, le) after {left.text!r}{at}.")

    def operand(self) -> _Operand:
        tok = self.take()
        if tok.kind == "typed":
            return _Operand("literal", _check_typed_literal(tok.text), tok.text)
        if tok.kind == "string":
            return _Operand("literal", "Edm.String", tok.text)
        if tok.kind == "number":
            return _Operand("literal", "number", tok.text)
        if tok.kind == "name":
            low = tok.text.lower()
            if low in ("true", "false"):
                return _Operand("literal", "Edm.Boolean", tok.text)
            if low == "null":
                return _Operand("literal", "null", tok.text)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "lparen":
                return self.call(tok)
            if low in COMPARISONS or low in ("and", "or", "not"):
                raise FilterError(f"Expected a property or a value at position {tok.pos + 1}, found {tok.text!r}.")
            prop_type = self.lookup(tok.text)
            if prop_type is None:
                raise FilterError(f"Unknown property {tok.text!r} in $filter.")
            self.properties.append(tok.text)
            return _Operand("property", prop_type, tok.text)
        if tok.kind == "rparen":
            raise FilterError(f"Unbalanced parentheses: ')' at position {tok.pos + 1} has no opening '('.")
        raise FilterError(f"Unexpected {tok.text!r} at position {tok.pos + 1}.")

    def call(self, name: _Tok) -> _Operand:
        fn = name.text.lower()
        if fn not in FUNCTIONS:
            raise FilterError(f"Unknown function {name.text!r} in $filter.")
        self.take()  # (
        args: list[_Operand] = []
        if self.peek_kind() not in (None, "rparen"):
            args.append(self.operand())
            while self.peek_kind() == "comma":
                self.take()
                args.append(self.operand())
        closing = self.peek()
        if closing is None or closing.kind != "rparen":
            raise FilterError(f"Unbalanced parentheses: {name.text}( is never closed.")
        self.take()
        expected = FUNCTIONS[fn]
        if expected is not None and len(args) != expected:
            raise FilterError(f"{name.text}() takes {expected} argument(s), got {len(args)}.")
        if fn in ("substringof", "startswith", "endswith"):
            result = "Edm.Boolean"
        elif fn in ("length", "indexof", "year", "month", "day", "hour", "minute", "second", "round", "floor",
                    "ceiling"):
            result = "number"
        else:
            result = "Edm.String"
        return _Operand("call", result, name.text)

    def compare(self, left: _Operand, op: str, right: _Operand) -> None:
        if left.kind == "property" and right.kind == "property":
            raise FilterError(f"Exact cannot compare two fields ({left.text} {op} {right.text}); compare with a value.")
        prop, lit = (left, right) if right.kind == "literal" else (right, left)
        if prop.kind != "property" or lit.kind != "literal" or lit.type == "null":
            return
        expected = prop.type or ""
        if expected == "Edm.Guid" and lit.type != "Edm.Guid":
            raise FilterError(f"{prop.text} is a Guid: write {prop.text} {op} guid'…', not {lit.text}.")
        if expected in ("Edm.DateTime", "Edm.DateTimeOffset") and lit.type != "Edm.DateTime":
            raise FilterError(f"{prop.text} is a date: write {prop.text} {op} datetime'2024-01-31T00:00:00'.")
        if expected == "Edm.Boolean" and lit.type != "Edm.Boolean":
            raise FilterError(f"{prop.text} is a Boolean: compare it with true or false.")
        if expected in NUMERIC and lit.type != "number":
            raise FilterError(f"{prop.text} is a number ({expected}): compare it with a number, not {lit.text}.")
        if expected == "Edm.String" and lit.type not in ("Edm.String",):
            raise FilterError(f"{prop.text} is text: put the value in quotes ('{lit.text}').")


def validate_filter(text: str, lookup: Callable[[str], str | None]) -> list[str]:
    """Check ``text``; ``lookup(name)`` returns a property's Edm type or None when it does not exist.

    Returns the property names the filter uses; raises :class:`FilterError` with the reason otherwise.
    """
    parser = _Parser(text, lookup)
    parser.parse()
    return parser.properties
