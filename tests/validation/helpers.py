"""Crafted batches for the quality tests: Parquet files, specification records, manifests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extractors.files import sha256_file
from validation import DatasetInput


def spec(
    key: list[str],
    *,
    person_key: str | None = None,
    person_kind: str | None = None,
    references: list[str] | None = None,
    tags: Mapping[str, list[str]] | None = None,
    scoped: bool = True,
) -> dict[str, Any]:
    """A dataset specification as the ledger records it (versement.records.dataset_spec_record)."""
    return {
        "label": "jeu",
        "description": "",
        "record_type": "jury_minutes",
        "key": key,
        "scoped": scoped,
        "person_key": person_key,
        "person_kind": person_kind if person_key else None,
        "references": references or [],
        "columns": {name: {"label": name, "tags": list(t)} for name, t in (tags or {}).items()},
        "exclude_columns": [],
    }


def dataset(
    folder: Path,
    name: str,
    table: pa.Table | Mapping[str, list[Any]],
    dataset_spec: Mapping[str, Any],
    *,
    aggregates: Mapping[str, Any] | None = None,
    source_count: int | None = None,
) -> DatasetInput:
    """Write ``<folder>/<name>.parquet`` and describe it as extracted."""
    folder.mkdir(parents=True, exist_ok=True)
    data = table if isinstance(table, pa.Table) else pa.table(dict(table))
    path = folder / f"{name}.parquet"
    pq.write_table(data, path)
    manifest: dict[str, Any] = {
        "rows": data.num_rows,
        "source_count": data.num_rows,
        "started_at": "2026-11-30T10:00:00+00:00",
    }
    if aggregates is not None:
        manifest["aggregates"] = dict(aggregates)
    return DatasetInput(
        name=name,
        path=path,
        rows=data.num_rows,
        source_count=data.num_rows if source_count is None else source_count,
        sha256=sha256_file(path),
        spec=dataset_spec,
        manifest=manifest,
    )
