"""versement's own expectation types, declared to great-expectations so that suite files load in it.

The suite files are great-expectations 1.x suites: with these declarations
``load_into_gx(path)`` reads a file into a ``gx.ExpectationSuite`` (checking every argument
with great-expectations' own models), so the files can be reviewed, diffed and edited with its
tools. versement runs them in DuckDB (validation.engine), not with great-expectations' pandas
engine: importing great-expectations alone costs seconds, and its pandas execution loads whole
datasets into memory. This module is therefore imported by tooling and tests only.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

import great_expectations as gx  # noqa: E402
from great_expectations.expectations.expectation import (  # noqa: E402
    BatchExpectation,
    ColumnMapExpectation,
)


class ExpectColumnValuesToBeValidNir(ColumnMapExpectation):
    """Each value is a NIR whose mod-97 key matches (Corsica's 2A/2B read as 19/18)."""

    key_column: str | None = None
    map_metric: ClassVar[str] = "column_values.versement_valid_nir"
    success_keys = ("key_column", "mostly")


class ExpectColumnValuesToBeValidIne(ColumnMapExpectation):
    """Each value has an INE format (BEA, RNIE, apprenticeship); the key is not public."""

    key_column: str | None = None
    map_metric: ClassVar[str] = "column_values.versement_valid_ine"
    success_keys = ("key_column", "mostly")


class ExpectColumnValuesToBeWithinScale(ColumnMapExpectation):
    """Each grade lies between ``min_value`` and the row's own scale (``NOT_x`` within ``BAR_NOT_x``)."""

    scale_column: str
    min_value: float = 0
    map_metric: ClassVar[str] = "column_values.versement_within_scale"
    success_keys = ("scale_column", "min_value", "mostly")


class ExpectColumnValuesToNotBeDoubleEncoded(ColumnMapExpectation):
    """No value looks like UTF-8 read again as Latin-1 or Windows-1252 ('Ã©' for 'é')."""

    map_metric: ClassVar[str] = "column_values.versement_not_double_encoded"


class ExpectColumnValuesToBeXmlCharacters(ColumnMapExpectation):
    """No value holds a character XML 1.0 forbids (C0 controls but tab, LF, CR; U+FFFE, U+FFFF)."""

    map_metric: ClassVar[str] = "column_values.versement_xml_characters"


class ExpectColumnValuesToBeInReference(BatchExpectation):
    """Each (non-NULL) tuple of ``column_list`` exists in ``reference_dataset`` of the same batch.

    A batch-level expectation: it reads two datasets, which great-expectations' own domains
    (one batch at a time) cannot express; versement runs it as an anti-join in DuckDB.
    """

    column_list: list[str]
    reference_dataset: str
    reference_column_list: list[str] | None = None
    metric_dependencies = ("table.row_count",)
    success_keys = ("column_list", "reference_dataset", "reference_column_list")

    def _validate(self, metrics: Any, runtime_configuration: Any = None, execution_engine: Any = None) -> Any:
        raise NotImplementedError("runs in versement's DuckDB engine (validation.engine), across datasets")


DECLARED: tuple[type[BatchExpectation], ...] = (
    ExpectColumnValuesToBeValidNir,
    ExpectColumnValuesToBeValidIne,
    ExpectColumnValuesToBeWithinScale,
    ExpectColumnValuesToNotBeDoubleEncoded,
    ExpectColumnValuesToBeXmlCharacters,
    ExpectColumnValuesToBeInReference,
)


def load_into_gx(path: Path) -> Any:
    """The suite file at ``path`` as a great-expectations ExpectationSuite (arguments checked)."""
    gx.get_context(mode="ephemeral")
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw = {**raw, "expectations": [{k: v for k, v in e.items() if k != "meta" or v} for e in raw["expectations"]]}
    return gx.ExpectationSuite(**raw)
