"""Helpers for the extraction tests."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def sqlite_rows(path: Path, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    """Rows exactly as SQLite stores them, read without SQLAlchemy."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, parameters).fetchall()
