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

import sys
import types
from typing import TYPE_CHECKING, Any

# The exports are loaded on first use: a process that only reads specifications and scopes (the
# packaging, the browser) does not carry the extraction stack (SQLAlchemy's readers, the
# synthetic sources), about 20 MB of memory.
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


class _Package(types.ModuleType):
    """The package itself. The submodule ``extractors.extract`` shares its name with the function
    ``extract``: importing the submodule sets the package's attribute, which stays the function
    (``from extractors import extract`` gives the function, whichever was imported first)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "extract" and isinstance(value, types.ModuleType):
            value = value.extract
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
