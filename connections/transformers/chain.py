"""Validate, compile and run a chain of steps over one entity.

A chain is JSON: a list of ``{"type": ..., "params": {...}, "disabled": false, "note": ""}`` (or an object
with a ``steps`` list). ``validate_chain`` lists every problem with the step and the reason;
``run_chain`` returns the entities that come out (one, none when skipped, several after a split) and,
when tracing, what each step changed and how long it took. ``TransformError`` is the only exception
``run_chain`` raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jmespath.exceptions import JMESPathError
from pydantic import ValidationError

from lib.json_input import parse_json

from . import paths
from .diff import json_diff
from .errors import ServiceError, SkipEntity, StepError, StepFailure, TransformError
from .limits import Budget, LimitExceeded, json_size
from .registry import STEP_TYPES, Step
from .services import Context

__all__ = [
    "MAX_DEPTH",
    "MAX_STEPS",
    "Chain",
    "ChainInvalid",
    "Result",
    "RunState",
    "StepTrace",
    "compile_chain",
    "load_chain",
    "run_chain",
    "validate_chain",
]

MAX_DEPTH = 4  # conditionals inside conditionals: deeper than this is refused
MAX_STEPS = 300  # all steps, nested ones included
_STEP_KEYS = {"type", "params", "disabled", "note"}
# What a step's code may raise on unexpected data; the runner reports it as a TransformError for that step.
_DATA_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    OSError,
    JMESPathError,
    UnicodeError,
)


class ChainInvalid(ValueError):
    def __init__(self, errors: list[StepError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


@dataclass
class StepTrace:
    """One step's part in a run: where it sits (``location`` like ``2.then.0``), what changed, how long."""

    index: int
    location: str
    step_type: str
    label: str
    depth: int
    duration_ms: float = 0.0
    entities_in: int = 0
    entities_out: int = 0
    before: list[Any] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)
    diff: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    disabled: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "location": self.location,
            "step_type": self.step_type,
            "label": self.label,
            "depth": self.depth,
            "duration_ms": round(self.duration_ms, 3),
            "entities_in": self.entities_in,
            "entities_out": self.entities_out,
            "diff": self.diff,
            "skipped": self.skipped,
            "disabled": self.disabled,
            "note": self.note,
        }


@dataclass
class Result:
    """What comes out of a chain for one entity."""

    entities: list[Any]
    skipped_reason: str | None
    trace: list[StepTrace] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0


@dataclass
class RunState:
    """Per-run scratch space the steps share.

    ``held_entities``/``held_bytes`` count what steps that build their output item by item (split,
    conditional) hold so far, so nested steps and the next item are checked against the budget with it.
    """

    context: Context
    tracing: bool
    budget: Budget = field(default_factory=Budget)
    trace: list[StepTrace] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict)
    depth: int = 0
    held_entities: int = 0
    held_bytes: int = 0

    def check(self, step: Step, entities: list[Any], *, measure: bool) -> None:
        """After ``step``: its entities, with what enclosing steps hold, within the budget (size if ``measure``)."""
        size = None
        if measure:
            size = self.held_bytes + json_size(entities, cap=self.budget.room() - self.held_bytes)
        self._refuse_if_over(step, self.held_entities + len(entities), size)

    def hold(self, step: Step, entities: int, size: int) -> None:
        """Charge what ``step`` is about to make (before it copies), or raise ``LimitExceeded``."""
        self.held_entities += entities
        self.held_bytes += size
        self._refuse_if_over(step, self.held_entities, self.held_bytes)

    def release(self, entities: int, size: int) -> None:
        """The step is done: its output is the list the next step gets (checked by ``check``)."""
        self.held_entities -= entities
        self.held_bytes -= size

    def _refuse_if_over(self, step: Step, entities: int, size: int | None) -> None:
        reason = self.budget.over(entities=entities, size=size)
        if reason:
            raise LimitExceeded(step.index, step.type, "", reason, location=step.location)


