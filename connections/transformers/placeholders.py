"""``&{Account.Name}`` placeholders in strings, filled from the entity.

A string that is exactly one placeholder keeps the value's type (``&{Amount}`` gives a number); inside
longer text values are written as text (objects and lists as compact JSON, null as empty). ``&{Path|text}``
gives ``text`` when the path is missing or null. Wildcard paths give a list (or comma-joined text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import paths

__all__ = ["Template", "as_text", "check_template", "compile_template", "render"]

_PLACEHOLDER = re.compile(r"&\{([^{}]*)\}")


@dataclass(frozen=True)
class _Slot:
    path: paths.Path
    default: str | None


@dataclass(frozen=True)
class Template:
    """A parsed template: literal parts and slots, alternating."""

    parts: tuple[str | _Slot, ...]
    whole: _Slot | None

    @property
    def is_constant(self) -> bool:
        return not any(isinstance(part, _Slot) for part in self.parts)


def check_template(text: str) -> str | None:
    for match in _PLACEHOLDER.finditer(text):
        path_text = match.group(1).split("|", 1)[0].strip()
        problem = paths.check_path(path_text, allow_root=False)
        if problem:
            return f"placeholder {match.group(0)}: {problem}"
    return None


@lru_cache(maxsize=2048)
def compile_template(text: str) -> Template:
    parts: list[str | _Slot] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        path_text, _, default = match.group(1).partition("|")
        parts.append(_Slot(paths.parse(path_text.strip()), default if "|" in match.group(1) else None))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    whole = parts[0] if len(parts) == 1 and isinstance(parts[0], _Slot) else None
    return Template(tuple(parts), whole)


def _lookup(entity: Any, slot: _Slot) -> Any:
    if paths.has_wildcard(slot.path):
        value: Any = [found for _, found in paths.find(entity, slot.path)]
    else:
        value = paths.get(entity, slot.path)
    if value is paths.MISSING or value is None:
        return slot.default
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return ", ".join(as_text(item) for item in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def render(template: Template | str, entity: Any) -> Any:
    if isinstance(template, str):
        template = compile_template(template)
    if template.whole is not None:
        return _lookup(entity, template.whole)
    out: list[str] = []
    for part in template.parts:
        out.append(part if isinstance(part, str) else as_text(_lookup(entity, part)))
    return "".join(out)
