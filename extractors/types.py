"""Mapping from reflected SQLAlchemy column types to Arrow types.

The rule is *never lose information silently*:

- integers whose declared precision fits 18 digits become ``int64``; wider ones (Oracle
  ``NUMBER(38)``, the usual technical identifier) become ``decimal128(p, 0)``, never a float;
- scaled numbers become ``decimal128(p, s)`` (``decimal256`` above 38 digits);
- a number declared **without precision** (Oracle ``NUMBER``, PostgreSQL ``NUMERIC``) becomes
  ``decimal128(38, 10)``. It keeps the column numeric for the archive's readers, covers what
  Apogée stores in such columns (identifiers, grades, counters) and, because values are checked
  one by one, a value that would need more than 28 integer or 10 fractional digits stops the
  extraction with an error naming the row instead of being rounded. A string column would never
  fail, but would push number parsing onto every consumer of the archive;
- Oracle ``DATE`` carries a time of day, so it becomes a timestamp like ``TIMESTAMP``; SQL
  ``DATE`` elsewhere becomes ``date32``. Every timestamp is ``timestamp[us]``: microseconds are
  what Python drivers return, and Parquet has no second unit (``[s]`` is read back as ``[ms]``);
- all text (``VARCHAR2``, ``NVARCHAR2``, ``CHAR``, ``CLOB``...) becomes ``string``, all binary
  (``RAW``, ``BLOB``, ``BYTEA``) ``binary``.

Anything else raises :class:`UnsupportedTypeError`, which the extraction reports with the table
and column: a new source type must be mapped on purpose, not guessed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy.dialects import oracle
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

UNBOUNDED_NUMBER = pa.decimal128(38, 10)
"""Arrow type for numbers declared without precision (see the module docstring)."""

_INT64_DIGITS = 18  # every 18-digit integer fits a signed 64-bit integer; 19 digits may not
_DECIMAL128_DIGITS = 38
_DECIMAL256_DIGITS = 76

_TEXT_TYPES = (sqltypes.String, sqltypes.Uuid, oracle.ROWID)
_BINARY_TYPES = (sqltypes.LargeBinary, sqltypes.BINARY, sqltypes.VARBINARY, oracle.RAW)
_INTERVAL_TYPES = (sqltypes.Interval, oracle.INTERVAL)


class UnsupportedTypeError(TypeError):
    """A source column type with no deliberate Arrow mapping."""


def arrow_type(sqla_type: TypeEngine[Any], *, dialect: str = "default") -> pa.DataType:
    """The Arrow type that holds every value of ``sqla_type`` exactly.

    ``dialect`` matters for one case only: Oracle reflects ``INTEGER`` (really ``NUMBER(38)``)
    as SQLAlchemy's generic ``INTEGER``, which elsewhere means a 32- or 64-bit integer.
    """
    # Order matters: Float is a Numeric, Oracle NUMBER is both Numeric and Integer.
    # Oracle DATE is a DateTime, hence a timestamp.
    if isinstance(sqla_type, sqltypes.Boolean):
        return pa.bool_()
    if isinstance(sqla_type, sqltypes.Float):
        return pa.float64()
    if isinstance(sqla_type, sqltypes.Numeric):
        return _numeric(sqla_type.precision, sqla_type.scale)
    if isinstance(sqla_type, sqltypes.Integer):
        return pa.decimal128(38, 0) if dialect == "oracle" else pa.int64()
    if isinstance(sqla_type, _TEXT_TYPES):
        return pa.string()
    if isinstance(sqla_type, sqltypes.DateTime):
        return pa.timestamp("us", tz="UTC" if sqla_type.timezone else None)
    if isinstance(sqla_type, sqltypes.Date):
        return pa.date32()
    if isinstance(sqla_type, sqltypes.Time):
        return pa.time64("us")
    if isinstance(sqla_type, _INTERVAL_TYPES):
        return pa.duration("us")
    if isinstance(sqla_type, _BINARY_TYPES):
        return pa.binary()
    raise UnsupportedTypeError(f"no Arrow mapping for SQL type {sqla_type!r}")


def declared_digits(sqla_type: TypeEngine[Any]) -> int | None:
    """How many digits an integer column may hold by declaration (``NUMBER(8)`` → 8).

    ``None`` when the type itself bounds the values (``INTEGER``, ``BIGINT``) or is not an
    integer. Used to reject a value a lax source (SQLite) let through beyond the declaration.
    """
    if isinstance(sqla_type, sqltypes.Float) or not isinstance(sqla_type, sqltypes.Numeric):
        return None
    precision, scale = sqla_type.precision, sqla_type.scale
    if precision is None or (scale or 0) > 0:
        return None
    return precision - min(scale or 0, 0)


def _numeric(precision: int | None, scale: int | None) -> pa.DataType:
    if precision is None:
        # NUMBER(*, s) keeps 38 significant digits; plain NUMBER has no declared shape at all.
        return UNBOUNDED_NUMBER if scale is None else pa.decimal128(38, max(scale, 0))
    scale = scale or 0  # NUMERIC(p) means NUMERIC(p, 0)
    if scale <= 0:
        # A negative scale rounds to tens, hundreds...: NUMBER(5,-2) holds 7-digit integers.
        return _integer(precision - scale)
    return _decimal(max(precision, scale), scale)


def _integer(digits: int) -> pa.DataType:
    if digits <= _INT64_DIGITS:
        return pa.int64()
    return _decimal(digits, 0)


def _decimal(precision: int, scale: int) -> pa.DataType:
    if precision <= _DECIMAL128_DIGITS:
        return pa.decimal128(precision, scale)
    if precision <= _DECIMAL256_DIGITS:
        return pa.decimal256(precision, scale)
    raise UnsupportedTypeError(f"NUMERIC({precision},{scale}) is wider than Arrow decimals")
