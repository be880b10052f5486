"""Forms for transformers and storages, and the chain editor's reading of posted step fields."""

from __future__ import annotations

import copy
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


MAX_FORM_STEPS = 300


def _count(value: Any) -> int:
    try:
        return max(0, min(int(value), MAX_FORM_STEPS))
    except (TypeError, ValueError):
        return 0


def _read_steps(data: Mapping[str, Any], base: str, count: int) -> list[dict[str, Any]]:
    """Steps posted under ``<base><j>-...`` for j < count; nested lists (Then/Else) are read the same way.

    A nested list is posted as ``<prefix>p-<param>-count`` plus its steps under ``<prefix>p-<param>-<j>-``;
    without the count (an older form, a test) the parameter's JSON text is read instead.
    """
    steps: list[dict[str, Any]] = []
    for position in range(count):
        prefix = f"{base}{position}-"
        step_type = str(data.get(prefix + "type", ""))
        if not step_type:
            continue
        specs = field_specs(step_type)
        nested = {spec.name for spec in specs if spec.kind == "steps" and f"{prefix}p-{spec.name}-count" in data}
        values = {spec.name: "[]" if spec.name in nested else data.get(f"{prefix}p-{spec.name}") for spec in specs}
        params, field_problems = params_from_form(step_type, {k: v for k, v in values.items() if v is not None})
        for name in nested:
            params[name] = _read_steps(data, f"{prefix}p-{name}-", _count(data.get(f"{prefix}p-{name}-count")))
        step: dict[str, Any] = {"type": step_type, "params": params}
        if data.get(prefix + "disabled"):
            step["disabled"] = True
        note = str(data.get(prefix + "note", "")).strip()
        if note:
            step["note"] = note
        if field_problems:
            step["_raw"] = {name: values.get(name) for name in field_problems}
            step["_problems"] = field_problems
        steps.append(step)
    return steps


def chain_from_post(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[int, dict[str, str]]]:
    """The chain the editor's step fields describe (``step-<i>-type``, ``step-<i>-p-<param>``, ...).

    Returns the steps and, per top-level step index, parameters whose text could not be read (bad JSON or
    CSV); a nested step carries its own in ``_problems``.
    """
    steps = _read_steps(data, "step-", _count(data.get("step_count", 0)))
    problems = {index: step["_problems"] for index, step in enumerate(steps) if step.get("_problems")}
    return steps, problems


def _list_at(steps: list[dict[str, Any]], parts: list[str]) -> list[dict[str, Any]] | None:
    """The (mutable) step list at a location's parts: ``[]`` is the chain, ``["0", "then"]`` step 0's Then."""
    current = steps
    for at in range(0, len(parts), 2):
        if not parts[at].isdigit() or int(parts[at]) >= len(current) or at + 1 >= len(parts):
            return None
        step = current[int(parts[at])]
        params = step.setdefault("params", {})
        if not isinstance(params, dict):
            return None
        branch = params.setdefault(parts[at + 1], [])
        if not isinstance(branch, list):
            return None
        current = branch
    return current


def apply_op(steps: list[dict[str, Any]], op: str, index: int | str, step_type: str = "",
             target: str = "") -> list[dict[str, Any]]:
    """One editor action: add, up, down, remove or toggle (disable/enable) a step.

    ``index`` is a step's location (``3`` or ``0.then.1``); ``add`` appends to the list at ``target``
    (``""`` for the chain, ``0.then`` for step 0's Then branch).
    """
    steps = copy.deepcopy(steps)
    if op == "add":
        into = _list_at(steps, target.split(".") if target else [])
        if into is not None and step_type in STEP_TYPES:
            into.append({"type": step_type, "params": {}})
        return steps
    parts = str(index).split(".")
    siblings = _list_at(steps, parts[:-1])
    if siblings is None or not parts[-1].lstrip("-").isdigit():
        return steps
    position = int(parts[-1])
    if not 0 <= position < len(siblings):
        return steps
    if op == "up" and position > 0:
        siblings[position - 1], siblings[position] = siblings[position], siblings[position - 1]
    elif op == "down" and position < len(siblings) - 1:
        siblings[position + 1], siblings[position] = siblings[position], siblings[position + 1]
    elif op == "remove":
        del siblings[position]
    elif op == "toggle":
        step = siblings[position]
        step["disabled"] = not step.get("disabled", False)
        if not step["disabled"]:
            del step["disabled"]
    return steps


def clean_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain as stored: without the editor's scratch keys, in nested steps too."""
    cleaned: list[dict[str, Any]] = []
    for step in steps:
        if not isinstance(step, dict):
            cleaned.append(step)
            continue
        out = {key: value for key, value in step.items() if not key.startswith("_")}
        params = out.get("params")
        if isinstance(params, dict):
            out["params"] = {name: clean_steps(value) if _is_step_list(value) else value
                             for name, value in params.items()}
        cleaned.append(out)
    return cleaned


def _is_step_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) and "type" in item for item in value)


