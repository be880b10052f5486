"""Steps that translate values: a dictionary table, and casts between text, numbers, booleans and dates."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import dates, paths
from ..chain import RunState
from ..errors import StepFailure
from ..registry import Step, StepParams, register_step
from ..tables import mapping_key
from ._helpers import check_path

__all__ = ["CastStep", "ValueMapStep"]


class MapRow(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    to: Any = None


class ValueMapParams(StepParams):
    path: str = Field(description="The value(s) to translate, e.g. Status or Lines.*.VATCode.")
    table: list[MapRow] = Field(description="From → to rows; edit as CSV (from,to), one row per line.")
    case_sensitive: bool = Field(default=True, description="Match 'Ja' and 'ja' as different keys.")
    when_missing: Literal["keep", "default", "null", "fail"] = Field(
        default="keep", description="For a value not in the table: keep it, use Default, write null, or fail."
    )
    default: Any = Field(default=None, description="Used when a value is not in the table and 'default' is chosen.")


@register_step
class ValueMapStep(Step):
    type = "value_map"
    advanced = ("case_sensitive",)
    label = "Value mapper"
    help = "Translate values through a dictionary table (importable from CSV), with a default."
    category = "Values"
    Params = ValueMapParams
    widgets: ClassVar[dict[str, str]] = {"path": "path", "table": "table", "default": "value"}
    params: ValueMapParams

    @classmethod
    def check(cls, params: ValueMapParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path, allow_root=False)
        seen: dict[str, int] = {}
        for number, row in enumerate(params.table, start=1):
            key = row.source if params.case_sensitive else row.source.casefold()
            if key in seen:
                problems.append(("table", f"duplicate key '{row.source}' in rows {seen[key]} and {number}"))
            seen.setdefault(key, number)
        if not params.table:
            problems.append(("table", "the table is empty"))
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)
        self.wild = paths.has_wildcard(self.path)
        sensitive = self.params.case_sensitive
        self.table = {row.source if sensitive else row.source.casefold(): row.to for row in self.params.table}
        self.grows = any(isinstance(to, dict | list) for to in [*self.table.values(), self.params.default])

    def _map(self, value: Any, where: str) -> Any:
        key = mapping_key(value, case_sensitive=self.params.case_sensitive)
        if key is not None and key in self.table:
            return paths.clone(self.table[key])
        mode = self.params.when_missing
        if mode == "keep":
            return value
        if mode == "default":
            return paths.clone(self.params.default)
        if mode == "null":
            return None
        raise StepFailure(where, f"value {value!r} is not in the table")

    def apply(self, entity: Any, run: RunState) -> Any:
        if not self.wild:
            value = paths.get(entity, self.path)
            if value is paths.MISSING:
                return entity
            return paths.assign(entity, self.path, self._map(value, self.params.path))
        for concrete, value in paths.find(entity, self.path):
            where = paths.format_path(concrete)
            entity = paths.assign(entity, tuple(map(str, concrete)), self._map(value, where))
        return entity

    def summary(self) -> str:
        return f"{self.params.path} via {len(self.params.table)} rows"


class CastParams(StepParams):
    path: str = Field(description="The value(s) to convert, e.g. OrderDate or Lines.*.Quantity.")
    to: Literal["string", "integer", "number", "boolean", "date", "exact_date"] = Field(
        description="date: ISO 8601 with offset (or Format); exact_date: Exact's /Date(ms)/."
    )
    format: str = Field(default="iso", description="For date: iso, date (YYYY-MM-DD), utc, or a strftime pattern.")
    timezone: str = Field(default="Europe/Amsterdam", description="The zone dates are shown in and Exact uses.")
    exact_wallclock: bool = Field(
        default=True, description="Exact's /Date(ms)/ is wall-clock time in Timezone (untick for UTC)."
    )
    epoch_unit: Literal["ms", "s"] = Field(default="ms", description="Unit of numbers read as dates.")
    on_error: Literal["fail", "null", "keep"] = Field(default="fail", description="A value that cannot convert.")


_TRUE = {"true", "yes", "y", "1", "ja", "j", "on", "waar"}
_FALSE = {"false", "no", "n", "0", "nee", "off", "onwaar", ""}


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number: int | float = value
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # Dutch decimal comma
        number = float(text)
    else:
        raise ValueError(f"cannot read a number from a {paths.type_name(value)}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            exact = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise ValueError(f"'{value}' is not a whole number")
        return int(exact)
    number = _to_number(value)
    if number != int(number):
        raise ValueError(f"{number} is not a whole number")
    return int(number)


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"cannot read true/false from {value!r}")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@register_step
class CastStep(Step):
    type = "cast"
    grows = False
    advanced = ("format", "timezone", "exact_wallclock", "epoch_unit", "on_error")
    label = "Cast / format"
    help = "Convert to text, number, boolean or date; Exact's /Date(ms)/ ↔ ISO 8601 with timezone."
    category = "Values"
    Params = CastParams
    widgets: ClassVar[dict[str, str]] = {"path": "path"}
    params: CastParams

    @classmethod
    def check(cls, params: CastParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path, allow_root=False)
        problem = dates.check_zone(params.timezone)
        if problem:
            problems.append(("timezone", problem))
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)
        self.wild = paths.has_wildcard(self.path)

    def convert(self, value: Any) -> Any:
        to = self.params.to
        if to == "string":
            return _to_string(value)
        if to == "integer":
            return _to_integer(value)
        if to == "number":
            return _to_number(value)
        if to == "boolean":
            return _to_boolean(value)
        p = self.params
        moment = dates.parse_date(value, p.timezone, exact_wallclock=p.exact_wallclock, epoch_unit=p.epoch_unit)
        if to == "exact_date":
            return dates.to_exact(moment, p.timezone, exact_wallclock=p.exact_wallclock)
        return dates.format_date(moment, p.format)

    def _cast(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        try:
            return self.convert(value)
        except (ValueError, OverflowError, OSError, ArithmeticError) as exc:
            if self.params.on_error == "null":
                return None
            if self.params.on_error == "keep":
                return value
            raise StepFailure(where, f"cannot convert to {self.params.to}: {exc}") from exc

    def apply(self, entity: Any, run: RunState) -> Any:
        if not self.wild:
            value = paths.get(entity, self.path)
            if value is paths.MISSING:
                return entity
            return paths.assign(entity, self.path, self._cast(value, self.params.path))
        for concrete, value in paths.find(entity, self.path):
            entity = paths.assign(entity, tuple(map(str, concrete)), self._cast(value, paths.format_path(concrete)))
        return entity

    def summary(self) -> str:
        return f"{self.params.path} → {self.params.to}"
