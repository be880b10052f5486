"""How much one test or one task may make: entities, JSON size, time, and how much of it is traced.

A chain can multiply its input: ``split`` with a parent key copies the parent into every branch, a
wildcard ``set_value`` copies a value into every item, and tracing copies every entity again. Without a cap,
22 KB of pasted JSON took gigabytes. A ``Budget`` is shared by every chain run that makes one result (the
tester's inputs together; a route's transformers for one read entity) and the steps charge it *before*
they copy, so memory stays near the limit instead of being checked after the damage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import TransformError

__all__ = ["Budget", "LimitExceeded", "Limits", "json_size"]


@dataclass(frozen=True)
class Limits:
    """The caps; ``scope`` names what they apply to in messages ("test", "task")."""

    max_entities: int = 1000
    max_bytes: int = 2_000_000
    max_seconds: float = 30.0
    max_trace_bytes: int = 1_000_000
    scope: str = "task"


class LimitExceeded(TransformError):
    """A chain made more than its ``Limits`` allow; names the step where it happened."""


def json_size(value: Any, cap: int | None = None) -> int:
    """About how many bytes ``value`` takes as JSON; stops counting once past ``cap``. No recursion.

    Scalars inside objects and lists are counted in place (no push and pop): this runs after steps that
    may grow the data, once per entity, so it has to stay cheap next to the steps themselves.
    """
    limit = sys.maxsize if cap is None else cap
    total = 0
    stack = [value]
    push = stack.append
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            total += 2
            for key, child in item.items():
                kind = type(child)
                if kind is str:
                    total += len(key) + len(child) + 7
                elif kind is dict or kind is list:
                    total += len(key) + 4
                    push(child)
                else:
                    total += len(key) + _scalar_size(child)
        elif isinstance(item, list):
            total += 2
            for child in item:
                kind = type(child)
                if kind is str:
                    total += len(child) + 4
                elif kind is dict or kind is list:
                    total += 1
                    push(child)
                else:
                    total += _scalar_size(child) - 3
        elif isinstance(item, str):
            total += len(item) + 3
        else:
            total += _scalar_size(item) - 4
        if total > limit:
            return total
    return total


def _scalar_size(value: Any) -> int:
    """A key's or item's share for a non-text value: numbers, true, false, null (a few characters each)."""
    if isinstance(value, str):
        return len(value) + 7
    if isinstance(value, dict | list):  # a subclass the fast path did not take
        return json_size(value) + 4
    return 10


class Budget:
    """What the results held so far have used; chain runs that make one result share it."""

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self.started = clock()
        self.entities = 0  # results already made and held by the caller
        self.bytes = 0
        self.trace_bytes = 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def keep(self, entities: list[Any]) -> None:
        """Count results the caller keeps while later runs go on (the tester's earlier inputs)."""
        self.entities += len(entities)
        self.bytes += json_size(entities)

    def new_stage(self) -> None:
        """The held results become the next chain's input: count them again only as that chain makes them."""
        self.entities = 0
        self.bytes = 0

    def trace_room(self) -> int:
        return self.limits.max_trace_bytes - self.trace_bytes

    def over(self, *, entities: int, size: int | None) -> str | None:
        """Why ``entities`` more entities of ``size`` bytes (``None``: not measured) would break the limits."""
        limits = self.limits
        if self.entities + entities > limits.max_entities:
            return f"more than {limits.max_entities:,} entities, the limit per {limits.scope}"
        if size is not None and self.bytes + size > limits.max_bytes:
            return f"more than {_kilobytes(limits.max_bytes)} of data, the limit per {limits.scope}"
        if self.elapsed() > limits.max_seconds:
            return f"longer than {limits.max_seconds:g} s, the time limit per {limits.scope}"
        return None

    def room(self) -> int:
        return self.limits.max_bytes - self.bytes


def _kilobytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB" if size >= 1_000_000 else f"{size / 1000:g} KB"
