"""Dot paths with ``*`` wildcards over JSON: ``SalesOrderLines.results.*.Item``.

A numeric segment indexes a list (``Lines.0.Item``) and is a plain key in an object. The empty path is the
entity itself. Paths are parsed once (cached) so a chain pays for the split only when it is compiled.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from .errors import StepFailure

__all__ = [
    "MISSING",
    "WILDCARD",
    "Path",
    "assign",
    "check_path",
    "clone",
    "delete",
    "find",
    "format_path",
    "get",
    "has_wildcard",
    "parse",
    "type_name",
]

WILDCARD = "*"
Path = tuple[str, ...]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def check_path(text: Any, *, allow_root: bool = True, allow_wildcard: bool = True) -> str | None:
    """Why ``text`` is not a usable path, or ``None`` when it is."""
    if not isinstance(text, str):
        return "a path must be a string"
    if text == "":
        return None if allow_root else "a path is required here"
    if text.strip() != text:
        return "a path must not start or end with spaces"
    for segment in text.split("."):
        if segment == "":
            return f"'{text}' has an empty segment (two dots, or a dot at the start or end)"
        if WILDCARD in segment and segment != WILDCARD:
            return f"'{text}': a wildcard must be a whole segment, like Lines.*.Item"
    if not allow_wildcard and WILDCARD in text.split("."):
        return f"'{text}': no wildcards here"
    return None


@lru_cache(maxsize=4096)
def parse(text: str) -> Path:
    return () if text == "" else tuple(text.split("."))


def has_wildcard(path: Path) -> bool:
    return WILDCARD in path


def format_path(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        return node.get(segment, MISSING)
    if isinstance(node, list) and segment.isdigit():
        index = int(segment)
        return node[index] if index < len(node) else MISSING
    return MISSING


def get(data: Any, path: Path) -> Any:
    """The value at a path without wildcards, or ``MISSING``."""
    node = data
    for segment in path:
        node = _child(node, segment)
        if node is MISSING:
            return MISSING
    return node


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        yield from list(node.items())
    elif isinstance(node, list):
        yield from enumerate(list(node))


def find(data: Any, path: Path) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (concrete path, value) the path matches; wildcards expand over object values and list items."""
    if not has_wildcard(path):
        value = get(data, path)
        return [] if value is MISSING else [(path, value)]
    found: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, depth: int, where: tuple[Any, ...]) -> None:
        if depth == len(path):
            found.append((where, node))
            return
        segment = path[depth]
        if segment == WILDCARD:
            for key, child in _children(node):
                walk(child, depth + 1, (*where, key))
        else:
            child = _child(node, segment)
            if child is not MISSING:
                walk(child, depth + 1, (*where, segment))

    walk(data, 0, ())
    return found


def _parents(data: Any, path: Path, *, create: bool) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Each container a path's last segment applies to, creating missing objects on the way if asked."""

    def walk(node: Any, depth: int, where: tuple[Any, ...]) -> Iterator[tuple[Any, tuple[Any, ...]]]:
        if depth == len(path) - 1:
            yield node, where
            return
        segment = path[depth]
        if segment == WILDCARD:
            for key, child in _children(node):
                yield from walk(child, depth + 1, (*where, key))
            return
        child = _child(node, segment)
        if child is MISSING or child is None:
            if not create:
                return
            if not isinstance(node, dict):
                raise StepFailure(
                    format_path((*where, segment)),
                    f"cannot create '{segment}' inside a {type_name(node)}",
                )
            child = node[segment] = {}
        yield from walk(child, depth + 1, (*where, segment))

    yield from walk(data, 0, ())


def _plain_parent(data: dict[str, Any], path: Path) -> Any:
    """The object that holds a wildcard-free path's last key, creating objects on the way; None if blocked."""
    node: Any = data
    for segment in path[:-1]:
        if not isinstance(node, dict):
            return None
        child = node.get(segment)
        if child is None:
            child = node[segment] = {}
        node = child
    return node


def assign(data: Any, path: Path, value: Any, *, copy_each: bool = False) -> Any:
    """Set ``value`` at every place the path names and return the (possibly new) root.

    The empty path replaces the root. Missing objects on the way are created; a list index must exist.
    """
    if not path:
        return value
    last = path[-1]
    if WILDCARD not in path and isinstance(data, dict):
        parent = _plain_parent(data, path)
        if isinstance(parent, dict):  # the common case, without generators
            parent[last] = clone(value) if copy_each else value
            return data
    for parent, where in _parents(data, path, create=True):
        if last != WILDCARD:
            targets: list[Any] = [last]
        elif isinstance(parent, dict):
            targets = list(parent.keys())
        elif isinstance(parent, list):
            targets = list(range(len(parent)))
        else:
            raise StepFailure(format_path(where), f"cannot set items of a {type_name(parent)}")
        for key in targets:
            new = clone(value) if copy_each else value
            if isinstance(parent, dict):
                parent[key] = new
            elif isinstance(parent, list):
                index = int(key) if isinstance(key, int) or str(key).isdigit() else -1
                if not 0 <= index < len(parent):
                    raise StepFailure(format_path((*where, key)), f"no item {key} in a list of {len(parent)}")
                parent[index] = new
            else:
                raise StepFailure(format_path((*where, key)), f"cannot set '{key}' inside a {type_name(parent)}")
    return data


def delete(data: Any, path: Path) -> int:
    """Remove what the path names; returns how many values were removed (missing paths remove nothing)."""
    if not path:
        return 0
    last = path[-1]
    if len(path) == 1 and isinstance(data, dict):
        return 1 if data.pop(last, MISSING) is not MISSING else 0
    removed = 0
    for parent, _where in _parents(data, path, create=False):
        if isinstance(parent, dict):
            if last == WILDCARD:
                removed += len(parent)
                parent.clear()
            elif last in parent:
                del parent[last]
                removed += 1
        elif isinstance(parent, list):
            if last == WILDCARD:
                removed += len(parent)
                parent.clear()
            elif last.isdigit() and int(last) < len(parent):
                del parent[int(last)]
                removed += 1
    return removed


def clone(value: Any) -> Any:
    """A deep copy of JSON data, several times faster than ``copy.deepcopy`` for dicts, lists and scalars."""
    if isinstance(value, dict):
        return {key: clone(item) if isinstance(item, dict | list) else item for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) if isinstance(item, dict | list) else item for item in value]
    return value
