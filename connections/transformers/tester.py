"""The tester behind every "Test" panel: a chain and pasted JSON in, outputs and per-step traces out.

Pure: the caller supplies the ``Context`` (a dry-run storage, a lookup provider or a refusal).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lib.json_input import parse_json

from .chain import StepTrace, compile_chain, load_chain, run_chain, validate_chain
from .errors import TransformError
from .limits import Budget, LimitExceeded, Limits
from .services import Context

__all__ = ["MAX_INPUT_CHARS", "MAX_TEST_ENTITIES", "EntityReport", "TesterReport", "test_chain"]

MAX_TEST_ENTITIES = 20
MAX_INPUT_CHARS = 2_000_000


@dataclass
class EntityReport:
    """One input entity's way through the chain."""

    number: int
    input: Any
    outputs: list[Any] = field(default_factory=list)
    skipped_reason: str | None = None
    error: dict[str, Any] | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        if self.skipped_reason:
            return "skipped"
        return "ok"


@dataclass
class TesterReport:
    input_error: str = ""
    chain_errors: list[str] = field(default_factory=list)
    entities: list[EntityReport] = field(default_factory=list)
    truncated: int = 0
    stopped: str = ""
    deferred: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.input_error and not self.chain_errors and all(e.status != "failed" for e in self.entities)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _display(trace: StepTrace) -> dict[str, Any]:
    """The trace as a dict, with compact text of each changed value and the entity after the step."""
    step = trace.as_dict()
    for change in step["diff"]:
        change["before_text"] = _short(change.get("before"))
        change["after_text"] = _short(change.get("after"))
    after: Any = trace.after[0] if len(trace.after) == 1 else trace.after
    text = json.dumps(after, ensure_ascii=False, indent=2, default=str)
    step["after_json"] = text if len(text) <= 4000 else text[:3999] + "…"
    return step


def test_chain(
    steps: Any, input_text: str, context: Context, *, each_item: bool = True, limits: Limits | None = None
) -> TesterReport:
    """Run ``steps`` over the JSON in ``input_text``; a top-level list is several entities when ``each_item``.

    ``limits`` apply to the whole test: every input's outputs and traces together. An input that goes over
    fails with the reason, and the inputs after it are not run.
    """
    report = TesterReport()
    raw, errors = load_chain(steps)
    errors = errors or validate_chain(raw)
    if errors:
        report.chain_errors = [str(error) for error in errors]
        return report
    if len(input_text) > MAX_INPUT_CHARS:
        report.input_error = f"The input is too large to test here (over {MAX_INPUT_CHARS:,} characters)."
        return report
    try:
        data = parse_json(input_text)
    except ValueError as exc:
        report.input_error = f"The input is not valid JSON: {exc}"
        return report
    entities = data if each_item and isinstance(data, list) else [data]
    if len(entities) > MAX_TEST_ENTITIES:
        report.truncated = len(entities) - MAX_TEST_ENTITIES
        entities = entities[:MAX_TEST_ENTITIES]
    chain = compile_chain(raw)
    budget = Budget(limits or Limits(scope="test"))
    for number, entity in enumerate(entities, start=1):
        item = EntityReport(number=number, input=entity)
        try:
            result = run_chain(chain, entity, context, trace=True, budget=budget)
        except TransformError as exc:
            item.error = exc.as_dict() | {"text": str(exc)}
            item.trace = [_display(step) for step in exc.trace]
            if isinstance(exc, LimitExceeded):
                report.entities.append(item)
                report.truncated += len(entities) - number
                report.stopped = str(exc)
                break
        else:
            budget.keep(result.entities)
            item.outputs = result.entities
            item.skipped_reason = result.skipped_reason
            item.trace = [_display(step) for step in result.trace]
            item.duration_ms = round(result.duration_ms, 3)
            report.deferred.extend(result.deferred)
        report.entities.append(item)
    return report


test_chain.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name
