"""Step parameters to and from flat form values (text in inputs), driven by each step's ``FieldSpec``s.

Pure functions so any UI (the chain editor, another helper's page) can render and read step forms the same
way. Problems are returned per parameter; the engine's ``validate_chain`` still has the last word.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.json_input import parse_json

from .registry import STEP_TYPES, FieldSpec, describe_fields
from .tables import table_from_csv, table_to_csv

__all__ = ["field_specs", "params_from_form", "params_to_form", "value_to_text"]


def field_specs(step_type: str) -> list[FieldSpec]:
    cls = STEP_TYPES.get(step_type)
    return describe_fields(cls) if cls is not None else []


def value_to_text(spec: FieldSpec, value: Any) -> str:
    """How a parameter's value shows in its input."""
    if value is None:
        return ""
    if spec.kind == "checkbox":
        return "on" if value else ""
    if spec.kind == "lines":
        return "\n".join(str(item) for item in value) if isinstance(value, list) else str(value)
    if spec.kind == "table":
        return table_to_csv(value) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
    if spec.kind == "value":
        return value if isinstance(value, str) and _json_or_text(value) == value else json.dumps(value)
    if spec.kind in ("json", "steps"):
        if spec.kind == "json" and value == spec.default:
            return ""
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def params_to_form(step_type: str, params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in field_specs(step_type):
        value = params.get(spec.name, spec.default) if isinstance(params, Mapping) else spec.default
        out[spec.name] = value_to_text(spec, value)
    return out


def _json_or_text(text: str) -> Any:
    """JSON when it parses (12, true, {"a": 1}, "quoted"), otherwise the text itself."""
    try:
        return parse_json(text)
    except ValueError:
        return text


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def params_from_form(step_type: str, values: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameters from form text (missing checkbox = off); empty optional inputs fall back to the default."""
    params: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for spec in field_specs(step_type):
        raw = values.get(spec.name)
        if spec.kind == "checkbox":
            params[spec.name] = raw not in (None, "", "off", "false")
            continue
        text = (raw or "").strip() if spec.kind not in ("template", "text") else (raw or "")
        if text == "" and not spec.required:
            continue
        try:
            if spec.kind == "number":
                params[spec.name] = _number(text)
            elif spec.kind == "lines":
                params[spec.name] = [line.strip() for line in text.splitlines() if line.strip()]
            elif spec.kind == "table":
                params[spec.name] = table_from_csv(text)
            elif spec.kind == "value":
                params[spec.name] = _json_or_text(text)
            elif spec.kind in ("json", "steps"):
                params[spec.name] = parse_json(text) if text else None
            elif spec.name == "http_client" and text.isdigit():
                params[spec.name] = int(text)
            else:
                params[spec.name] = text
        except ValueError as exc:
            problems[spec.name] = f"{spec.label}: {exc}"
    return params, problems
