"""Steps that set, copy, move, remove and rename: the everyday reshaping."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .. import paths, placeholders
from ..chain import RunState
from ..errors import StepFailure
from ..limits import json_size
from ..registry import Step, StepParams, register_step
from ._helpers import check_path, check_template, copy_to

__all__ = ["CopyStep", "KeyMapStep", "MoveStep", "RemoveStep", "SetValueStep"]


class SetValueParams(StepParams):
    path: str = Field(description="Where to write, e.g. Account.Code or Lines.*.Currency.")
    value: Any = Field(default=None, description="A literal JSON value (used when Template is empty).")
    template: str = Field(default="", description="Text with placeholders, e.g. 'Order &{OrderNumber}'.")
    only_if_missing: bool = Field(default=False, description="Leave existing non-null values alone.")


@register_step
class SetValueStep(Step):
    type = "set_value"
    advanced = ("only_if_missing",)
    label = "Value setter"
    help = "Set a path to a literal value or a template with &{Path} placeholders."
    Params = SetValueParams
    widgets: ClassVar[dict[str, str]] = {"path": "path", "template": "template", "value": "value"}
    params: SetValueParams

    @classmethod
    def check(cls, params: SetValueParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path, allow_root=False)
        check_template(problems, "template", params.template)
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)
        self.template = placeholders.compile_template(self.params.template) if self.params.template else None
        self.wild = paths.has_wildcard(self.path)

    def apply(self, entity: Any, run: RunState) -> Any:
        value = placeholders.render(self.template, entity) if self.template is not None else self.params.value
        if self.params.only_if_missing:
            if self.wild:
                for concrete, current in paths.find(entity, self.path):
                    if current is None:
                        entity = paths.assign(entity, tuple(map(str, concrete)), paths.clone(value))
                return entity
            if paths.get(entity, self.path) not in (paths.MISSING, None):
                return entity
        copy_each = isinstance(value, dict | list)
        if copy_each and self.wild:  # one copy per match: charge them all before copying
            targets = self.path if self.path[-1] == paths.WILDCARD else self.path[:-1]
            size = json_size(value) * len(paths.find(entity, targets))
            run.hold(self, 0, size)
            run.release(0, size)
        return paths.assign(entity, self.path, value, copy_each=copy_each)

    def summary(self) -> str:
        return f"{self.params.path} = {self.params.template or self.params.value!r}"


class CopyParams(StepParams):
    source: str = Field(description="Path to read, e.g. Account.Name or Lines.*.Item.")
    target: str = Field(description="Path to write; a wildcard here follows the source's, e.g. Lines.*.ItemCode.")
    if_missing: Literal["skip", "null", "fail"] = Field(
        default="skip", description="When the source is missing: do nothing, write null, or fail the task."
    )


def _check_copy(params: CopyParams) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    check_path(problems, "source", params.source)
    check_path(problems, "target", params.target)
    if not problems:
        source_wild = paths.parse(params.source).count(paths.WILDCARD)
        target_wild = paths.parse(params.target).count(paths.WILDCARD)
        if target_wild and target_wild != source_wild:
            problems.append(("target", "the target may use wildcards only as many as the source has"))
        if params.source == params.target:
            problems.append(("target", "source and target are the same path"))
    return problems


@register_step
class CopyStep(Step):
    type = "copy"
    advanced = ("if_missing",)
    label = "Copy"
    help = "Copy a value to another path (a wildcard source into a plain target gives a list)."
    Params = CopyParams
    widgets: ClassVar[dict[str, str]] = {"source": "path", "target": "path"}
    params: CopyParams
    move = False

    @classmethod
    def check(cls, params: CopyParams) -> list[tuple[str, str]]:
        return _check_copy(params)

    def prepare(self) -> None:
        self.source = paths.parse(self.params.source)
        self.target = paths.parse(self.params.target)

    def apply(self, entity: Any, run: RunState) -> Any:
        return copy_to(entity, self.source, self.target, if_missing=self.params.if_missing, move=self.move)

    def summary(self) -> str:
        return f"{self.params.source} → {self.params.target}"


@register_step
class MoveStep(CopyStep):
    type = "move"
    grows = False
    label = "Move / rename"
    help = "Move a value to another path (rename a key); the source is removed."
    move = True

    @classmethod
    def check(cls, params: CopyParams) -> list[tuple[str, str]]:
        problems = _check_copy(params)
        if not problems and not params.source:
            problems.append(("source", "cannot move the whole entity"))
        return problems


class RemoveParams(StepParams):
    paths: list[str] = Field(default_factory=list, description="Paths to remove, one per line (wildcards allowed).")
    drop_nulls: bool = Field(default=False, description="Also remove every key whose value is null, at any depth.")


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        for key in [key for key, item in value.items() if item is None]:
            del value[key]
        for item in value.values():
            _drop_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _drop_nulls(item)
    return value


@register_step
class RemoveStep(Step):
    type = "remove"
    grows = False
    label = "Remove keys"
    help = "Remove keys by path; missing paths are ignored."
    Params = RemoveParams
    params: RemoveParams

    @classmethod
    def check(cls, params: RemoveParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for text in params.paths:
            check_path(problems, "paths", text, allow_root=False)
        if not params.paths and not params.drop_nulls:
            problems.append(("paths", "name at least one path, or drop nulls"))
        return problems

    def prepare(self) -> None:
        self.paths = [paths.parse(text) for text in self.params.paths]

    def apply(self, entity: Any, run: RunState) -> Any:
        for path in self.paths:
            paths.delete(entity, path)
        return _drop_nulls(entity) if self.params.drop_nulls else entity

    def summary(self) -> str:
        return ", ".join(self.params.paths) + (" + nulls" if self.params.drop_nulls else "")


class KeyMapParams(StepParams):
    path: str = Field(default="", description="The object(s) whose keys to rename; empty means the entity.")
    mapping: dict[str, str] = Field(description='Old key → new key, e.g. {"Code": "AccountCode"}.')
    unmapped: Literal["keep", "drop"] = Field(default="keep", description="What to do with keys not in the map.")


@register_step
class KeyMapStep(Step):
    type = "key_map"
    grows = False
    advanced = ("unmapped",)
    label = "Key mapper"
    help = "Rename many keys of an object at once, keeping their order."
    Params = KeyMapParams
    widgets: ClassVar[dict[str, str]] = {"path": "path"}
    params: KeyMapParams

    @classmethod
    def check(cls, params: KeyMapParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path)
        if not params.mapping:
            problems.append(("mapping", "the map is empty"))
        seen: dict[str, str] = {}
        for old, new in params.mapping.items():
            if not new:
                problems.append(("mapping", f"'{old}' maps to an empty key"))
            if new in seen:
                problems.append(("mapping", f"'{old}' and '{seen[new]}' both map to '{new}'"))
            seen[new] = old
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)

    def _rename(self, obj: Any, where: str) -> Any:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise StepFailure(where, f"expected an object, found a {paths.type_name(obj)}")
        mapping = self.params.mapping
        keep = self.params.unmapped == "keep"
        return {mapping.get(key, key): value for key, value in obj.items() if keep or key in mapping}

    def apply(self, entity: Any, run: RunState) -> Any:
        if not self.path:
            return self._rename(entity, "")
        for concrete, found in paths.find(entity, self.path):
            entity = paths.assign(entity, tuple(map(str, concrete)), self._rename(found, paths.format_path(concrete)))
        return entity

    def summary(self) -> str:
        return ", ".join(f"{old}→{new}" for old, new in list(self.params.mapping.items())[:4])
