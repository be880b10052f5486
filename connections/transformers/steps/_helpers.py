"""Checks and path plumbing the step modules share."""

from __future__ import annotations

from typing import Any

from .. import expressions, paths, placeholders
from ..errors import StepFailure

__all__ = ["check_expression", "check_path", "check_template", "copy_to", "delete_concrete", "fill_wildcards"]


def check_path(
    problems: list[tuple[str, str]], name: str, value: str, *, allow_root: bool = True, allow_wildcard: bool = True
) -> None:
    problem = paths.check_path(value, allow_root=allow_root, allow_wildcard=allow_wildcard)
    if problem:
        problems.append((name, problem))


def check_template(problems: list[tuple[str, str]], name: str, value: str) -> None:
    problem = placeholders.check_template(value)
    if problem:
        problems.append((name, problem))


def check_expression(problems: list[tuple[str, str]], name: str, value: str) -> None:
    problem = expressions.check_expression(value)
    if problem:
        problems.append((name, problem))


def fill_wildcards(target: paths.Path, concrete_source: tuple[Any, ...], source: paths.Path) -> paths.Path:
    """Put the keys the source's wildcards matched into the target's wildcards, in order."""
    keys = [str(concrete_source[i]) for i, segment in enumerate(source) if segment == paths.WILDCARD]
    filled: list[str] = []
    for segment in target:
        filled.append(keys.pop(0) if segment == paths.WILDCARD and keys else segment)
    return tuple(filled)


def delete_concrete(data: Any, concrete: tuple[Any, ...]) -> None:
    parent = paths.get(data, tuple(str(part) for part in concrete[:-1]))
    last = concrete[-1]
    if isinstance(parent, dict):
        parent.pop(str(last), None)
    elif isinstance(parent, list) and 0 <= int(last) < len(parent):
        del parent[int(last)]


def copy_to(entity: Any, source: paths.Path, target: paths.Path, *, if_missing: str, move: bool) -> Any:
    """Copy (or move) what ``source`` matches to ``target``; wildcards in the target follow the source's."""
    source_wild = paths.has_wildcard(source)
    target_wild = paths.has_wildcard(target)
    if not source_wild:
        value = paths.get(entity, source)
        if value is paths.MISSING:
            if if_missing == "fail":
                raise StepFailure(paths.format_path(source), "path not found")
            if if_missing == "null":
                return paths.assign(entity, target, None)
            return entity
        if move and source:
            delete_concrete(entity, source)
        return paths.assign(entity, target, paths.clone(value))
    matches = paths.find(entity, source)
    if not matches and if_missing == "fail":
        raise StepFailure(paths.format_path(source), "path matched nothing")
    if not target_wild:
        if matches or if_missing == "null":
            entity = paths.assign(entity, target, [paths.clone(value) for _, value in matches])
    else:
        for concrete, value in matches:
            entity = paths.assign(entity, fill_wildcards(target, concrete, source), paths.clone(value))
    if move:
        for concrete, _ in reversed(matches):
            delete_concrete(entity, concrete)
    return entity
