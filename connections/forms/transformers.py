"""Forms for transformers and storages, and the chain editor's reading of posted step fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms

from connections.models import Storage, Transformer
from connections.transformers import STEP_TYPES, StepError, compile_chain, validate_chain
from connections.transformers.errors import human_location
from connections.transformers.formdata import field_specs, params_from_form, params_to_form

__all__ = [
    "EditorState",
    "StorageForm",
    "TransformerForm",
    "apply_op",
    "chain_from_post",
    "clean_steps",
    "editor_state",
    "field_options",
    "step_type_groups",
]


class TransformerForm(forms.ModelForm):
    class Meta:
        model = Transformer
        fields = ("name", "description")
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class StorageForm(forms.ModelForm):
    class Meta:
        model = Storage
        fields = ("name", "description", "ttl_seconds")
        labels = {"ttl_seconds": "Time to live (seconds)"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


def field_options() -> dict[str, list[tuple[str, str]]]:
    """Suggestions for parameters that name other objects: HTTP clients (a select) and storages (a datalist)."""
    from clients.models import HttpClient

    return {
        "http_client": [(str(pk), name) for pk, name in HttpClient.objects.values_list("pk", "name")],
        "store": [(name, name) for name in Storage.objects.values_list("name", flat=True)],
    }


def step_type_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Step types for the "Add step" select, grouped by category."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, cls in STEP_TYPES.items():
        groups.setdefault(cls.category, []).append((name, cls.label))
    return [(category, sorted(items, key=lambda item: item[1])) for category, items in groups.items()]


def chain_from_post(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[int, dict[str, str]]]:
    """The chain the editor's step fields describe (``step-<i>-type``, ``step-<i>-p-<param>``, ...).

    Returns the steps and, per step index, parameters whose text could not be read (bad JSON or CSV).
    """
    try:
        count = min(int(data.get("step_count", 0)), 300)
    except (TypeError, ValueError):
        count = 0
    steps: list[dict[str, Any]] = []
    problems: dict[int, dict[str, str]] = {}
    for index in range(count):
        prefix = f"step-{index}-"
        step_type = str(data.get(prefix + "type", ""))
        if not step_type:
            continue
        values = {spec.name: data.get(f"{prefix}p-{spec.name}") for spec in field_specs(step_type)}
        params, field_problems = params_from_form(step_type, values)  # type: ignore[arg-type]
        step: dict[str, Any] = {"type": step_type, "params": params}
        if data.get(prefix + "disabled"):
            step["disabled"] = True
        note = str(data.get(prefix + "note", "")).strip()
        if note:
            step["note"] = note
        if field_problems:
            problems[len(steps)] = field_problems
            step["_raw"] = {name: values.get(name) for name in field_problems}
            step["_problems"] = field_problems
        steps.append(step)
    return steps, problems


def apply_op(steps: list[dict[str, Any]], op: str, index: int, step_type: str = "") -> list[dict[str, Any]]:
    """One editor action: add, up, down, remove or toggle (disable/enable) a step."""
    steps = list(steps)
    if op == "add" and step_type in STEP_TYPES:
        steps.append({"type": step_type, "params": {}})
    elif 0 <= index < len(steps):
        if op == "up" and index > 0:
            steps[index - 1], steps[index] = steps[index], steps[index - 1]
        elif op == "down" and index < len(steps) - 1:
            steps[index + 1], steps[index] = steps[index], steps[index + 1]
        elif op == "remove":
            del steps[index]
        elif op == "toggle":
            step = dict(steps[index])
            step["disabled"] = not step.get("disabled", False)
            if not step["disabled"]:
                del step["disabled"]
            steps[index] = step
    return steps


def clean_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain as stored: without the editor's scratch keys."""
    return [{key: value for key, value in step.items() if not key.startswith("_")} for step in steps]


