"""What the extraction stage is asked for and what it hands over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetSpec:
    """One table (or view) to extract.

    ``table`` may be schema-qualified (``"APOGEE.INDIVIDU"``). Names are matched exactly, then
    case-insensitively, because Oracle reports upper-case names in lower case through SQLAlchemy.
    ``filters`` are equality conditions sent as bound parameters, never pasted into SQL.
    """

    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    filters: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractedDataset:
    """One Parquet file of a snapshot, with what is needed to check it later."""

    name: str
    table: str
    path: Path
    rows: int
    source_count: int
    sha256: str
    columns: tuple[tuple[str, str], ...]  # (column, Arrow type as text)
    query: str  # the SQL as compiled for the source dialect, with placeholders
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """Datasets read in one transaction; ``marker`` says what made them consistent."""

    datasets: tuple[ExtractedDataset, ...]
    marker: str
    dialect: str
    started_at: datetime
    finished_at: datetime
