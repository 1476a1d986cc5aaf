"""Extraction from PostgreSQL: round trip, bound scope, snapshot consistency, errors without password."""

from __future__ import annotations

import logging
import traceback
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from extractors import ExtractionError, extract, statements
from extractors.readers import open_reader
from tests.extractors.helpers import table_spec

pytestmark = pytest.mark.postgres

PASSWORD = "s3cr3t-Pa55-ne-pas-afficher"
LONG_TEXT = "Délibération : l'œuvre du jury. " * 40_000  # 1.3 million characters
IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP")
YEAR = {"academic_year": "2023"}

METADATA = sa.MetaData()
INDIVIDU = sa.Table(
    "INDIVIDU",
    METADATA,
    sa.Column("COD_IND", sa.Numeric(8, 0), primary_key=True),
    sa.Column("COD_ETU", sa.Numeric(8, 0)),
    sa.Column("LIB_NOM_PAT_IND", sa.String(60), nullable=False),
    sa.Column("LIB_PR1_IND", sa.String(20)),
    sa.Column("DATE_NAI_IND", sa.Date),
    sa.Column("DAT_MOD_IND", sa.DateTime),
    sa.Column("NUM_IDT_EXT_IND", sa.Numeric(38, 0)),
    sa.Column("NOT_MOY", sa.Numeric(8, 3)),
    sa.Column("LIB_CMT_IND", sa.Text),
)
INS_ADM_ETP = sa.Table(
    "INS_ADM_ETP",
    METADATA,
    sa.Column("COD_ANU", sa.String(4), primary_key=True),
    sa.Column("COD_IND", sa.Numeric(8, 0), primary_key=True),
    sa.Column("COD_ETP", sa.String(6), primary_key=True),
)
INSCRIPTION = sa.Table(  # Pégase style: lower-case names in a module schema, other types
    "inscription",
    METADATA,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("statut_inscription", sa.String(20)),
    sa.Column("date_creation", sa.DateTime(timezone=True)),
    sa.Column("montant", sa.Numeric),
    sa.Column("valide", sa.Boolean),
    sa.Column("piece", sa.LargeBinary),
    sa.Column("duree", sa.Interval),
    sa.Column("heure", sa.Time),
    sa.Column("rang", sa.SmallInteger),
    sa.Column("score", sa.Float),
    schema="schema_ins",
)
PEOPLE: list[dict[str, Any]] = [
    {
        "COD_IND": 100001,
        "COD_ETU": None,
        "LIB_NOM_PAT_IND": "CŒURDEROY",
        "LIB_PR1_IND": "Zoé\x01",
        "DATE_NAI_IND": date(1, 1, 1),
        "DAT_MOD_IND": datetime(9999, 12, 31, 23, 59, 59),
        "NUM_IDT_EXT_IND": Decimal("9" * 38),
        "NOT_MOY": Decimal("12.345"),
        "LIB_CMT_IND": LONG_TEXT,
    },
    {
        "COD_IND": 100002,
        "COD_ETU": 21000002,
        "LIB_NOM_PAT_IND": 'MARTIN\x0bD\'ALMEIDA, "dit" <b>Jo</b>\n2',
        "LIB_PR1_IND": "HÃ©loÃ¯se\x85",
        "DATE_NAI_IND": date(9999, 12, 31),
        "DAT_MOD_IND": datetime(2024, 5, 6, 7, 8, 9, 123456),
        "NUM_IDT_EXT_IND": Decimal("-12345678901234567890123456789012345678"),
        "NOT_MOY": None,
        "LIB_CMT_IND": "",  # the empty string is not NULL
    },
]
REGISTRATIONS: list[dict[str, Any]] = [
    {"COD_ANU": "2023", "COD_IND": 100001, "COD_ETP": "L1DRT"},
    {"COD_ANU": "2023", "COD_IND": 100002, "COD_ETP": "L1DRT"},
    {"COD_ANU": "2022", "COD_IND": 100002, "COD_ETP": "L2HAR"},
]
PEGASE: list[dict[str, Any]] = [
    {
        "id": uuid.UUID(int=1),
        "statut_inscription": "VALIDEE",
        "date_creation": datetime(2023, 9, 1, 8, tzinfo=UTC),
        "montant": Decimal("170.1234567891"),
        "valide": True,
        "piece": b"\x00\xff%PDF",
        "duree": timedelta(days=3, seconds=5, microseconds=7),
        "heure": datetime(2000, 1, 1, 8, 30, 15, 250).time(),
        "rang": -3,
        "score": 0.1,
    },
    {"id": uuid.UUID(int=2), "valide": False, "piece": b""},
]
SPECS = [
    table_spec("individus", '"INDIVIDU"', ("COD_IND",)),
    table_spec("inscriptions", '"INS_ADM_ETP"', IAE_KEY),
]


