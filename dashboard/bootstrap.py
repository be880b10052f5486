"""Demo seeds run by ``manage.py bootstrap``: each app registers a function returning log lines."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["register_seed", "run_seeds"]

_SEEDS: list[Callable[[], list[str]]] = []


def register_seed(seed: Callable[[], list[str]]) -> None:
    if seed not in _SEEDS:
        _SEEDS.append(seed)


def run_seeds() -> list[str]:
    lines: list[str] = []
    for seed in _SEEDS:
        lines.extend(seed())
    return lines