def _nested_summary(spec_kind: str, value: Any) -> list[str]:
    """One line per nested step (label and what it does), shown under a Then/Else JSON field."""
    if spec_kind != "steps" or not isinstance(value, list):
        return []
    lines: list[str] = []
    for position, raw in enumerate(value):
        step_type = raw.get("type") if isinstance(raw, dict) else None
        cls = STEP_TYPES.get(step_type) if isinstance(step_type, str) else None
        if cls is None:
            lines.append(f"{position + 1}. unknown step {step_type!r}")
            continue
        summary = "(has problems)" if validate_chain([raw]) else compile_chain([raw]).steps[0].summary()
        disabled = " (disabled)" if raw.get("disabled") else ""
        lines.append(f"{position + 1}. {cls.label}{disabled}" + (f": {summary}" if summary else ""))
    return lines


def _missing_store(name: str, value: str, options: dict[str, list[tuple[str, str]]]) -> str:
    """A storage named in a step must exist when the chain runs: say so early (saving is still allowed)."""
    if name != "store" or not value or "store" not in options:
        return ""
    if any(value == known for known, _ in options["store"]):
        return ""
    return f"There is no storage named '{value}' yet; create it under Storages before this chain runs."


@dataclass
class EditorState:
    """What the chain partial renders: a form per step plus the chain as JSON and its problems."""

    steps: list[dict[str, Any]]
    chain_json: str
    chain_errors: list[str] = field(default_factory=list)
    valid: bool = True


def editor_state(
    steps: list[dict[str, Any]],
    problems: dict[int, dict[str, str]] | None = None,
    *,
    validate: bool = True,
    extra_errors: list[str] | None = None,
    options: dict[str, list[tuple[str, str]]] | None = None,
) -> EditorState:
    problems = problems or {}
    options = options or {}
    stored = clean_steps(steps)
    errors: list[StepError] = validate_chain(stored) if validate else []
    by_step: dict[int, list[StepError]] = {}
    chain_errors = list(extra_errors or [])
    for error in errors:
        if error.step_index < 0:
            chain_errors.append(str(error))
        else:
            by_step.setdefault(error.step_index, []).append(error)
    rendered: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        step_type = str(step.get("type", ""))
        cls = STEP_TYPES.get(step_type)
        params = step.get("params") if isinstance(step.get("params"), dict) else {}
        texts = params_to_form(step_type, params)
        texts.update({k: v or "" for k, v in step.get("_raw", {}).items()})
        step_errors = by_step.get(index, [])
        field_errors: dict[str, list[str]] = {}
        general: list[str] = []
        for name, message in (step.get("_problems") or problems.get(index, {})).items():
            field_errors.setdefault(name, []).append(message)
        for error in step_errors:
            top_field = error.field.split(".", 1)[0]
            if error.location == str(index) and top_field in texts:
                field_errors.setdefault(top_field, []).append(error.message)
            else:
                where = f"step {human_location(error.location)}: " if error.location != str(index) else ""
                general.append(f"{where}{error.field + ': ' if error.field else ''}{error.message}")
        rendered.append(
            {
                "index": index,
                "type": step_type,
                "label": cls.label if cls else step_type,
                "help": cls.help if cls else "",
                "known": cls is not None,
                "disabled": bool(step.get("disabled")),
                "note": step.get("note", ""),
                "errors": general,
                "has_errors": bool(general or field_errors),
                "fields": [
                    {
                        "spec": spec,
                        "value": texts.get(spec.name, ""),
                        "errors": field_errors.get(spec.name, []),
                        "advanced": cls is not None and spec.name in cls.advanced,
                        "options": options.get(spec.name, []),
                        "option_values": [value for value, _ in options.get(spec.name, [])],
                        "warning": _missing_store(spec.name, texts.get(spec.name, ""), options),
                        "nested": _nested_summary(spec.kind, params.get(spec.name)),
                    }
                    for spec in field_specs(step_type)
                ],
            }
        )
    for item in rendered:
        fields = item["fields"]
        item["main_fields"] = [f for f in fields if not f["advanced"]]
        item["more_fields"] = [f for f in fields if f["advanced"]]
        item["more_open"] = any(f["errors"] for f in item["more_fields"])
    return EditorState(
        steps=rendered,
        chain_json=json.dumps(stored, ensure_ascii=False, indent=2),
        chain_errors=chain_errors,
        valid=not errors and not problems and not extra_errors and not any(s.get("_problems") for s in steps),
    )
