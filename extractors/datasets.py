"""What the extraction stage is asked for (``extractors.specs.DatasetSpec``) and what it hands over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from extractors.specs import DatasetSpec

__all__ = ["DatasetSpec", "ExtractedDataset", "Snapshot"]


@dataclass(frozen=True)
class ExtractedDataset:
    """One Parquet file of a batch, with what is needed to check it later.

    ``marker`` is the snapshot the file was read in: in a resumed batch, the datasets kept from
    the interrupted run carry that run's marker (see ``extractors.extract``).
    """

    name: str
    path: Path
    rows: int
    source_count: int
    sha256: str
    columns: tuple[tuple[str, str], ...]  # (column, Arrow type as text)
    query: str  # the statement as sent to the source, with placeholders
    parameters: Mapping[str, Any]
    marker: str = ""
    manifest: Path | None = None
    resumed: bool = False
    aggregates: Mapping[str, Any] = field(default_factory=dict)  # source aggregates (extractors.aggregates)


@dataclass(frozen=True)
class Snapshot:
    """The datasets of one batch; ``marker`` says what made them consistent.

    ``markers`` lists every snapshot the files come from: one for a batch extracted in one go,
    more when a resumed batch kept datasets of an earlier run (``resumed`` names them).
    """

    datasets: tuple[ExtractedDataset, ...]
    marker: str
    dialect: str
    started_at: datetime
    finished_at: datetime
    markers: tuple[str, ...] = ()
    resumed: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)
