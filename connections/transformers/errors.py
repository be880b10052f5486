"""The engine's two error shapes: one for a chain that is refused before it runs, one for a run that fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ServiceError", "SkipEntity", "StepError", "StepFailure", "TransformError", "human_location"]


def human_location(location: str) -> str:
    """A step's location as people count: ``0`` is step 1, ``2.then.0`` is ``3 › then › 1``.

    Locations stay 0-based in data (trace, errors' ``location``); only what people read counts from 1.
    """
    parts = [str(int(part) + 1) if part.isdigit() else part for part in str(location).split(".") if part != ""]
    return " › ".join(parts)


@dataclass(frozen=True)
class StepError:
    """Why a chain was refused: which step (index and location, e.g. ``2.then.0``), which parameter, why."""

    step_index: int
    step_type: str
    location: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"step {human_location(self.location)} ({self.step_type})" if self.step_index >= 0 else "chain"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class TransformError(Exception):
    """The only exception a chain raises while running: it names the step and the data path that failed.

    ``retryable``: the same entity may pass later (a lookup's system did not answer, or the record it looks
    for is not there yet); the task waits and its chain runs again instead of failing for good.
    """

    def __init__(self, step_index: int, step_type: str, path: str, message: str, *, location: str = "",
                 retryable: bool = False) -> None:
        self.retryable = retryable
        self.step_index = step_index
        self.step_type = step_type
        self.path = path
        self.message = message
        self.location = location or (str(step_index) if step_index >= 0 else "")
        self.trace: list[Any] = []
        super().__init__(str(self))

    def __str__(self) -> str:
        where = (f"step {human_location(self.location)} ({self.step_type})" if self.step_index >= 0
                 else self.step_type or "chain")
        at = f" at {self.path}" if self.path else ""
        return f"{where}{at}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "step_index": self.step_index,
            "step_type": self.step_type,
            "location": self.location,
            "path": self.path,
            "message": self.message,
        }


class ServiceError(Exception):
    """Raised by a storage or lookup service for a failure the chain should report (store missing, lookup refused).

    ``retryable``: the service may answer later (unreachable, 5xx, rate limited), as opposed to a refusal.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StepFailure(Exception):
    """Raised inside a step for one entity; the runner turns it into a ``TransformError`` naming the step."""

    def __init__(self, path: str, message: str, *, retryable: bool = False) -> None:
        self.path = path
        self.message = message
        self.retryable = retryable
        super().__init__(message)


class SkipEntity(Exception):
    """Raised inside a step to drop the current entity, with the reason that shows on the task."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