@pytest.fixture
def source(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema("schema_ins"))
        METADATA.create_all(conn)
        conn.execute(INDIVIDU.insert(), PEOPLE)
        conn.execute(INS_ADM_ETP.insert(), REGISTRATIONS)
        conn.execute(INSCRIPTION.insert(), [{c.name: row.get(c.name) for c in INSCRIPTION.columns} for row in PEGASE])
    engine.dispose()
    return postgres_url


def test_round_trip_is_exact(source: str, tmp_path: Path) -> None:
    snapshot = extract(source, SPECS, tmp_path, parameters={})
    individus, inscriptions = snapshot.datasets
    assert pq.read_table(individus.path).to_pylist() == PEOPLE
    assert (individus.rows, individus.source_count) == (2, 2)
    columns = dict(individus.columns)
    assert columns["NUM_IDT_EXT_IND"] == "decimal128(38, 0)"
    assert columns["COD_IND"] == "int64"
    assert columns["NOT_MOY"] == "decimal128(8, 3)"
    assert columns["DAT_MOD_IND"] == "timestamp[us]"
    for dataset in snapshot.datasets:
        schema = pq.read_schema(dataset.path)
        assert [(f.name, str(f.type)) for f in schema] == list(dataset.columns)
    expected = sorted(REGISTRATIONS, key=lambda r: tuple(r[k] for k in IAE_KEY))
    assert pq.read_table(inscriptions.path).to_pylist() == expected
    assert snapshot.dialect == "postgresql"
    assert individus.query.startswith('COPY (SELECT "COD_IND", "COD_ETU", ')
    # Decimals of up to 18 digits are stored as Parquet integers, wider ones as 16 bytes.
    physical = {c.name: c.physical_type for c in pq.ParquetFile(individus.path).schema}
    assert (physical["NOT_MOY"], physical["NUM_IDT_EXT_IND"]) == ("INT32", "FIXED_LEN_BYTE_ARRAY")


def test_other_postgresql_types_in_a_lower_case_schema(source: str, tmp_path: Path) -> None:
    spec = table_spec("pegase", "schema_ins.inscription", ("id",))
    (dataset,) = extract(source, [spec], tmp_path, parameters={}).datasets
    columns = dict(dataset.columns)
    assert columns == {
        "id": "string",
        "statut_inscription": "string",
        "date_creation": "timestamp[us, tz=UTC]",
        "montant": "decimal128(38, 10)",
        "valide": "bool",
        "piece": "binary",
        "duree": "duration[us]",
        "heure": "time64[us]",
        "rang": "int64",
        "score": "double",
    }
    rows = pq.read_table(dataset.path).to_pylist()
    first = {**PEGASE[0], "id": str(uuid.UUID(int=1)), "montant": Decimal("170.1234567891")}
    assert rows[0] == first
    assert rows[1] == {c: None for c in columns} | {"id": str(uuid.UUID(int=2)), "valide": False, "piece": b""}


