"""One read-only transaction per extraction, so every dataset sees the same state of the source.

Each supported dialect has a strategy:

- **PostgreSQL**: ``REPEATABLE READ, READ ONLY``; the snapshot is taken by the first statement,
  which records ``pg_current_snapshot()`` in the marker.
- **SQLite**: the driver's own transaction handling is switched off (it never opens a
  transaction for reads) and ``BEGIN DEFERRED`` is emitted instead; the first read takes the
  shared lock (rollback journal) or the WAL read mark that pins the snapshot until commit.
- **Oracle**: ``SET TRANSACTION READ ONLY`` gives transaction-level read consistency; the SCN
  is recorded when the account may call ``DBMS_FLASHBACK``. A long extraction may hit
  ORA-01555 (undo retention); that error is reported, never papered over.

Any other dialect is refused: an extraction that cannot promise consistency must not run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from extractors.errors import ExtractionError

SQLITE_BEGIN = "BEGIN DEFERRED"
SQLITE_PIN = "SELECT count(*) FROM sqlite_master"
POSTGRESQL_PIN = (
    "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), {snapshot}::text"
)
ORACLE_READ_ONLY = "SET TRANSACTION READ ONLY"
ORACLE_SCN = "SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL"


@contextmanager
def snapshot_transaction(engine: Engine) -> Iterator[tuple[Connection, str]]:
    """Open the consistent read transaction; yield the connection and the marker."""
    name = engine.dialect.name
    if name not in _PIN:
        raise ExtractionError(f"no consistent-snapshot strategy for the {name} dialect")
    if name == "sqlite":
        _take_over_sqlite_transactions(engine)
    with engine.connect() as conn:
        if name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn, _PIN[name](conn)


def _take_over_sqlite_transactions(engine: Engine) -> None:
    # The recipe from SQLAlchemy's SQLite documentation: pysqlite would otherwise defer BEGIN
    # until the first write, so a read-only extraction would run outside any transaction.
    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(SQLITE_BEGIN)


def pin_sqlite(conn: Connection) -> str:
    conn.exec_driver_sql(SQLITE_PIN).scalar()
    journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    return f"sqlite:{SQLITE_BEGIN} + first read (journal_mode={journal})"


def pin_postgresql(conn: Connection) -> str:
    version = conn.dialect.server_version_info or (0,)
    snapshot = "pg_current_snapshot()" if version >= (13,) else "txid_current_snapshot()"
    isolation, read_only, current = conn.exec_driver_sql(POSTGRESQL_PIN.format(snapshot=snapshot)).one()
    if isolation != "repeatable read" or read_only != "on":
        raise ExtractionError(
            f"PostgreSQL transaction is {isolation!r}, read_only={read_only!r}; expected 'repeatable read', read only"
        )
    return f"postgresql:REPEATABLE READ READ ONLY snapshot={current}"


def pin_oracle(conn: Connection) -> str:
    conn.exec_driver_sql(ORACLE_READ_ONLY)
    try:
        scn = conn.exec_driver_sql(ORACLE_SCN).scalar()
    except DBAPIError:
        # Needs EXECUTE on DBMS_FLASHBACK; an Oracle error in a query leaves the read-only
        # transaction usable, and consistency does not depend on knowing the number.
        return f"oracle:{ORACLE_READ_ONLY} scn=unknown"
    return f"oracle:{ORACLE_READ_ONLY} scn={scn}"


_PIN: dict[str, Callable[[Connection], str]] = {
    "sqlite": pin_sqlite,
    "postgresql": pin_postgresql,
    "oracle": pin_oracle,
}
