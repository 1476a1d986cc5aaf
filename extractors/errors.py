"""The one error the extraction stage raises, and helpers that word it consistently.

``ExtractionError.transient`` tells callers (the CLI, Airflow) whether trying again later may
succeed: a refused connection, a timeout, a server restarting, a busy SQLite file are transient;
wrong credentials, a missing table or column, a value with no faithful representation, a full
disk (someone must make room) are not, and retrying them only hides the problem.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping

# Long values (a 2 MB comment) must not flood the message; 80 characters identify them.
_SHOWN_VALUE_CHARS = 80

# SQLSTATE classes (PostgreSQL, and Oracle through its driver) that may succeed on a retry:
# 08 connection exception, 40 transaction rollback (serialisation, deadlock), 53 insufficient
# resources, 57P0x operator intervention (shutdown, crash), 58 system error (I/O on the server).
_TRANSIENT_SQLSTATES = ("08", "40", "53", "57P", "58")
# Messages of failures that never reached the server, hence carry no SQLSTATE.
_TRANSIENT_WORDS = re.compile(
    r"connection refused|could not connect|timeout|timed out|no route to host|network is unreachable|"
    r"server closed the connection|connection reset|database is locked|temporarily unavailable|"
    r"DPY-6005|DPY-4011|ORA-12170|ORA-12541|ORA-12514|ORA-03113|ORA-03135",
    re.IGNORECASE,
)


class ExtractionError(Exception):
    """The extraction could not produce a faithful copy of a dataset.

    The message names the dataset, the source (host and database, never the password), and the
    table, column and row (by its key values) when they are known; the same facts are attributes
    for callers that record them in the ledger. ``transient`` is True only when a retry may work.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        table: str | None = None,
        column: str | None = None,
        key: Mapping[str, object] | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.dataset = dataset
        self.table = table if table is not None else dataset
        self.column = column
        self.key = dict(key) if key is not None else None
        self.transient = transient


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
    cause: Exception | str,
) -> ExtractionError:
    """The error for a source value that has no faithful representation in its Arrow column."""
    message = (
        f"dataset {table}, column {column}, row ({describe_key(key)}): "
        f"value {shorten(value)} cannot be stored as {target}: {cause}"
    )
    return ExtractionError(message, dataset=table, column=column, key=key)


def is_transient(exc: BaseException) -> bool:
    """Whether a driver or system error may go away on a retry (see the module docstring)."""
    if isinstance(exc, OSError) and not _is_database_error(exc):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.ENOENT):
            return False
        return isinstance(exc, (TimeoutError, ConnectionError))
    state = sqlstate(exc)
    if state:
        return state.startswith(_TRANSIENT_SQLSTATES)
    return bool(_TRANSIENT_WORDS.search(str(exc)))


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE a driver attached to ``exc`` (psycopg, ADBC), or to the driver error a SQLAlchemy
    error wraps (``orig``: the ledger's dropped connection, a serialisation failure), if any."""
    for error in (exc, getattr(exc, "orig", None)):
        for name in ("sqlstate", "pgcode"):
            value = getattr(error, name, None)
            if isinstance(value, str) and value:
                return value
        diag = getattr(error, "diag", None)
        value = getattr(diag, "sqlstate", None)
        if isinstance(value, str) and value:
            return value
    return None


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("psycopg", "sqlite3", "oracledb")
