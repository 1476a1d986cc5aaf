"""One reader per source dialect: snapshot, result types, count and Arrow batches.

Every reader opens **one** read-only, consistent view of the source for the whole batch and
keeps it until :meth:`close`:

- **PostgreSQL** (psycopg): ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY``; the marker is
  ``pg_current_snapshot()``. Rows are streamed by ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``
  and parsed by Arrow's streaming CSV reader, every column as text, then checked and typed
  by ``extractors.conform``. This measured faster than the ADBC driver (which also binds no
  parameter without materialising the whole result) and close to the raw binary COPY floor
  (``make bench-extract``). CSV keeps NULL (unquoted empty) apart from the empty string
  (quoted); the session is set to UTF8, ISO dates, UTC and shortest exact floats so the text is
  unambiguous. Datasets are read one after the other in the same transaction; each one's
  ``COUNT(*)`` and aggregates run meanwhile on a second session that joins the same snapshot
  (``pg_export_snapshot()`` here, ``SET TRANSACTION SNAPSHOT`` there). Datasets themselves can be
  read in parallel by other sessions or processes the same way (``extractors.parallel``).
- **SQLite** (sqlite3, read-only URI): ``BEGIN DEFERRED`` and a first read pin the snapshot
  (a shared lock in rollback-journal mode, a read mark in WAL mode). ``fetchmany`` batches,
  turned into Arrow columns; declared types come from a temporary view's ``PRAGMA table_info``.
- **Oracle** (python-oracledb thin mode): the SCN is read at batch start (or reused from the
  datasets a resumed batch keeps) and ``DBMS_FLASHBACK.ENABLE_AT_SYSTEM_CHANGE_NUMBER`` makes
  every query of the session a flashback query AS OF that SCN, joins included.
  ``fetch_df_batches`` returns Arrow data directly. ``NLS_CHARACTERSET`` is recorded.
  ORA-01555 means the undo no longer reaches back to the SCN: it is reported as "snapshot too
  old: retry with a shorter batch or a larger undo retention". Not runnable here: to check on a
  real Apogée: EXECUTE on DBMS_FLASHBACK and SELECT on the tables (or their synonyms), the
  database character set (AL32UTF8 or WE8ISO8859P15/WE8MSWIN1252, which the driver decodes),
  UNDO_RETENTION against the longest dataset's duration.

Any other dialect is refused: an extraction that cannot promise consistency must not run.
"""

from __future__ import annotations

import contextlib
import re
import select
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pcsv
from sqlalchemy.dialects import oracle, postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

from extractors import statements
from extractors.errors import ExtractionError

FETCH_ROWS = 10_000
_CSV_BLOCK_BYTES = 1024 * 1024
# Blocks are parsed in the thread that checks and writes them (Arrow still reads ahead on its
# I/O thread). The database's COPY, the count session and the Parquet writer already keep the
# cores busy, and a batch's datasets are read by several processes at once: parallel parsing
# only added thread hand-offs (make bench-extract: same or better rows/s, less CPU).
_CSV_THREADS = False
_SQLITE_DIALECT = sqlite.dialect()


@dataclass(frozen=True)
class Column:
    """One result column: its name as the source spells it and its SQL type."""

    name: str
    sql_type: TypeEngine[Any]


@dataclass
class Reading:
    """What a reader needs to stream one dataset."""

    select: str  # the statement as sent
    columns: Sequence[Column]
    targets: Sequence[pa.DataType]
    digits: Sequence[int | None]


