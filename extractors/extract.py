"""Extraction stage: copy datasets from a source database into Parquet, in one snapshot.

``extract()`` opens one connection and one read-only transaction (see ``snapshot``), and for each
dataset: reflects the table, counts the rows the filters select, streams them in batches of
``batch_rows`` through per-value checks (``convert``) into ``<name>.parquet.partial``, and
compares the rows written with the count. Only when every dataset is complete are the partial
files renamed to ``<name>.parquet`` and hashed: a failed extraction leaves no file that looks
finished. Memory is bounded by one batch, whatever the table size.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import MetaData, Table, create_engine, inspect
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from extractors.convert import Converter, converter
from extractors.datasets import DatasetSpec, ExtractedDataset, Snapshot
from extractors.errors import ExtractionError, value_error
from extractors.files import partial_path, sha256_file
from extractors.query import DatasetQuery, build_query, compiled_sql
from extractors.snapshot import snapshot_transaction
from extractors.types import declared_digits

__all__ = ["DatasetSpec", "ExtractedDataset", "ExtractionError", "Snapshot", "extract"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]

# Dataset names become file names: no separators, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def extract(
    source_url: str,
    specs: Sequence[DatasetSpec],
    out_dir: Path,
    *,
    batch_rows: int = 10_000,
    progress: Progress | None = None,
    password: str | None = None,
) -> Snapshot:
    """Extract ``specs`` from ``source_url`` into ``out_dir``, all from one consistent snapshot.

    ``password`` is given apart from the URL (secrets never live in configuration) and is never
    shown: URLs are logged and reported with ``***`` in its place. ``progress(name, rows)`` is
    called after each batch with the rows written so far for that dataset (once with 0 for an
    empty dataset), inside the snapshot transaction.
    Raises :class:`ExtractionError` naming the table, column and row of any problem.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    _check_specs(specs)
    source = _Source.parse(source_url, password)
    engine = source.engine()
    started = datetime.now(UTC)
    logger.info("extracting %d dataset(s) from %s", len(specs), source.shown)
    written: list[_Written] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with source.reporting(), snapshot_transaction(engine) as (conn, marker):
            for spec in specs:
                written.append(_extract_dataset(conn, spec, out_dir, source, batch_rows, progress))
        datasets = tuple(_publish(item) for item in written)
    except BaseException:
        for item in written:
            item.partial.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    logger.info("snapshot %s: %d dataset(s) written to %s", marker, len(datasets), out_dir)
    return Snapshot(datasets, marker, engine.dialect.name, started, datetime.now(UTC))


@dataclass(frozen=True)
class _Source:
    """The source URL with its password, and how to speak of it without the password."""

    url: URL
    shown: str
    secrets: tuple[str, ...]

    @classmethod
    def parse(cls, source_url: str, password: str | None) -> _Source:
        try:
            url = make_url(source_url)
        except ArgumentError:
            # The message would repeat the URL, and with it any password it holds.
            raise ExtractionError("the source URL is not a valid SQLAlchemy URL") from None
        if password is not None and url.get_backend_name() == "sqlite":
            # SQLite has no logins; put in the URL, a password makes SQLAlchemy refuse it.
            logger.warning("a password was given for the SQLite source %s; SQLite has no passwords, ignored", url)
        elif password is not None:
            url = url.set(password=password)
        secrets = tuple(s for s in (password, url.password) if s)
        return cls(url, url.render_as_string(hide_password=True), tuple(map(str, secrets)))

    def engine(self) -> Engine:
        database = self.url.database
        if (
            self.url.get_backend_name() == "sqlite"
            and database not in (None, "", ":memory:")
            and not str(database).startswith("file:")
            and not Path(str(database)).is_file()
        ):
            # SQLite would silently create an empty database and report missing tables.
            raise ExtractionError(f"SQLite database not found: {database}")
        try:
            # One connection for the whole snapshot, closed at the end: no pool.
            return create_engine(self.url, poolclass=NullPool)
        except (ArgumentError, ImportError) as exc:
            raise self.error(exc, "cannot use source") from None

    @contextmanager
    def reporting(self, table: str | None = None) -> Iterator[None]:
        """Turn database errors into ExtractionError, without the password."""
        try:
            yield
        except SQLAlchemyError as exc:
            doing = f"reading table {table} from" if table else "reading from"
            leaked = any(secret in str(exc) for secret in self.secrets)
            raise self.error(exc, doing, table=table) from (None if leaked else exc)

    def error(self, exc: BaseException, doing: str, table: str | None = None) -> ExtractionError:
        cause = str(getattr(exc, "orig", None) or exc).strip()
        for secret in self.secrets:
            cause = cause.replace(secret, "***")
        return ExtractionError(f"{doing} {self.shown}: {cause}", table=table)


@dataclass(frozen=True)
class _Written:
    """A dataset written to its partial file, waiting for the snapshot to complete."""

    spec: DatasetSpec
    partial: Path
    final: Path
    rows: int
    source_count: int
    columns: tuple[tuple[str, str], ...]
    query: str
    parameters: Mapping[str, Any]


