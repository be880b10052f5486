"""JSON that a person typed or pasted: one parser, so every form refuses the same bad input the same way.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (and reads ``1e999`` as infinity), which
PostgreSQL's ``jsonb`` and strict JSON readers refuse later, far from the form. Deep nesting makes the
parser, and every recursive walk after it, raise ``RecursionError`` (an HTTP 500). ``\\u0000`` is refused by
``jsonb`` too. ``parse_json`` turns each of these into a ``JSONInputError`` with a message for the form.
Pure Python (no Django), so the transformer engine may use it.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JSONInputError", "parse_json"]

MAX_JSON_DEPTH = 100  # objects and lists inside each other; Exact's deepest payloads use 3 or 4


class JSONInputError(ValueError):
    """Why the text was refused: a phrase that reads well after "Not valid JSON: "."""


def _refuse_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON value (use null or a number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONInputError(f"the number {text} is out of range")
    return value


def _check(value: Any, max_depth: int) -> None:
    """Depth and NUL characters, walked with a stack (a recursive walk is what fails on deep input)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise JSONInputError("text may not contain the NUL character (\\u0000)")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise JSONInputError(f"nested too deeply (at most {max_depth} levels of objects and lists)")
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise JSONInputError("text may not contain the NUL character (\\u0000)")
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The value in ``text``; raises ``JSONInputError`` (a ``ValueError``) on anything a database would refuse."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JSONInputError:
        raise
    except RecursionError:
        raise JSONInputError(f"nested too deeply (at most {max_depth} levels of objects and lists)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise JSONInputError(str(exc)) from None
    _check(value, max_depth)
    return value
