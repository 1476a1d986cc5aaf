"""ARCHITECTURE.md's layering rules, pinned by reading every import (also those inside functions).

The VITAM client and sandbox boundary is pinned beside them, in tests/vitam_sandbox/test_boundaries.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STAGES = ("extractors", "validation", "seda", "profiles", "vitam_client", "vitam_sandbox")
APPLICATIONS = ("versement", "browser", "dags")


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level package imported → the files of ``package`` that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO)))
    return found


def existing(packages: tuple[str, ...]) -> list[str]:
    return [p for p in packages if (REPO / p).is_dir()]


@pytest.mark.parametrize("stage", existing(STAGES))
def test_stages_know_nothing_of_the_applications(stage):
    imports = imported_packages(stage)
    offending = {name: sorted(files) for name, files in imports.items() if name in APPLICATIONS}
    assert not offending, f"{stage} imports {offending}"


def test_versement_never_imports_the_browser_or_the_dags():
    imports = imported_packages("versement")
    assert "browser" not in imports, sorted(imports.get("browser", ()))
    assert "dags" not in imports, sorted(imports.get("dags", ()))


@pytest.mark.parametrize("package", [*existing(STAGES), "versement", "browser"])
def test_airflow_is_imported_only_by_the_dags_and_the_airflow_integration(package):
    files = imported_packages(package).get("airflow", set())
    allowed = {f for f in files if f.startswith("versement/airflow")}
    assert files == allowed, sorted(files - allowed)
