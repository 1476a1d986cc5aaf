"""What the extraction sends to Oracle and how it reads the answers, without an Oracle server.

The statements are checked as the Oracle dialect compiles them; the reader runs against a
stand-in for a python-oracledb connection that records every statement and answers with
Arrow data, as ``fetch_df_batches`` does.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import oracledb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from extractors import ExtractionError, extract, parallel, readers
from extractors.statements import count_sql, select_sql
from extractors.types import arrow_type
from tests.extractors.helpers import table_spec

IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP")
SQL = (
    "SELECT iae.COD_ANU, iae.COD_IND, iae.COD_ETP, iae.DAT_CRE_IAE, ind.NUM_TECH_IND, iae.NOT_MOY "
    "FROM APOGEE.INS_ADM_ETP iae JOIN APOGEE.INDIVIDU ind ON ind.COD_IND = iae.COD_IND "
    "WHERE iae.COD_ANU = :academic_year AND iae.ETA_IAE = 'E'"
)
URL = "oracle+oracledb://apogee_lecture:Mot2passe-Oracle@apogee-db.univ.example:1521/?service_name=APOPROD"


def test_select_and_count_compile_with_the_oracle_dialect_and_bind_the_scope() -> None:
    select = select_sql(SQL, ["COD_ANU", "COD_IND", "COD_ETP", "NOT_MOY"], IAE_KEY)
    assert select == (
        f'SELECT "COD_ANU", "COD_IND", "COD_ETP", "NOT_MOY" FROM ({SQL}) q ORDER BY "COD_ANU", "COD_IND", "COD_ETP"'
    )
    for statement in (select, count_sql(SQL)):
        compiled = sa.text(statement).compile(dialect=oracle.dialect())
        assert list(compiled.params) == ["academic_year"]  # one bound parameter, named as in the spec
        assert ":academic_year" in str(compiled) and "2023" not in str(compiled)


@pytest.mark.parametrize(
    ("type_name", "precision", "scale", "expected"),
    [
        ("DB_TYPE_NUMBER", 38, 0, pa.decimal128(38, 0)),
        ("DB_TYPE_NUMBER", 8, 0, pa.int64()),
        ("DB_TYPE_NUMBER", 8, 3, pa.decimal128(8, 3)),
        ("DB_TYPE_NUMBER", 0, -127, pa.decimal128(38, 10)),  # NUMBER without precision
        ("DB_TYPE_NUMBER", 126, -127, pa.float64()),  # FLOAT
        ("DB_TYPE_VARCHAR", 0, 0, pa.string()),
        ("DB_TYPE_NVARCHAR", 0, 0, pa.string()),
        ("DB_TYPE_CHAR", 0, 0, pa.string()),
        ("DB_TYPE_CLOB", 0, 0, pa.string()),
        ("DB_TYPE_NCLOB", 0, 0, pa.string()),
        ("DB_TYPE_DATE", 0, 0, pa.timestamp("us")),  # Oracle DATE has a time of day
        ("DB_TYPE_TIMESTAMP", 0, 6, pa.timestamp("us")),
        ("DB_TYPE_TIMESTAMP_TZ", 0, 6, pa.timestamp("us", tz="UTC")),
        ("DB_TYPE_RAW", 0, 0, pa.binary()),
        ("DB_TYPE_BLOB", 0, 0, pa.binary()),
        ("DB_TYPE_ROWID", 0, 0, pa.string()),
    ],
)
def test_result_description_follows_the_oracle_type_mapping(
    type_name: str, precision: int, scale: int, expected: pa.DataType
) -> None:
    assert getattr(oracledb, type_name).name == type_name  # the names the driver really uses
    sql_type = readers.oracle_type(type_name, precision, scale)
    assert sql_type is not None
    assert arrow_type(sql_type, dialect="oracle") == expected


def test_unknown_oracle_types_have_no_mapping() -> None:
    assert readers.oracle_type("DB_TYPE_OBJECT", 0, 0) is None


class FakeCursor:
    def __init__(self, conn: FakeOracle) -> None:
        self.conn = conn
        self.description: list[tuple[Any, ...]] | None = None
        self.answer: list[tuple[Any, ...]] = []

    def execute(self, sql: str, parameters: Any = None, **named: Any) -> None:
        self.conn.statements.append((" ".join(sql.split()), dict(parameters or named)))
        if self.conn.fail_on and self.conn.fail_on in sql:
            raise oracledb.DatabaseError("ORA-01555: snapshot too old: rollback segment number 7 too small")
        if "GET_SYSTEM_CHANGE_NUMBER" in sql:
            self.answer = [(987654321,)]
        elif "NLS_DATABASE_PARAMETERS" in sql:
            self.answer = [("WE8ISO8859P15",)]
        elif sql.startswith("SELECT COUNT(*)"):
            self.answer = [(len(self.conn.rows),)]
        elif "WHERE 1 = 0" in sql:
            self.description = [
                ("COD_ANU", oracledb.DB_TYPE_VARCHAR, 4, 4, None, None, False),
                ("COD_IND", oracledb.DB_TYPE_NUMBER, 9, None, 8, 0, False),
                ("COD_ETP", oracledb.DB_TYPE_VARCHAR, 6, 6, None, None, False),
                ("DAT_CRE_IAE", oracledb.DB_TYPE_DATE, 23, None, None, None, True),
                ("NUM_TECH_IND", oracledb.DB_TYPE_NUMBER, 39, None, 38, 0, True),
                ("NOT_MOY", oracledb.DB_TYPE_NUMBER, 127, None, 0, -127, True),
            ]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.answer[0] if self.answer else None


class FakeOracle:
    """Records statements; answers the probe, the count and the data as python-oracledb would."""

    def __init__(self, rows: pa.Table, fail_on: str | None = None) -> None:
        self.rows = rows
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self.fetched: list[tuple[str, dict[str, Any], int, bool]] = []
        self.fail_on = fail_on
        self.closed = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def fetch_df_batches(self, statement: str, parameters: Any, size: int, fetch_decimals: bool) -> Any:
        self.fetched.append((statement, parameters, size, fetch_decimals))
        return iter(self.rows.to_batches(max_chunksize=size))

    def close(self) -> None:
        self.closed = True


ROWS = pa.table(
    {
        "COD_ANU": pa.array(["2023", "2023"]),
        "COD_IND": pa.array([100001, 100002], pa.int64()),
        "COD_ETP": pa.array(["L1DRT", "L1DRT"]),
        "DAT_CRE_IAE": pa.array([None, 253402300799], pa.timestamp("s")),  # 9999-12-31 23:59:59
        "NUM_TECH_IND": pa.array([Decimal("9" * 38), None], pa.decimal128(38, 0)),
        "NOT_MOY": pa.array([Decimal("12.5"), Decimal("0.125")], pa.decimal128(38, 3)),
    }
)


def fake_oracle(monkeypatch: pytest.MonkeyPatch, rows: pa.Table = ROWS, fail_on: str | None = None) -> FakeOracle:
    fake = FakeOracle(rows, fail_on)
    seen: dict[str, Any] = {}

    def connect(**kwargs: Any) -> FakeOracle:
        seen.update(kwargs)
        return fake

    monkeypatch.setattr(oracledb, "connect", connect)
    fake.connect_arguments = seen  # type: ignore[attr-defined]
    return fake


def test_a_batch_reads_as_of_one_scn_and_records_the_character_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_oracle(monkeypatch)
    spec = table_spec("inscriptions", "", IAE_KEY, sql=SQL)
    snapshot = extract(URL, [spec], tmp_path, parameters={"academic_year": "2023"}, batch_rows=1)
    statements = [s for s, _ in fake.statements]
    assert statements[:3] == [readers.ORACLE_SCN, readers.ORACLE_FLASHBACK, readers.ORACLE_CHARSET]
    assert fake.statements[1][1] == {"scn": 987654321}  # the SCN is bound, then every query is AS OF it
    assert snapshot.marker == "oracle:flashback AS OF SCN 987654321"
    assert snapshot.details == {"nls_characterset": "WE8ISO8859P15"}
    (select, parameters, size, decimals) = fake.fetched[0]
    assert select.startswith('SELECT "COD_ANU", "COD_IND"') and parameters == {"academic_year": "2023"}
    assert (size, decimals) == (1, True)
    assert statements[-1] == readers.ORACLE_FLASHBACK_OFF and fake.closed
    dataset = snapshot.datasets[0]
    assert dict(dataset.columns) == {
        "COD_ANU": "string",
        "COD_IND": "int64",
        "COD_ETP": "string",
        "DAT_CRE_IAE": "timestamp[us]",
        "NUM_TECH_IND": "decimal128(38, 0)",
        "NOT_MOY": "decimal128(38, 10)",
    }
    rows = pq.read_table(dataset.path).to_pylist()
    assert rows[0]["NUM_TECH_IND"] == Decimal("9" * 38)
    assert str(rows[1]["DAT_CRE_IAE"]) == "9999-12-31 23:59:59"
    assert rows[1]["NOT_MOY"] == Decimal("0.125")
    assert '"source_details": {\n    "nls_characterset": "WE8ISO8859P15"' in dataset.manifest.read_text()  # type: ignore[union-attr]


def test_a_resumed_batch_reads_the_redone_datasets_as_of_the_recorded_scn(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_oracle(monkeypatch)
    reader = readers.open_reader(sa.make_url(URL), reuse_marker="oracle:flashback AS OF SCN 42")
    assert [s for s, _ in fake.statements] == [readers.ORACLE_FLASHBACK, readers.ORACLE_CHARSET]
    assert fake.statements[0][1] == {"scn": 42}
    assert reader.marker == "oracle:flashback AS OF SCN 42"
    assert fake.connect_arguments["user"] == "apogee_lecture"  # type: ignore[attr-defined]
    assert "APOPROD" in fake.connect_arguments["dsn"]  # type: ignore[attr-defined]


def test_snapshot_too_old_is_reported_as_such(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_oracle(monkeypatch, fail_on="COUNT(*)")
    spec = table_spec("inscriptions", "", IAE_KEY, sql=SQL)
    with pytest.raises(ExtractionError) as caught:
        extract(URL, [spec], tmp_path, parameters={"academic_year": "2023"})
    message = str(caught.value)
    assert "snapshot too old: retry with a shorter batch or a larger undo retention" in message
    assert "dataset inscriptions" in message and "apogee-db.univ.example:1521" in message
    assert "Mot2passe-Oracle" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_number_read_as_a_float_with_lost_digits_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lossy = ROWS.set_column(4, "NUM_TECH_IND", pa.array([1.2345678901234567e37, None], pa.float64()))
    fake_oracle(monkeypatch, rows=lossy)
    spec = table_spec("inscriptions", "", IAE_KEY, sql=SQL)
    with pytest.raises(ExtractionError, match=r"column NUM_TECH_IND, row \(COD_ANU='2023', COD_IND=100001, "):
        extract(URL, [spec], tmp_path, parameters={"academic_year": "2023"})


def test_a_dialect_without_snapshot_strategy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="no consistent-snapshot strategy for the mysql"):
        extract("mysql://u@h/db", [table_spec("x", "T", ("ID",))], tmp_path, parameters={})


# -- readers of one batch spread over workers (extractors.parallel), AS OF one SCN -------------

SCN = 987654321  # what FakeCursor answers to GET_SYSTEM_CHANGE_NUMBER
JOINED = (
    "SELECT iae.COD_ANU, iae.COD_IND, iae.COD_ETP, iaa.DAT_CRE_IAA AS DAT_CRE_IAE, ind.NUM_TECH_IND, iae.NOT_MOY "
    "FROM APOGEE.INS_ADM_ETP iae "
    "JOIN APOGEE.INS_ADM_ANU iaa ON iaa.COD_IND = iae.COD_IND AND iaa.COD_ANU = iae.COD_ANU "
    "LEFT JOIN (SELECT COD_IND, NUM_TECH_IND FROM APOGEE.INDIVIDU) ind ON ind.COD_IND = iae.COD_IND "
    "WHERE iae.COD_ANU = :academic_year AND iaa.ETA_IAA = 'E'"
)


def fake_connections(monkeypatch: pytest.MonkeyPatch) -> list[FakeOracle]:
    """One stand-in per ``oracledb.connect``: each mapped reader has its own session."""
    opened: list[FakeOracle] = []

    def connect(**_kwargs: Any) -> FakeOracle:
        opened.append(FakeOracle(ROWS))
        return opened[-1]

    monkeypatch.setattr(oracledb, "connect", connect)
    return opened


def test_the_flashback_statement_binds_the_scn_with_the_oracle_dialect() -> None:
    compiled = sa.text(readers.ORACLE_FLASHBACK).compile(dialect=oracle.dialect())
    assert list(compiled.params) == ["scn"]
    assert str(compiled) == "BEGIN DBMS_FLASHBACK.ENABLE_AT_SYSTEM_CHANGE_NUMBER(:scn); END;"


def test_mapped_readers_read_every_query_joins_included_as_of_the_scn_read_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened = fake_connections(monkeypatch)
    marker = parallel.snapshot_marker(URL)
    assert marker == f"oracle:flashback AS OF SCN {SCN}"
    (planner,) = opened
    assert planner.statements[0][0] == readers.ORACLE_SCN and planner.closed

    specs = [
        table_spec("inscriptions", "", IAE_KEY, sql=SQL),
        table_spec("inscriptions_annuelles", "", IAE_KEY, sql=JOINED),
    ]
    found = [
        parallel.extract_dataset(URL, spec, tmp_path, parameters={"academic_year": "2023"}, reuse_marker=marker)
        for spec in specs
    ]
    assert len(opened) == 3  # the planner's session, then one per reader
    for session, spec in zip(opened[1:], specs, strict=True):
        sent = [s for s, _ in session.statements]
        # The SCN is not read again: the session is put AS OF the planner's, bound as :scn, first.
        assert sent[0] == readers.ORACLE_FLASHBACK and session.statements[0][1] == {"scn": SCN}
        assert readers.ORACLE_SCN not in sent
        assert sent[-1] == readers.ORACLE_FLASHBACK_OFF and session.closed
        queries = [s for s in sent[1:-1] if s != readers.ORACLE_CHARSET] + [f[0] for f in session.fetched]
        assert len(queries) == 3  # describe, count, select: all after the flashback, on its session
        for query in queries:
            assert " JOIN " in query and "APOGEE.INDIVIDU" in query  # the joins are sent as the spec wrote them
            compiled = sa.text(query).compile(dialect=oracle.dialect())
            assert list(compiled.params) == ["academic_year"]  # the scope bound; the SCN is never in the text
            assert str(SCN) not in str(compiled) and "AS OF" not in str(compiled)
        assert [f[1] for f in session.fetched] == [{"academic_year": "2023"}]
        assert " ".join(spec.sql.split()) in queries[-1]
    assert {d.marker for d in found} == {marker} and parallel.same_snapshot([d.marker for d in found])
    for dataset in found:
        assert dict(dataset.columns)["NUM_TECH_IND"] == "decimal128(38, 0)"
        assert dict(dataset.columns)["DAT_CRE_IAE"] == "timestamp[us]"
        assert pq.read_table(dataset.path).column("NUM_TECH_IND").to_pylist() == [Decimal("9" * 38), None]
        assert f'"snapshot": "{marker}"' in dataset.manifest.read_text()  # type: ignore[union-attr]


def test_a_reader_given_no_usable_scn_marker_is_refused_rather_than_reading_a_new_scn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened = fake_connections(monkeypatch)
    spec = table_spec("inscriptions", "", IAE_KEY, sql=SQL)
    for marker in (
        "postgresql:REPEATABLE READ READ ONLY snapshot=10:10:",
        "oracle:flashback AS OF SCN 12; DROP",
        "oracle:flashback AS OF SCN 12\n",
    ):
        with pytest.raises(ExtractionError, match="is not an Oracle SCN marker") as caught:
            parallel.extract_dataset(URL, spec, tmp_path, parameters={"academic_year": "2023"}, reuse_marker=marker)
        assert "Mot2passe-Oracle" not in str(caught.value)
    assert opened == [] and list(tmp_path.iterdir()) == []


def test_a_kept_dataset_of_another_scn_is_not_mixed_with_the_given_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_connections(monkeypatch)
    first = table_spec("inscriptions", "", IAE_KEY, sql=SQL)
    second = table_spec("inscriptions_annuelles", "", IAE_KEY, sql=JOINED)
    extract(URL, [first], tmp_path, parameters={"academic_year": "2023"})  # kept, AS OF the SCN it read
    with pytest.raises(ExtractionError, match=r"kept dataset\(s\) were read oracle:flashback AS OF SCN 987654321"):
        extract(
            URL,
            [first, second],
            tmp_path,
            parameters={"academic_year": "2023"},
            reuse_marker="oracle:flashback AS OF SCN 42",
        )
    assert not (tmp_path / "inscriptions_annuelles.parquet").exists()


class PartitionedCursor(FakeCursor):
    """Answers the partition statements too: the NTILE bounds, and each range's count and rows."""

    def execute(self, sql: str, parameters: Any = None, **named: Any) -> None:
        bound = dict(parameters or named)
        if "NTILE(" in sql:
            self.conn.statements.append((" ".join(sql.split()), bound))
            self.answer = [(v,) for v in sorted(set(self.conn.rows.column("COD_IND").to_pylist()))]
        elif sql.startswith("SELECT COUNT(*)"):
            self.conn.statements.append((" ".join(sql.split()), bound))
            self.answer = [(in_range(self.conn.rows, bound).num_rows,)]
        else:
            super().execute(sql, parameters, **named)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.answer

    def close(self) -> None:
        pass


