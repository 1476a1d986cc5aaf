"""Build the SELECT and COUNT of one dataset from its reflected table.

Kept apart from the connection handling so the SQL can be compiled and checked for any dialect
(Oracle included) without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, ColumnElement, Select, Table, func, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

from extractors.datasets import DatasetSpec
from extractors.errors import ExtractionError
from extractors.types import UnsupportedTypeError, arrow_type


@dataclass(frozen=True)
class DatasetQuery:
    """The statements of one dataset and the shape of the rows they return."""

    select: Select[*tuple[Any, ...]]  # one row per source row, values exactly as the driver returns them
    count: Select[Any]
    names: tuple[str, ...]  # output column names, as the source spells them
    columns: tuple[Column[Any], ...]  # the reflected columns, same order
    schema: pa.Schema
    key_positions: tuple[int, ...]  # where the key columns are in each row


def build_query(table: Table, spec: DatasetSpec, dialect: Dialect) -> DatasetQuery:
    """The ordered, filtered SELECT of ``spec`` and its COUNT, or an error naming the problem."""
    if not spec.key:
        raise ExtractionError(
            f"dataset {spec.name}: a key is required to order {spec.table} reproducibly",
            table=spec.table,
        )
    wanted = spec.columns if spec.columns is not None else [c.name for c in table.columns]
    columns = tuple(resolve_column(table, name, spec) for name in wanted)
    key = tuple(resolve_column(table, name, spec) for name in spec.key)
    # Compare by name: Column.__eq__ builds SQL, it does not compare columns.
    positions = {column.name: index for index, column in enumerate(columns)}
    if len(positions) != len(columns):
        raise ExtractionError(
            f"dataset {spec.name}: a column of table {spec.table} is listed twice",
            table=spec.table,
        )
    missing = [c.name for c in key if c.name not in positions]
    if missing:
        raise ExtractionError(
            f"dataset {spec.name}: key column(s) {', '.join(missing)} of table {spec.table} "
            "must be among the extracted columns",
            table=spec.table,
            column=missing[0],
        )
    names = tuple(_source_name(c, dialect) for c in columns)
    conditions = [_condition(table, spec, name, value) for name, value in spec.filters.items()]
    # type_coerce to NullType: rows come back exactly as the driver returns them; the checks
    # and conversions are ours (extractors.convert), not SQLAlchemy's result processors.
    stmt = (
        select(*(type_coerce(c, NullType()).label(n) for c, n in zip(columns, names, strict=True)))
        .where(*conditions)
        .order_by(*key)
    )
    return DatasetQuery(
        select=stmt,
        count=select(func.count()).select_from(table).where(*conditions),
        names=names,
        columns=columns,
        schema=_schema(spec, columns, names, dialect),
        key_positions=tuple(positions[c.name] for c in key),
    )


def compiled_sql(stmt: Select[*tuple[Any, ...]], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The SQL text as sent to ``dialect`` (with placeholders) and its bound parameters."""
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


def resolve_column(table: Table, name: str, spec: DatasetSpec) -> Column[Any]:
    """The reflected column called ``name``, matched exactly then case-insensitively."""
    found = table.columns.get(name)
    if found is not None:
        return found
    folded = [c for c in table.columns if c.name.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise ExtractionError(
        f"dataset {spec.name}: table {spec.table} has no column {name!r} "
        f"(columns: {', '.join(c.name for c in table.columns)})",
        table=spec.table,
        column=name,
    )


def _source_name(column: Column[Any], dialect: Dialect) -> str:
    # Oracle reflection lower-cases case-insensitive names; the archive keeps COD_IND.
    if dialect.requires_name_normalize:
        return str(dialect.denormalize_name(column.name))
    return column.name


def _schema(spec: DatasetSpec, columns: Sequence[Column[Any]], names: Sequence[str], dialect: Dialect) -> pa.Schema:
    fields = []
    for column, name in zip(columns, names, strict=True):
        try:
            fields.append(pa.field(name, arrow_type(column.type, dialect=dialect.name)))
        except UnsupportedTypeError as exc:
            raise ExtractionError(
                f"dataset {spec.name}: table {spec.table}, column {name}: {exc}",
                table=spec.table,
                column=name,
            ) from exc
    return pa.schema(fields)


def _condition(table: Table, spec: DatasetSpec, name: str, value: object) -> ColumnElement[bool]:
    column = resolve_column(table, name, spec)
    try:
        return column == _filter_value(column, value)
    except (TypeError, ValueError, InvalidOperation, UnsupportedTypeError) as exc:
        raise ExtractionError(
            f"dataset {spec.name}: table {spec.table}, filter on column {name}: "
            f"{value!r} does not suit a {column.type} column ({exc})",
            table=spec.table,
            column=name,
        ) from exc


def _filter_value(column: Column[Any], value: object) -> object:
    """Match the filter value to the column type: COD_ANU is text, yet configs say 2023."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError("filters take text or integers")
    target = arrow_type(column.type)
    if pa.types.is_string(target):
        return str(value)
    if pa.types.is_integer(target):
        return int(value)
    if pa.types.is_decimal(target):
        return Decimal(str(value).strip())
    raise TypeError("equality filters apply to text and number columns only")
