"""Extraction stage: source database → Parquet files, all read from one consistent snapshot.

Entry points::

    from extractors import extract, generate, load_tool
    from extractors.scope import Scope

    generate("apogee", "sqlite:///var/demo/apogee.sqlite", students=120, years=3)
    scope = Scope.academic_year(2023)
    snapshot = extract(
        "sqlite:///var/demo/apogee.sqlite",
        load_tool("apogee").select(),
        Path("var/staging/run-1"),
        parameters=scope.parameters(),
    )
"""

from typing import TYPE_CHECKING, Any

# Importing a submodule (``extractors.specs``, read by the configuration and by DAG files) runs
# this file first: the exports are loaded on first use, so that a light import does not load
# pyarrow, the readers and the synthetic generators.
_EXPORTS = {
    "ExtractedDataset": "extractors.datasets",
    "Snapshot": "extractors.datasets",
    "ExtractionError": "extractors.errors",
    "Progress": "extractors.extract",
    "extract": "extractors.extract",
    "Scope": "extractors.scope",
    "DatasetSpec": "extractors.specs",
    "ToolSpec": "extractors.specs",
    "load_tool": "extractors.specs",
    "SourceSummary": "extractors.synthetic",
    "generate": "extractors.synthetic",
}

if TYPE_CHECKING:
    from extractors.datasets import ExtractedDataset, Snapshot
    from extractors.errors import ExtractionError
    from extractors.extract import Progress, extract
    from extractors.scope import Scope
    from extractors.specs import DatasetSpec, ToolSpec, load_tool
    from extractors.synthetic import SourceSummary, generate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'extractors' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DatasetSpec",
    "ExtractedDataset",
    "ExtractionError",
    "Progress",
    "Scope",
    "Snapshot",
    "SourceSummary",
    "ToolSpec",
    "extract",
    "generate",
    "load_tool",
]
