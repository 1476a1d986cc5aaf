"""One dataset at a time, for orchestrators that spread a batch's datasets over workers.

``extract_one`` is ``extract()`` for a single dataset: same files, manifest, resume and error
reporting (it calls the same internals). Each call opens its own reader; what makes the batch one
snapshot depends on the engine:

- **PostgreSQL**: :func:`exported_snapshot` holds a ``REPEATABLE READ READ ONLY`` transaction and
  exports its snapshot (``pg_export_snapshot()``); each reader given ``snapshot_id`` starts its
  transaction with ``SET TRANSACTION SNAPSHOT`` and sees exactly that state, while the holder's
  transaction stays open. Readers that imported it report the same ``pg_current_snapshot()``.
- **Oracle**: ``reuse_marker`` (an SCN marker from :func:`snapshot_marker`) reads AS OF that SCN.
- **SQLite** (demonstration sources): no snapshot can be shared between connections;
  :func:`source_fingerprint` (size and modification time of the file) shows the file did not change.

:func:`same_snapshot` checks the markers the datasets recorded; the caller re-extracts in one
reader when it does not hold, so a batch is always one consistent snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from extractors.datasets import ExtractedDataset
from extractors.errors import ExtractionError
from extractors.extract import ROW_GROUP_ROWS, _check_specs, _extract_dataset, _kept, _Source, parquet_writer
from extractors.readers import (
    FETCH_ROWS,
    POSTGRESQL_BEGIN,
    POSTGRESQL_SESSION,
    PostgresReader,
    Reader,
    open_reader,
    oracle_scn,
)
from extractors.specs import DatasetSpec
from extractors.statements import check_parameters

__all__ = ["exported_snapshot", "extract_one", "same_snapshot", "snapshot_marker", "source_fingerprint"]


def _pg_connect(url: URL) -> Any:
    import psycopg

    options = {k: v for k, v in url.query.items() if isinstance(v, str)}
    options.setdefault("connect_timeout", "15")
    conn = psycopg.connect(
        psycopg.conninfo.make_conninfo(
            host=url.host or "localhost",
            port=url.port or 5432,
            dbname=url.database or "",
            user=url.username or "",
            password=url.password or "",
            **options,
        ),
        autocommit=True,
    )
    for setting in POSTGRESQL_SESSION:
        conn.execute(setting)
    return conn


class _ImportedSnapshotReader(PostgresReader):
    """A PostgreSQL reader whose transaction starts in a snapshot another transaction exported."""

    def __init__(self, url: URL, snapshot_id: str) -> None:
        # PostgresReader joins the exported snapshot (SET TRANSACTION SNAPSHOT, identifier checked)
        # and keeps it for its side session (count and aggregates while the COPY streams).
        super().__init__(url, snapshot_id)
        self.details = {"imported_snapshot": snapshot_id}


@contextmanager
def exported_snapshot(source_url: str, *, password: str | None = None) -> Iterator[tuple[str, str]]:
    """Hold a read-only PostgreSQL snapshot open and yield (snapshot id, marker) while it lasts."""
    source = _Source.parse(source_url, password)
    if source.url.get_backend_name() != "postgresql":
        raise ExtractionError(f"only PostgreSQL exports snapshots, not {source.url.get_backend_name()}")
    with source.reporting("(snapshot)", "cannot export a snapshot of"):
        conn = _pg_connect(source.url)
        conn.execute(POSTGRESQL_BEGIN)
        row = conn.execute("SELECT pg_export_snapshot(), pg_current_snapshot()::text").fetchone()
        assert row is not None
    try:
        yield str(row[0]), f"postgresql:REPEATABLE READ READ ONLY snapshot={row[1]}"
    finally:
        with suppress(Exception):
            conn.rollback()
        conn.close()


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
    snapshot_id: str | None = None,
) -> ExtractedDataset:
    """Extract one dataset into ``out_dir`` (kept as is if an earlier run finished it), in the
    PostgreSQL snapshot ``snapshot_id`` or at the Oracle SCN of ``reuse_marker`` when given."""
    _check_specs([spec])
    source = _Source.parse(source_url, password)
    bound = check_parameters(spec.name, spec.sql, parameters)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = _kept(spec, bound, source, out_dir)
    if kept is not None:
        return kept
    reuse = reuse_marker if oracle_scn(reuse_marker) is not None else None
    with source.reporting(spec.name, "cannot open a snapshot of"):
        reader: Reader
        if snapshot_id is not None and source.url.get_backend_name() == "postgresql":
            reader = _ImportedSnapshotReader(source.url, snapshot_id)
        else:
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
