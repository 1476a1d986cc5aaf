"""A large dataset read as several partitions (ranges of one column), then combined into one file.

A deployment may cut a dataset into ``n`` partitions (``sources.<name>.partitions``). The
partition column is the dataset's person key when it has one, else its first key column. Its
boundaries are computed once, in the batch's snapshot, over the dataset's own SQL and bound
scope values (portable to SQLite, PostgreSQL and Oracle)::

    SELECT MIN(k) FROM (SELECT q."K" AS k, NTILE(n) OVER (ORDER BY q."K") AS t
                        FROM (<spec sql>) q WHERE q."K" IS NOT NULL) s GROUP BY t ORDER BY 1

and recorded in ``<dataset>.partitions.json`` (so every reader of the batch, and a resumed run,
cuts the dataset the same way). Partition ``i`` of ``n`` is then an ordinary dataset named
``<dataset>.part-00i-of-00n``, read by ``extractors.extract`` like any other (its own
``.partial`` file renamed when complete, its own manifest with rows, the source's COUNT(*) and
aggregates of that range, SHA-256 and bound boundaries; kept on re-run when it matches)::

    SELECT * FROM (<spec sql>) p WHERE p."K" >= :versement_partition_low AND p."K" < :versement_partition_high

the first partition open below, the last open above, the boundaries bound, never pasted. Rows
whose partition column is NULL go where the dialect's ``ORDER BY`` puts them (first on SQLite,
last on PostgreSQL and Oracle), so none is lost. A boundary list shorter than ``n - 1`` (fewer
distinct values than partitions) leaves the last partitions empty (``WHERE 1 = 0``).

:func:`combine` then concatenates the partition files, in order, into ``<dataset>.parquet``
(record batches streamed, row groups cut as the single reader cuts them), writes the dataset's
normal manifest and removes the partition files. Downstream stages see one file, as before.
When the partition column is the first key column (Apogée's results: ``COD_IND``) the combined
file is byte-identical to the one a single reader writes; otherwise it holds the same rows,
ordered by partition then key (no stage relies on the order of a file's rows).

Aggregates: the row count and source COUNT(*) are sums; a sum of integers or decimals is the
exact sum of the partitions' sums; a distinct count of the partition column alone is the sum of
the partitions' counts (the ranges are disjoint). Any other aggregate (a sum of floating-point
numbers, a distinct count of another column) cannot be combined and is left out of the combined
manifest (``aggregates_not_combined`` lists them): recomputing it from the file would compare
the file with itself.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from extractors import manifest as manifests
from extractors.errors import ExtractionError
from extractors.files import partial_path
from extractors.specs import DatasetSpec
from extractors.statements import quote

MIN_PARTITIONS = 2
MAX_PARTITIONS = 256
LOW = "versement_partition_low"
HIGH = "versement_partition_high"
PLAN_SUFFIX = ".partitions.json"
_PART = re.compile(r"(?P<dataset>.+)\.part-(?P<index>\d{3})-of-(?P<count>\d{3})")


def partition_column(spec: DatasetSpec) -> str | None:
    """The column a dataset is cut on: its person key, else its first key column (None: cannot be cut)."""
    if spec.person_key:
        return spec.person_key
    return spec.key[0] if spec.key else None


def check_count(count: object) -> str | None:
    """Why ``count`` is not a number of partitions (None when it is one)."""
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_PARTITIONS <= count <= MAX_PARTITIONS:
        return f"expected a whole number of partitions from {MIN_PARTITIONS} to {MAX_PARTITIONS}, got {count!r}"
    return None


def part_name(dataset: str, index: int, count: int) -> str:
    """``resultats_elements.part-003-of-008``: partition ``index`` (1-based) of ``count``."""
    return f"{dataset}.part-{index:03d}-of-{count:03d}"


def parse_part(name: str) -> tuple[str, int, int] | None:
    """(dataset, index, count) of a partition name, None for a dataset's own name."""
    match = _PART.fullmatch(name)
    if match is None:
        return None
    return match["dataset"], int(match["index"]), int(match["count"])


def plan_path(out_dir: Path, dataset: str) -> Path:
    return out_dir / f"{dataset}{PLAN_SUFFIX}"


