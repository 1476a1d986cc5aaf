"""Quality checks of one extracted Parquet file with great-expectations 1.x.

The suite is deliberately small and structural: the row count equals what the source counted,
key and mandatory columns hold no NULL, the key is unique (one column or compound). Each call
builds its own ephemeral, in-memory context: nothing is written to disk, no Data Docs, no
analytics, no progress bars.

Known limit (roadmap): the whole Parquet file is read into one pandas DataFrame, so memory grows
with the dataset. Large datasets will need chunked checks (per row group, with the uniqueness
check done on the key columns only, or in DuckDB/SQL).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow.parquet as pq

from validation.report import ExpectationOutcome, QualityReport, jsonable

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.expectations import Expectation

# Read by great-expectations when it is imported; set before the (lazy) import below.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# Counts and the first unexpected values (keys or NULLs), enough to find the rows again.
_RESULT_FORMAT: Final = "SUMMARY"
_DETAIL_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "observed_value",
    "partial_unexpected_list",
    "partial_unexpected_counts",
)


def check_dataset(
    name: str,
    parquet: Path,
    *,
    key: Sequence[str],
    not_null: Sequence[str] = (),
    expected_rows: int | None = None,
) -> QualityReport:
    """Run the structural checks on ``parquet`` and report each of them."""
    if not key:
        raise ValueError(f"dataset {name}: a key is required to check uniqueness")
    frame = _read(name, parquet, [*key, *not_null])
    _quiet_logs()
    import great_expectations as gx

    expectations = _expectations(key, not_null, expected_rows)
    result = _validate(name, frame, expectations)
    by_id = {r.expectation_config.id: r for r in result.results if r.expectation_config}
    outcomes = tuple(_outcome(by_id[e.id]) for e in expectations)
    return QualityReport(
        dataset=name,
        success=bool(result.success) and all(o.success for o in outcomes),
        rows=len(frame),
        outcomes=outcomes,
        engine=f"great_expectations {gx.__version__}",
    )


def _read(name: str, parquet: Path, required: Sequence[str]) -> pd.DataFrame:
    if not parquet.is_file():
        raise FileNotFoundError(f"dataset {name}: no Parquet file at {parquet}")
    table = pq.read_table(parquet)
    missing = [column for column in required if column not in table.column_names]
    if missing:
        raise ValueError(
            f"dataset {name}: {parquet} has no column {', '.join(missing)} (columns: {', '.join(table.column_names)})"
        )
    # Python objects rather than numpy types where numpy would alter values: integer columns
    # with NULLs would become float64 (inexact beyond 2**53), dates beyond 2262 would overflow.
    return table.to_pandas(integer_object_nulls=True, date_as_object=True, timestamp_as_object=True)


def _expectations(key: Sequence[str], not_null: Sequence[str], expected_rows: int | None) -> list[Expectation]:
    import great_expectations.expectations as gxe

    expectations: list[Expectation] = []
    if expected_rows is not None:
        expectations.append(gxe.ExpectTableRowCountToEqual(value=expected_rows))
    for column in dict.fromkeys([*key, *not_null]):  # key first, each column once
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if len(key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    else:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    return expectations


def _validate(name: str, frame: pd.DataFrame, expectations: Sequence[Expectation]) -> ExpectationSuiteValidationResult:
    import great_expectations as gx

    context = _context()
    batch = (
        context.data_sources.add_pandas(name=f"{name} source")
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe("whole file")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name} structure"))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name} validation", data=batch, suite=suite)
    )
    return definition.run(batch_parameters={"dataframe": frame}, result_format=_RESULT_FORMAT)


def _context() -> AbstractDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _quiet_logs() -> None:
    """Keep great-expectations' INFO chatter (emitted on import) out of the pipeline's logs."""
    logger = logging.getLogger("great_expectations")
    if logger.level == logging.NOTSET:  # unless the deployment configured it on purpose
        logger.setLevel(logging.WARNING)


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    details: dict[str, Any] = {"kwargs": jsonable(kwargs)}
    details.update({k: jsonable(result.result[k]) for k in _DETAIL_KEYS if k in result.result})
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        details["exception"] = exception.get("exception_message")
    unexpected = result.result.get("unexpected_count")
    return ExpectationOutcome(
        expectation=config.type,
        column=kwargs.get("column"),
        success=bool(result.success),
        unexpected_count=None if unexpected is None else int(unexpected),
        details=details,
    )
