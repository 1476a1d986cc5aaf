"""Per-value checks turning what a DBAPI driver returns into what an Arrow column holds.

The fallback of ``extractors.conform`` (vectorised) for the one case it cannot take whole: a
SQLite column whose values come in several storage classes within one batch.

Drivers disagree: PostgreSQL returns ``Decimal`` for ``NUMERIC``, Oracle returns ``int`` for
``NUMBER(38)``, SQLite returns whatever storage class the value happened to get (text for a
date, ``float`` for ``NUMERIC(8,3)``, text again for ``'0000-00-00'``). Each converter accepts
the forms that carry the value exactly and raises ``ValueError``/``TypeError`` for the rest, so
the caller can name the offending row. Strings are returned untouched: no normalisation, no
stripping of control characters (probative value; they are dealt with downstream).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal

import pyarrow as pa

Converter = Callable[[object], object]

# A double carries 15 significant decimal digits exactly and integers exactly up to 2**53.
# A float outside those bounds (SQLite turns a 38-digit integer into REAL) may already have
# lost digits, and that cannot be undone here: such values are refused.
_FLOAT_DIGITS = 15
_FLOAT_EXACT_INTEGER = 2**53
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_WIDE = Context(prec=200)  # Decimal arithmetic rounds to 28 digits by default


def converter(arrow: pa.DataType, *, digits: int | None = None) -> Converter:
    """The converter for one Arrow column; ``digits`` bounds an ``int64`` column's values."""
    if pa.types.is_string(arrow):
        return _text
    if pa.types.is_int64(arrow):
        return _integer(digits)
    if pa.types.is_decimal(arrow):
        return _decimal(arrow.precision, arrow.scale)
    if pa.types.is_date32(arrow):
        return _date
    if pa.types.is_timestamp(arrow):
        return _timestamp(aware=arrow.tz is not None)
    return _SIMPLE.get(arrow, _unsupported)


def _text(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):  # PostgreSQL uuid columns
        return str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


def _integer(digits: int | None) -> Converter:
    low, high = (_INT64_MIN, _INT64_MAX) if digits is None else (-(10**digits) + 1, 10**digits - 1)

    def convert(value: object) -> object:
        if value is None:
            return None
        number = _exact_integer(value)
        if not low <= number <= high:
            bound = "64 bits" if digits is None else f"{digits} digits"
            raise ValueError(f"more than {bound}")
        return number

    return convert


def _exact_integer(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < _FLOAT_EXACT_INTEGER:
        return int(value)
    if isinstance(value, (Decimal, float)):
        raise ValueError("not an exact integer")
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _decimal(precision: int, scale: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(1).scaleb(precision - scale)

    def convert(value: object) -> object:
        if value is None:
            return None
        number = _as_decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite number")
        exact = number.quantize(quantum, context=_WIDE)
        if exact != number:
            raise ValueError(f"more than {scale} decimal places")
        if exact.copy_abs() >= limit:  # abs() would round to the default 28 digits
            raise ValueError(f"more than {precision - scale} integer digits")
        return exact

    return convert


def _as_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):  # SQLite keeps text that does not look numeric as text
        return Decimal(value.strip())  # raises decimal.InvalidOperation, an ArithmeticError
    if isinstance(value, float):
        return _trusted_float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _trusted_float(value: float) -> Decimal:
    """The decimal a float was stored from, when that is unambiguous (see module notes)."""
    # repr() gives the shortest decimal that reads back as the same double: for a value typed
    # with at most 15 significant digits it is exactly what was typed.
    shortest = Decimal(repr(value))
    if not shortest.is_finite():
        raise ValueError("not a finite number")
    if abs(value) >= _FLOAT_EXACT_INTEGER or len(shortest.as_tuple().digits) > _FLOAT_DIGITS:
        raise ValueError("stored as binary floating point, its exact digits are lost")
    return shortest


def _date(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):  # a DATE column should not carry a time of day
        if value.tzinfo is not None or value.time() != time():
            raise ValueError("has a time of day")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):  # SQLite stores dates as ISO text
        return date.fromisoformat(value)
    raise TypeError(f"expected a date, got {type(value).__name__}")


def _timestamp(*, aware: bool) -> Converter:
    def convert(value: object) -> object:
        if value is None:
            return None
        moment = _as_datetime(value)
        if aware != (moment.tzinfo is not None):
            raise ValueError("time-zone awareness does not match the column")
        return moment.astimezone(UTC) if aware else moment

    return convert


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise TypeError(f"expected a timestamp, got {type(value).__name__}")


def _float(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _boolean(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"expected a boolean, got {value!r}")


def _binary(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected bytes, got {type(value).__name__}")


def _time(value: object) -> object:
    if value is None or isinstance(value, time):
        return value
    if isinstance(value, str):
        return time.fromisoformat(value)
    raise TypeError(f"expected a time, got {type(value).__name__}")


def _duration(value: object) -> object:
    if value is None or isinstance(value, timedelta):
        return value
    raise TypeError(f"expected an interval, got {type(value).__name__}")


def _unsupported(value: object) -> object:
    raise TypeError("no converter for this column type")


_SIMPLE: dict[pa.DataType, Converter] = {
    pa.float64(): _float,
    pa.bool_(): _boolean,
    pa.binary(): _binary,
    pa.time64("us"): _time,
    pa.duration("us"): _duration,
}
