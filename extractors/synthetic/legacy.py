"""The first synthetic Apogée (three tables, SQLite only), kept for its existing callers.

Superseded by ``extractors.synthetic.generate("apogee", url, ...)``, which creates every table the
spec files read; the demo and the tests move to it when the extraction reads the spec files.

``generate_apogee()`` is deterministic (one seeded ``random.Random``), idempotent (a file already
generated with the same parameters is left untouched, mtime included) and atomic (written to a
temporary file in the same folder, then ``os.replace``). The parameters are stored in the
``VERSEMENT_SYNTHETIC`` table, which is also how a synthetic file is told apart from a real
SQLite source: any other existing file is refused, never overwritten.

See ``legacy_schema`` for the tables and ``legacy_rows`` for the awkward values planted in
them.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from extractors.synthetic.legacy_rows import MIN_STUDENTS, Row, build_rows
from extractors.synthetic.legacy_schema import APOGEE_TABLES, DDL, METADATA_TABLE

# Bump when the generated content changes, so existing demo files are regenerated.
GENERATOR_VERSION = "3"


@dataclass(frozen=True)
class LegacySourceSummary:
    """What ``generate_apogee`` produced (or found already there)."""

    path: Path
    tables: Mapping[str, int]  # table → row count
    created: bool  # False when an identical file was already there


def generate_apogee(
    path: Path,
    *,
    students: int = 120,
    years: Sequence[int] = (2021, 2022, 2023),
    seed: int = 20240901,
    nasty: bool = False,
) -> LegacySourceSummary:
    """Create the SQLite file ``path`` holding an Apogée-like extract of ``students`` people.

    With ``nasty=True`` the file also holds values a real extraction must stop on or flag
    (mojibake, control characters, an impossible date, duplicate and NULL keys, a 2 MB text).
    """
    parameters = _parameters(students, years, seed, nasty)
    if path.exists() and _stored_parameters(path) == parameters:
        return LegacySourceSummary(path, _row_counts(path), created=False)
    rows = build_rows(random.Random(seed), students, sorted(years), nasty)
    _write_atomically(path, parameters, rows)
    counts = {table: len(rows[table]) for table in APOGEE_TABLES}
    return LegacySourceSummary(path, counts, created=True)


def _parameters(students: int, years: Sequence[int], seed: int, nasty: bool) -> dict[str, str]:
    if students < MIN_STUDENTS:
        raise ValueError(f"students must be at least {MIN_STUDENTS}, got {students}")
    if not years or len(set(years)) != len(years):
        raise ValueError(f"years must be distinct and not empty, got {list(years)}")
    if not all(1900 <= year <= 9998 for year in years):  # COD_ANU is VARCHAR2(4), year + 1 too
        raise ValueError(f"years must be four-digit academic years, got {list(years)}")
    return {
        "generator": GENERATOR_VERSION,
        "students": str(students),
        "years": ",".join(map(str, sorted(years))),
        "seed": str(seed),
        "nasty": str(nasty).lower(),
    }


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    # mode=ro: checking an existing file must not touch it (its mtime proves idempotence).
    return contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))


def _stored_parameters(path: Path) -> dict[str, str] | None:
    """The parameters a synthetic file was made with; an error for any other file."""
    try:
        with _read_only(path) as conn:
            stored = conn.execute(f"SELECT PARAMETER, VALUE FROM {METADATA_TABLE}").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} exists and is not a synthetic Apogée source ({exc}); refusing to replace it") from exc
    return dict(stored)


def _row_counts(path: Path) -> dict[str, int]:
    with _read_only(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in APOGEE_TABLES}


def _write_atomically(path: Path, parameters: Mapping[str, str], rows: Mapping[str, list[Row]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with contextlib.closing(sqlite3.connect(temporary)) as conn:
            _fill(conn, parameters, rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fill(conn: sqlite3.Connection, parameters: Mapping[str, str], rows: Mapping[str, list[Row]]) -> None:
    with conn:  # one transaction: commit on success
        for statement in DDL:
            conn.execute(statement)
        conn.executemany(f"INSERT INTO {METADATA_TABLE} VALUES (?, ?)", parameters.items())
        for table in APOGEE_TABLES:
            if rows[table]:
                marks = ", ".join("?" * len(rows[table][0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
