"""Every benchmark still imports and answers ``--help``.

The suite never runs the benchmarks (minutes each; ``make bench``), so without this a change elsewhere breaks one
unseen until someone next measures. mypy checks their calls (pyproject's ``files``); this checks what mypy cannot:
that the module's top level runs and its options parse. In this process, without a subprocess: each benchmark's
import-time set-up (a temporary directory, its own environment, ``django.setup()``) is undone afterwards.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import django
import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
NAMES = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))


def test_the_benchmarks_are_found() -> None:
    assert "bench_api" in NAMES and len(NAMES) >= 10, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_imports_and_parses_help(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environ, path = dict(os.environ), list(sys.path)
    # Django is already set up for the tests; a second set-up would only reconfigure logging under them.
    monkeypatch.setattr(django, "setup", lambda *args, **kwargs: None)
    try:
        module = importlib.import_module(f"bench.{name}")
        try:
            with pytest.raises(SystemExit) as exited:
                module.main(["--help"])
        finally:
            work = getattr(module, "WORK", None)
            if isinstance(work, Path) and work.is_relative_to(tempfile.gettempdir()):
                shutil.rmtree(work, ignore_errors=True)
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and "--help" in out, out
