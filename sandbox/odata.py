"""A small OData v2/v3 ``$filter`` parser (the subset Exact supports), plus literals, ``$orderby`` and skiptokens.

The parser turns ``Name eq 'X' and (Modified ge datetime'2024-01-01' or not IsSupplier)`` into a tiny
tuple AST that can be compiled to SQL (over JSON columns) or evaluated in Python. Date literals become
milliseconds since the epoch, the unit the sandbox stores ``Edm.DateTime`` values in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Node",
    "ODataError",
    "compile_sql",
    "evaluate",
    "format_literal",
    "iso_to_ms",
    "ms_to_iso",
    "parse_filter",
    "parse_literal_list",
    "parse_orderby",
]

Node = tuple[Any, ...]
COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
FUNCTIONS = {"substringof": 2, "startswith": 2, "endswith": 2, "trim": 1, "tolower": 1, "toupper": 1, "length": 1}
BOOLEAN_FUNCTIONS = {"substringof", "startswith", "endswith"}


class ODataError(ValueError):
    """A query option Exact would refuse with a 400."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<typed>(?:guid|datetime|datetimeoffset|time)'(?:[^']|'')*')
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlMmDdFf]?)
    | (?P<punct>[(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_./]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def iso_to_ms(text: str) -> int:
    """``2024-01-02T03:04:05.678`` (naive: Exact's wall clock, kept as if UTC) -> milliseconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ODataError(f"Unrecognized 'Edm.DateTime' literal 'datetime'{text}''.") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return int((parsed - datetime(1970, 1, 1)).total_seconds() * 1000)


def ms_to_iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
    text = dt.isoformat(timespec="milliseconds")
    return text


def _literal(token: Token) -> Node:
    text = token.text
    if token.kind == "typed":
        prefix, _, rest = text.partition("'")
        body = rest[:-1].replace("''", "'")
        prefix = prefix.lower()
        if prefix == "guid":
            try:
                return ("lit", str(uuid.UUID(body)), "guid")
            except ValueError as exc:
                raise ODataError(f"Unrecognized 'Edm.Guid' literal 'guid'{body}''.") from exc
        if prefix in {"datetime", "datetimeoffset"}:
            return ("lit", iso_to_ms(body), "datetime")
        return ("lit", body, "string")
    if token.kind == "string":
        return ("lit", text[1:-1].replace("''", "'"), "string")
    if token.kind == "number":
        suffix = text[-1].lower()
        if suffix == "l":
            return ("lit", int(text[:-1]), "long")
        if suffix in "mdf":
            return ("lit", float(text[:-1]), "float")
        if re.fullmatch(r"-?\d+", text):
            return ("lit", int(text), "int")
        return ("lit", float(text), "float")
    raise ODataError(f"Expected a literal at position {token.pos}.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise ODataError(f"Unexpected end of expression in '{self.text}'.")
        self.i += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text.lower() in words:
            self.i += 1
            return token.text.lower()
        return None

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise ODataError(f"Expected '{text}' at position {token.pos} in '{self.text}'.")

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise ODataError(f"Syntax error at position {self.peek().pos} in '{self.text}'.")  # type: ignore[union-attr]
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.keyword("or"):
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.keyword("and"):
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.keyword("not"):
            return ("not", self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        op = self.keyword(*COMPARISONS)
        if op is None:
            return left
        return ("cmp", op, left, self.operand())

    def operand(self) -> Node:
        token = self.next()
        if token.text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if token.kind != "name":
            return _literal(token)
        lowered = token.text.lower()
        if lowered in {"true", "false"}:
            return ("lit", lowered == "true", "bool")
        if lowered == "null":
            return ("lit", None, "null")
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            if lowered not in FUNCTIONS:
                raise ODataError(f"Unknown function '{token.text}'.")
            self.next()
            args = [self.or_expr()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                args.append(self.or_expr())
            self.expect(")")
            if len(args) != FUNCTIONS[lowered]:
                raise ODataError(f"Function '{lowered}' takes {FUNCTIONS[lowered]} arguments.")
            return ("call", lowered, args)
        if lowered in COMPARISONS or lowered in {"and", "or", "not"}:
            raise ODataError(f"Syntax error at position {token.pos} in '{self.text}'.")
        return ("field", token.text)


def parse_filter(text: str) -> Node:
    """Parse a ``$filter`` value into a tuple AST; raise ``ODataError`` on anything Exact would refuse."""
    if not text.strip():
        raise ODataError("The $filter expression is empty.")
    return _Parser(text).parse()


def parse_literal_list(text: str) -> list[Any]:
    """Parse a skiptoken such as ``datetime'2018-09-21T04:18:55.617',guid'…'`` into plain values."""
    values: list[Any] = []
    for i, token in enumerate(tokenize(text)):
        if i % 2 == 1:
            if token.text != ",":
                raise ODataError("Invalid $skiptoken.")
            continue
        if token.kind == "name" and token.text.lower() in {"null", "true", "false"}:
            values.append(None if token.text.lower() == "null" else token.text.lower() == "true")
        else:
            values.append(_literal(token)[1])
    return values


def format_literal(value: Any, edm_type: str) -> str:
    """Render a stored value as an OData literal (for ``$skiptoken`` in ``__next``)."""
    if value is None:
        return "null"
    if edm_type == "Edm.Guid":
        return f"guid'{value}'"
    if edm_type == "Edm.DateTime" and isinstance(value, int):
        return f"datetime'{ms_to_iso(value)}'"
    if edm_type == "Edm.Int64":
        return f"{int(value)}L"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def parse_orderby(text: str, known: Callable[[str], str | None]) -> list[tuple[str, bool]]:
    """``Modified desc, Name`` -> [(Modified, descending=True), (Name, False)]; names resolved by ``known``."""
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise ODataError(f"Invalid $orderby '{text}'.")
        name = known(words[0])
        if name is None:
            raise ODataError(f"No property '{words[0]}' exists in type.")
        out.append((name, len(words) == 2 and words[1].lower() == "desc"))
    return out


# --- compile to SQL ---------------------------------------------------------------------------------

def compile_sql(node: Node, column: Callable[[str], str]) -> tuple[str, list[Any]]:
    """Compile the AST to a SQLite boolean expression; ``column(name)`` returns the SQL for a field."""
    params: list[Any] = []

    def value(n: Node) -> tuple[str, str]:
        kind = n[0]
        if kind == "lit":
            v = n[1]
            params.append(int(v) if isinstance(v, bool) else v)
            return "?", n[2]
        if kind == "field":
            return column(n[1]), "field"
        if kind == "call":
            name, args = n[1], n[2]
            if name in BOOLEAN_FUNCTIONS:
                return f"COALESCE({pred(n)}, 0)", "bool"
            inner, _ = value(args[0])
            sql_fn = {"trim": "trim", "tolower": "lower", "toupper": "upper", "length": "length"}[name]
            return f"{sql_fn}({inner})", "string" if name != "length" else "int"
        return f"COALESCE({pred(n)}, 0)", "bool"

    def pred(n: Node) -> str:
        kind = n[0]
        if kind in {"and", "or"}:
            return f"({pred(n[1])} {kind.upper()} {pred(n[2])})"
        if kind == "not":
            # Two-valued logic like the OData spec (null eq 'x' is false, so "not" of it is true): SQL's NULL
            # behaves as false under AND/OR, only NOT needs it made explicit.
            return f"(NOT COALESCE({pred(n[1])}, 0))"
        if kind == "cmp":
            op, left, right = n[1], n[2], n[3]
            left_null = left[0] == "lit" and left[2] == "null"
            right_null = right[0] == "lit" and right[2] == "null"
            if left_null or right_null:
                other = left if right_null else right
                osql, _ = value(other)
                if op in {"eq", "ne"}:
                    return f"({osql} IS {'NOT ' if op == 'ne' else ''}NULL)"
                return "0"  # nothing is greater or smaller than null
            lsql, lt = value(left)
            rsql, rt = value(right)
            collate = " COLLATE NOCASE" if "string" in {lt, rt} or "guid" in {lt, rt} else ""
            sql_op = "IS NOT" if op == "ne" else COMPARISONS[op]
            return f"({lsql}{collate} {sql_op} {rsql}{collate})"
        if kind == "call":
            name, args = n[1], n[2]
            if name not in BOOLEAN_FUNCTIONS:
                raise ODataError(f"Function '{name}' does not return a boolean.")
            a, _ = value(args[0])
            b, _ = value(args[1])
            if name == "substringof":
                return f"(instr(lower({b}), lower({a})) > 0)"
            if name == "startswith":
                return f"(instr(lower({a}), lower({b})) = 1)"
            escaped = f"replace(replace(replace(lower({b}), '\\', '\\\\'), '%', '\\%'), '_', '\\_')"
            return f"(lower({a}) LIKE '%' || {escaped} ESCAPE '\\')"
        if kind == "field":
            return f"({column(n[1])} = 1)"
        if kind == "lit" and n[2] == "bool":
            return "1" if n[1] else "0"
        raise ODataError("The $filter expression must be a boolean expression.")

    sql = pred(node)
    return sql, params


# --- evaluate in Python -------------------------------------------------------------------------------

def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def evaluate(node: Node, record: dict[str, Any]) -> bool:
    """Evaluate the AST against a record of stored values (same semantics as ``compile_sql``)."""

    def value(n: Node) -> Any:
        kind = n[0]
        if kind == "lit":
            return n[1]
        if kind == "field":
            return record.get(n[1])
        if kind == "call":
            name, args = n[1], n[2]
            if name in BOOLEAN_FUNCTIONS:
                return truth(n)
            v = value(args[0])
            if v is None:
                return None
            return {"trim": lambda s: str(s).strip(), "tolower": lambda s: str(s).lower(),
                    "toupper": lambda s: str(s).upper(), "length": lambda s: len(str(s))}[name](v)
        return truth(n)

    def truth(n: Node) -> bool:
        kind = n[0]
        if kind == "and":
            return truth(n[1]) and truth(n[2])
        if kind == "or":
            return truth(n[1]) or truth(n[2])
        if kind == "not":
            return not truth(n[1])
        if kind == "cmp":
            op = n[1]
            a, b = _norm(value(n[2])), _norm(value(n[3]))
            if a is None or b is None:
                if op == "eq":
                    return a is None and b is None
                return (a is None) != (b is None) if op == "ne" else False
            if op == "eq":
                return bool(a == b)
            if op == "ne":
                return bool(a != b)
            try:
                return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op])
            except TypeError:
                return False
        if kind == "call":
            name, args = n[1], n[2]
            a, b = value(args[0]), value(args[1])
            if a is None or b is None:
                return False
            a, b = str(a).lower(), str(b).lower()
            if name == "substringof":
                return a in b
            return a.startswith(b) if name == "startswith" else a.endswith(b)
        if kind == "field":
            return record.get(n[1]) is True
        if kind == "lit":
            return bool(n[1])
        raise ODataError("The $filter expression must be a boolean expression.")

    return truth(node)


def fields_of(node: Node) -> set[str]:
    """All field names an AST refers to (to validate them against the entity)."""
    if not isinstance(node, tuple) or not node:
        return set()
    if node[0] == "field":
        return {node[1]}
    out: set[str] = set()
    for part in node[1:]:
        if isinstance(part, tuple):
            out |= fields_of(part)
        elif isinstance(part, list):
            for item in part:
                out |= fields_of(item)
    return out


def rename_fields(node: Node, mapping: Callable[[str], str]) -> Node:
    """Return the AST with each field name replaced by ``mapping(name)`` (canonical casing)."""
    if node[0] == "field":
        return ("field", mapping(node[1]))
    if node[0] == "lit":
        return node
    if node[0] == "call":
        return ("call", node[1], [rename_fields(a, mapping) for a in node[2]])
    return (node[0], *[rename_fields(p, mapping) if isinstance(p, tuple) else p for p in node[1:]])
