"""Parquet files for the quality-stage tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

WriteParquet = Callable[[str, dict[str, list[Any]]], Path]


@pytest.fixture
def write_parquet(tmp_path: Path) -> WriteParquet:
    """Write columns (name → values) to ``<tmp>/<name>.parquet``; Arrow infers the types."""

    def write(name: str, columns: dict[str, list[Any]]) -> Path:
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table(columns), path)
        return path

    return write
