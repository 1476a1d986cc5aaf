"""Extraction stage: copy datasets from a source database into Parquet, in one snapshot.

``extract()`` opens one reader (``extractors.readers``: one consistent read-only snapshot of
the source for the whole batch) and, for each dataset of the spec, runs::

    SELECT <columns minus exclude_columns> FROM (<spec sql>) q ORDER BY <key>
    SELECT COUNT(*) FROM (<spec sql>) q

in that snapshot with the scope's values bound (``extractors.statements``); the count's statement
also computes the dataset's source aggregates (sums, distinct person keys: ``extractors.aggregates``),
recorded in the manifest for the reconciliation. The Arrow types come
from the result's metadata through the documented mapping (``extractors.types``); every record
batch is checked and converted with vectorised pyarrow compute (``extractors.conform``) and
streamed into a ``ParquetWriter``: memory is bounded by one row group, whatever the table size.

**Resumable.** Each dataset is written to ``<name>.parquet.partial``, compared with the count,
renamed to ``<name>.parquet`` when complete, and only then described by ``<name>.manifest.json``
(``extractors.manifest``: source without password, spec SQL and statement sent, bound
parameters, snapshot marker, rows, COUNT(*), SHA-256, Arrow schema, times, rows/s, spec
identity). Re-running an interrupted batch into the same folder keeps every dataset whose file
matches its manifest and redoes the rest. Files are written deterministically (fixed row
groups, no timestamps in the file), so a batch killed midway and resumed gives files
byte-identical to an uninterrupted run of the same source state.

**Partitions.** A dataset named in ``partitions`` is read as ranges of one column, each an
ordinary dataset of its own file and manifest (kept on re-run likewise), then combined into the
dataset's one file and manifest (``extractors.partitions``).

**What a resumed batch's snapshot means.** On PostgreSQL and SQLite a snapshot cannot outlive
its connection: the datasets redone come from a *later* snapshot than the ones kept. Both
markers are recorded (``Snapshot.markers``, each dataset's ``marker`` and manifest), and the
batch is consistent only if the source did not change in between, which holds for a
decommissioned tool frozen for its archiving, not for a live one; so ``versement`` reads such a
batch again whole, in one snapshot (``versement.pipeline.run_extract``, ``extract.reread`` in its
trail; the source DAGs likewise). On Oracle the redone datasets are read AS OF the SCN the kept
ones recorded, so the batch stays one snapshot as long as the undo still reaches back to it
(otherwise "snapshot too old").
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from extractors import aggregates
from extractors import manifest as manifests
from extractors import partitions as cuts
from extractors.conform import BadValue, conform, from_python
from extractors.datasets import ExtractedDataset, Snapshot
from extractors.errors import ExtractionError, is_transient, value_error
from extractors.files import partial_path, sha256_file
from extractors.readers import (
    FETCH_ROWS,
    SNAPSHOT_TOO_OLD,
    Column,
    PythonColumn,
    Reader,
    Reading,
    open_reader,
    oracle_scn,
)
from extractors.specs import DatasetSpec
from extractors.statements import check_parameters, count_sql
from extractors.types import UnsupportedTypeError, arrow_type, declared_digits

__all__ = ["ExtractionError", "Progress", "Snapshot", "extract"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, float], None]
"""``progress(dataset, rows_so_far, elapsed_seconds)``, after each batch read (once with 0 for an empty one)."""

ROW_GROUP_ROWS = 131_072
"""Rows per Parquet row group: fixed, so the file does not depend on how the driver batched rows."""

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "write_statistics": True,
    # Decimals of precision <= 18 as INT32/INT64 (the Parquet format's own recommendation), not
    # FIXED_LEN_BYTE_ARRAY: read back as the same decimal128(p, s), cheaper to encode.
    "store_decimal_as_integer": True,
}

# Dataset names become file names: no separators, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Writer(Protocol):
    def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None: ...

    def close(self) -> None: ...


OpenWriter = Callable[[Path, pa.Schema], Writer]


def parquet_writer(path: Path, schema: pa.Schema) -> Writer:
    return pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)


class RowGroups:
    """Record batches of any size written as row groups of exactly ``size`` rows (the last one
    shorter): a dataset's file cut the same way whoever wrote it (a reader, the combine)."""

    def __init__(self, writer: Writer, schema: pa.Schema, size: int) -> None:
        self.writer, self.schema, self.size = writer, schema, size
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        while self._pending_rows >= self.size:
            table = pa.Table.from_batches(self._pending, self.schema)
            self.writer.write_table(table.slice(0, self.size), row_group_size=self.size)
            rest = table.slice(self.size)
            self._pending, self._pending_rows = rest.to_batches(), rest.num_rows

    def finish(self) -> None:
        """Write what is left (the writer is closed by its owner)."""
        if self._pending_rows:
            self.writer.write_table(pa.Table.from_batches(self._pending, self.schema), row_group_size=self.size)