@dataclass(frozen=True)
class Plan:
    """How one dataset is cut: ``count`` partitions of ``column`` (as the result spells it) at ``bounds``."""

    dataset: str
    count: int
    column: str
    nulls_first: bool
    bounds: tuple[Any, ...]  # ascending, distinct, at most count - 1
    total: int = -1  # the dataset's COUNT(*) in the plan's snapshot (-1: not counted)
    marker: str = ""  # that snapshot

    def spec(self, spec: DatasetSpec, index: int) -> DatasetSpec:
        """Partition ``index`` (1-based) as a dataset of its own."""
        column = f"p.{quote(self.column)}"
        low = self.bounds[index - 2] if 2 <= index <= len(self.bounds) + 1 else None
        high = self.bounds[index - 1] if index <= len(self.bounds) else None
        if index > len(self.bounds) + 1:
            where = "1 = 0"
        else:
            ranges = []
            if low is not None:
                ranges.append(f"{column} >= :{LOW}")
            if high is not None:
                ranges.append(f"{column} < :{HIGH}")
            takes_nulls = index == (1 if self.nulls_first else len(self.bounds) + 1)
            where = " AND ".join(ranges)
            if takes_nulls and where:
                where = f"({where}) OR {column} IS NULL"
        sql = f"SELECT * FROM ({spec.sql}) p" + (f" WHERE {where}" if where else "")
        return replace(spec, name=part_name(spec.name, index, self.count), sql=sql)

    def parameters(self, index: int, scope: Mapping[str, Any]) -> dict[str, Any]:
        """The scope's values plus partition ``index``'s boundaries (those its SQL names)."""
        out = dict(scope)
        if 2 <= index <= len(self.bounds) + 1:
            out[LOW] = self.bounds[index - 2]
        if index <= len(self.bounds):
            out[HIGH] = self.bounds[index - 1]
        return out

    def to_json(self, spec: DatasetSpec, source: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "format": manifests.FORMAT,
            "dataset": self.dataset,
            "spec_identity": manifests.spec_identity(spec),
            "source": source,
            "parameters": manifests.json_parameters(parameters),
            "count": self.count,
            "column": self.column,
            "nulls_first": self.nulls_first,
            "bounds": [_typed(b) for b in self.bounds],
            "source_count": self.total,
            "snapshot": self.marker,
        }


def bounds_sql(sql: str, column: str, count: int) -> str:
    """The statement returning the lower bound of each of ``count`` tiles of ``column``, ascending.

    ``count`` is a checked integer (2..256), not a value of the source: it is written in the
    statement (PostgreSQL's NTILE takes an integer, not the bigint a bound setting would give).
    """
    if check_count(count) is not None:
        raise ValueError(f"bad partition count {count!r}")
    k = quote(column)
    return (
        f"SELECT MIN(k) FROM (SELECT q.{k} AS k, NTILE({int(count)}) OVER (ORDER BY q.{k}) AS t "
        f"FROM ({sql}) q WHERE q.{k} IS NOT NULL) s GROUP BY t ORDER BY 1"
    )


def recorded_plan(
    spec: DatasetSpec, count: int, source: str, parameters: Mapping[str, Any], out_dir: Path
) -> Plan | None:
    """The plan an earlier reader of this batch recorded, if it was made for the same dataset and scope."""
    data = manifests.read_manifest(plan_path(out_dir, spec.name))
    if data is None:
        return None
    expected = {
        "dataset": spec.name,
        "spec_identity": manifests.spec_identity(spec),
        "source": source,
        "parameters": manifests.json_parameters(parameters),
        "count": count,
    }
    if any(data.get(k) != v for k, v in expected.items()):
        return None
    try:
        bounds = tuple(_untyped(b) for b in data["bounds"])
        total, marker = int(data.get("source_count", -1)), str(data.get("snapshot", ""))
        return Plan(spec.name, count, str(data["column"]), bool(data["nulls_first"]), bounds, total, marker)
    except (KeyError, TypeError, ValueError):
        return None


def compute_plan(
    rows: Sequence[Sequence[Any]],
    spec: DatasetSpec,
    count: int,
    column: str,
    dialect: str,
    total: int = -1,
    marker: str = "",
) -> Plan:
    """The plan from the tiles' lower bounds (``bounds_sql``'s rows): the first tile's is no boundary.

    ``total`` is the dataset's COUNT(*) in the same snapshot (``marker``): the partitions read in
    that snapshot must add up to it, which proves they cover the dataset (NULL keys included).
    """
    lows: list[Any] = []
    for row in rows:  # in the source's order (its collation), which Python's sort need not share
        if row[0] is not None and (not lows or row[0] != lows[-1]):
            lows.append(row[0])
    return Plan(spec.name, count, column, dialect == "sqlite", tuple(lows[1:count]), total, marker)


