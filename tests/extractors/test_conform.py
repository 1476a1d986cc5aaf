"""Vectorised checks: exact conversions pass, every lossy one is refused at the right position."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from extractors.conform import BadValue, conform, from_python


def refused(array: pa.Array, target: pa.DataType, *, digits: int | None = None) -> BadValue:
    with pytest.raises(BadValue) as caught:
        conform(array, target, digits=digits)
    return caught.value


def test_text_is_untouched() -> None:
    values = ["Zoé\x01", "MARTIN\x0bDUPONT", "Orléans\x85", "HÃ©loÃ¯se", "e\u0301", " x ", "", None]
    assert conform(pa.array(values), pa.string()).to_pylist() == values
    assert conform(pa.array(values, pa.large_string()), pa.string()).to_pylist() == values
    assert refused(pa.array([None, 12]), pa.string()).index == 1


def test_decimals_from_text_are_exact_or_refused_at_the_first_bad_row() -> None:
    grades = pa.array(["12.345", None, "0.5", "-3"])
    assert conform(grades, pa.decimal128(8, 3)).to_pylist() == [
        Decimal("12.345"),
        None,
        Decimal("0.500"),
        Decimal("-3.000"),
    ]
    for bad, reason in (("12.3456", "data loss"), ("123456.5", "precision"), ("NaN", "not a valid")):
        values = ["1.5"] * 1000 + [bad] + ["2.5"] * 10 + [bad]
        error = refused(pa.array(values), pa.decimal128(8, 3))
        assert (error.index, error.value) == (1000, bad)
        assert reason in error.reason
    wide = pa.array(["9" * 38, "-" + "1" * 38])
    assert conform(wide, pa.decimal128(38, 0)).to_pylist() == [Decimal("9" * 38), Decimal("-" + "1" * 38)]


def test_numbers_in_padded_text_are_read_and_a_bad_one_still_named() -> None:
    """Whitespace around a number (SQLite keeps what was inserted) is allowed, nothing else."""
    assert conform(pa.array([" 12", "7\t", None, "\u00a03"]), pa.int64(), digits=3).to_pylist() == [12, 7, None, 3]
    assert conform(pa.array(["1.5 ", " -0.25"]), pa.decimal128(8, 3)).to_pylist() == [Decimal("1.5"), Decimal("-0.25")]
    for target in (pa.int64(), pa.decimal128(8, 3)):
        error = refused(pa.array(["1"] * 500 + [" 2 "] + ["1 2"] + ["3"]), target)
        assert (error.index, error.value) == (501, "1 2")


def test_floats_become_decimals_only_when_their_digits_are_certain() -> None:
    exact = pa.array([12.345, 0.1, 123456.5, None])
    assert conform(exact, pa.decimal128(38, 10)).to_pylist() == [
        Decimal("12.3450000000"),
        Decimal("0.1000000000"),
        Decimal("123456.5000000000"),
        None,
    ]
    assert refused(pa.array([1.5, 0.1 + 0.2]), pa.decimal128(8, 3)).index == 1  # 0.30000000000000004
    assert "binary floating point" in refused(pa.array([1.0, float("1" * 38)]), pa.decimal128(38, 0)).reason
    assert refused(pa.array([1.0, float("nan")]), pa.decimal128(38, 10)).index == 1


def test_integers_respect_their_declared_digits() -> None:
    assert conform(pa.array([999, -999, None]), pa.int64(), digits=3).to_pylist() == [999, -999, None]
    assert conform(pa.array(["12", "7"]), pa.int64(), digits=3).to_pylist() == [12, 7]
    error = refused(pa.array([1, 2, 1000]), pa.int64(), digits=3)
    assert (error.index, error.value, error.reason) == (2, 1000, "more than 3 digits")
    assert refused(pa.array([12.0, 12.5]), pa.int64()).index == 1
    assert refused(pa.array([1.0, 2.0**60]), pa.int64()).index == 1
    assert refused(pa.array(["1", "1.0"]), pa.int64()).value == "1.0"
    assert conform(pa.array([10**37], pa.decimal128(38, 0)), pa.decimal128(38, 0)).to_pylist() == [Decimal(10**37)]
    assert refused(pa.array([99999, 100000]), pa.decimal128(5, 0)).index == 1


def test_dates_and_timestamps() -> None:
    days = conform(pa.array(["0001-01-01", "9999-12-31", None]), pa.date32())
    assert days.to_pylist() == [date(1, 1, 1), date(9999, 12, 31), None]
    assert refused(pa.array(["2023-01-01", "0000-00-00"]), pa.date32()).value == "0000-00-00"
    assert refused(pa.array(["2023-02-30"]), pa.date32()).index == 0
    midnight = pa.array([datetime(2024, 1, 2), datetime(2024, 1, 2, 10, 30)])
    assert refused(midnight, pa.date32()).reason == "has a time of day"
    naive = conform(pa.array(["9999-12-31 23:59:59", "2024-05-06 07:08:09.123456"]), pa.timestamp("us"))
    assert naive.to_pylist()[1] == datetime(2024, 5, 6, 7, 8, 9, 123456)
    aware = conform(pa.array(["2023-09-01 08:00:00+02"]), pa.timestamp("us", tz="UTC"))
    assert aware.to_pylist() == [datetime(2023, 9, 1, 6, tzinfo=UTC)]
    assert "awareness" in refused(pa.array([datetime(2024, 1, 1)]), pa.timestamp("us", tz="UTC")).reason
    seconds = pa.array([253402300799], pa.timestamp("s"))  # Oracle DATE 9999-12-31 23:59:59
    assert conform(seconds, pa.timestamp("us")).to_pylist() == [datetime(9999, 12, 31, 23, 59, 59)]
    assert refused(pa.array([1000, 1500], pa.timestamp("ns")), pa.timestamp("us")).index == 1


def test_booleans_and_nulls() -> None:
    assert conform(pa.array(["t", "f", None]), pa.bool_()).to_pylist() == [True, False, None]
    assert refused(pa.array([0, 1, 2]), pa.bool_()).index == 2
    assert conform(pa.nulls(3), pa.decimal128(38, 0)).to_pylist() == [None] * 3


def test_python_values_with_mixed_storage_are_converted_one_by_one() -> None:
    # SQLite: an integer and a REAL in one NUMERIC(8,2) column, text where a number should be.
    assert from_python([1, 2.5, None], pa.decimal128(8, 2)).to_pylist() == [Decimal("1.00"), Decimal("2.50"), None]
    with pytest.raises(BadValue) as caught:
        from_python([1, "abc", 2], pa.decimal128(8, 2))
    assert (caught.value.index, caught.value.value) == (1, "abc")
    assert from_python([10**37, None], pa.decimal128(38, 0)).to_pylist() == [Decimal(10**37), None]