def extract(
    source_url: str,
    datasets: Sequence[DatasetSpec],
    out_dir: Path,
    *,
    parameters: Mapping[str, Any],
    password: str | None = None,
    progress: Progress | None = None,
    batch_rows: int = FETCH_ROWS,
    row_group_rows: int = ROW_GROUP_ROWS,
    open_writer: OpenWriter = parquet_writer,
    snapshot_id: str | None = None,
    reuse_marker: str | None = None,
    partitions: Mapping[str, int] | None = None,
    only_part: int | None = None,
) -> Snapshot:
    """Extract ``datasets`` from ``source_url`` into ``out_dir``, in one snapshot (see the module notes).

    ``snapshot_id`` (PostgreSQL) reads in a snapshot another session exported and still holds,
    ``reuse_marker`` (Oracle) AS OF the SCN another reader of the batch recorded
    (``extractors.parallel``), instead of opening a new snapshot.

    ``partitions`` maps a dataset's name to the number of partitions it is read in
    (``extractors.partitions``): read one after the other, then combined into the dataset's file.
    ``only_part`` (with a single partitioned dataset) reads that partition alone and combines
    nothing (a mapped reader); the result then describes the partition's file.

    ``parameters`` are the batch scope's bound values (``Scope.parameters()``); each dataset
    gets those its SQL names. ``password`` is given apart from the URL (secrets never live in
    configuration) and is never shown. ``batch_rows`` is the fetch size of SQLite and Oracle
    (PostgreSQL streams by size); ``open_writer`` is a test seam (a full disk).
    Raises :class:`ExtractionError` naming the dataset, the source's host and database, and
    the column and row of a bad value; ``transient`` says whether a retry may help.
    """
    if row_group_rows < 1 or batch_rows < 1:
        raise ValueError(f"row_group_rows and batch_rows must be positive, got {row_group_rows}, {batch_rows}")
    _check_specs(datasets)
    counts = _check_partitions(datasets, partitions or {}, only_part)
    source = _Source.parse(source_url, password)
    started = datetime.now(UTC)
    bound = {spec.name: check_parameters(spec.name, spec.sql, parameters) for spec in datasets}
    _check_reuse(reuse_marker, source)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = {
        spec.name: item
        for spec in datasets
        if only_part is None and (item := _kept(spec, bound[spec.name], source, out_dir))
    }
    todo = [spec for spec in datasets if spec.name not in kept]
    logger.info("extracting %d dataset(s) from %s (%d kept from an earlier run)", len(todo), source.shown, len(kept))
    done: dict[str, ExtractedDataset] = dict(kept)
    marker = next(iter(kept.values())).marker if kept else ""
    details: dict[str, str] = {}
    dialect = source.url.get_backend_name()
    part_markers: list[str] = []
    if todo:
        # Partitions an earlier run finished count as kept datasets: on Oracle the rest is read AS OF their SCN.
        kept_parts = [
            part
            for spec in todo
            if spec.name in counts
            for part in _kept_parts(spec, counts[spec.name], only_part, bound[spec.name], source, out_dir)
        ]
        reuse = _reused_marker(reuse_marker, [*kept.values(), *kept_parts], source)
        with source.reporting(todo[0].name, "cannot open a snapshot of"):
            reader = open_reader(source.url, reuse_marker=reuse, batch_rows=batch_rows, snapshot_id=snapshot_id)
        try:
            marker, details, dialect = reader.marker, dict(reader.details), reader.dialect
            for spec in todo:
                if spec.name in counts:
                    done[spec.name], markers_read = _extract_partitioned(
                        reader,
                        spec,
                        counts[spec.name],
                        only_part,
                        bound[spec.name],
                        out_dir,
                        source,
                        progress,
                        row_group_rows,
                        open_writer,
                    )
                    part_markers.extend(markers_read)
                    continue
                done[spec.name] = _extract_dataset(
                    reader, spec, bound[spec.name], out_dir, source, progress, row_group_rows, open_writer
                )
        finally:
            reader.close()
    result = tuple(done[spec.name] for spec in datasets)
    markers = tuple(dict.fromkeys([*(d.marker for d in result), *part_markers]))
    if len(markers) == 1:  # every file from one snapshot: that one, even if a reader opened another for nothing
        marker = markers[0]
    logger.info("snapshot %s: %d dataset(s) in %s", marker, len(result), out_dir)
    return Snapshot(
        datasets=result,
        marker=marker,
        dialect=dialect,
        started_at=started,
        finished_at=datetime.now(UTC),
        markers=markers,
        resumed=tuple(kept),
        details=details,
    )