def _has_problems(steps: list[dict[str, Any]]) -> bool:
    for step in steps:
        if not isinstance(step, dict):
            continue
        if step.get("_problems"):
            return True
        params = step.get("params")
        if isinstance(params, dict) and any(_is_step_list(v) and _has_problems(v) for v in params.values()):
            return True
    return False


def _nested_summary(spec_kind: str, value: Any) -> list[str]:
    """One line per nested step (label and what it does), shown under a Then/Else JSON field."""
    if spec_kind != "steps" or not isinstance(value, list):
        return []
    lines: list[str] = []
    for raw in value:
        step_type = raw.get("type") if isinstance(raw, dict) else None
        cls = STEP_TYPES.get(step_type) if isinstance(step_type, str) else None
        if cls is None:
            lines.append(f"unknown step {step_type!r}")
            continue
        summary = "(has problems)" if validate_chain([raw]) else compile_chain([raw]).steps[0].summary()
        disabled = " (disabled)" if raw.get("disabled") else ""
        lines.append(f"{cls.label}{disabled}" + (f": {summary}" if summary else ""))
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
    by_location: dict[str, list[StepError]] = {}
    chain_errors = list(extra_errors or [])
    for error in errors:
        if error.step_index < 0:
            chain_errors.append(str(error))
        else:
            by_location.setdefault(error.location, []).append(error)
    rendering = _Rendering(by_location=by_location, problems=problems, options=options)
    rendered = rendering.steps(steps, location="", prefix="step-")
    # Errors at a location no form shows (e.g. a Then that is not a list) go on the nearest step shown.
    for location, left in by_location.items():
        if location not in rendering.shown:
            chain_errors.extend(str(error) for error in left)
    return EditorState(
        steps=rendered,
        chain_json=json.dumps(stored, ensure_ascii=False, indent=2),
        chain_errors=chain_errors,
        valid=not errors and not problems and not extra_errors and not _has_problems(steps),
    )


@dataclass
class _Rendering:
    """Builds what ``_step.html`` renders for each step, nested Then/Else steps included (same forms)."""

    by_location: dict[str, list[StepError]]
    problems: dict[int, dict[str, str]]
    options: dict[str, list[tuple[str, str]]]
    shown: set[str] = field(default_factory=set)

    def steps(self, steps: list[Any], *, location: str, prefix: str) -> list[dict[str, Any]]:
        out = []
        for position, step in enumerate(steps):
            here = f"{location}.{position}" if location else str(position)
            if isinstance(step, dict):
                out.append(self.step(step, here, f"{prefix}{position}-", top_index=position if not location else -1))
        return out

    def step(self, step: dict[str, Any], location: str, prefix: str, *, top_index: int) -> dict[str, Any]:
        self.shown.add(location)
        step_type = str(step.get("type", ""))
        cls = STEP_TYPES.get(step_type)
        raw_params = step.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        texts = params_to_form(step_type, params)
        texts.update({k: v or "" for k, v in step.get("_raw", {}).items()})
        field_errors: dict[str, list[str]] = {}
        general: list[str] = []
        own_problems = step.get("_problems") or (self.problems.get(top_index, {}) if top_index >= 0 else {})
        for name, message in own_problems.items():
            field_errors.setdefault(name, []).append(message)
        for error in self.by_location.get(location, []):
            top_field = error.field.split(".", 1)[0]
            if top_field in texts:
                field_errors.setdefault(top_field, []).append(error.message)
            else:
                general.append(f"{error.field + ': ' if error.field else ''}{error.message}")
        fields = []
        for spec in field_specs(step_type):
            nested = params.get(spec.name)
            children = None
            if spec.kind == "steps" and isinstance(nested, list):
                children = self.steps(nested, location=f"{location}.{spec.name}", prefix=f"{prefix}p-{spec.name}-")
            fields.append({
                "spec": spec,
                "value": texts.get(spec.name, ""),
                "errors": field_errors.get(spec.name, []),
                "advanced": cls is not None and spec.name in cls.advanced,
                "options": self.options.get(spec.name, []),
                "option_values": [value for value, _ in self.options.get(spec.name, [])],
                "warning": _missing_store(spec.name, texts.get(spec.name, ""), self.options),
                "children": children,
                "nested": _nested_summary(spec.kind, nested),
                "count_name": f"{prefix}p-{spec.name}-count",
                "add_target": f"{location}.{spec.name}",
            })
        main = [f for f in fields if not f["advanced"]]
        more = [f for f in fields if f["advanced"]]
        return {
            "index": top_index if top_index >= 0 else location,
            "location": location,
            "prefix": prefix,
            "number": human_location(location),
            "depth": location.count(".") // 2,
            "type": step_type,
            "label": cls.label if cls else step_type,
            "help": cls.help if cls else "",
            "known": cls is not None,
            "disabled": bool(step.get("disabled")),
            "note": step.get("note", ""),
            "errors": general,
            "has_errors": bool(general or field_errors),
            "fields": fields,
            "main_fields": main,
            "more_fields": more,
            "more_open": any(f["errors"] for f in more),
        }
