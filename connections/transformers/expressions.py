"""JMESPath expressions: compiled once, evaluated sandboxed (no ``eval``), errors in our own words."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jmes_errors
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter

from .errors import StepFailure

__all__ = ["check_expression", "compile_expression", "evaluate", "truthy"]


def check_expression(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "an expression is required"
    try:
        jmespath.compile(text)
    except jmes_errors.JMESPathError as exc:
        return f"not a valid JMESPath expression: {_message(exc)}"
    except (ValueError, TypeError, RecursionError) as exc:
        return f"not a valid JMESPath expression: {exc}"
    return None


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split())


@lru_cache(maxsize=2048)
def compile_expression(text: str) -> ParsedResult:
    return jmespath.compile(text)


_INTERPRETER = TreeInterpreter()  # stateless between calls; jmespath would build one per search


def evaluate(expression: ParsedResult, data: Any) -> Any:
    try:
        return _INTERPRETER.visit(expression.parsed, data)
    except jmes_errors.JMESPathError as exc:
        raise StepFailure("", f"expression failed: {_message(exc)}") from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise StepFailure("", f"expression failed: {type(exc).__name__}: {exc}") from exc


def truthy(value: Any) -> bool:
    """JMESPath's truth: false, null, empty string/list/object are false; everything else (also 0) is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and not value)