# -- source and errors ------------------------------------------------------------------------


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
            logger.warning("a password was given for the SQLite source %s; SQLite has no passwords, ignored", url)
        elif password is not None:
            url = url.set(password=password)
        secrets = tuple(str(s) for s in (password, url.password) if s)
        return cls(url, url.render_as_string(hide_password=True), secrets)

    def hide(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def reporting(self, dataset: str, doing: str, folder: Path | None = None) -> Iterator[None]:
        """Driver and system errors as ExtractionError naming dataset and source, without the password.

        A system error writing into ``folder`` (a full disk, a lost mount) names the folder, its
        free space and the dataset: it is the staging disk's problem, not the source's.
        """
        try:
            yield
        except ExtractionError as exc:
            if exc.dataset is None:
                raise ExtractionError(
                    self.hide(f"dataset {dataset}: {exc}"),
                    dataset=dataset,
                    column=exc.column,
                    key=exc.key,
                    transient=exc.transient,
                ) from None
            raise
        except OSError as exc:
            if not _from_driver(exc):
                raise _disk_error(exc, dataset, folder, self.shown) from None
            raise self._error(exc, dataset, doing) from None
        except Exception as exc:
            if not _from_driver(exc):
                raise
            raise self._error(exc, dataset, doing) from None

    def _error(self, exc: BaseException, dataset: str, doing: str) -> ExtractionError:
        cause = " ".join(str(exc).split())
        if "ORA-01555" in cause or "ORA-08181" in cause:
            cause = f"{SNAPSHOT_TOO_OLD} ({cause})"
        message = self.hide(f"dataset {dataset}: {doing} {self.shown}: {cause}")
        return ExtractionError(message, dataset=dataset, transient=is_transient(exc))


def _disk_error(exc: OSError, dataset: str, folder: Path | None, source: str) -> ExtractionError:
    reason = exc.strerror or " ".join(str(exc).split())
    if exc.errno == errno.ENOSPC or "No space left" in str(exc):
        reason = "no space left on the disk"
    where = "its files"
    if folder is not None:
        try:
            free = shutil.disk_usage(folder).free
            where = f"its files into {folder} ({free:,} bytes free there)"
        except OSError:
            where = f"its files into {folder}"
    message = f"dataset {dataset}: cannot write {where}: {reason} (reading from {source}); nothing of it is kept"
    return ExtractionError(message, dataset=dataset, transient=False)


def _from_driver(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("psycopg", "sqlite3", "oracledb", "pyarrow")


def _check_specs(datasets: Sequence[DatasetSpec]) -> None:
    seen: set[str] = set()
    for spec in datasets:
        if not _SAFE_NAME.fullmatch(spec.name):
            raise ExtractionError(f"dataset {spec.name}: the name is not a safe file name", dataset=spec.name)
        if spec.name in seen:
            raise ExtractionError(f"dataset name {spec.name!r} is used twice", dataset=spec.name)
        if not spec.key:
            raise ExtractionError(f"dataset {spec.name}: a key is required to order the rows", dataset=spec.name)
        seen.add(spec.name)


def _check_reuse(marker: str | None, source: _Source) -> None:
    """A marker to read AS OF must be an Oracle SCN marker, for an Oracle source: never silently a new SCN."""
    if marker is None:
        return
    if source.url.get_backend_name() != "oracle":
        raise ExtractionError(f"{source.shown}: reading AS OF a recorded SCN is an Oracle feature ({marker!r} given)")
    if oracle_scn(marker) is None:
        raise ExtractionError(
            f"{source.shown}: {marker!r} is not an Oracle SCN marker ('oracle:flashback AS OF SCN N')"
        )


def _reused_marker(given: str | None, kept: Iterable[ExtractedDataset], source: _Source) -> str | None:
    """The SCN marker the datasets still to read are read AS OF: the one given, else the kept datasets'.

    A kept dataset read AS OF another SCN than the one given would make the batch two snapshots.
    """
    recorded = {d.marker for d in kept if oracle_scn(d.marker) is not None}
    if given is not None and recorded - {given}:
        raise ExtractionError(
            f"{source.shown}: asked to read AS OF {given!r} but kept dataset(s) were read "
            f"{', '.join(sorted(recorded - {given}))}; re-extract the batch into an empty folder"
        )
    return given if given is not None else min(recorded, default=None)


# -- resume -----------------------------------------------------------------------------------


def _kept(spec: DatasetSpec, parameters: Mapping[str, Any], source: _Source, out_dir: Path) -> ExtractedDataset | None:
    """The dataset an earlier run of this batch finished, if its file still matches its manifest."""
    final = out_dir / f"{spec.name}.parquet"
    data = manifests.read_manifest(manifests.manifest_path(out_dir, spec.name))
    if data is None or not final.is_file():
        return None
    expected = {
        "dataset": spec.name,
        "spec_identity": manifests.spec_identity(spec),
        "source": source.shown,
        "sql": spec.sql,
        "parameters": manifests.json_parameters(parameters),
    }
    if any(data.get(k) != v for k, v in expected.items()) or sha256_file(final) != data.get("sha256"):
        logger.info("%s: the file does not match its manifest, extracted again", spec.name)
        return None
    logger.info("%s: kept from an earlier run (snapshot %s)", spec.name, data["snapshot"])
    return ExtractedDataset(
        name=spec.name,
        path=final,
        rows=int(data["rows"]),
        source_count=int(data["source_count"]),
        sha256=str(data["sha256"]),
        columns=tuple((str(n), str(t)) for n, t in data["columns"]),
        query=str(data["query"]),
        parameters=dict(parameters),
        marker=str(data["snapshot"]),
        manifest=manifests.manifest_path(out_dir, spec.name),
        resumed=True,
        aggregates=aggregates.from_manifest(data),
    )


# -- partitioned datasets ---------------------------------------------------------------------


def _check_partitions(
    datasets: Sequence[DatasetSpec], partitions: Mapping[str, int], only_part: int | None
) -> dict[str, int]:
    specs = {spec.name: spec for spec in datasets}
    for name, count in partitions.items():
        if name not in specs:
            continue  # a dataset the batch does not read (narrowed to a subset)
        problem = cuts.check_count(count)
        if problem is None and cuts.partition_column(specs[name]) is None:
            problem = "it has neither a person key nor a key column to cut it on"
        if problem is not None:
            raise ExtractionError(f"dataset {name}: cannot be read in partitions: {problem}", dataset=name)
    counts = {name: count for name, count in partitions.items() if name in specs}
    single = len(datasets) == 1 and datasets[0].name in counts
    if only_part is not None and not (single and 1 <= only_part <= counts[datasets[0].name]):
        raise ValueError(f"only_part {only_part} needs one partitioned dataset with that many partitions")
    return counts


def _kept_parts(
    spec: DatasetSpec,
    count: int,
    only_part: int | None,
    parameters: Mapping[str, Any],
    source: _Source,
    out_dir: Path,
) -> list[ExtractedDataset]:
    """The partitions of ``spec`` an earlier run finished under the recorded plan (none without one)."""
    plan = cuts.recorded_plan(spec, count, source.shown, parameters, out_dir)
    if plan is None:
        return []
    found = []
    for index in [only_part] if only_part is not None else range(1, count + 1):
        part = plan.spec(spec, index)
        kept = _kept(part, check_parameters(part.name, part.sql, plan.parameters(index, parameters)), source, out_dir)
        if kept is not None:
            found.append(kept)
    return found


def _extract_partitioned(
    reader: Reader,
    spec: DatasetSpec,
    count: int,
    only_part: int | None,
    parameters: Mapping[str, Any],
    out_dir: Path,
    source: _Source,
    progress: Progress | None,
    row_group_rows: int,
    open_writer: OpenWriter,
) -> tuple[ExtractedDataset, list[str]]:
    """Read ``spec``'s partitions (those an earlier run finished are kept) and combine them."""
    plan = cuts.recorded_plan(spec, count, source.shown, parameters, out_dir)
    if plan is None:
        with source.reporting(spec.name, "cannot compute the partitions of", out_dir):
            declared = {c.name: c.type for c in spec.columns.values() if c.type}
            described = reader.describe(spec.name, spec.sql, parameters, declared)
            wanted = cuts.partition_column(spec) or ""
            found = [c.name for c in described if c.name.casefold() == wanted.casefold()]
            if len(found) != 1:
                raise ExtractionError(
                    f"dataset {spec.name}: partition column {wanted!r} is not in the result",
                    dataset=spec.name,
                    column=wanted,
                )
            statement = cuts.bounds_sql(reader.rewrite(spec.sql, parameters), found[0], count)
            rewritten = reader.rewrite(spec.sql, parameters)
            total, _ = reader.count(count_sql(rewritten), parameters)
            plan = cuts.compute_plan(
                reader.rows(statement, parameters), spec, count, found[0], reader.dialect, total, reader.marker
            )
            plan = cuts.write_plan(plan, spec, source.shown, parameters, out_dir)
        logger.info("%s: %d partition(s) on %s, bounds %s", spec.name, count, plan.column, plan.bounds)
    parts = []
    for index in [only_part] if only_part is not None else range(1, count + 1):
        part = plan.spec(spec, index)
        bound = check_parameters(part.name, part.sql, plan.parameters(index, parameters))
        kept = _kept(part, bound, source, out_dir)
        parts.append(
            kept or _extract_dataset(reader, part, bound, out_dir, source, progress, row_group_rows, open_writer)
        )
    markers = [p.marker for p in parts]
    if only_part is not None:
        return parts[0], markers
    return _combine(spec, plan, parts, parameters, out_dir, source, row_group_rows), markers


def _combine(
    spec: DatasetSpec,
    plan: cuts.Plan,
    parts: Sequence[ExtractedDataset],
    parameters: Mapping[str, Any],
    out_dir: Path,
    source: _Source,
    row_group_rows: int,
) -> ExtractedDataset:
    """``<dataset>.parquet`` and its manifest from the partition files, which are then removed."""
    final = out_dir / f"{spec.name}.parquet"
    manifest = manifests.manifest_path(out_dir, spec.name)
    manifest.unlink(missing_ok=True)
    started = datetime.now(UTC)
    clock = time.monotonic()
    recorded = [manifests.read_manifest(p.manifest) if p.manifest else None for p in parts]
    if any(r is None for r in recorded):
        raise ExtractionError(f"dataset {spec.name}: a partition's manifest is missing", dataset=spec.name)
    described = [r for r in recorded if r is not None]
    with source.reporting(spec.name, "cannot combine the partitions of", out_dir):
        first = pq.read_schema(parts[0].path)
        metadata = {k.decode(): v.decode() for k, v in (first.metadata or {}).items()}
        metadata["versement.dataset"] = spec.name
        rows = cuts.concatenate([p.path for p in parts], final, metadata, row_group_rows)
    expected, counted = sum(p.rows for p in parts), sum(p.source_count for p in parts)
    # Read in the plan's snapshot, the partitions must add up to the dataset's own count: they cover it.
    same = plan.total >= 0 and all(p.marker == plan.marker for p in parts)
    if same and counted != plan.total:
        final.unlink(missing_ok=True)
        raise ExtractionError(
            f"dataset {spec.name}: its {len(parts)} partitions hold {counted} row(s) but the dataset counted "
            f"{plan.total} in the same snapshot of {source.shown}",
            dataset=spec.name,
        )
    if rows != expected or rows != counted:
        final.unlink(missing_ok=True)
        raise ExtractionError(
            f"dataset {spec.name}: {rows} row(s) combined from partitions holding {expected} (source count {counted})",
            dataset=spec.name,
        )
    columns = dict(parts[0].columns)
    archive_column = archive_names(spec, [plan.column])[0]
    combined, left_out = cuts.combine_aggregates(described, columns, archive_column)
    markers = list(dict.fromkeys(p.marker for p in parts))
    marker = markers[0] if len(markers) == 1 else " + ".join(markers)
    query = ";\n".join(p.query for p in parts)
    with source.reporting(spec.name, "cannot write the manifest of", out_dir), _removed_on_failure(final):
        digest = sha256_file(final)
        _sync_folder(out_dir)
        head = described[0]
        manifests.write_manifest(
            manifest,
            {
                **{k: head[k] for k in ("format", "label", "record_type", "dialect", "source_details")},
                **{k: head[k] for k in ("columns", "arrow_schema", "key", "excluded_columns")},
                "dataset": spec.name,
                "spec_identity": manifests.spec_identity(spec),
                "source": source.shown,
                "sql": spec.sql,
                "query": query,
                "count_query": ";\n".join(str(d["count_query"]) for d in described),
                "parameters": manifests.json_parameters(parameters),
                "snapshot": marker,
                "rows": rows,
                "source_count": counted,
                "aggregates": combined,
                "aggregates_not_combined": left_out,
                "file": final.name,
                "bytes": final.stat().st_size,
                "sha256": digest,
                "partitions": {
                    "column": archive_column,
                    "dataset_count": plan.total,  # COUNT(*) of the whole dataset when the bounds were computed
                    "bounds": [cuts.plan_bound(b) for b in plan.bounds],
                    "parts": [
                        {k: d[k] for k in ("file", "rows", "source_count", "sha256", "parameters", "snapshot")}
                        for d in described
                    ],
                },
                "started_at": min(str(d["started_at"]) for d in described),
                "finished_at": datetime.now(UTC).isoformat(),
                "seconds": round(sum(float(d["seconds"]) for d in described) + time.monotonic() - clock, 3),
                "combined_at": started.isoformat(),
            },
        )
    for part in parts:
        part.path.unlink(missing_ok=True)
        if part.manifest is not None:
            part.manifest.unlink(missing_ok=True)
    cuts.plan_path(out_dir, spec.name).unlink(missing_ok=True)
    logger.info("%s: %d row(s) combined from %d partition(s)", spec.name, rows, len(parts))
    return ExtractedDataset(
        name=spec.name,
        path=final,
        rows=rows,
        source_count=counted,
        sha256=digest,
        columns=parts[0].columns,
        query=query,
        parameters=dict(parameters),
        marker=marker,
        manifest=manifest,
        resumed=all(p.resumed for p in parts),
        aggregates=combined,
    )


# -- one dataset ------------------------------------------------------------------------------


def _extract_dataset(
    reader: Reader,
    spec: DatasetSpec,
    parameters: Mapping[str, Any],
    out_dir: Path,
    source: _Source,
    progress: Progress | None,
    row_group_rows: int,
    open_writer: OpenWriter,
) -> ExtractedDataset:
    final = out_dir / f"{spec.name}.parquet"
    partial = partial_path(final)
    manifest = manifests.manifest_path(out_dir, spec.name)
    # A manifest that no longer matches goes first: whatever happens next, no manifest in the
    # folder describes a file other than its own.
    manifest.unlink(missing_ok=True)
    started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        with source.reporting(spec.name, "reading from", out_dir):
            sql = reader.rewrite(spec.sql, parameters)
            declared = {c.name: c.type for c in spec.columns.values() if c.type}
            described = reader.describe(spec.name, spec.sql, parameters, declared)
            columns, key = _output_columns(spec, described)
            reading = _reading(spec, reader, sql, columns, key)
            planned = aggregates.plan(
                spec, [c.name for c in columns], archive_names(spec, [c.name for c in columns]), reading.targets
            )
            count_statement = aggregates.count_statement(planned, reader.dialect, sql)
            counted = _start_count(reader, count_statement, parameters)
            rows = _write(reader, spec, reading, parameters, key, partial, progress, clock, row_group_rows, open_writer)
            source_count, raw_aggregates = counted()
            source_aggregates = aggregates.values(planned, reader.dialect, raw_aggregates)
        if rows != source_count:
            raise ExtractionError(
                f"dataset {spec.name}: {rows} row(s) written but the same query counted {source_count} "
                f"in the same snapshot of {source.shown}",
                dataset=spec.name,
            )
        with source.reporting(spec.name, "cannot finish the file of", out_dir):
            digest = sha256_file(partial)
            os.replace(partial, final)
            _sync_folder(out_dir)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - clock
    names = archive_names(spec, [c.name for c in columns])
    schema = pa.schema([pa.field(n, t) for n, t in zip(names, reading.targets, strict=True)])
    described_columns = tuple((f.name, str(f.type)) for f in schema)
    with source.reporting(spec.name, "cannot write the manifest of", out_dir), _removed_on_failure(final):
        manifests.write_manifest(
            manifest,
            {
                "format": manifests.FORMAT,
                "dataset": spec.name,
                "label": spec.label,
                "record_type": spec.record_type,
                "spec_identity": manifests.spec_identity(spec),
                "source": source.shown,
                "dialect": reader.dialect,
                "sql": spec.sql,
                "query": reading.select,
                "count_query": count_statement,
                "parameters": manifests.json_parameters(parameters),
                "snapshot": reader.marker,
                "source_details": dict(reader.details),
                "rows": rows,
                "source_count": source_count,
                "aggregates": source_aggregates,
                "file": final.name,
                "bytes": final.stat().st_size,
                "sha256": digest,
                "columns": [list(c) for c in described_columns],
                "arrow_schema": schema.to_string(show_schema_metadata=False),
                "key": list(key),
                "excluded_columns": list(spec.exclude_columns),
                "started_at": started.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
                "seconds": round(seconds, 3),
                "rows_per_second": round(rows / seconds) if seconds > 0 else None,
            },
        )
    logger.info("%s: %d row(s) in %.1f s", spec.name, rows, seconds)
    return ExtractedDataset(
        name=spec.name,
        path=final,
        rows=rows,
        source_count=source_count,
        sha256=digest,
        columns=described_columns,
        query=reading.select,
        parameters=dict(parameters),
        marker=reader.marker,
        manifest=manifest,
        aggregates=source_aggregates,
    )


def _start_count(
    reader: Reader, statement: str, parameters: Mapping[str, Any]
) -> Callable[[], tuple[int, tuple[Any, ...]]]:
    """The count and aggregates, in the same snapshot: alongside the read where the reader can."""
    concurrently = getattr(reader, "count_concurrently", None)
    if concurrently is not None:
        result: Callable[[], tuple[int, tuple[Any, ...]]] = concurrently(statement, parameters)
        return result
    done = reader.count(statement, parameters)
    return lambda: done


@contextmanager
def _removed_on_failure(path: Path) -> Iterator[None]:
    """A file its manifest could not describe is not kept (it would only take the disk's space)."""
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def archive_names(spec: DatasetSpec, names: Sequence[str]) -> list[str]:
    """Column names as the archive keeps them: as the specification spells them.

    PostgreSQL folds unquoted names to lower case and Oracle to upper case, so the same spec SQL
    returns ``cod_ind`` from one and ``COD_IND`` from the other. A name the specification
    declares (key, person key, described column) keeps the spec's spelling; any other folded
    name follows the spec's convention (an upper-case key: upper case), so a dataset reads the
    same whatever database it came from.
    """
    declared = {n.casefold(): n for n in (*spec.key, *(spec.columns or {}), spec.person_key or "") if n}
    upper = all(k == k.upper() for k in spec.key)
    out = []
    for name in names:
        if name.casefold() in declared:
            out.append(declared[name.casefold()])
        elif upper and name == name.lower():
            out.append(name.upper())
        else:
            out.append(name)
    return out


def _output_columns(spec: DatasetSpec, described: Sequence[Column]) -> tuple[list[Column], list[str]]:
    """The result columns minus those left out, and the key as the result spells it."""
    names = [c.name for c in described]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ExtractionError(
            f"dataset {spec.name}: column(s) {', '.join(twice)} appear twice in the result (alias them in the SQL)",
            dataset=spec.name,
            column=twice[0],
        )

    def resolve(name: str, role: str) -> str:
        if name in names:
            return name
        folded = [n for n in names if n.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise ExtractionError(
            f"dataset {spec.name}: {role} column {name!r} is not in the result (columns: {', '.join(names)})",
            dataset=spec.name,
            column=name,
        )

    excluded = {resolve(n, "excluded") for n in spec.exclude_columns}
    key = [resolve(n, "key") for n in spec.key]
    if excluded & set(key):
        raise ExtractionError(
            f"dataset {spec.name}: key column(s) {', '.join(sorted(excluded & set(key)))} cannot be left out",
            dataset=spec.name,
            column=sorted(excluded & set(key))[0],
        )
    kept = [c for c in described if c.name not in excluded]
    keys = set(key) | {n for n in names if spec.person_key and n.casefold() == spec.person_key.casefold()}
    if excluded and {c.name for c in kept} <= keys:
        # The specification leaves such a dataset out whole (DatasetSpec.wholly_sensitive); one
        # that still gets here would be archived as a file of keys alone.
        raise ExtractionError(
            f"dataset {spec.name}: every column but its key is left out ({', '.join(sorted(excluded))}); "
            "drop the dataset or keep one of its columns",
            dataset=spec.name,
        )
    return kept, key


def _reading(spec: DatasetSpec, reader: Reader, sql: str, columns: Sequence[Column], key: Sequence[str]) -> Reading:
    targets, digits = [], []
    for column in columns:
        try:
            targets.append(arrow_type(column.sql_type, dialect=reader.dialect))
        except UnsupportedTypeError as exc:
            raise ExtractionError(
                f"dataset {spec.name}, column {column.name}: {exc}", dataset=spec.name, column=column.name
            ) from exc
        digits.append(declared_digits(column.sql_type))
    return Reading(select=reader.statement(sql, columns, key), columns=columns, targets=targets, digits=digits)


def _write(
    reader: Reader,
    spec: DatasetSpec,
    reading: Reading,
    parameters: Mapping[str, Any],
    key: Sequence[str],
    partial: Path,
    progress: Progress | None,
    clock: float,
    row_group_rows: int,
    open_writer: OpenWriter,
) -> int:
    names = archive_names(spec, [c.name for c in reading.columns])
    fields = [pa.field(n, t) for n, t in zip(names, reading.targets, strict=True)]
    metadata = {"versement.dataset": spec.name, "versement.key": ",".join(archive_names(spec, key))}
    schema = pa.schema(fields, metadata=metadata)
    positions = [[c.name for c in reading.columns].index(k) for k in key]
    writer = open_writer(partial, schema)
    groups = RowGroups(writer, schema, row_group_rows)
    try:
        for raw in reader.batches(reading, parameters):
            groups.add(_conform_batch(spec, reading, raw, positions, schema))
            if progress is not None:
                progress(spec.name, groups.rows, time.monotonic() - clock)
        groups.finish()
    finally:
        writer.close()
    rows = groups.rows
    if rows == 0 and progress is not None:
        progress(spec.name, 0, time.monotonic() - clock)
    return rows


def _conform_batch(
    spec: DatasetSpec, reading: Reading, raw: Sequence[Any], positions: Sequence[int], schema: pa.Schema
) -> pa.RecordBatch:
    arrays = []
    for index, (column, values) in enumerate(zip(reading.columns, raw, strict=True)):
        target, digits = reading.targets[index], reading.digits[index]
        try:
            if isinstance(values, PythonColumn):
                arrays.append(from_python(values, target, digits=digits))
            else:
                arrays.append(conform(values, target, digits=digits))
        except BadValue as bad:
            row_key = {reading.columns[p].name: _value_at(raw[p], bad.index) for p in positions}
            raise value_error(spec.name, column.name, row_key, bad.value, str(target), bad.reason) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _value_at(values: Any, index: int) -> object:
    if isinstance(values, PythonColumn):
        return values[index]
    return values[index].as_py()


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (a crash must not lose a dataset its manifest then describes)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
