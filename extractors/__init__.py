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

from extractors.datasets import ExtractedDataset, Snapshot
from extractors.errors import ExtractionError
from extractors.extract import Progress, extract
from extractors.scope import Scope
from extractors.specs import DatasetSpec, ToolSpec, load_tool
from extractors.synthetic import SourceSummary, generate

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
