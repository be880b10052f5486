"""Small builders for chains in tests."""

from __future__ import annotations

from typing import Any

from connections.transformers import Context, InMemoryStorage, Result, run_chain


def step(step_type: str, **params: Any) -> dict[str, Any]:
    if "else_" in params:
        params["else"] = params.pop("else_")
    return {"type": step_type, "params": params}


def run(steps: list[dict[str, Any]], entity: Any, context: Context | None = None) -> Result:
    return run_chain(steps, entity, context or Context(storage=InMemoryStorage()))


def one(steps: list[dict[str, Any]], entity: Any, context: Context | None = None) -> Any:
    result = run(steps, entity, context)
    assert len(result.entities) == 1, result
    return result.entities[0]