def in_range(rows: pa.Table, bound: dict[str, Any]) -> pa.Table:
    keys = rows.column("COD_IND").to_pylist()
    low, high = bound.get("versement_partition_low"), bound.get("versement_partition_high")
    keep = [(low is None or k >= low) and (high is None or k < high) for k in keys]
    return rows.filter(pa.array(keep))


class PartitionedOracle(FakeOracle):
    def cursor(self) -> FakeCursor:
        return PartitionedCursor(self)

    def fetch_df_batches(self, statement: str, parameters: Any, size: int, fetch_decimals: bool) -> Any:
        self.fetched.append((statement, parameters, size, fetch_decimals))
        return iter(in_range(self.rows, dict(parameters)).to_batches(max_chunksize=size))


def test_a_resumed_partitioned_dataset_reads_its_other_partitions_as_of_the_kept_ones_scn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[FakeOracle] = []

    def connect(**_kwargs: Any) -> FakeOracle:
        opened.append(PartitionedOracle(ROWS))
        return opened[-1]

    monkeypatch.setattr(oracledb, "connect", connect)
    spec = replace(table_spec("inscriptions", "", IAE_KEY, sql=SQL), person_key="COD_IND", aggregates=())
    scope = {"academic_year": "2023"}
    first = parallel.extract_dataset(
        URL, spec, tmp_path, parameters=scope, reuse_marker="oracle:flashback AS OF SCN 42", partition=(1, 2)
    )
    assert first.rows == 1 and first.marker == "oracle:flashback AS OF SCN 42"
    (ntile,) = [(s, p) for s, p in opened[0].statements if "NTILE(" in s]
    assert ntile[1] == scope and list(sa.text(ntile[0]).compile(dialect=oracle.dialect()).params) == ["academic_year"]
    (fetched,) = opened[0].fetched
    assert fetched[1] == {"academic_year": "2023", "versement_partition_high": 100002}  # bound, not pasted
    assert "100002" not in fetched[0]
    # The batch stopped there; run again, it keeps partition 1 and reads partition 2 AS OF SCN 42.
    snapshot = extract(URL, [spec], tmp_path, parameters=scope, partitions={"inscriptions": 2})
    assert opened[1].statements[0] == (readers.ORACLE_FLASHBACK, {"scn": 42})
    assert readers.ORACLE_SCN not in [s for s, _ in opened[1].statements]
    assert snapshot.markers == ("oracle:flashback AS OF SCN 42",)
    (combined,) = snapshot.datasets
    assert combined.rows == 2 and pq.read_table(combined.path).column("COD_IND").to_pylist() == [100001, 100002]