@dataclass
class Chain:
    """A compiled chain: parsed once, run many times.

    ``plan`` is what an untraced run goes through: the enabled top-level steps, each with its ``apply`` when it
    takes the entities one at a time (``Step.run_list`` not overridden), so a single entity skips the list.
    """

    steps: list[Step]
    source: list[dict[str, Any]]
    plan: list[tuple[Step, Callable[[Any, RunState], Any] | None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.plan = [(step, step.apply if type(step).run_list is Step.run_list else None)
                     for step in self.steps if not step.disabled]

    def run(
        self, entity: Any, context: Context | None = None, *, trace: bool = False, budget: Budget | None = None
    ) -> Result:
        return run_chain(self, entity, context, trace=trace, budget=budget)


def load_chain(chain: Any) -> tuple[list[Any] | None, list[StepError]]:
    """The list of raw steps from JSON text, a list, or an object with ``steps``."""
    if isinstance(chain, str | bytes):
        try:
            chain = parse_json(chain)
        except ValueError as exc:
            return None, [StepError(-1, "", "", "", f"invalid JSON: {exc}")]
    if isinstance(chain, dict) and "steps" in chain:
        chain = chain["steps"]
    if not isinstance(chain, list):
        return None, [StepError(-1, "", "", "", "a chain is a list of steps")]
    return chain, []


def _compile_steps(
    raw_steps: Any, *, depth: int, prefix: str, top: int | None, errors: list[StepError], counter: list[int]
) -> list[Step]:
    compiled: list[Step] = []
    if not isinstance(raw_steps, list):
        errors.append(StepError(top if top is not None else -1, "", prefix, "", "nested steps must be a list"))
        return compiled
    for position, raw in enumerate(raw_steps):
        index = position if top is None else top
        location = f"{prefix}.{position}" if prefix else str(position)
        counter[0] += 1
        if counter[0] > MAX_STEPS:
            errors.append(StepError(index, "", location, "", f"a chain may have at most {MAX_STEPS} steps"))
            return compiled
        if not isinstance(raw, dict):
            errors.append(StepError(index, "", location, "", "a step must be an object with a type"))
            continue
        step_type = raw.get("type")
        cls = STEP_TYPES.get(step_type) if isinstance(step_type, str) else None
        if cls is None:
            errors.append(StepError(index, str(step_type), location, "type", f"unknown step type {step_type!r}"))
            continue
        extra = set(raw) - _STEP_KEYS
        if extra:
            errors.append(StepError(index, cls.type, location, "", f"unknown keys {sorted(extra)}"))
        if not isinstance(raw.get("disabled", False), bool):
            errors.append(StepError(index, cls.type, location, "disabled", "must be true or false"))
        raw_params = raw.get("params", {})
        if not isinstance(raw_params, dict):
            errors.append(StepError(index, cls.type, location, "params", "params must be an object"))
            continue
        try:
            params = cls.Params.model_validate(raw_params)
        except ValidationError as exc:
            for problem in exc.errors():
                name = ".".join(str(part) for part in problem["loc"])
                errors.append(StepError(index, cls.type, location, name, problem["msg"]))
            continue
        children: dict[str, list[Step]] = {}
        if cls.nested:
            if depth >= MAX_DEPTH:
                errors.append(StepError(index, cls.type, location, "", f"nested too deep: at most {MAX_DEPTH} levels"))
                continue
            for name in cls.nested:
                children[name] = _compile_steps(
                    getattr(params, name),
                    depth=depth + 1,
                    prefix=f"{location}.{cls.Params.model_fields[name].alias or name}",
                    top=index,
                    errors=errors,
                    counter=counter,
                )
        problems = cls.check(params)
        for name, message in problems:
            errors.append(StepError(index, cls.type, location, name, message))
        if problems:
            continue
        compiled.append(
            cls(params, index=index, location=location, disabled=bool(raw.get("disabled")), children=children)
        )
    return compiled


def _compile(chain: Any) -> tuple[Chain | None, list[StepError]]:
    raw, errors = load_chain(chain)
    if raw is None:
        return None, errors
    try:
        steps = _compile_steps(raw, depth=0, prefix="", top=None, errors=errors, counter=[0])
    except RecursionError:
        return None, [StepError(-1, "", "", "", "the chain is nested too deep")]
    return (None if errors else Chain(steps, raw)), errors


def validate_chain(chain: Any) -> list[StepError]:
    """Every reason the chain would be refused; empty when it is valid."""
    return _compile(chain)[1]


def compile_chain(chain: Any) -> Chain:
    if isinstance(chain, Chain):
        return chain
    compiled, errors = _compile(chain)
    if compiled is None:
        raise ChainInvalid(errors)
    return compiled


def _snapshot(entities: list[Any]) -> list[Any]:
    return [paths.clone(entity) for entity in entities]


def _entity_diff(before: list[Any], after: list[Any]) -> list[dict[str, Any]]:
    if len(before) == 1 and len(after) == 1:
        return json_diff(before[0], after[0])
    return json_diff(before, after)


UNTRACED = "not traced: the data is larger than the tester shows step by step"


def run_steps(steps: list[Step], entities: list[Any], run: RunState) -> list[Any]:
    """Run steps in order over the current entities (nested steps call this too).

    After each step the entities are checked against the run's budget; a trace keeps copies of the
    entities before and after each step only while they fit in the budget's trace room.
    """
    for step in steps:
        if run.tracing:
            position = len(run.trace)
            record = StepTrace(step.index, step.location, step.type, step.summary(), run.depth)
            record.entities_in = len(entities)
            if step.disabled or not entities:
                record.disabled = step.disabled
                record.note = "disabled" if step.disabled else "no entities left"
                record.entities_out = len(entities)
                run.trace.append(record)
                continue
            room = run.budget.trace_room()
            size_before = json_size(entities, cap=room)
            traced = 2 * size_before <= room  # before and after: about twice the entities
            if traced:
                record.before = _snapshot(entities)
            skipped_before = len(run.skipped)
            started = time.perf_counter()
            entities = _run_step(step, entities, run)
            record.duration_ms = (time.perf_counter() - started) * 1000
            run.check(step, entities, measure=step.grows)
            if traced:
                size_after = json_size(entities, cap=room - size_before)
                traced = size_before + size_after <= room
            if traced:
                run.budget.trace_bytes += size_before + size_after
                record.after = _snapshot(entities)
                record.diff = _entity_diff(record.before, record.after)
            else:
                record.before = []
                record.note = UNTRACED
            record.entities_out = len(entities)
            record.skipped = run.skipped[skipped_before:]
            run.trace.insert(position, record)
        elif not step.disabled:
            if not entities:
                break
            entities = _run_step(step, entities, run)
            run.check(step, entities, measure=step.grows)
    return entities


def run_plan(plan: list[tuple[Step, Callable[[Any, RunState], Any] | None]], entities: list[Any], run: RunState,
             ) -> list[Any]:
    """``run_steps`` without tracing over a chain's ``plan``: the same entities, skips and errors, with fewer
    calls per step (the reader runs every entity of a page through it)."""
    for step, apply in plan:
        if not entities:
            break
        if apply is not None and len(entities) == 1:
            try:
                entities = [apply(entities[0], run)]
            except SkipEntity as skip:
                run.skipped.append(skip.reason)
                entities = []
            except Exception as exc:
                error = _step_error(step, exc)
                if error is exc:
                    raise
                raise error from exc
        else:
            entities = _run_step(step, entities, run)
        run.check(step, entities, measure=step.grows)
    return entities


def _step_error(step: Step, exc: Exception) -> Exception:
    """What a step's exception becomes for the caller: a ``TransformError`` naming the step (others unchanged)."""
    if isinstance(exc, TransformError):
        return exc
    if isinstance(exc, StepFailure):
        return step.error(exc.path, exc.message, retryable=exc.retryable)
    if isinstance(exc, ServiceError):
        return step.error("", str(exc), retryable=exc.retryable)
    if isinstance(exc, _DATA_ERRORS):
        return step.error("", f"{type(exc).__name__}: {exc}")
    return exc


def _run_step(step: Step, entities: list[Any], run: RunState) -> list[Any]:
    try:
        return step.run_list(entities, run)
    except Exception as exc:
        error = _step_error(step, exc)
        if error is exc:
            raise
        raise error from exc


def run_chain(
    chain: Any, entity: Any, context: Context | None = None, *, trace: bool = True, budget: Budget | None = None
) -> Result:
    """Run ``chain`` (JSON or compiled) over ``entity``; the input is never changed.

    ``budget`` caps what the run may make (entities, size, time, trace); pass one ``Budget`` to the runs
    whose results are kept together. Going over raises ``LimitExceeded``, a ``TransformError``.
    """
    started = time.perf_counter()
    if not isinstance(chain, Chain):
        compiled, errors = _compile(chain)
        if compiled is None:
            first = errors[0]
            raise TransformError(
                first.step_index, first.step_type or "chain", "", f"invalid chain: {first}", location=first.location
            )
        chain = compiled
    run = RunState(context=context or Context(), tracing=trace, budget=budget or Budget())
    try:
        if trace:
            entities = run_steps(chain.steps, [paths.clone(entity)], run)
        else:
            entities = run_plan(chain.plan, [paths.clone(entity)], run)
    except TransformError as exc:
        exc.trace = run.trace  # what ran before the failure, for the tester
        raise
    except RecursionError as exc:
        raise TransformError(-1, "input", "", "the entity is nested too deep") from exc
    reason = None
    if not entities:
        reason = run.skipped[-1] if run.skipped else "skipped"
    return Result(
        entities=entities,
        skipped_reason=reason,
        trace=run.trace,
        skipped=run.skipped,
        deferred=run.deferred,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
