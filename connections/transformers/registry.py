"""The step registry: one class per step type, each with a pydantic model as its typed parameter schema."""

from __future__ import annotations

import builtins
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from .errors import SkipEntity, TransformError

if TYPE_CHECKING:
    from .chain import RunState

__all__ = ["STEP_TYPES", "FieldSpec", "Step", "StepParams", "describe_fields", "register_step"]


class StepParams(BaseModel):
    """Base of every step's parameters: unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


STEP_TYPES: dict[str, type[Step]] = {}


def register_step(cls: type[Step]) -> type[Step]:
    if cls.type in STEP_TYPES:
        raise ValueError(f"step type {cls.type!r} is registered twice")
    STEP_TYPES[cls.type] = cls
    return cls


class Step:
    """One step of a chain. Subclasses set ``type``, ``label``, ``help``, ``Params`` and override ``apply``.

    ``check`` adds semantic checks the schema cannot express (paths, expressions, templates); ``prepare``
    compiles what ``apply`` needs, once. ``nested`` names parameters that hold nested step lists.
    """

    type: ClassVar[str]
    label: ClassVar[str]
    help: ClassVar[str] = ""
    category: ClassVar[str] = "Shape"
    Params: ClassVar[builtins.type[StepParams]]  # builtins: ``type`` above is the step's name
    widgets: ClassVar[dict[str, str]] = {}
    advanced: ClassVar[tuple[str, ...]] = ()  # parameters the editor folds under "Options"
    nested: ClassVar[tuple[str, ...]] = ()
    # False for steps that cannot make the data larger: the size check after them is skipped (speed).
    # ``prepare`` may set it per instance (a value map whose table holds only scalars does not grow).
    grows: bool = True

    def __init__(
        self,
        params: StepParams,
        *,
        index: int,
        location: str,
        disabled: bool = False,
        children: dict[str, list[Step]] | None = None,
    ) -> None:
        self.params = params
        self.index = index
        self.location = location
        self.disabled = disabled
        self.children = children or {}
        self.prepare()

    @classmethod
    def check(cls, params: Any) -> list[tuple[str, str]]:
        """(parameter, message) pairs for problems the schema cannot see."""
        return []

    def prepare(self) -> None:
        """Compile paths, templates and expressions once, before the first entity."""

    def apply(self, entity: Any, run: RunState) -> Any:
        """Return the entity after this step (it may be changed in place); raise ``SkipEntity`` to drop it."""
        raise NotImplementedError

    def run_list(self, entities: list[Any], run: RunState) -> list[Any]:
        out: list[Any] = []
        for entity in entities:
            try:
                out.append(self.apply(entity, run))
            except SkipEntity as skip:
                run.skipped.append(skip.reason)
        return out

    def error(self, path: str, message: str, *, retryable: bool = False) -> TransformError:
        return TransformError(self.index, self.type, path, message, location=self.location, retryable=retryable)

    def summary(self) -> str:
        """A one-line description for lists and traces."""
        return ""


@dataclass(frozen=True)
class FieldSpec:
    """How a parameter is edited in a form: the UI renders these, built from the pydantic schema."""

    name: str
    label: str
    kind: str  # text, expression, template, path, number, checkbox, select, lines, json, table, steps
    help: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = field(default_factory=tuple)


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _kind_for(annotation: Any) -> tuple[str, tuple[str, ...]]:
    inner, _optional = _strip_optional(annotation)
    origin = get_origin(inner)
    if origin is Literal:
        return "select", tuple(str(arg) for arg in get_args(inner))
    if inner is bool:
        return "checkbox", ()
    if inner in (int, float):
        return "number", ()
    if inner is str:
        return "text", ()
    if origin is list and get_args(inner) and get_args(inner)[0] is str:
        return "lines", ()
    return "json", ()


def describe_fields(step: type[Step]) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    hints = typing.get_type_hints(step.Params)
    for attribute, info in step.Params.model_fields.items():
        name = info.alias or attribute
        kind, choices = _kind_for(hints.get(attribute, info.annotation))
        kind = step.widgets.get(name, kind)
        default: Any = None
        if not info.is_required():
            factory = cast(Callable[[], Any] | None, info.default_factory)  # never the validated-data form here
            default = factory() if factory is not None else info.default
        specs.append(
            FieldSpec(
                name=name,
                label=info.title or name.replace("_", " ").capitalize(),
                kind=kind,
                help=info.description or "",
                required=info.is_required(),
                default=default,
                choices=choices,
            )
        )
    return specs
