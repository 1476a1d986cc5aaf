"""Vectorised checks that turn what a reader returns into the column's declared Arrow type.

Readers hand over whole record batches (PostgreSQL: the text of ``COPY ... (FORMAT csv)``
parsed by Arrow; Oracle: Arrow batches from the driver; SQLite: columns built from the rows
of one ``fetchmany``). Each column is checked and converted here with pyarrow compute on the
whole array: nothing is lost silently. A decimal that needs more places than its column,
an integer beyond its declared digits, a float whose exact digits are gone (SQLite turns a
38-digit integer into REAL), an impossible date (``0000-00-00``), a time of day in a DATE,
time-zone awareness that does not match the column: each stops the extraction.

Python-level work happens only to *name* the problem once a vectorised check has failed:
the first bad position is found by bisection over slices (a few casts, not one per row), and
the caller turns it into the row's key. One exception, for SQLite only: a column whose values
come in several storage classes within one batch (SQLite lets text sit in a NUMERIC column)
cannot even become one Arrow array, and is converted value by value by ``extractors.convert``,
which either produces the exact column or names the first value it refuses.

Strings are returned untouched: no normalisation, no stripping of control characters
(probative value; they are dealt with downstream).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from extractors.convert import converter

# A double carries 15 significant decimal digits exactly and integers exactly up to 2**53.
_FLOAT_DIGITS = 15
_FLOAT_EXACT_INTEGER = float(2**53)
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


class BadValue(Exception):
    """The value at ``index`` of a column has no faithful representation in the target type."""

    def __init__(self, index: int, value: object, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.value = value
        self.reason = reason


def from_python(values: Sequence[object], target: pa.DataType, *, digits: int | None = None) -> pa.Array:
    """The column of ``values`` (as a DBAPI driver returned them) in ``target``; see module notes."""
    try:
        inferred = pa.array(values, from_pandas=False)
    except _ARROW_ERRORS:
        return _value_by_value(values, target, digits)
    return conform(inferred, target, digits=digits)


def conform(array: pa.Array, target: pa.DataType, *, digits: int | None = None) -> pa.Array:
    """``array`` checked and converted to ``target``; raises :class:`BadValue` naming the first bad one.

    ``digits`` bounds an ``int64`` column by its declaration (``NUMBER(8)`` holds 8 digits).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    source = array.type
    if pa.types.is_null(source):
        return pa.nulls(len(array), target)
    if pa.types.is_string(target):
        return _to_string(array)
    if pa.types.is_int64(target):
        return _to_int64(array, digits)
    if pa.types.is_decimal(target):
        return _to_decimal(array, target)
    if pa.types.is_date32(target):
        return _to_date(array)
    if pa.types.is_timestamp(target):
        return _to_timestamp(array, target)
    if pa.types.is_float64(target):
        # Text only from PostgreSQL, which prints floats in their shortest exact form.
        numeric = pa.types.is_integer(source) or pa.types.is_floating(source) or pa.types.is_decimal(source)
        _require_kind(array, numeric or pa.types.is_string(source))
        return _cast(array, target)
    if pa.types.is_boolean(target):
        return _to_boolean(array)
    if pa.types.is_binary(target):
        _require_kind(array, pa.types.is_binary(source) or pa.types.is_large_binary(source))
        return _cast(array, target)
    if pa.types.is_time64(target) or pa.types.is_duration(target):
        same = pa.types.is_time(source) if pa.types.is_time64(target) else pa.types.is_duration(source)
        _require_kind(array, same or pa.types.is_integer(source))
        return _cast(array, target)
    raise BadValue(0, None, f"no conversion to {target}")


def _to_string(array: pa.Array) -> pa.Array:
    _require_kind(array, pa.types.is_string(array.type) or pa.types.is_large_string(array.type))
    return _cast(array, pa.string())


def _to_int64(array: pa.Array, digits: int | None) -> pa.Array:
    source = array.type
    if pa.types.is_floating(source):
        _require(_exact_float_integers(array), array, "stored as binary floating point, its exact digits are lost")
        result = _cast(array, pa.int64())
    elif pa.types.is_integer(source) or pa.types.is_decimal(source):
        result = _cast(array, pa.int64())
    elif pa.types.is_string(source) or pa.types.is_large_string(source):
        result = _cast_text(array, pa.int64())
    else:
        raise _first_valid(array, f"expected a number, got {source}")
    if digits is not None:
        bound = 10**digits
        ok = pc.and_(pc.greater(result, -bound), pc.less(result, bound)) if digits < 19 else None
        if ok is not None:
            _require(ok, array, f"more than {digits} digits")
    return result


def _to_decimal(array: pa.Array, target: pa.DataType) -> pa.Array:
    source = array.type
    if pa.types.is_decimal(source):
        return _cast(array, target)
    if pa.types.is_integer(source):
        wide = pa.decimal128(20, 0)  # every 64-bit integer, then the target's precision is checked
        return _cast(array, wide, then=target)
    if pa.types.is_floating(source):
        finite = pc.is_finite(array)
        _require(finite, array, "not a finite number")
        _require(
            pc.less(pc.abs(array), _FLOAT_EXACT_INTEGER),
            array,
            "stored as binary floating point, its exact digits are lost",
        )
        shortest = pc.cast(array, pa.string())  # the shortest text that reads back as the same double
        _require(
            pc.less_equal(_significant_digits(shortest), _FLOAT_DIGITS),
            array,
            "stored as binary floating point, its exact digits are lost",
        )
        return _cast(shortest, target, shown=array)
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        return _cast_text(array, target)
    raise _first_valid(array, f"expected a number, got {source}")


