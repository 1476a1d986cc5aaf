"""Type mapping (SQL → Arrow) and the per-value checks behind it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle, postgresql, sqlite
from sqlalchemy.types import NullType, TypeEngine

from extractors.convert import converter
from extractors.types import UNBOUNDED_NUMBER, UnsupportedTypeError, arrow_type, declared_digits

ORACLE: list[tuple[TypeEngine[Any], pa.DataType]] = [
    (oracle.NUMBER(38, 0), pa.decimal128(38, 0)),
    (oracle.NUMBER(19, 0), pa.decimal128(19, 0)),
    (oracle.NUMBER(18, 0), pa.int64()),
    (oracle.NUMBER(8, 0), pa.int64()),
    (oracle.NUMBER(8), pa.int64()),
    (oracle.NUMBER(8, 3), pa.decimal128(8, 3)),
    (oracle.NUMBER(5, -2), pa.int64()),
    (oracle.NUMBER(), UNBOUNDED_NUMBER),
    (oracle.NUMBER(scale=0), pa.decimal128(38, 0)),
    (oracle.VARCHAR2(30), pa.string()),
    (oracle.NVARCHAR2(30), pa.string()),
    (oracle.CHAR(1), pa.string()),
    (oracle.NCHAR(1), pa.string()),
    (oracle.CLOB(), pa.string()),
    (oracle.NCLOB(), pa.string()),
    (oracle.LONG(), pa.string()),
    (oracle.ROWID(), pa.string()),
    (oracle.DATE(), pa.timestamp("us")),  # an Oracle DATE holds a time of day
    (oracle.TIMESTAMP(), pa.timestamp("us")),
    (oracle.TIMESTAMP(timezone=True), pa.timestamp("us", tz="UTC")),
    (oracle.RAW(16), pa.binary()),
    (oracle.BLOB(), pa.binary()),
    (oracle.FLOAT(), pa.float64()),
    (oracle.BINARY_DOUBLE(), pa.float64()),
    (oracle.BINARY_FLOAT(), pa.float64()),
    (oracle.INTERVAL(), pa.duration("us")),
]

GENERIC: list[tuple[TypeEngine[Any], pa.DataType]] = [
    (sa.SmallInteger(), pa.int64()),
    (sa.Integer(), pa.int64()),
    (sa.BigInteger(), pa.int64()),
    (sa.Numeric(8, 0), pa.int64()),
    (sa.Numeric(10), pa.int64()),
    (sa.Numeric(38, 0), pa.decimal128(38, 0)),
    (sa.Numeric(8, 3), pa.decimal128(8, 3)),
    (sa.Numeric(50, 2), pa.decimal256(50, 2)),
    (sa.Numeric(), UNBOUNDED_NUMBER),
    (sa.DECIMAL(12, 2), pa.decimal128(12, 2)),
    (sa.Float(), pa.float64()),
    (postgresql.DOUBLE_PRECISION(), pa.float64()),
    (sa.REAL(), pa.float64()),
    (sa.String(30), pa.string()),
    (sa.Text(), pa.string()),
    (sa.Unicode(10), pa.string()),
    (sa.Enum("A", "B"), pa.string()),
    (postgresql.UUID(), pa.string()),
    (sa.Date(), pa.date32()),
    (sqlite.DATE(), pa.date32()),
    (sa.DateTime(), pa.timestamp("us")),
    (postgresql.TIMESTAMP(timezone=True), pa.timestamp("us", tz="UTC")),
    (sa.Time(), pa.time64("us")),
    (sa.Interval(), pa.duration("us")),
    (sa.Boolean(), pa.bool_()),
    (postgresql.BYTEA(), pa.binary()),
    (sa.LargeBinary(), pa.binary()),
]


def _id(case: Any) -> str:
    return repr(case)


@pytest.mark.parametrize(("sql_type", "expected"), ORACLE, ids=_id)
def test_oracle_types(sql_type: TypeEngine[Any], expected: pa.DataType) -> None:
    assert arrow_type(sql_type, dialect="oracle") == expected


@pytest.mark.parametrize(("sql_type", "expected"), GENERIC, ids=_id)
def test_generic_postgresql_and_sqlite_types(sql_type: TypeEngine[Any], expected: pa.DataType) -> None:
    assert arrow_type(sql_type) == expected


def test_oracle_integer_is_a_38_digit_number() -> None:
    # Oracle reflects INTEGER (NUMBER(*,0)) as the generic INTEGER, which is 64-bit elsewhere.
    assert arrow_type(sa.INTEGER(), dialect="oracle") == pa.decimal128(38, 0)
    assert arrow_type(sa.INTEGER(), dialect="postgresql") == pa.int64()


@pytest.mark.parametrize("sql_type", [NullType(), sa.JSON(), postgresql.ARRAY(sa.Integer()), sa.Numeric(80, 0)])
def test_types_without_deliberate_mapping_are_refused(sql_type: TypeEngine[Any]) -> None:
    with pytest.raises(UnsupportedTypeError):
        arrow_type(sql_type)


def test_declared_digits_bound_integer_columns() -> None:
    assert declared_digits(oracle.NUMBER(8, 0)) == 8
    assert declared_digits(sa.Numeric(5, -2)) == 7
    assert declared_digits(sa.Numeric(8, 3)) is None
    assert declared_digits(sa.Integer()) is None
    assert declared_digits(oracle.NUMBER()) is None


def test_strings_are_returned_untouched() -> None:
    convert = converter(pa.string())
    for value in ("Zoé\x01", "MARTIN\x0bDUPONT", "Orléans\x85", "HÃ©loÃ¯se", "e\u0301", " x "):
        assert convert(value) is value
    with pytest.raises(TypeError):
        convert(b"bytes")


def test_decimals_are_exact_or_refused() -> None:
    grade = converter(pa.decimal128(8, 3))
    assert grade(Decimal("12.345")) == Decimal("12.345")
    assert grade(12.345) == Decimal("12.345")  # SQLite keeps NUMERIC(8,3) as REAL
    assert grade(12) == Decimal("12.000")
    for bad in (Decimal("12.3456"), Decimal("123456.5"), Decimal("NaN"), "douze", 0.1 + 0.2):
        with pytest.raises((ValueError, ArithmeticError)):
            grade(bad)
    wide = converter(pa.decimal128(38, 0))
    assert wide("9" * 38) == Decimal("9" * 38)
    assert wide(10**37 + 1) == Decimal(10**37 + 1)
    with pytest.raises(ValueError, match="binary floating point"):
        wide(float("1" * 38))  # what SQLite makes of a 38-digit integer in a NUMERIC column
    with pytest.raises(ValueError, match="integer digits"):
        wide("1" + "0" * 38)


def test_integers_respect_the_declared_precision() -> None:
    convert = converter(pa.int64(), digits=3)
    assert convert(999) == 999
    assert convert(Decimal("12")) == 12
    assert convert(12.0) == 12
    for bad in (1000, -1000, 12.5, Decimal("1.5"), "12", True):
        with pytest.raises((ValueError, TypeError)):
            convert(bad)
    with pytest.raises(ValueError, match="64 bits"):
        converter(pa.int64())(2**63)


def test_dates_and_timestamps() -> None:
    day = converter(pa.date32())
    assert day("9999-12-31") == date(9999, 12, 31)
    assert day("1900-01-01") == date(1900, 1, 1)
    assert day(datetime(2024, 1, 2)) == date(2024, 1, 2)
    with pytest.raises(ValueError, match="year 0 is out of range"):
        day("0000-00-00")
    with pytest.raises(ValueError, match="time of day"):
        day(datetime(2024, 1, 2, 10, 30))
    oracle_date = converter(pa.timestamp("us"))
    assert oracle_date(datetime(9999, 12, 31, 23, 59, 59)) == datetime(9999, 12, 31, 23, 59, 59)
    assert oracle_date("2024-01-02 10:30:00") == datetime(2024, 1, 2, 10, 30)
    with pytest.raises(TypeError):
        oracle_date(1704189000)
    aware = converter(pa.timestamp("us", tz="UTC"))
    paris = timezone(timedelta(hours=2))
    assert aware(datetime(2024, 6, 1, 12, tzinfo=paris)) == datetime(2024, 6, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="awareness"):
        aware(datetime(2024, 6, 1, 12))


def test_every_mapped_type_has_a_converter_accepting_null() -> None:
    for sql_type, _ in ORACLE + GENERIC:
        target = arrow_type(sql_type)
        assert converter(target)(None) is None, target
