"""Writing a synthetic source into SQLite or PostgreSQL: idempotent, atomic, memory flat.

- **Idempotent**: the parameters are stored in ``VERSEMENT_SYNTHETIC``; a target already holding
  the same parameters is left untouched (``created`` False). A target holding anything else than a
  synthetic source is refused, never replaced (:class:`NotSynthetic`).
- **Atomic**: SQLite is written to a temporary file in the same folder, then renamed over the
  target; PostgreSQL is replaced in one transaction (its DDL is transactional), so a failure
  leaves the previous content.
- **Memory flat**: rows are streamed table by table from the tool's factories, in chunks:
  ``executemany`` on SQLite, ``COPY ... FROM STDIN`` (text format, written by chunks) on
  PostgreSQL, never one INSERT per row. PostgreSQL keys are added after the COPY.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from extractors.synthetic.base import NotSynthetic, Parameters, Row, SourceSummary, SyntheticSourceError, ToolTables
from extractors.synthetic.schema import METADATA, METADATA_TABLE, Backend, Table

CHUNK_ROWS = 20_000
# COPY text format, escaped in one pass per chunk: fields are joined with NUL, rows with U+FFFE and
# NULL written U+FFFF, then one str.translate turns them into tab, newline and \N while escaping
# the data's own backslashes, tabs and newlines. None of the three can occur in the data: PostgreSQL
# text cannot hold NUL, and U+FFFE/U+FFFF are Unicode noncharacters the generators never produce.
_FIELD, _ROW, _NULL = "\x00", "\ufffe", "\uffff"
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", _FIELD: "\t", _ROW: "\n", _NULL: "\\N"}
)


def parse_target(url: str) -> tuple[Backend, URL]:
    """The backend of ``url``; a clear error, without the password, for anything else."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SyntheticSourceError(
            f"{_without_password(url)!r} is not a database URL (expected sqlite:///FILE or postgresql://HOST/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise SyntheticSourceError(
            f"{parsed.render_as_string(hide_password=True)}: synthetic sources are generated in SQLite or "
            f"PostgreSQL, not {backend}"
        )
    if backend == "sqlite" and not parsed.database:
        raise SyntheticSourceError(f"{url}: a SQLite source needs a file (sqlite:///path/to/file.sqlite)")
    if backend == "postgresql" and not parsed.database:
        raise SyntheticSourceError(f"{parsed.render_as_string(hide_password=True)}: the URL names no database")
    return backend, parsed  # type: ignore[return-value]


def _without_password(url: str) -> str:
    """``scheme://user:***@host``: for URLs too broken for SQLAlchemy to parse."""
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail:
        return url
    credentials, _, rest = tail.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{head}://{user}:***@{rest}" if ":" in credentials else url


def write(params: Parameters, content: ToolTables, url: str) -> SourceSummary:
    backend, parsed = parse_target(url)
    shown = parsed.render_as_string(hide_password=True)
    started = time.perf_counter()
    stored = params.stored() | {"tables": ",".join(t.name for t in content.tables)}
    if backend == "sqlite":
        if any(t.schema for t in content.tables):
            raise SyntheticSourceError(f"{shown}: {params.tool} is generated in PostgreSQL only (it uses schemas)")
        path = Path(parsed.database or "")
        found = _sqlite_parameters(path, shown)
        if found is not None and _same(found, stored):
            return SourceSummary(params.tool, shown, _sqlite_counts(path, content), False, found, 0.0, path)
        counts = _write_sqlite(path, stored, content)
        return SourceSummary(params.tool, shown, counts, True, stored, time.perf_counter() - started, path)
    return _write_postgresql(parsed, shown, stored, content, started, params.tool)


def _same(found: Mapping[str, str], stored: Mapping[str, str]) -> bool:
    return dict(found) == dict(stored)


# ---------------------------------------------------------------- SQLite


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    # mode=ro: checking an existing file must not touch it (its mtime proves idempotence).
    return contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))


def _sqlite_parameters(path: Path, shown: str) -> dict[str, str] | None:
    if not path.exists():
        return None
    try:
        with _read_only(path) as conn:
            return dict(conn.execute(f"SELECT PARAMETER, VALUE FROM {METADATA_TABLE}").fetchall())
    except sqlite3.DatabaseError as exc:
        raise NotSynthetic(str(path), str(exc)) from None


def _sqlite_counts(path: Path, content: ToolTables) -> dict[str, int]:
    with _read_only(path) as conn:
        return {t.name: conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in content.tables}


def _write_sqlite(path: Path, stored: Mapping[str, str], content: ToolTables) -> dict[str, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    counts: dict[str, int] = {}
    try:
        with contextlib.closing(sqlite3.connect(temporary)) as conn, conn:  # one transaction, committed at the end
            conn.execute(METADATA.create("sqlite"))
            inserts = {}
            for t in content.tables:
                conn.execute(t.create("sqlite"))
                inserts[t.name] = (f"INSERT INTO {t.name} VALUES ({', '.join('?' * len(t.columns))})", len(t.columns))
                counts[t.name] = 0

            def insert(name: str, chunk: list[Row]) -> None:
                statement, width = inserts[name]
                _check_width(name, width, chunk[0])
                conn.executemany(statement, chunk)
                counts[name] += len(chunk)

            for name, factory in content.rows.items():
                for chunk in _chunks(factory()):
                    insert(name, chunk)
            for name, chunk in _entity_chunks(content):
                insert(name, chunk)
            conn.executemany(f"INSERT INTO {METADATA_TABLE} VALUES (?, ?)", stored.items())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return counts


def _entity_chunks(content: ToolTables) -> Iterator[tuple[str, list[Row]]]:
    """The per-person tables' rows, one pass over the people, by chunks of at most ``CHUNK_ROWS``."""
    if content.entities is None:
        return
    buffers: dict[str, list[Row]] = {name: [] for name in content.per_entity}
    for entity in content.entities():
        for name, rows in entity.items():
            buffer = buffers[name]
            buffer.extend(rows)
            if len(buffer) >= CHUNK_ROWS:
                yield name, buffer
                buffers[name] = []
    for name, buffer in buffers.items():
        if buffer:
            yield name, buffer


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, CHUNK_ROWS)):
        yield chunk


