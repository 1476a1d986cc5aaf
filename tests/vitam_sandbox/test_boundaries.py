"""The sandbox (a test and demo server) and the client share nothing: pinned by walking the
imports of every module of both packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "vitam_sandbox": {"vitam_client", "versement", "browser"},
    "vitam_client": {"vitam_sandbox", "versement"},
}


def imported_packages(source: str) -> set[str]:
    """Top-level packages a module imports (absolute imports, wherever they sit in the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_walk_sees_imports_inside_functions() -> None:
    # The sandbox imports seda lazily inside a function: the walk must see such imports.
    source = "def f():\n    from vitam_client.client import X\n    import versement.cli\n"
    assert imported_packages(source) == {"vitam_client", "versement"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_on_their_side(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no module found under {package}/"
    offences = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path.read_text(encoding="utf-8")) & FORBIDDEN[package])
        for path in modules
    }
    assert {path: names for path, names in offences.items() if names} == {}
