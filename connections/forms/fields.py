"""Form fields shared by the Incoming and Outgoing forms: one widget per kind of value.

Path and query parameters are flat ``name → text`` maps and are edited the same way everywhere, as
``key=value`` lines (a pasted JSON object is read too); payloads are documents and are edited as JSON.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from lib.json_input import parse_json

__all__ = ["JSONObjectField", "KeyValueField", "SearchableChoiceField", "parse_key_values"]


def parse_key_values(text: str) -> dict[str, str]:
    """``key=value`` lines into a dict; raises ValueError naming the bad line."""
    result: dict[str, str] = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"{line!r} is not key=value")
        key, _, value = line.partition("=")
        if not key.strip():
            raise ValueError(f"{line!r} has no key")
        result[key.strip()] = value.strip()
    return result


class KeyValueField(forms.Field):
    """Path or query parameters: a textarea of ``key=value`` lines; cleans to a dict of text values."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("rows", 2)
        self.widget.attrs.setdefault("spellcheck", "false")
        self.widget.attrs.setdefault("class", "mono")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{key}={item}" for key, item in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        text = (value or "").strip()
        if text.startswith("{"):  # a JSON object pasted from elsewhere
            try:
                parsed = parse_json(text)
            except ValueError as exc:
                raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
            if not isinstance(parsed, dict) or any(isinstance(v, dict | list) for v in parsed.values()):
                raise forms.ValidationError("Give key=value lines (or a flat JSON object).")
            return {str(k): "" if v is None else str(v) for k, v in parsed.items()}
        try:
            return parse_key_values(text)
        except ValueError as exc:
            raise forms.ValidationError(f"{exc}, one key=value per line.") from exc


class JSONObjectField(forms.Field):
    """A textarea holding a JSON object; cleans to a dict."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("rows", 6)
        self.widget.attrs.setdefault("spellcheck", "false")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        text = (value or "").strip()
        if not text:
            return {}
        try:
            parsed = parse_json(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError("Give a JSON object, e.g. {\"Name\": \"&{Name}\"}.")
        return parsed


class SearchableChoiceField(forms.ChoiceField):
    """A choice among hundreds (entities): typed with suggestions (``<datalist id=list_id>``) instead of a long
    select, as the Incoming's entity is. The value or a label matching one choice exactly (any case) is taken."""

    def __init__(self, *, list_id: str, placeholder: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"list": list_id, "autocomplete": "off",
                                                           "placeholder": placeholder}))
        super().__init__(**kwargs)
        self.list_id = list_id

    def to_python(self, value: Any) -> str:
        text = super().to_python(value).strip()
        if not text or self.valid_value(text):
            return text
        lowered = text.lower()
        choices = cast(list[tuple[Any, Any]], self.choices)  # flat (value, label) pairs, as the forms set them
        matches = [str(key) for key, label in choices if key and lowered in (str(key).lower(), str(label).lower())]
        return matches[0] if len(matches) == 1 else text
