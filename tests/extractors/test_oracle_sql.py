"""What the extraction would send to Oracle, checked by compiling with the Oracle dialect."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.exc import DBAPIError

from extractors import DatasetSpec, ExtractionError
from extractors.query import build_query, compiled_sql
from extractors.snapshot import ORACLE_READ_ONLY, ORACLE_SCN, pin_oracle, snapshot_transaction

DIALECT = oracle.dialect()
IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE")


def ins_adm_etp(metadata: sa.MetaData, *, lower: bool = False) -> sa.Table:
    """INS_ADM_ETP as declared in Oracle; ``lower`` names it as Oracle reflection reports it."""

    def name(text: str) -> str:
        return text.lower() if lower else text

    return sa.Table(
        name("INS_ADM_ETP"),
        metadata,
        sa.Column(name("COD_ANU"), oracle.VARCHAR2(4)),
        sa.Column(name("COD_IND"), oracle.NUMBER(8, 0)),
        sa.Column(name("COD_ETP"), oracle.VARCHAR2(6)),
        sa.Column(name("COD_VRS_VET"), oracle.NUMBER(3, 0)),
        sa.Column(name("NUM_OCC_IAE"), oracle.NUMBER()),
        sa.Column(name("ETA_IAE"), oracle.VARCHAR2(1)),
        sa.Column(name("DAT_CRE_IAE"), oracle.DATE()),
        sa.Column(name("NUM_TECH_IAE"), oracle.NUMBER(38, 0)),
        sa.Column(name("NBR_INS_ETP"), sa.INTEGER()),
        schema=name("APOGEE"),
    )


SPEC = DatasetSpec("inscriptions", "APOGEE.INS_ADM_ETP", IAE_KEY, filters={"COD_ANU": 2023, "ETA_IAE": "E"})


def test_select_quotes_upper_case_names_binds_filters_and_orders_by_key() -> None:
    query = build_query(ins_adm_etp(sa.MetaData()), SPEC, DIALECT)
    sql, parameters = compiled_sql(query.select, DIALECT)
    assert sql.startswith('SELECT "APOGEE"."INS_ADM_ETP"."COD_ANU" AS "COD_ANU", ')
    assert 'FROM "APOGEE"."INS_ADM_ETP"' in sql
    assert (
        'WHERE "APOGEE"."INS_ADM_ETP"."COD_ANU" = :COD_ANU_1 AND "APOGEE"."INS_ADM_ETP"."ETA_IAE" = :ETA_IAE_1' in sql
    )
    order = ", ".join(f'"APOGEE"."INS_ADM_ETP"."{k}"' for k in IAE_KEY)
    assert sql.endswith(f"ORDER BY {order}")
    assert parameters == {"COD_ANU_1": "2023", "ETA_IAE_1": "E"}  # text, as COD_ANU is VARCHAR2
    assert "2023" not in sql


def test_count_uses_the_same_filters() -> None:
    query = build_query(ins_adm_etp(sa.MetaData()), SPEC, DIALECT)
    sql, parameters = compiled_sql(query.count, DIALECT)
    assert sql == (
        'SELECT count(*) AS count_1 \nFROM "APOGEE"."INS_ADM_ETP" \n'
        'WHERE "APOGEE"."INS_ADM_ETP"."COD_ANU" = :COD_ANU_1 '
        'AND "APOGEE"."INS_ADM_ETP"."ETA_IAE" = :ETA_IAE_1'
    )
    assert parameters == {"COD_ANU_1": "2023", "ETA_IAE_1": "E"}


def test_reflected_lower_case_names_are_written_back_in_oracle_case() -> None:
    # SQLAlchemy reports Oracle's COD_IND as cod_ind (case-insensitive); the archive keeps COD_IND.
    query = build_query(ins_adm_etp(sa.MetaData(), lower=True), SPEC, DIALECT)
    sql, _ = compiled_sql(query.select, DIALECT)
    assert query.names[:2] == ("COD_ANU", "COD_IND")
    assert 'apogee.ins_adm_etp.cod_anu AS "COD_ANU"' in sql  # unquoted: Oracle upper-cases it
    assert "WHERE apogee.ins_adm_etp.cod_anu = :cod_anu_1" in sql


def test_schema_follows_the_oracle_type_mapping() -> None:
    query = build_query(ins_adm_etp(sa.MetaData()), SPEC, DIALECT)
    types = {field.name: field.type for field in query.schema}
    assert types == {
        "COD_ANU": pa.string(),
        "COD_IND": pa.int64(),
        "COD_ETP": pa.string(),
        "COD_VRS_VET": pa.int64(),
        "NUM_OCC_IAE": pa.decimal128(38, 10),
        "ETA_IAE": pa.string(),
        "DAT_CRE_IAE": pa.timestamp("us"),
        "NUM_TECH_IAE": pa.decimal128(38, 0),
        "NBR_INS_ETP": pa.decimal128(38, 0),  # Oracle INTEGER is NUMBER(38)
    }


class RecordingConnection:
    """Stands in for a SQLAlchemy Connection to an Oracle server."""

    def __init__(self, scn: int | None) -> None:
        self.statements: list[str] = []
        self.scn = scn

    def exec_driver_sql(self, sql: str) -> Any:
        self.statements.append(sql)
        if sql == ORACLE_SCN and self.scn is None:
            raise DBAPIError(sql, None, Exception("ORA-00904: invalid identifier"))
        return SimpleNamespace(scalar=lambda: self.scn)


def test_oracle_snapshot_sets_the_transaction_read_only_first() -> None:
    conn = RecordingConnection(scn=987654321)
    marker = pin_oracle(conn)  # type: ignore[arg-type]
    assert conn.statements == [
        "SET TRANSACTION READ ONLY",
        "SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL",
    ]
    assert conn.statements[0] == ORACLE_READ_ONLY
    assert marker == "oracle:SET TRANSACTION READ ONLY scn=987654321"


def test_oracle_snapshot_without_flashback_privilege_still_runs_read_only() -> None:
    conn = RecordingConnection(scn=None)
    assert pin_oracle(conn) == "oracle:SET TRANSACTION READ ONLY scn=unknown"  # type: ignore[arg-type]
    assert conn.statements[0] == ORACLE_READ_ONLY


def test_a_dialect_without_snapshot_strategy_is_refused() -> None:
    engine = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))
    with (
        pytest.raises(ExtractionError, match="no consistent-snapshot strategy for the mysql"),
        snapshot_transaction(engine),  # type: ignore[arg-type]
    ):
        pass
