"""Datasets of one batch read in parallel, in one snapshot (PostgreSQL exported snapshots).

One session opens the batch's snapshot and *exports* it (``pg_export_snapshot()``); any number of
other sessions, in other threads, processes or machines (an Airflow mapped task per dataset),
read in exactly that snapshot by giving its identifier to ``SET TRANSACTION SNAPSHOT``::

    with exported_snapshot(url) as held:                 # keep this open until every read is done
        # elsewhere, once per dataset, possibly at the same time:
        extract_dataset(url, spec, out_dir, snapshot_id=held.snapshot_id, parameters=scope.parameters())

Every dataset so read records the same marker as ``held.marker``. PostgreSQL ends an export
with the exporting transaction: the session holding ``exported_snapshot`` must outlive the
reads (under Airflow, a task or process that waits for the mapped tasks); a read started after
it ended fails with "invalid snapshot identifier", never reads another snapshot. Each dataset
keeps the resumability of ``extract``: a file matching its manifest is kept. SQLite and Oracle
have no exported snapshot (Oracle's equivalent is the SCN marker, which ``extract`` reuses).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extractors.datasets import ExtractedDataset
from extractors.errors import ExtractionError
from extractors.extract import Progress, _Source, extract
from extractors.readers import PostgresReader
from extractors.specs import DatasetSpec

__all__ = ["HeldSnapshot", "exported_snapshot", "extract_dataset"]


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


def extract_dataset(
    source_url: str,
    dataset: DatasetSpec,
    out_dir: Path,
    *,
    snapshot_id: str,
    parameters: Mapping[str, Any],
    password: str | None = None,
    progress: Progress | None = None,
) -> ExtractedDataset:
    """Extract one dataset of a batch into ``out_dir`` in the snapshot ``snapshot_id`` (see the module)."""
    snapshot = extract(
        source_url,
        [dataset],
        out_dir,
        parameters=parameters,
        password=password,
        progress=progress,
        snapshot_id=snapshot_id,
    )
    return snapshot.datasets[0]