def test_the_scope_is_bound_and_a_hostile_value_is_harmless(source: str, tmp_path: Path) -> None:
    spec = table_spec("inscriptions", '"INS_ADM_ETP"', IAE_KEY, where='"COD_ANU" = :academic_year')
    (iae,) = extract(source, [spec], tmp_path / "a", parameters=YEAR).datasets
    assert "2023" not in iae.query and "(SELECT current_setting('versement.academic_year'))" in iae.query
    assert iae.parameters == YEAR
    assert iae.rows == iae.source_count == 2
    hostile = {"academic_year": "2023' OR '1'='1'); DROP TABLE \"INS_ADM_ETP\"; --"}
    (none,) = extract(source, [spec], tmp_path / "b", parameters=hostile).datasets
    assert none.rows == none.source_count == 0
    engine = sa.create_engine(source)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(INS_ADM_ETP)).scalar_one() == 3
    engine.dispose()


def test_a_date_range_scope(source: str, tmp_path: Path) -> None:
    spec = table_spec(
        "individus", '"INDIVIDU"', ("COD_IND",), where='"DATE_NAI_IND" BETWEEN :period_start AND :period_end'
    )
    parameters = {"period_start": date(2000, 1, 1), "period_end": date(9999, 12, 31)}
    (dataset,) = extract(source, [spec], tmp_path, parameters=parameters).datasets
    assert [r["COD_IND"] for r in pq.read_table(dataset.path).to_pylist()] == [100002]


def test_rows_committed_during_the_extraction_are_not_seen(source: str, tmp_path: Path) -> None:
    other = sa.create_engine(source, isolation_level="AUTOCOMMIT")
    inserted: list[str] = []

    def insert_meanwhile(name: str, rows: int, elapsed: float) -> None:
        # Between the two datasets: a new registration, committed by another connection.
        if name == "individus" and not inserted:
            with other.connect() as conn:
                conn.execute(INS_ADM_ETP.insert(), {"COD_ANU": "2024", "COD_IND": 100001, "COD_ETP": "L2DRT"})
            inserted.append(name)

    try:
        snapshot = extract(source, SPECS, tmp_path, parameters={}, progress=insert_meanwhile)
        with other.connect() as conn:
            now = conn.execute(sa.select(sa.func.count()).select_from(INS_ADM_ETP)).scalar_one()
    finally:
        other.dispose()
    assert inserted and now == 4  # the row was really there before inscriptions was read
    inscriptions = snapshot.datasets[1]
    assert inscriptions.rows == inscriptions.source_count == 3
    assert "2024" not in pq.read_table(inscriptions.path).column("COD_ANU").to_pylist()
    assert snapshot.marker.startswith("postgresql:REPEATABLE READ READ ONLY snapshot=")


def test_a_value_beyond_its_column_is_refused_naming_the_row(source: str, tmp_path: Path) -> None:
    engine = sa.create_engine(source)
    with engine.begin() as conn:
        conn.execute(INSCRIPTION.insert(), {"id": uuid.UUID(int=3), "montant": Decimal("1.12345678901")})
    engine.dispose()
    spec = table_spec("pegase", "schema_ins.inscription", ("id",))
    with pytest.raises(ExtractionError) as caught:
        extract(source, [spec], tmp_path, parameters={})
    assert (caught.value.dataset, caught.value.column) == ("pegase", "montant")
    assert caught.value.key == {"id": str(uuid.UUID(int=3))}
    assert "'1.12345678901'" in str(caught.value) and "decimal128(38, 10)" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_password_given_apart_from_the_url_is_used(source: str, tmp_path: Path) -> None:
    assert sa.make_url(source).password is None
    snapshot = extract(source, SPECS[:1], tmp_path, parameters={}, password=PASSWORD)  # trust auth accepts it
    assert snapshot.datasets[0].rows == 2
    manifest = snapshot.datasets[0].manifest
    assert manifest is not None and PASSWORD not in manifest.read_text(encoding="utf-8")