def _check_width(table: str, width: int, row: Row) -> None:
    if len(row) != width:
        raise AssertionError(f"generator bug: table {table} has {width} columns, a row has {len(row)}")


# ---------------------------------------------------------------- PostgreSQL


def _connect(parsed: URL, shown: str) -> Any:
    import psycopg

    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return psycopg.connect(conninfo, autocommit=True)  # conn.transaction() below is then the real one
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise SyntheticSourceError(f"{shown}: cannot connect: {_first_line(exc)}") from None
    # A missing database is created, as a missing SQLite file is.
    with contextlib.closing(_admin(parsed, shown)) as admin:
        admin.execute(f'CREATE DATABASE "{parsed.database}"')
    return psycopg.connect(conninfo, autocommit=True)


def _admin(parsed: URL, shown: str) -> Any:
    import psycopg

    conninfo = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        raise SyntheticSourceError(f"{shown}: cannot connect: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _user_tables(cur: Any) -> list[str]:
    cur.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    )
    return [row[0] for row in cur.fetchall()]


def _write_postgresql(
    parsed: URL, shown: str, stored: Mapping[str, str], content: ToolTables, started: float, tool: str
) -> SourceSummary:
    metadata = METADATA_TABLE.lower()
    with contextlib.closing(_connect(parsed, shown)) as conn:
        with conn.cursor() as cur:
            existing = _user_tables(cur)
            found: dict[str, str] | None = None
            if f"public.{metadata}" in existing:
                cur.execute(f"SELECT PARAMETER, VALUE FROM {METADATA_TABLE}")
                found = dict(cur.fetchall())
            elif existing:
                raise NotSynthetic(
                    shown, f"it holds {len(existing)} table(s), e.g. {existing[0]}, and no {METADATA_TABLE}"
                )
            if found is not None and _same(found, stored):
                counts = {}
                for t in content.tables:
                    cur.execute(f"SELECT count(*) FROM {t.name}")
                    counts[t.name] = cur.fetchone()[0]
                return SourceSummary(tool, shown, counts, False, found, 0.0)
        with conn.transaction(), conn.cursor() as cur:
            previous = (found or {}).get("tables", "")
            for name in [*filter(None, previous.split(",")), *(t.name for t in content.tables), METADATA_TABLE]:
                cur.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
            for schema in sorted({t.schema for t in content.tables if t.schema}):
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cur.execute(METADATA.create("postgresql"))
            counts = {}
            for t in content.tables:
                cur.execute(t.create("postgresql"))
                if t.name in content.rows:
                    counts[t.name] = _copy(cur, t, _chunks(content.rows[t.name]()))
            counts.update(_copy_entities(cur, content))
            for t in content.tables:
                key = t.add_primary_key()
                if key:
                    cur.execute(key)
            for row in stored.items():
                cur.execute(f"INSERT INTO {METADATA_TABLE} VALUES (%s, %s)", row)
        return SourceSummary(tool, shown, counts, True, dict(stored), time.perf_counter() - started)


def _copy_statement(table: Table) -> str:
    return f"COPY {table.name} ({', '.join(table.column_names)}) FROM STDIN"


def _copy(cur: Any, table: Table, chunks: Iterable[list[Row]]) -> int:
    """COPY in text format, written by chunks of ``CHUNK_ROWS``."""
    count = 0
    with cur.copy(_copy_statement(table)) as copy:
        for chunk in chunks:
            _check_width(table.name, len(table.columns), chunk[0])
            copy.write(copy_text(chunk))
            count += len(chunk)
    return count


def _copy_entities(cur: Any, content: ToolTables) -> dict[str, int]:
    """One pass over the people, each table's text spooled to a temporary file, then one COPY per table.

    A connection runs one COPY at a time; spooling keeps memory flat without computing every
    career once per table.
    """
    tables = {t.name: t for t in content.tables}
    counts = dict.fromkeys(content.per_entity, 0)
    with contextlib.ExitStack() as stack:
        spools = {
            name: stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", newline=""))
            for name in content.per_entity
        }
        for name, chunk in _entity_chunks(content):
            _check_width(name, len(tables[name].columns), chunk[0])
            spools[name].write(copy_text(chunk))
            counts[name] += len(chunk)
        for name, spool in spools.items():
            spool.seek(0)
            with cur.copy(_copy_statement(tables[name])) as copy:
                while data := spool.read(1 << 20):
                    copy.write(data)
    return counts


def copy_text(rows: Iterable[Row]) -> str:
    """Rows in COPY text format: tab-separated, ``\\N`` for NULL, backslash escapes, one line each."""
    text = _ROW.join(
        [_FIELD.join([_NULL if v is None else v if v.__class__ is str else str(v) for v in row]) for row in rows]
    )
    return (text + _ROW).translate(_COPY_ESCAPES)


def copy_line(row: Row) -> str:
    return copy_text([row])
