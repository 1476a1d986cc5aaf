"""Helpers for the extraction tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from extractors.specs import DatasetSpec


def sqlite_rows(path: Path, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    """Rows exactly as SQLite stores them, read without SQLAlchemy."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, parameters).fetchall()


def table_spec(
    name: str,
    table: str,
    key: Sequence[str],
    *,
    where: str = "",
    sql: str | None = None,
    exclude: Sequence[str] = (),
) -> DatasetSpec:
    """A dataset reading one table (optionally filtered), as a spec file would declare it."""
    text = sql if sql is not None else f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
    return DatasetSpec(
        name=name,
        label=name,
        record_type="student_file",
        sql=text,
        key=tuple(key),
        exclude_columns=tuple(exclude),
    )