class Reader(Protocol):
    dialect: str
    marker: str
    details: dict[str, str]

    def describe(
        self, dataset: str, sql: str, parameters: Mapping[str, Any], declared: Mapping[str, str] | None = None
    ) -> list[Column]: ...

    def count(self, statement: str, parameters: Mapping[str, Any]) -> tuple[int, tuple[Any, ...]]:
        """The row of ``statement`` (``aggregates.count_statement`` over ``rewrite()``'s SQL): count, aggregates."""
        ...

    def rewrite(self, sql: str, parameters: Mapping[str, Any]) -> str: ...

    def rows(self, statement: str, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of a small statement (``statement`` already rewritten), in the snapshot."""
        ...

    def statement(self, sql: str, columns: Sequence[Column], key: Sequence[str]) -> str: ...

    def batches(self, reading: Reading, parameters: Mapping[str, Any]) -> Iterator[list[Any]]: ...

    def close(self) -> None: ...


def open_reader(
    url: URL, *, reuse_marker: str | None = None, batch_rows: int = FETCH_ROWS, snapshot_id: str | None = None
) -> Reader:
    """The reader for ``url``'s dialect; ``batch_rows`` is the fetch size (SQLite, Oracle).

    ``snapshot_id`` (PostgreSQL) joins a snapshot another session exported (``PostgresReader.export``).
    """
    backend = url.get_backend_name()
    if snapshot_id is not None and backend != "postgresql":
        raise ExtractionError(f"an exported snapshot is a PostgreSQL feature, not {backend}'s")
    if backend == "postgresql":
        return PostgresReader(url, snapshot_id)
    if backend == "sqlite":
        return SqliteReader(url, batch_rows)
    if backend == "oracle":
        return OracleReader(url, reuse_marker=reuse_marker, batch_rows=batch_rows)
    raise ExtractionError(f"no consistent-snapshot strategy for the {backend} dialect")


# -- PostgreSQL -------------------------------------------------------------------------------

POSTGRESQL_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
POSTGRESQL_SESSION = (
    "SET client_encoding TO 'UTF8'",
    "SET DateStyle TO 'ISO, YMD'",
    "SET IntervalStyle TO 'iso_8601'",
    "SET TimeZone TO 'UTC'",
    "SET extra_float_digits TO 1",
    "SET bytea_output TO 'hex'",
)
# The count session runs beside the COPY, so it must not take the cores the COPY and the
# client need: no parallel workers (on 5M ELP results the planner chose a parallel hash
# aggregate, three processes of 3 s each spilling to disk) and no JIT (compiling the aggregate
# cost more than it saved). Serial and without JIT the same count took 1.45 s in one process.
POSTGRESQL_COUNT_SESSION = (
    "SET max_parallel_workers_per_gather TO 0",
    "SET jit TO off",
)
POSTGRESQL_PIN = (
    "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), "
    "pg_current_snapshot()::text"
)

# Result type OIDs (pg_type) and the SQL type each stands for.
_PG_TYPES: dict[int, TypeEngine[Any]] = {
    16: sqltypes.Boolean(),
    17: postgresql.BYTEA(),
    18: sqltypes.String(),  # "char"
    19: sqltypes.String(),  # name
    20: sqltypes.BigInteger(),
    21: sqltypes.SmallInteger(),
    23: sqltypes.Integer(),
    25: sqltypes.Text(),
    26: sqltypes.BigInteger(),  # oid
    700: sqltypes.Float(),
    701: sqltypes.Float(),
    1042: sqltypes.CHAR(),
    1043: sqltypes.VARCHAR(),
    1082: sqltypes.Date(),
    1083: sqltypes.Time(),
    1114: sqltypes.DateTime(),
    1184: sqltypes.DateTime(timezone=True),
    1186: sqltypes.Interval(),
    2950: sqltypes.Uuid(),
}
_PG_NUMERIC = 1700


def postgresql_type(oid: int, precision: int | None, scale: int | None) -> TypeEngine[Any] | None:
    """The SQL type of a result column from its OID and typmod-derived precision and scale."""
    if oid == _PG_NUMERIC:
        return sqltypes.Numeric(precision, scale)
    return _PG_TYPES.get(oid)


POSTGRESQL_EXPORT = "SELECT pg_export_snapshot()"
_PG_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?")


def _pg_connect(url: URL) -> Any:
    import psycopg

    options = {k: v for k, v in url.query.items() if isinstance(v, str)}
    options.setdefault("connect_timeout", "15")
    return psycopg.connect(
        psycopg.conninfo.make_conninfo(
            host=url.host or "localhost",
            port=url.port or 5432,
            dbname=url.database or "",
            user=url.username or "",
            password=url.password or "",
            **options,
        ),
        autocommit=True,
    )


def _pg_begin(conn: Any, snapshot_id: str | None) -> str:
    """Session settings, the read-only repeatable-read transaction (on an exported snapshot if given)."""
    for setting in POSTGRESQL_SESSION:
        conn.execute(setting)
    conn.execute(POSTGRESQL_BEGIN)
    if snapshot_id is not None:
        if not _PG_SNAPSHOT_ID.fullmatch(snapshot_id):
            raise ExtractionError(f"{snapshot_id!r} is not a PostgreSQL exported snapshot identifier")
        # Must come first in the transaction; the identifier is checked above (no parameter here).
        conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
    row = conn.execute(POSTGRESQL_PIN).fetchone()
    assert row is not None
    isolation, read_only, snapshot = row
    if isolation != "repeatable read" or read_only != "on":
        raise ExtractionError(
            f"PostgreSQL transaction is {isolation!r}, read_only={read_only!r}; expected 'repeatable read', read only"
        )
    return f"postgresql:REPEATABLE READ READ ONLY snapshot={snapshot}"


class PostgresReader:
    """One read-only snapshot; ``snapshot_id`` joins one another session exported (``export()``).

    The count and aggregates of a dataset run on a second session of the same exported snapshot,
    at the same time as its COPY (``count_concurrently``): the server computes them while the
    rows are parsed and written, instead of one more full pass before. That session runs its
    statements serially and without JIT (``POSTGRESQL_COUNT_SESSION``) so as not to compete
    with the COPY for the cores.
    """

    dialect = "postgresql"

    def __init__(self, url: URL, snapshot_id: str | None = None) -> None:
        self.url = url
        # A reader that joined another session's export says so in each dataset's manifest.
        self.details: dict[str, str] = {} if snapshot_id is None else {"imported_snapshot": snapshot_id}
        self.conn = _pg_connect(url)
        self.marker = _pg_begin(self.conn, snapshot_id)
        self._exported: str | None = snapshot_id
        self._side: Any = None
        self._pool: Any = None

    def export(self) -> str:
        """The identifier other sessions give ``SET TRANSACTION SNAPSHOT`` to read this very snapshot.

        Valid while this reader stays open (PostgreSQL ends an export with its transaction).
        """
        if self._exported is None:
            row = self.conn.execute(POSTGRESQL_EXPORT).fetchone()
            assert row is not None
            self._exported = str(row[0])
        return self._exported

    def _bind(self, parameters: Mapping[str, Any], conn: Any = None) -> None:
        for name, value in parameters.items():
            (conn or self.conn).execute(
                "SELECT set_config(%s, %s, true)",
                (statements.SETTING_PREFIX + name, statements.postgresql_setting_value(value)),
            )

    def _sql(self, sql: str, parameters: Mapping[str, Any]) -> str:
        return statements.postgresql_settings_sql(sql, parameters)

    def describe(
        self, dataset: str, sql: str, parameters: Mapping[str, Any], declared: Mapping[str, str] | None = None
    ) -> list[Column]:
        self._bind(parameters)
        cursor = self.conn.execute(statements.describe_sql(self._sql(sql, parameters)))
        columns = []
        for item in cursor.description or ():
            sql_type = postgresql_type(item.type_code, item.precision, item.scale)
            if sql_type is None:
                raise ExtractionError(
                    f"dataset {dataset}, column {item.name}: PostgreSQL type OID {item.type_code} has no "
                    "Arrow mapping (CAST it in the dataset's SQL)",
                    dataset=dataset,
                    column=item.name,
                )
            columns.append(Column(item.name, sql_type))
        return columns

    def count(self, statement: str, parameters: Mapping[str, Any]) -> tuple[int, tuple[Any, ...]]:
        return self._count(self.conn, statement, parameters)

    def _count(self, conn: Any, statement: str, parameters: Mapping[str, Any]) -> tuple[int, tuple[Any, ...]]:
        self._bind(parameters, conn)
        row = conn.execute(statement).fetchone()
        assert row is not None
        return int(row[0]), tuple(row[1:])

    def rows(self, statement: str, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        self._bind(parameters)
        return [tuple(row) for row in self.conn.execute(statement).fetchall()]

    def count_concurrently(
        self, statement: str, parameters: Mapping[str, Any]
    ) -> Callable[[], tuple[int, tuple[Any, ...]]]:
        """Start :meth:`count` on a second session of the same snapshot; call the result for it."""
        if self._side is None:
            from concurrent.futures import ThreadPoolExecutor

            snapshot_id = self.export()
            side = _pg_connect(self.url)
            try:
                for setting in POSTGRESQL_COUNT_SESSION:
                    side.execute(setting)
                marker = _pg_begin(side, snapshot_id)
            except BaseException:
                side.close()
                raise
            if marker != self.marker:  # cannot happen: the same snapshot by construction
                side.close()
                raise ExtractionError(f"PostgreSQL side session read {marker}, expected {self.marker}")
            self._side, self._pool = side, ThreadPoolExecutor(max_workers=1, thread_name_prefix="versement-count")
        future = self._pool.submit(self._count, self._side, statement, parameters)
        return future.result

    def statement(self, sql: str, columns: Sequence[Column], key: Sequence[str]) -> str:
        # The caller passes the spec SQL already rewritten by rewrite(); see extract.
        exprs = ", ".join(_pg_output(c) for c in columns)
        order = ", ".join(statements.quote(k) for k in key)
        return f"COPY (SELECT {exprs} FROM ({sql}) q ORDER BY {order}) TO STDOUT (FORMAT csv)"

    def rewrite(self, sql: str, parameters: Mapping[str, Any]) -> str:
        return self._sql(sql, parameters)

    def batches(self, reading: Reading, parameters: Mapping[str, Any]) -> Iterator[list[Any]]:
        self._bind(parameters)
        names = [c.name for c in reading.columns]
        # Arrow's CSV reader needs distinct names; the real ones are restored by position.
        internal = [f"c{i}" for i in range(len(names))]
        raw = _CopyStream(self.conn, reading.select)
        try:
            if raw.empty():
                return  # Arrow's CSV reader refuses an empty file; no row is no batch
            stream = pa.PythonFile(raw, mode="r")
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(
                    column_names=internal, block_size=_CSV_BLOCK_BYTES, use_threads=_CSV_THREADS
                ),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(internal, pa.string()),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                yield [_pg_column(batch.column(i), c) for i, c in enumerate(reading.columns)]
        finally:
            # Left midway (a bad value): read no more; closing the reader closes the connection.
            raw.ended = True

    def close(self) -> None:
        if self._side is not None:
            with contextlib.suppress(Exception):
                self._side.cancel()  # a count still running for a dataset that failed
            self._pool.shutdown(wait=True)
            with contextlib.suppress(Exception):
                self._side.rollback()
            self._side.close()
        with contextlib.suppress(Exception):
            self.conn.rollback()
        self.conn.close()


def _pg_output(column: Column) -> str:
    name = statements.quote(column.name)
    if isinstance(column.sql_type, (sqltypes.Time, sqltypes.Interval)):
        # Microseconds as an integer, exact, instead of a text form Arrow does not parse.
        return f"(EXTRACT(EPOCH FROM {name}) * 1000000)::bigint AS {name}"
    return name


def _pg_column(text: pa.Array, column: Column) -> pa.Array:
    if isinstance(column.sql_type, (sqltypes.Time, sqltypes.Interval)):
        return text.cast(pa.int64())
    if isinstance(column.sql_type, sqltypes.LargeBinary):
        # bytea's hex text: Arrow has no vectorised hex decoding.
        return pa.array([None if v is None else bytes.fromhex(v[2:]) for v in text.to_pylist()], pa.binary())
    return text


class _CopyStream:
    """The bytes of ``COPY ... TO STDOUT`` as a readable file, for Arrow's CSV reader.

    Read through psycopg's documented libpq layer (``psycopg.pq``) rather than ``Copy.read()``:
    the server sends one message per row, and the per-row cost of the high-level generator is
    what bounded throughput. Rows already received are taken without waiting
    (``PQgetCopyData`` in non-blocking mode); when none is, the socket is waited on with the
    GIL released, so the checks and the Parquet writer run meanwhile. At the end the COPY's
    own result is read and a server error raised as psycopg's exception for its SQLSTATE.
    """

    closed = False

    def __init__(self, conn: Any, statement: str) -> None:
        from psycopg import pq

        self.pq = pq
        self.pgconn = conn.pgconn
        self.encoding = conn.info.encoding
        self.buffer = bytearray()
        self.ended = False
        self.pgconn.send_query(statement.encode(self.encoding))
        result = self._result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            self._drain()
            raise self._error(result)

    def _wait(self) -> None:
        select.select([self.pgconn.socket], [], [])
        self.pgconn.consume_input()

    def _result(self) -> Any:
        while self.pgconn.is_busy():
            self._wait()
        return self.pgconn.get_result()

    def _drain(self) -> None:
        while self._result() is not None:
            pass

    def _error(self, result: Any) -> Exception:
        import psycopg

        if result is None:
            return psycopg.OperationalError(self.pgconn.get_error_message(self.encoding))
        sqlstate = result.error_field(self.pq.DiagnosticField.SQLSTATE)
        message = (result.error_message or b"").decode(self.encoding, "replace").strip()
        if sqlstate:
            return psycopg.errors.lookup(sqlstate.decode())(message)
        return psycopg.OperationalError(message or "COPY failed")

    def _finish(self) -> None:
        self.ended = True
        result = self._result()
        self._drain()
        if result is None or result.status != self.pq.ExecStatus.COMMAND_OK:
            raise self._error(result)

    def empty(self) -> bool:
        """Whether the COPY sent no row at all (reads the first one to know)."""
        self._fill(1)
        return not self.buffer

    def _fill(self, size: int) -> None:
        buffer, get = self.buffer, self.pgconn.get_copy_data
        while not self.ended and (size < 0 or len(buffer) < size):
            nbytes, data = get(1)
            if nbytes > 0:
                buffer += data
            elif nbytes == 0:
                self._wait()
            elif nbytes == -1:
                self._finish()
            else:
                self.ended = True
                raise self._error(self.pgconn.get_result())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        self._fill(size)
        buffer = self.buffer
        if 0 <= size < len(buffer):
            data = bytes(buffer[:size])
            del buffer[:size]
        else:
            data = bytes(buffer)
            buffer.clear()
        return data

    def close(self) -> None:
        self.closed = True


class _NamedParameters:
    """Readers of dialects that bind the spec's ``:name`` placeholders as written (SQLite, Oracle).

    The statements need no rewriting; the count statement is one row fetched with the parameters bound.
    """

    def _one(self, sql: str, parameters: Mapping[str, Any]) -> Sequence[Any]:
        raise NotImplementedError

    def count(self, statement: str, parameters: Mapping[str, Any]) -> tuple[int, tuple[Any, ...]]:
        row = self._one(statement, parameters)
        return int(row[0]), tuple(row[1:])

    def rows(self, statement: str, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()  # type: ignore[attr-defined]
        try:
            cursor.execute(statement, dict(parameters))
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def statement(self, sql: str, columns: Sequence[Column], key: Sequence[str]) -> str:
        return statements.select_sql(sql, [c.name for c in columns], key)

    def rewrite(self, sql: str, parameters: Mapping[str, Any]) -> str:
        return sql


# -- SQLite -----------------------------------------------------------------------------------

SQLITE_BEGIN = "BEGIN DEFERRED"
SQLITE_PIN = "SELECT count(*) FROM sqlite_master"


class SqliteReader(_NamedParameters):
    dialect = "sqlite"

    def __init__(self, url: URL, batch_rows: int = FETCH_ROWS) -> None:
        self.batch_rows = batch_rows
        database = str(url.database or "")
        if database in ("", ":memory:") or not Path(database).is_file():
            # SQLite would silently create an empty database and report missing tables.
            raise ExtractionError(f"SQLite database not found: {database}")
        self.details: dict[str, str] = {}
        uri = Path(database).resolve().as_uri() + "?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.conn.execute(SQLITE_BEGIN)
        self.conn.execute(SQLITE_PIN).fetchone()
        journal = self.conn.execute("PRAGMA journal_mode").fetchone()
        self.marker = f"sqlite:{SQLITE_BEGIN} + first read (journal_mode={journal[0] if journal else '?'})"
        self._views = 0

    def describe(
        self, dataset: str, sql: str, parameters: Mapping[str, Any], declared: Mapping[str, str] | None = None
    ) -> list[Column]:
        self._views += 1
        view = f"versement_probe_{self._views}"
        # A view takes no parameter; declared types do not depend on their values.
        self.conn.execute(f"CREATE TEMP VIEW {view} AS {statements.describe_sql(statements.null_parameters(sql))}")
        try:
            info = self.conn.execute(f"PRAGMA temp.table_info({view})").fetchall()
        finally:
            self.conn.execute(f"DROP VIEW temp.{view}")
        columns = []
        # An expression (a || b, COALESCE) has no declared type in SQLite: the specification names it.
        given = {k.casefold(): v for k, v in (declared or {}).items()}
        for _cid, name, column_type, *_ in info:
            column_type = column_type or given.get(str(name).casefold(), "")
            if not column_type:
                raise ExtractionError(
                    f"dataset {dataset}, column {name}: an expression without a declared type; on SQLite "
                    'give its type in the specification ([datasets.columns] NAME = { type = "VARCHAR2(11)" })',
                    dataset=dataset,
                    column=name,
                )
            columns.append(Column(name, _SQLITE_DIALECT._resolve_type_affinity(column_type)))
        return columns

    def _one(self, sql: str, parameters: Mapping[str, Any]) -> Sequence[Any]:
        row: Sequence[Any] = self.conn.execute(sql, dict(parameters)).fetchone()
        return row

    def batches(self, reading: Reading, parameters: Mapping[str, Any]) -> Iterator[list[Any]]:
        cursor = self.conn.execute(reading.select, dict(parameters))
        try:
            while rows := cursor.fetchmany(self.batch_rows):
                yield [PythonColumn(values) for values in zip(*rows, strict=True)]
        finally:
            cursor.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.execute("COMMIT")
        self.conn.close()


class PythonColumn(list[Any]):
    """A column of Python values, converted by ``conform.from_python`` (it has no Arrow type yet)."""


# -- Oracle -----------------------------------------------------------------------------------

ORACLE_SCN = "SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL"
ORACLE_FLASHBACK = "BEGIN DBMS_FLASHBACK.ENABLE_AT_SYSTEM_CHANGE_NUMBER(:scn); END;"
ORACLE_FLASHBACK_OFF = "BEGIN DBMS_FLASHBACK.DISABLE; END;"
ORACLE_CHARSET = "SELECT VALUE FROM NLS_DATABASE_PARAMETERS WHERE PARAMETER = 'NLS_CHARACTERSET'"
SNAPSHOT_TOO_OLD = "snapshot too old: retry with a shorter batch or a larger undo retention"
_ORACLE_MARKER = re.compile(r"oracle:flashback AS OF SCN (\d+)")


def oracle_marker(scn: int) -> str:
    return f"oracle:flashback AS OF SCN {scn}"


def oracle_scn(marker: str | None) -> int | None:
    """The SCN a previous run of the batch recorded, to read the redone datasets AS OF it too."""
    match = _ORACLE_MARKER.fullmatch(marker or "")
    return int(match.group(1)) if match else None


def oracle_type(type_name: str, precision: int | None, scale: int | None) -> TypeEngine[Any] | None:
    """The SQL type of an Oracle result column from its cursor description.

    ``type_name`` is the python-oracledb type's name (``DB_TYPE_NUMBER``...). NUMBER without
    precision is described with precision 0 and scale -127; FLOAT(b) with scale -127.
    """
    if type_name == "DB_TYPE_NUMBER":
        if scale == -127:
            return oracle.NUMBER() if not precision else oracle.FLOAT(binary_precision=precision)
        return oracle.NUMBER(precision or None, scale)
    return _ORACLE_TYPES.get(type_name)


_ORACLE_TYPES: dict[str, TypeEngine[Any]] = {
    "DB_TYPE_VARCHAR": oracle.VARCHAR2(),
    "DB_TYPE_NVARCHAR": oracle.NVARCHAR2(),
    "DB_TYPE_CHAR": sqltypes.CHAR(),
    "DB_TYPE_NCHAR": sqltypes.NCHAR(),
    "DB_TYPE_LONG": oracle.LONG(),
    "DB_TYPE_CLOB": sqltypes.CLOB(),
    "DB_TYPE_NCLOB": oracle.NCLOB(),
    "DB_TYPE_RAW": oracle.RAW(),
    "DB_TYPE_LONG_RAW": oracle.RAW(),
    "DB_TYPE_BLOB": sqltypes.BLOB(),
    "DB_TYPE_DATE": oracle.DATE(),
    "DB_TYPE_TIMESTAMP": oracle.TIMESTAMP(),
    "DB_TYPE_TIMESTAMP_TZ": oracle.TIMESTAMP(timezone=True),
    "DB_TYPE_TIMESTAMP_LTZ": oracle.TIMESTAMP(timezone=True),
    "DB_TYPE_BINARY_FLOAT": oracle.BINARY_FLOAT(),
    "DB_TYPE_BINARY_DOUBLE": oracle.BINARY_DOUBLE(),
    "DB_TYPE_ROWID": oracle.ROWID(),
    "DB_TYPE_UROWID": oracle.ROWID(),
    "DB_TYPE_INTERVAL_DS": oracle.INTERVAL(),
    "DB_TYPE_BOOLEAN": sqltypes.Boolean(),
}


@dataclass
class OracleReader(_NamedParameters):
    url: URL
    reuse_marker: str | None = None
    batch_rows: int = FETCH_ROWS
    dialect: str = "oracle"
    details: dict[str, str] = field(default_factory=dict)
    marker: str = ""

    def __post_init__(self) -> None:
        import oracledb

        service = self.url.query.get("service_name")
        dsn = oracledb.makedsn(
            self.url.host or "localhost",
            self.url.port or 1521,
            service_name=service if isinstance(service, str) else (self.url.database or ""),
        )
        self.conn = oracledb.connect(user=self.url.username, password=self.url.password, dsn=dsn)
        cursor = self.conn.cursor()
        scn = oracle_scn(self.reuse_marker)
        if scn is None:
            cursor.execute(ORACLE_SCN)
            scn = int(cursor.fetchone()[0])
        cursor.execute(ORACLE_FLASHBACK, scn=scn)
        cursor.execute(ORACLE_CHARSET)
        row = cursor.fetchone()
        self.details["nls_characterset"] = str(row[0]) if row else "unknown"
        self.marker = oracle_marker(scn)

    def describe(
        self, dataset: str, sql: str, parameters: Mapping[str, Any], declared: Mapping[str, str] | None = None
    ) -> list[Column]:
        cursor = self.conn.cursor()
        cursor.execute(statements.describe_sql(sql), dict(parameters))
        columns = []
        description: list[Any] = list(cursor.description or ())
        for item in description:
            name, type_code, precision, scale = str(item[0]), item[1], item[4], item[5]
            sql_type = oracle_type(getattr(type_code, "name", str(type_code)), precision, scale)
            if sql_type is None:
                raise ExtractionError(
                    f"dataset {dataset}, column {name}: Oracle type {type_code} has no Arrow mapping",
                    dataset=dataset,
                    column=name,
                )
            columns.append(Column(name, sql_type))
        return columns

    def _one(self, sql: str, parameters: Mapping[str, Any]) -> Sequence[Any]:
        cursor = self.conn.cursor()
        cursor.execute(sql, dict(parameters))
        row: Sequence[Any] = cursor.fetchone()
        return row

    def batches(self, reading: Reading, parameters: Mapping[str, Any]) -> Iterator[list[Any]]:
        # fetch_decimals: NUMBER as exact decimals, never through a float.
        frames = self.conn.fetch_df_batches(
            reading.select, parameters=dict(parameters), size=self.batch_rows, fetch_decimals=True
        )
        for frame in frames:
            table = pa.table(frame)
            yield [table.column(i).combine_chunks() for i in range(table.num_columns)]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.cursor().execute(ORACLE_FLASHBACK_OFF)
        self.conn.close()
