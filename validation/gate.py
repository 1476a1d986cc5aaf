"""The quality gate of one batch: every dataset's suite, reconciliation, cross-dataset integrity.

``validate_batch`` reads only files and what the ledger recorded (specifications, manifests,
scope); it writes nothing but DuckDB's spill files under ``temp_directory``. The caller records
the result in one ledger transition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from extractors.scope import Scope
from validation.engine import DatasetFiles, SuiteRunner, locked_connection, parquet_columns, parquet_files
from validation.reconcile import file_digest, reconcile_aggregates, reconcile_files
from validation.report import ExpectationOutcome, QualityReport
from validation.suites import DatasetContext, Suite, build_suite, personal_columns


@dataclass(frozen=True)
class DatasetInput:
    """One dataset as the ledger recorded it at extraction."""

    name: str
    path: Path
    rows: int
    source_count: int
    sha256: str
    spec: Mapping[str, Any]
    manifest: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchQuality:
    reports: tuple[QualityReport, ...]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.reports)

    def report(self, name: str) -> QualityReport:
        return next(r for r in self.reports if r.dataset == name)


def extraction_date(manifest: Mapping[str, Any], default: date) -> date:
    stamp = manifest.get("started_at") or manifest.get("finished_at")
    try:
        return datetime.fromisoformat(str(stamp)).date() if stamp else default
    except ValueError:
        return default


def validate_batch(
    datasets: Sequence[DatasetInput],
    *,
    scope: Scope,
    tool: str | None,
    suites_folder: Path | None = None,
    temp_directory: Path | None = None,
    today: date | None = None,
) -> BatchQuality:
    """Check every dataset of a batch; raises SuiteError when a suite cannot run as written."""
    today = today or datetime.now(UTC).date()
    digests = {d.name: file_digest(d.path) for d in datasets}
    present = [d for d in datasets if digests[d.name] == d.sha256]  # a changed file is not read
    files = {
        d.name: DatasetFiles(d.name, parquet_files(d.path), tuple(d.spec.get("key") or ()), personal_columns(d.spec))
        for d in present
    }
    columns = {d.name: parquet_columns(files[d.name].files) for d in present}
    specs = {d.name: d.spec for d in present}
    suites: dict[str, Suite] = {}
    for d in present:
        context = DatasetContext(
            d.name, d.spec, columns[d.name], scope, extraction_date(d.manifest, today), batch_datasets=specs
        )
        suites[d.name] = build_suite(context, tool=tool, folder=suites_folder)
    reports = []
    with locked_connection(list(files.values()), temp_directory) as con:
        for d in datasets:
            if d.name not in files:
                handoff = reconcile_files(
                    d.name,
                    d.path,
                    rows=d.rows,
                    source_count=d.source_count,
                    sha256=d.sha256,
                    actual=digests[d.name],
                    parquet_rows=None,
                )
                reports.append(QualityReport(d.name, False, 0, (handoff,), _engine()))
                continue
            suite = suites[d.name]
            rows, outcomes = SuiteRunner(con, files[d.name], columns[d.name]).run(suite)
            checks: list[ExpectationOutcome] = [
                reconcile_files(
                    d.name,
                    d.path,
                    rows=d.rows,
                    source_count=d.source_count,
                    sha256=d.sha256,
                    actual=digests[d.name],
                    parquet_rows=rows,
                )
            ]
            aggregates = reconcile_aggregates(con, files[d.name], columns[d.name], d.manifest.get("aggregates") or {})
            if aggregates is not None:
                checks.append(aggregates)
            checks.extend(outcomes)
            disabled = tuple({**e.to_gx(), "origin": e.origin, "reason": r} for e, r in suite.disabled)
            reports.append(
                QualityReport(
                    dataset=d.name,
                    success=not any(o.blocking_failure for o in checks),
                    rows=rows,
                    outcomes=tuple(checks),
                    engine=_engine(),
                    suite_files=suite.files,
                    disabled=disabled,
                )
            )
    return BatchQuality(tuple(reports))


def _engine() -> str:
    return f"duckdb {duckdb.__version__}"
