"""docs/architecture.md stays true: every module, folder, function and class it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _named() -> tuple[list[str], list[str]]:
    """(paths, identifiers) in backticks."""
    tokens = re.findall(r"`([^`]+)`", DOC.read_text())
    paths = [t for t in tokens if t.endswith((".py", "/"))]
    names = [t for t in tokens if t not in paths and IDENTIFIER.match(t)]
    return paths, names


def test_every_module_and_folder_it_names_exists():
    paths, _ = _named()
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md names modules that are gone: {missing}"


def test_every_function_and_class_it_names_is_defined_in_those_modules():
    paths, names = _named()
    source = "\n".join((ROOT / p).read_text() for p in paths if p.endswith(".py"))
    defined = set(re.findall(r"^\s*(?:def|class)\s+(\w+)", source, flags=re.M))
    assert len(names) > 20
    missing = [name for name in names if not {name.split(".")[0], name.split(".")[-1]} <= defined]
    assert not missing, f"docs/architecture.md names functions or classes that are gone: {missing}"