def write_plan(plan: Plan, spec: DatasetSpec, source: str, parameters: Mapping[str, Any], out_dir: Path) -> Plan:
    """Record ``plan`` unless another reader of the batch recorded one first; the plan to follow.

    Mapped readers may compute the plan at the same time (the same plan, in the same snapshot):
    the first one recorded wins, so every partition of the batch is cut by one plan.
    """
    final = plan_path(out_dir, spec.name)
    temporary = final.with_name(f"{final.name}.{os.getpid()}-{threading.get_ident()}")
    try:
        manifests.write_manifest(temporary, plan.to_json(spec, source, parameters))
        try:
            os.link(temporary, final)
        except FileExistsError:
            first = recorded_plan(spec, plan.count, source, parameters, out_dir)
            if first is not None:
                return first
            os.replace(temporary, final)  # a stale plan of another scope or spec
    finally:
        temporary.unlink(missing_ok=True)
    return plan


def plan_bound(value: Any) -> dict[str, str]:
    """A boundary as the manifests record it (typed, like the bound parameters)."""
    return _typed(value)


def _typed(value: Any) -> dict[str, str]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal, date, datetime)):
        raise ExtractionError(f"partition boundary {value!r}: unsupported type {type(value).__name__}")
    return manifests.json_parameters({"v": value})["v"]


def _untyped(item: Mapping[str, str]) -> Any:
    kind, text = item["type"], item["value"]
    if kind == "int":
        return int(text)
    if kind == "str":
        return text
    if kind == "float":
        return float(text)
    if kind == "Decimal":
        return Decimal(text)
    if kind == "datetime":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    raise ValueError(kind)


# -- combine ----------------------------------------------------------------------------------


def combine_aggregates(
    parts: Sequence[Mapping[str, Any]], columns: Mapping[str, str], partition_column: str
) -> tuple[dict[str, Any], list[str]]:
    """The dataset's aggregates from its partitions' (see the module notes), and those left out."""
    names = sorted({n for p in parts for n in (p.get("aggregates") or {})})
    combined: dict[str, Any] = {}
    left_out = []
    for name in names:
        function, _, cols = name.partition(":")
        found = [(p.get("aggregates") or {}).get(name) for p in parts]
        values = [v for v in found if v is not None]
        if len(values) != len(found):
            left_out.append(name)
        elif function == "distinct" and cols.casefold() == partition_column.casefold():
            combined[name] = sum(int(v) for v in values)
        elif function == "sum" and _exact(columns.get(cols, "")):
            combined[name] = str(sum((Decimal(str(v)) for v in values), Decimal(0)))
        else:
            left_out.append(name)
    return combined, left_out


def _exact(arrow_type: str) -> bool:
    return arrow_type.startswith(("int", "uint", "decimal"))


def concatenate(parts: Sequence[Path], final: Path, metadata: Mapping[str, str], row_group_rows: int) -> int:
    """Write the rows of ``parts``, in order, to ``final`` (via ``.partial``), cut in row groups of
    ``row_group_rows`` as a single reader cuts them; memory bounded by one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from extractors.extract import PARQUET_OPTIONS, RowGroups

    partial = partial_path(final)
    first = pq.ParquetFile(parts[0])
    schema = first.schema_arrow.with_metadata(dict(metadata))
    first.close()
    try:  # (pyarrow is imported here: the configuration reads this module)
        writer = pq.ParquetWriter(partial, schema, **PARQUET_OPTIONS)
        groups = RowGroups(writer, schema, row_group_rows)
        try:
            for path in parts:
                with pq.ParquetFile(path) as stream:
                    if not stream.schema_arrow.remove_metadata().equals(schema.remove_metadata()):
                        raise ExtractionError(f"{path.name}: its columns differ from {parts[0].name}'s")
                    for batch in stream.iter_batches(batch_size=row_group_rows):
                        groups.add(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            groups.finish()
        finally:
            writer.close()
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return groups.rows