@pytest.mark.parametrize("in_url", [False, True], ids=["password-parameter", "password-in-url"])
def test_password_never_appears_in_errors_or_logs(
    source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, in_url: bool
) -> None:
    missing_database = source.rsplit("/", 1)[0] + "/versement_no_such_database"
    if in_url:
        missing_database = missing_database.replace("postgres@", f"postgres:{PASSWORD}@")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExtractionError) as caught:
        extract(missing_database, SPECS, tmp_path, parameters={}, password=None if in_url else PASSWORD)
    message = str(caught.value)
    assert "versement_no_such_database" in message and "127.0.0.1" in message and "***" in message
    assert "dataset individus" in message
    assert not caught.value.transient  # a wrong database name does not mend itself
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert PASSWORD not in everything
    assert "postgres:***@" in caplog.text  # the URL is logged, masked
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_role_is_not_transient(source: str, tmp_path: Path) -> None:
    wrong = source.replace("postgres@", "versement_no_such_role@")
    with pytest.raises(ExtractionError, match="versement_no_such_role") as caught:
        extract(wrong, SPECS, tmp_path, parameters={}, password=PASSWORD)
    assert not caught.value.transient and PASSWORD not in str(caught.value)


def test_an_unreachable_server_is_transient_and_named(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://archiviste:{PASSWORD}@127.0.0.1:1/apogee"
    with pytest.raises(ExtractionError) as caught:
        extract(url, SPECS, tmp_path, parameters={})
    message = str(caught.value)
    assert caught.value.transient
    assert "127.0.0.1:1/apogee" in message and "dataset individus" in message and PASSWORD not in message


def test_unknown_table_names_dataset_and_source_without_the_password(source: str, tmp_path: Path) -> None:
    spec = table_spec("x", "NO_SUCH_TABLE", ("ID",))
    with pytest.raises(ExtractionError, match='relation "no_such_table" does not exist') as caught:
        extract(source, [spec], tmp_path, parameters={}, password=PASSWORD)
    assert PASSWORD not in str(caught.value)
    assert caught.value.dataset == "x" and not caught.value.transient
    assert str(sa.make_url(source).database) in str(caught.value)


def test_a_query_failing_midway_leaves_nothing_and_names_dataset_and_source(postgres_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t AS SELECT i AS id, 200000 - i AS d FROM generate_series(1, 200000) i"))
    engine.dispose()
    spec = table_spec("quotients", "", ("id",), sql="SELECT id, 1000000 / d AS q FROM t")  # row 200000 divides by 0
    with pytest.raises(ExtractionError, match="division by zero") as caught:
        extract(postgres_url, [spec], tmp_path, parameters={}, password=PASSWORD)
    message = str(caught.value)
    assert "dataset quotients" in message and "127.0.0.1:5432" in message and PASSWORD not in message
    assert not caught.value.transient
    assert list(tmp_path.iterdir()) == []


def test_the_count_beside_the_copy_takes_no_parallel_worker_and_no_jit(source: str) -> None:
    """The count session shares the snapshot but must not take the cores the COPY needs."""
    reader = open_reader(sa.engine.make_url(source.replace("postgresql://", "postgresql+psycopg://", 1)))
    try:
        counted = reader.count_concurrently(  # type: ignore[attr-defined]
            "SELECT count(*), current_setting('max_parallel_workers_per_gather'), current_setting('jit'), "
            "current_setting('transaction_isolation') FROM \"INDIVIDU\"",
            {},
        )
        assert counted() == (2, ("0", "off", "repeatable read"))
        main = reader.conn.execute(  # type: ignore[attr-defined]
            "SELECT current_setting('max_parallel_workers_per_gather')"
        ).fetchone()
        assert main is not None and main[0] != "0"  # the COPY's own session keeps the server's settings
    finally:
        reader.close()


def test_a_scope_parameter_is_read_once_per_statement_not_once_per_row(source: str) -> None:
    """A filter the planner cannot turn into an index condition compares with the InitPlan's value."""
    sql = statements.postgresql_settings_sql(
        'SELECT * FROM "INS_ADM_ETP" WHERE "COD_ANU" || \'\' = :academic_year', YEAR
    )
    engine = sa.create_engine(source)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT set_config('versement.academic_year', '2023', true)")
        plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statements.count_sql(sql)}")]
        rows = conn.exec_driver_sql(statements.count_sql(sql)).scalar_one()
    engine.dispose()
    assert rows == 2
    assert any("InitPlan" in line for line in plan), plan
    (condition,) = [line for line in plan if "Filter:" in line]
    assert "current_setting" not in condition, plan
