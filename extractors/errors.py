"""The one error the extraction stage raises, and helpers that word it consistently."""

from __future__ import annotations

from collections.abc import Mapping

# Long values (a 2 MB comment) must not flood the message; 80 characters identify them.
_SHOWN_VALUE_CHARS = 80


class ExtractionError(Exception):
    """The extraction could not produce a faithful copy of a dataset.

    The message names the table, the column and the row (by its key values) when they are known;
    the same facts are available as attributes for callers that record them in the ledger.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        key: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
        self.key = dict(key) if key is not None else None


def describe_key(key: Mapping[str, object]) -> str:
    """``COD_IND=100001, COD_ANU='2023'``: how a row is named in messages."""
    return ", ".join(f"{name}={value!r}" for name, value in key.items())


def shorten(value: object) -> str:
    """The repr of a value, cut to a readable length."""
    shown = repr(value)
    if len(shown) <= _SHOWN_VALUE_CHARS:
        return shown
    return f"{shown[:_SHOWN_VALUE_CHARS]}... ({len(shown)} characters)"


def value_error(
    table: str,
    column: str,
    key: Mapping[str, object],
    value: object,
    target: str,
    cause: Exception,
) -> ExtractionError:
    """The error for a source value that has no faithful representation in its Arrow column."""
    message = (
        f"table {table}, column {column}, row ({describe_key(key)}): "
        f"value {shorten(value)} cannot be stored as {target}: {cause}"
    )
    return ExtractionError(message, table=table, column=column, key=key)
