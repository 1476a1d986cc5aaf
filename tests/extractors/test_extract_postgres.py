"""Extraction from PostgreSQL: round trip, snapshot consistency, password handling."""

from __future__ import annotations

import logging
import traceback
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from extractors import DatasetSpec, ExtractionError, extract

pytestmark = pytest.mark.postgres

PASSWORD = "s3cr3t-Pa55-ne-pas-afficher"
LONG_TEXT = "Délibération : l'œuvre du jury. " * 1250
IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP")

METADATA = sa.MetaData()
INDIVIDU = sa.Table(
    "INDIVIDU",
    METADATA,
    sa.Column("COD_IND", sa.Numeric(8, 0), primary_key=True),
    sa.Column("COD_ETU", sa.Numeric(8, 0)),
    sa.Column("LIB_NOM_PAT_IND", sa.String(30), nullable=False),
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
INSCRIPTION = sa.Table(  # Pégase style: lower-case names in a module schema
    "inscription",
    METADATA,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("statut_inscription", sa.String(20)),
    sa.Column("date_creation", sa.DateTime(timezone=True)),
    schema="schema_ins",
)
PEOPLE: list[dict[str, Any]] = [
    {
        "COD_IND": 100001,
        "COD_ETU": None,
        "LIB_NOM_PAT_IND": "CŒURDEROY",
        "LIB_PR1_IND": "Zoé\x01",
        "DATE_NAI_IND": date(1900, 1, 1),
        "DAT_MOD_IND": datetime(9999, 12, 31, 23, 59, 59),
        "NUM_IDT_EXT_IND": Decimal("9" * 38),
        "NOT_MOY": Decimal("12.345"),
        "LIB_CMT_IND": LONG_TEXT,
    },
    {
        "COD_IND": 100002,
        "COD_ETU": 21000002,
        "LIB_NOM_PAT_IND": "MARTIN\x0bD'ALMEIDA",
        "LIB_PR1_IND": "Héloïse\x85",
        "DATE_NAI_IND": date(2001, 2, 3),
        "DAT_MOD_IND": datetime(2024, 5, 6, 7, 8, 9, 123456),
        "NUM_IDT_EXT_IND": Decimal("-12345678901234567890123456789012345678"),
        "NOT_MOY": None,
        "LIB_CMT_IND": None,
    },
]
REGISTRATIONS: list[dict[str, Any]] = [
    {"COD_ANU": "2023", "COD_IND": 100001, "COD_ETP": "L1DRT"},
    {"COD_ANU": "2023", "COD_IND": 100002, "COD_ETP": "L1DRT"},
    {"COD_ANU": "2022", "COD_IND": 100002, "COD_ETP": "L2HAR"},
]
SPECS = [
    DatasetSpec("individus", "INDIVIDU", ("COD_IND",)),
    DatasetSpec("inscriptions", "INS_ADM_ETP", IAE_KEY),
]


@pytest.fixture
def source(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema("schema_ins"))
        METADATA.create_all(conn)
        conn.execute(INDIVIDU.insert(), PEOPLE)
        conn.execute(INS_ADM_ETP.insert(), REGISTRATIONS)
        conn.execute(
            INSCRIPTION.insert(),
            [
                {
                    "id": uuid.UUID(int=1),
                    "statut_inscription": "VALIDEE",
                    "date_creation": datetime(2023, 9, 1, 8, tzinfo=UTC),
                }
            ],
        )
    engine.dispose()
    return postgres_url


def test_round_trip_is_exact(source: str, tmp_path: Path) -> None:
    snapshot = extract(source, SPECS, tmp_path)
    individus, inscriptions = snapshot.datasets
    assert pq.read_table(individus.path).to_pylist() == PEOPLE
    assert (individus.rows, individus.source_count) == (2, 2)
    assert dict(individus.columns)["NUM_IDT_EXT_IND"] == "decimal128(38, 0)"
    assert dict(individus.columns)["DAT_MOD_IND"] == "timestamp[us]"
    for dataset in snapshot.datasets:
        schema = pq.read_schema(dataset.path)
        assert [(f.name, str(f.type)) for f in schema] == list(dataset.columns)
    expected = sorted(REGISTRATIONS, key=lambda r: tuple(r[k] for k in IAE_KEY))
    assert pq.read_table(inscriptions.path).to_pylist() == expected
    assert snapshot.dialect == "postgresql"


def test_filters_and_schema_qualified_lower_case_tables(source: str, tmp_path: Path) -> None:
    specs = [
        DatasetSpec("inscriptions_2023", "INS_ADM_ETP", IAE_KEY, filters={"COD_ANU": 2023}),
        DatasetSpec("pegase", "schema_ins.inscription", ("id",)),
    ]
    iae, pegase = extract(source, specs, tmp_path).datasets
    assert "%(COD_ANU_1)s" in iae.query and "2023" not in iae.query
    assert iae.parameters == {"COD_ANU_1": "2023"}
    assert iae.rows == iae.source_count == 2
    assert pq.read_table(pegase.path).to_pylist() == [
        {
            "id": str(uuid.UUID(int=1)),
            "statut_inscription": "VALIDEE",
            "date_creation": datetime(2023, 9, 1, 8, tzinfo=UTC),
        }
    ]


def test_rows_committed_during_the_extraction_are_not_seen(source: str, tmp_path: Path) -> None:
    other = sa.create_engine(source, isolation_level="AUTOCOMMIT")
    inserted: list[str] = []

    def insert_meanwhile(name: str, rows: int) -> None:
        # Between the two datasets: a new registration, committed by another connection.
        if name == "individus" and not inserted:
            with other.connect() as conn:
                conn.execute(INS_ADM_ETP.insert(), {"COD_ANU": "2024", "COD_IND": 100001, "COD_ETP": "L2DRT"})
            inserted.append(name)

    try:
        snapshot = extract(source, SPECS, tmp_path, progress=insert_meanwhile)
        with other.connect() as conn:
            now = conn.execute(sa.select(sa.func.count()).select_from(INS_ADM_ETP)).scalar_one()
    finally:
        other.dispose()
    assert inserted and now == 4  # the row was really there before inscriptions was read
    inscriptions = snapshot.datasets[1]
    assert inscriptions.rows == inscriptions.source_count == 3
    assert "2024" not in pq.read_table(inscriptions.path).column("COD_ANU").to_pylist()
    assert snapshot.marker.startswith("postgresql:REPEATABLE READ READ ONLY snapshot=")


def test_password_given_apart_from_the_url_is_used(source: str, tmp_path: Path) -> None:
    assert sa.make_url(source).password is None
    snapshot = extract(source, SPECS[:1], tmp_path, password=PASSWORD)  # trust auth accepts it
    assert snapshot.datasets[0].rows == 2


def test_password_never_appears_in_errors_or_logs(
    source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing_database = source.rsplit("/", 1)[0] + "/versement_no_such_database"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExtractionError) as caught:
        extract(missing_database, SPECS, tmp_path, password=PASSWORD)
    message = str(caught.value)
    assert "versement_no_such_database" in message and "***" in message
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert PASSWORD not in everything
    assert "postgres:***@" in caplog.text  # the URL is logged, masked
    assert list(tmp_path.iterdir()) == []


def test_unknown_table_names_it_without_the_password(source: str, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="table NO_SUCH_TABLE not found") as caught:
        extract(source, [DatasetSpec("x", "NO_SUCH_TABLE", ("ID",))], tmp_path, password=PASSWORD)
    assert PASSWORD not in str(caught.value)
    assert caught.value.table == "NO_SUCH_TABLE"
