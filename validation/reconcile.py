"""Reconciliation with the source: counts, file digests and aggregates agree with the extraction.

The extraction manifest of each dataset records what the *source* said within the batch's
snapshot: its ``COUNT(*)`` (``source_count``) and, optionally, selected aggregates::

    "aggregates": {"sum:NOT_ELP": "1234567.500", "distinct:COD_IND": 98213}

A sum is given as text (a decimal number, exact; a float column's sum is compared to 1e-9
relative), a distinct count as an integer. Distinct counts are of the non-NULL values or
tuples: ``distinct:A,B`` is ``SELECT COUNT(*) FROM (SELECT DISTINCT A, B FROM ... WHERE A IS NOT
NULL AND B IS NOT NULL)``. The same aggregates are computed here on the Parquet files; any
difference is a blocking failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from extractors.files import sha256_file
from validation.engine import DatasetFiles, parquet_aggregate
from validation.report import ExpectationOutcome
from validation.suites import SuiteError

RECONCILE: Final = "reconcile_with_source"
AGGREGATES: Final = "reconcile_aggregates_with_source"
FLOAT_TOLERANCE: Final = 1e-9


def file_digest(path: Path) -> str | None:
    """SHA-256 of the dataset's file as it is now (None when it is missing)."""
    return sha256_file(path) if path.is_file() else None


def reconcile_files(
    name: str, path: Path, *, rows: int, source_count: int, sha256: str, actual: str | None, parquet_rows: int | None
) -> ExpectationOutcome:
    """Rows written equal the source's count and the rows in the file; the file is the one written.

    The digest is recomputed from the file: a Parquet file changed (or lost) after extraction
    must not be packaged as if it were the extract; such a file is not read any further.
    """
    counts_match = rows == source_count and parquet_rows == rows
    digest_match = actual == sha256
    return ExpectationOutcome(
        expectation=RECONCILE,
        column=None,
        success=counts_match and digest_match,
        unexpected_count=None,
        details={
            "path": str(path),
            "rows": rows,
            "source_count": source_count,
            "parquet_rows": parquet_rows,
            "counts_match": counts_match,
            "sha256_expected": sha256,
            "sha256_actual": actual,  # None when the file is missing
            "digest_match": digest_match,
        },
    )


def reconcile_aggregates(
    con: Any, dataset: DatasetFiles, columns: Mapping[str, str], expected: Mapping[str, Any]
) -> ExpectationOutcome | None:
    """Each aggregate the source computed, recomputed on the files; None when the manifest has none."""
    if not expected:
        return None
    if not isinstance(expected, Mapping):
        raise SuiteError("manifest aggregates", dataset.name, 'expected an object {"sum:COL": ..., ...}')
    compared = {}
    for name, source_value in sorted(expected.items()):
        found = parquet_aggregate(con, dataset, columns, name)
        compared[name] = {"source": str(source_value), "parquet": str(found), "match": _equal(source_value, found)}
    mismatches = [n for n, c in compared.items() if not c["match"]]
    return ExpectationOutcome(
        expectation=AGGREGATES,
        column=None,
        success=not mismatches,
        unexpected_count=len(mismatches),
        details={"aggregates": compared, "mismatches": mismatches},
    )


def _equal(source: Any, parquet: Any) -> bool:
    if isinstance(parquet, float) or isinstance(source, float):
        try:
            a, b = float(source), float(parquet)
        except (TypeError, ValueError):
            return False
        return abs(a - b) <= FLOAT_TOLERANCE * max(abs(a), abs(b), 1.0)
    try:
        return Decimal(str(source)) == Decimal(str(parquet))
    except InvalidOperation:
        return False
