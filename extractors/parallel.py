"""The datasets of one batch read by separate readers (threads, processes, Airflow mapped tasks).

``extract_dataset`` is ``extract()`` for one dataset: same files, manifest, resume and error
reporting (it *is* ``extract()`` given one dataset). Each call opens its own reader; what makes
the batch one snapshot depends on the engine:

- **PostgreSQL**: :func:`exported_snapshot` holds a ``REPEATABLE READ READ ONLY`` transaction and
  exports its snapshot (``pg_export_snapshot()``); each reader given its ``snapshot_id`` starts
  its transaction with ``SET TRANSACTION SNAPSHOT`` and sees exactly that state::

      with exported_snapshot(url) as held:           # keep this open until every read is done
          # elsewhere, once per dataset, possibly at the same time:
          extract_dataset(url, spec, out_dir, snapshot_id=held.snapshot_id, parameters=scope.parameters())

  Every dataset so read records ``held.marker``. PostgreSQL ends an export with the exporting
  transaction: the holder must outlive the reads (under Airflow, a task that waits for the
  mapped tasks); a read started after it ended fails with "invalid snapshot identifier", never
  reads another snapshot.
- **Oracle**: :func:`snapshot_marker` reads the SCN once; each reader given it as
  ``reuse_marker`` reads every query AS OF that SCN (``DBMS_FLASHBACK``, joins included).
- **SQLite** (demonstration sources): no snapshot can be shared between connections;
  :func:`source_fingerprint` (size and modification time of the file) shows the file did not change.

:func:`same_snapshot` checks the markers the datasets recorded; the caller re-extracts in one
reader when it does not hold, so a batch is always one consistent snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from extractors.datasets import ExtractedDataset
from extractors.errors import ExtractionError
from extractors.extract import Progress, _Source, extract
from extractors.readers import PostgresReader, open_reader, oracle_scn
from extractors.specs import DatasetSpec

__all__ = [
    "HeldSnapshot",
    "exported_snapshot",
    "extract_dataset",
    "same_snapshot",
    "snapshot_marker",
    "source_fingerprint",
]


@dataclass(frozen=True)
class HeldSnapshot:
    snapshot_id: str  # for SET TRANSACTION SNAPSHOT (extract_dataset's snapshot_id)
    marker: str  # what every dataset read in it records


@contextmanager
def exported_snapshot(source_url: str, *, password: str | None = None) -> Iterator[HeldSnapshot]:
    """Open a read-only snapshot of the PostgreSQL source and hold it (exported) until the block ends."""
    source = _Source.parse(source_url, password)
    if source.url.get_backend_name() != "postgresql":
        raise ExtractionError(
            f"{source.shown}: exported snapshots are a PostgreSQL feature; read the datasets with extract()"
        )
    with source.reporting("(snapshot)", "cannot open a snapshot of"):
        reader = PostgresReader(source.url)
    try:
        with source.reporting("(snapshot)", "cannot export the snapshot of"):
            held = HeldSnapshot(reader.export(), reader.marker)
        yield held
    finally:
        reader.close()


def snapshot_marker(source_url: str, *, password: str | None = None) -> str | None:
    """The marker mapped readers share (``reuse_marker``): an Oracle SCN, read once; None for other engines."""
    source = _Source.parse(source_url, password)
    if source.url.get_backend_name() != "oracle":
        return None
    with source.reporting("(snapshot)", "cannot open a snapshot of"):
        reader = open_reader(source.url)
    try:
        return reader.marker
    finally:
        reader.close()


def extract_dataset(
    source_url: str,
    dataset: DatasetSpec,
    out_dir: Path,
    *,
    parameters: Mapping[str, Any],
    password: str | None = None,
    progress: Progress | None = None,
    snapshot_id: str | None = None,
    reuse_marker: str | None = None,
    partition: tuple[int, int] | None = None,
) -> ExtractedDataset:
    """Extract one dataset of a batch into ``out_dir`` (kept as is if an earlier run finished it).

    Read in the PostgreSQL snapshot ``snapshot_id`` (:func:`exported_snapshot`) or AS OF the
    Oracle SCN of ``reuse_marker`` (:func:`snapshot_marker`) when given; see the module. With
    ``partition=(index, count)``, only that partition (``extractors.partitions``); ``extract()``
    given the same ``partitions`` later keeps the finished partitions and combines them.
    """
    snapshot = extract(
        source_url,
        [dataset],
        out_dir,
        parameters=parameters,
        password=password,
        progress=progress,
        snapshot_id=snapshot_id,
        reuse_marker=reuse_marker,
        partitions={dataset.name: partition[1]} if partition else None,
        only_part=partition[0] if partition else None,
    )
    return snapshot.datasets[0]


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