def _significant_digits(text: pa.Array) -> pa.Array:
    mantissa = pc.replace_substring_regex(text, r"[eE].*$", "")
    digits = pc.replace_substring_regex(mantissa, r"[^0-9]", "")
    stripped = pc.replace_substring_regex(pc.replace_substring_regex(digits, r"^0+", ""), r"0+$", "")
    return pc.utf8_length(stripped)


def _to_date(array: pa.Array) -> pa.Array:
    source = array.type
    if pa.types.is_date(source):
        return _cast(array, pa.date32())
    if pa.types.is_timestamp(source):
        if source.tz is not None:
            raise _first_valid(array, "has a time zone, the column is a date")
        day = _cast(array, pa.date32(), safe=False)
        _require(pc.equal(pc.cast(day, source), array), array, "has a time of day")
        return day
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        return _cast(array, pa.date32())
    raise _first_valid(array, f"expected a date, got {source}")


def _to_timestamp(array: pa.Array, target: pa.DataType) -> pa.Array:
    source = array.type
    if pa.types.is_timestamp(source):
        if (source.tz is None) != (target.tz is None):
            raise _first_valid(array, "time-zone awareness does not match the column")
        return _cast(array, target)
    if pa.types.is_date(source):
        return _cast(array, target)
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        return _cast(array, target)
    raise _first_valid(array, f"expected a timestamp, got {source}")


def _to_boolean(array: pa.Array) -> pa.Array:
    source = array.type
    if pa.types.is_boolean(source):
        return array
    if pa.types.is_integer(source):
        _require(_in_or_null(array, pa.array([0, 1], source)), array, "expected 0 or 1")
        return _cast(array, pa.bool_())
    if pa.types.is_string(source):  # PostgreSQL's text form
        _require(_in_or_null(array, pa.array(["t", "f"])), array, "expected t or f")
        return pc.equal(array, "t")
    raise _first_valid(array, f"expected a boolean, got {source}")


# -- checks ----------------------------------------------------------------------------------


def _in_or_null(array: pa.Array, allowed: pa.Array) -> pa.Array:
    return pc.or_(pc.is_in(array, value_set=allowed), pc.is_null(array))


def _exact_float_integers(array: pa.Array) -> pa.Array:
    return pc.and_(
        pc.and_(pc.is_finite(array), pc.equal(pc.floor(array), array)),
        pc.less(pc.abs(array), _FLOAT_EXACT_INTEGER),
    )


def _require(ok: pa.Array, array: pa.Array, reason: str) -> None:
    """Raise for the first position where ``ok`` is false (nulls are fine)."""
    ok = pc.fill_null(ok, True)
    if pc.all(ok).as_py() is False:
        index = pc.index(ok, False).as_py()
        raise BadValue(index, array[index].as_py(), reason)


def _require_kind(array: pa.Array, accepted: bool) -> None:
    if not accepted:
        raise _first_valid(array, f"unexpected {array.type} value")


def _first_valid(array: pa.Array, reason: str) -> BadValue:
    valid = pc.is_valid(array)
    index = pc.index(valid, True).as_py()
    index = max(index, 0)
    return BadValue(index, array[index].as_py() if len(array) else None, reason)


def _cast(
    array: pa.Array,
    target: pa.DataType,
    *,
    then: pa.DataType | None = None,
    safe: bool = True,
    shown: pa.Array | None = None,
) -> pa.Array:
    """``pc.cast`` with Arrow's own loss checks; on failure, the first value that fails."""

    def attempt(part: pa.Array) -> pa.Array:
        result = pc.cast(part, target, safe=safe)
        return pc.cast(result, then) if then is not None else result

    try:
        return attempt(array)
    except _ARROW_ERRORS as exc:
        index, reason = _bisect(array, attempt, str(exc))
        raise BadValue(index, (shown if shown is not None else array)[index].as_py(), reason) from exc


def _cast_text(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Numbers written as text, surrounding whitespace allowed (SQLite keeps what was inserted).

    Arrow's number parsing refuses any whitespace, so text it parses as is needs no trimming:
    the trimmed copy (one more pass over every string) is only made when the plain cast fails,
    which PostgreSQL's own output (never padded) does not make happen.
    """
    try:
        return pc.cast(array, target)
    except _ARROW_ERRORS:
        return _cast(pc.utf8_trim_whitespace(array), target, shown=array)


def _bisect(array: pa.Array, attempt: Callable[[pa.Array], pa.Array], reason: str) -> tuple[int, str]:
    """The first position whose value ``attempt`` refuses: log2(n) casts of halving slices."""
    low, high = 0, len(array)  # the failure lies in array[low:high]
    while high - low > 1:
        middle = (low + high) // 2
        try:
            attempt(array.slice(low, middle - low))
        except _ARROW_ERRORS as exc:
            high, reason = middle, str(exc)
        else:
            low = middle
    return low, reason


def _value_by_value(values: Sequence[object], target: pa.DataType, digits: int | None) -> pa.Array:
    convert = converter(target, digits=digits)
    converted: list[object] = []
    try:
        for value in values:
            converted.append(convert(value))
    except (ValueError, TypeError, ArithmeticError) as exc:
        index = len(converted)
        raise BadValue(index, values[index], str(exc)) from exc
    return pa.array(converted, type=target)