def _check_specs(specs: Sequence[DatasetSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if not _SAFE_NAME.fullmatch(spec.name):
            raise ExtractionError(
                f"dataset name {spec.name!r} (table {spec.table}) is not a safe file name",
                table=spec.table,
            )
        if spec.name in seen:
            raise ExtractionError(f"dataset name {spec.name!r} is used twice", table=spec.table)
        seen.add(spec.name)


def _extract_dataset(
    conn: Connection,
    spec: DatasetSpec,
    out_dir: Path,
    source: _Source,
    batch_rows: int,
    progress: Progress | None,
) -> _Written:
    final = out_dir / f"{spec.name}.parquet"
    partial = partial_path(final)
    try:
        with source.reporting(spec.table):
            query = build_query(_reflect(conn, spec, source), spec, conn.dialect)
            source_count = int(conn.execute(query.count).scalar_one())
            rows = _write_parquet(conn, spec, query, partial, batch_rows, progress)
        if rows != source_count:
            raise ExtractionError(
                f"table {spec.table}: {rows} row(s) written but the same query counted "
                f"{source_count} in the same snapshot",
                table=spec.table,
            )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sql, parameters = compiled_sql(query.select, conn.dialect)
    logger.info("%s: %d row(s) from %s", spec.name, rows, spec.table)
    return _Written(
        spec=spec,
        partial=partial,
        final=final,
        rows=rows,
        source_count=source_count,
        columns=tuple((f.name, str(f.type)) for f in query.schema),
        query=sql,
        parameters=parameters,
    )


def _reflect(conn: Connection, spec: DatasetSpec, source: _Source) -> Table:
    schema, _, name = spec.table.rpartition(".")
    inspector = inspect(conn)
    available = inspector.get_table_names(schema or None) + inspector.get_view_names(schema or None)
    if name not in available:
        folded = [t for t in available if t.casefold() == name.casefold()]
        if len(folded) != 1:
            raise ExtractionError(
                f"dataset {spec.name}: table {spec.table} not found in {source.shown}",
                table=spec.table,
            )
        name = folded[0]
    return Table(name, MetaData(), schema=schema or None, autoload_with=conn)


def _write_parquet(
    conn: Connection,
    spec: DatasetSpec,
    query: DatasetQuery,
    partial: Path,
    batch_rows: int,
    progress: Progress | None,
) -> int:
    schema = query.schema.with_metadata({"versement.table": spec.table, "versement.key": ",".join(spec.key)})
    converters = [
        converter(field.type, digits=declared_digits(column.type))
        for field, column in zip(schema, query.columns, strict=True)
    ]
    rows = 0
    options = {"stream_results": True, "yield_per": batch_rows}
    with pq.ParquetWriter(partial, schema) as writer:
        result = conn.execute(query.select, execution_options=options)
        try:
            for batch in result.partitions():
                writer.write_table(_to_arrow(batch, spec, query, schema, converters))
                rows += len(batch)
                if progress is not None:
                    progress(spec.name, rows)
        finally:
            result.close()
    if rows == 0 and progress is not None:
        progress(spec.name, 0)
    return rows


def _to_arrow(
    batch: Sequence[Row[Any]],
    spec: DatasetSpec,
    query: DatasetQuery,
    schema: pa.Schema,
    converters: Sequence[Converter],
) -> pa.Table:
    arrays = []
    for position, values in enumerate(zip(*batch, strict=True)):
        field = schema.field(position)
        converted = _convert_column(values, converters[position], batch, spec, query, field)
        try:
            arrays.append(pa.array(converted, type=field.type))
        except pa.ArrowException as exc:  # the converters should have caught it first
            raise ExtractionError(
                f"table {spec.table}, column {field.name}: {exc}",
                table=spec.table,
                column=field.name,
            ) from exc
    return pa.Table.from_arrays(arrays, schema=schema)


def _convert_column(
    values: Sequence[object],
    convert: Converter,
    batch: Sequence[Row[Any]],
    spec: DatasetSpec,
    query: DatasetQuery,
    field: pa.Field,
) -> list[object]:
    converted: list[object] = []
    try:
        for value in values:
            converted.append(convert(value))
    except (ValueError, TypeError, ArithmeticError) as exc:
        row = batch[len(converted)]  # the first value not converted
        key = {query.names[p]: row[p] for p in query.key_positions}
        bad = values[len(converted)]
        raise value_error(spec.table, field.name, key, bad, str(field.type), exc) from exc
    return converted


def _publish(item: _Written) -> ExtractedDataset:
    os.replace(item.partial, item.final)
    return ExtractedDataset(
        name=item.spec.name,
        table=item.spec.table,
        path=item.final,
        rows=item.rows,
        source_count=item.source_count,
        sha256=sha256_file(item.final),
        columns=item.columns,
        query=item.query,
        parameters=item.parameters,
    )
