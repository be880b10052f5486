"""The arrows of docs/architecture.md: the platform never imports a connector; connectors and the sandbox
never import each other; the transformer engine imports no Django."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ("alerts", "audit", "clients", "connections", "api", "dashboard", "lib", "configuration", "webhooks")
CONNECTORS = ("exact_online", "http_connector")


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def _offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{where} imports {module}" for where, module in _imports(package)
            if module.split(".")[0] in forbidden]


@pytest.mark.parametrize("package", PLATFORM)
def test_the_platform_never_imports_a_connector_or_the_sandbox(package):
    assert _offending(package, (*CONNECTORS, "sandbox")) == []


@pytest.mark.parametrize("package", CONNECTORS)
def test_connectors_never_import_each_other_or_the_sandbox(package):
    others = tuple(name for name in CONNECTORS if name != package)
    assert _offending(package, (*others, "sandbox")) == []


def test_the_sandbox_imports_no_connector():
    assert _offending("sandbox", CONNECTORS) == []


def test_the_transformer_engine_imports_no_django():
    assert [f"{where} imports {module}" for where, module in _imports("connections/transformers")
            if module.split(".")[0] == "django"] == []
