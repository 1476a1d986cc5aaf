"""One dataset at a time, for orchestrators that spread a batch's datasets over workers.

``extract_one`` is ``extract()`` for a single dataset: same files, manifest, resume and error
reporting (it calls the same internals). Each call opens its own reader, so it gets its own
snapshot, except on Oracle where ``reuse_marker`` (an SCN marker from :func:`snapshot_marker`)
makes it read AS OF that SCN. On PostgreSQL, a batch read this way is one snapshot only if the
markers of its datasets (``pg_current_snapshot()``: xmin, xmax and the in-progress list) are all
equal: then no transaction committed between the reads, and every reader saw the same data.
:func:`same_snapshot` says so; the caller re-extracts in one reader when it does not hold.
SQLite readers carry no such marker: :func:`source_fingerprint` (size and modification time of
the file) stands in for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from extractors.datasets import ExtractedDataset
from extractors.extract import ROW_GROUP_ROWS, _check_specs, _extract_dataset, _kept, _Source, parquet_writer
from extractors.readers import FETCH_ROWS, open_reader, oracle_scn
from extractors.specs import DatasetSpec
from extractors.statements import check_parameters

__all__ = ["extract_one", "same_snapshot", "snapshot_marker", "source_fingerprint"]


def snapshot_marker(source_url: str, *, password: str | None = None) -> str | None:
    """The marker mapped readers should share: an Oracle SCN, read once; None for other engines."""
    source = _Source.parse(source_url, password)
    if source.url.get_backend_name() != "oracle":
        return None
    with source.reporting("(snapshot)", "cannot open a snapshot of"):
        reader = open_reader(source.url)
    try:
        return reader.marker
    finally:
        reader.close()


def extract_one(
    source_url: str,
    spec: DatasetSpec,
    out_dir: Path,
    *,
    parameters: Mapping[str, Any],
    password: str | None = None,
    reuse_marker: str | None = None,
) -> ExtractedDataset:
    """Extract one dataset into ``out_dir`` (kept as is if an earlier run finished it)."""
    _check_specs([spec])
    source = _Source.parse(source_url, password)
    bound = check_parameters(spec.name, spec.sql, parameters)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = _kept(spec, bound, source, out_dir)
    if kept is not None:
        return kept
    reuse = reuse_marker if oracle_scn(reuse_marker) is not None else None
    with source.reporting(spec.name, "cannot open a snapshot of"):
        reader = open_reader(source.url, reuse_marker=reuse, batch_rows=FETCH_ROWS)
    try:
        return _extract_dataset(reader, spec, bound, out_dir, source, None, ROW_GROUP_ROWS, parquet_writer)
    finally:
        reader.close()


def same_snapshot(markers: Sequence[str]) -> bool:
    """Whether datasets read under these markers come from one consistent state of the source.

    True for equal PostgreSQL snapshots and equal Oracle SCNs; SQLite markers say nothing (see
    :func:`source_fingerprint`), so they are never taken as proof.
    """
    distinct = set(markers)
    if len(distinct) != 1:
        return False
    (marker,) = distinct
    return marker.startswith("postgresql:") or oracle_scn(marker) is not None


def source_fingerprint(source_url: str) -> str | None:
    """For a SQLite source, the file's size and modification time (None for a server database)."""
    url = make_url(source_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    stat = os.stat(url.database)
    return f"sqlite-file:{stat.st_size}:{stat.st_mtime_ns}"
