"""Source aggregates: computed with the COUNT(*) in the batch's snapshot, recorded, checked by the gate.

On the synthetic Apogée (SQLite and PostgreSQL), the shipped ``resultats_elements`` dataset gets
its default aggregates (sum of the grades, distinct students) in its manifest; the quality gate
recomputes them on the Parquet file and blocks a file corrupted consistently (rows and digest
rewritten to match) or a manifest whose source values were altered.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from extractors import ExtractionError, extract
from extractors.datasets import ExtractedDataset
from extractors.files import sha256_file
from extractors.scope import Scope
from extractors.specs import DatasetSpec, load_tool
from extractors.synthetic import generate
from validation.gate import DatasetInput, validate_batch

PG_ADMIN = os.environ.get("VERSEMENT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
YEAR = Scope.academic_year(2023)
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    name = f"versement_agg_{uuid.uuid4().hex[:12]}"
    pg = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    sqlite = f"sqlite:///{tmp_path_factory.mktemp('agg') / 'apogee.sqlite'}"
    try:
        for url in (sqlite, pg):
            generate("apogee", url, students=40, years=(2022, 2023))
        yield {"sqlite": sqlite, "postgresql": pg}
    finally:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def elements(**changes: Any) -> DatasetSpec:
    spec = next(d for d in load_tool("apogee").select() if d.name == "resultats_elements")
    return dataclasses.replace(spec, **changes)


def source_value(url: str, sql: str) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def manifest_of(dataset: ExtractedDataset) -> dict[str, Any]:
    assert dataset.manifest is not None
    return json.loads(dataset.manifest.read_text(encoding="utf-8"))


def gate_input(dataset: ExtractedDataset, spec: DatasetSpec, **changes: Any) -> DatasetInput:
    record: dict[str, Any] = {
        "key": list(spec.key),
        "person_key": spec.person_key,
        "person_kind": spec.person_kind,
        "columns": {},
    }
    fields = {
        "name": dataset.name,
        "path": dataset.path,
        "rows": dataset.rows,
        "source_count": dataset.source_count,
        "sha256": dataset.sha256,
        "spec": record,
        "manifest": manifest_of(dataset),
        **changes,
    }
    return DatasetInput(**fields)


def gate(data: DatasetInput) -> dict[str, Any]:
    report = validate_batch([data], scope=YEAR, tool=None).reports[0]
    return {o.expectation: o for o in report.outcomes}


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_aggregates_are_the_sources_and_recorded_in_the_manifest(sources, backend, tmp_path):
    url = sources[backend]
    (dataset,) = extract(url, [elements()], tmp_path, parameters=YEAR.parameters()).datasets
    manifest = manifest_of(dataset)
    assert set(manifest["aggregates"]) == {"sum:NOT_ELP", "distinct:COD_IND"}
    assert manifest["aggregates"] == dataset.aggregates
    if backend == "postgresql":  # grouped on the person key (aggregates.count_statement)
        assert manifest["count_query"].startswith("SELECT COALESCE(SUM(n), 0), SUM(s0)::text, COUNT(g) FROM (")
        assert manifest["count_query"].endswith(') q GROUP BY "cod_ind") x')
    else:
        assert "COUNT(DISTINCT" in manifest["count_query"]
        assert manifest["count_query"].startswith("SELECT COUNT(*), SUM(")
    where = "FROM RESULTAT_ELP WHERE COD_ANU = '2023'"
    total = source_value(url, f"SELECT SUM(NOT_ELP) {where}")
    # SQLite holds the grades as binary floats; the manifest holds their exact decimal sum.
    expected = Decimal(str(round(total, 3))).quantize(Decimal("0.001")) if backend == "sqlite" else total
    assert Decimal(manifest["aggregates"]["sum:NOT_ELP"]) == expected
    assert manifest["aggregates"]["sum:NOT_ELP"] == str(expected)
    assert manifest["aggregates"]["distinct:COD_IND"] == source_value(url, f"SELECT COUNT(DISTINCT COD_IND) {where}")
    assert manifest["rows"] == manifest["source_count"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_gate_catches_a_consistently_corrupted_file_and_an_altered_manifest(sources, backend, tmp_path):
    spec = elements()
    (dataset,) = extract(sources[backend], [spec], tmp_path, parameters=YEAR.parameters()).datasets
    outcomes = gate(gate_input(dataset, spec))
    assert outcomes["reconcile_aggregates_with_source"].success, outcomes["reconcile_aggregates_with_source"].details

    # The file rewritten with one grade changed, same rows, and its digest recorded again: only
    # the aggregates can tell.
    table = pq.read_table(dataset.path)
    grades = table.column("NOT_ELP").combine_chunks()
    first = pc.index(pc.is_valid(grades), True).as_py()
    changed = grades.to_pylist()
    changed[first] += Decimal("0.001")
    table = table.set_column(table.schema.get_field_index("NOT_ELP"), "NOT_ELP", pa.array(changed, grades.type))
    pq.write_table(table, dataset.path)
    outcomes = gate(gate_input(dataset, spec, sha256=sha256_file(dataset.path)))
    assert outcomes["reconcile_with_source"].success  # counts and digest agree
    aggregates = outcomes["reconcile_aggregates_with_source"]
    assert not aggregates.success and aggregates.blocking_failure
    assert aggregates.details["mismatches"] == ["sum:NOT_ELP"]

    # The manifest's source value altered instead (the file as extracted).
    (dataset,) = extract(sources[backend], [spec], tmp_path / "again", parameters=YEAR.parameters()).datasets
    manifest = manifest_of(dataset)
    manifest["aggregates"]["distinct:COD_IND"] += 1
    aggregates = gate(gate_input(dataset, spec, manifest=manifest))["reconcile_aggregates_with_source"]
    assert (aggregates.success, aggregates.details["mismatches"]) == (False, ["distinct:COD_IND"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_declared_aggregates_replace_the_defaults(sources, backend, tmp_path):
    declared = elements(aggregates=("sum:bar_not_elp", "distinct:COD_IND,COD_ELP", "sum:NOT_ELP"))
    none = dataclasses.replace(elements(aggregates=()), name="sans_agregats")
    first, second = extract(sources[backend], [declared, none], tmp_path, parameters=YEAR.parameters()).datasets
    where = "FROM RESULTAT_ELP WHERE COD_ANU = '2023'"
    pairs = source_value(sources[backend], f"SELECT COUNT(*) FROM (SELECT DISTINCT COD_IND, COD_ELP {where}) d")
    aggregates = manifest_of(first)["aggregates"]
    assert list(aggregates) == ["distinct:COD_IND,COD_ELP", "sum:BAR_NOT_ELP", "sum:NOT_ELP"]  # spec spelling
    assert aggregates["distinct:COD_IND,COD_ELP"] == pairs > 0
    assert aggregates["sum:BAR_NOT_ELP"] == str(source_value(sources[backend], f"SELECT SUM(BAR_NOT_ELP) {where}"))
    assert gate(gate_input(first, declared))["reconcile_aggregates_with_source"].success
    assert manifest_of(second)["aggregates"] == {}
    assert "reconcile_aggregates_with_source" not in gate(gate_input(second, none))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_year_has_zero_aggregates_that_reconcile(sources, backend, tmp_path):
    empty = Scope.academic_year(1999)
    (dataset,) = extract(sources[backend], [elements()], tmp_path, parameters=empty.parameters()).datasets
    assert dataset.rows == 0
    assert manifest_of(dataset)["aggregates"] == {"distinct:COD_IND": 0, "sum:NOT_ELP": "0"}
    assert gate(gate_input(dataset, elements()))["reconcile_aggregates_with_source"].success


@pytest.mark.parametrize(
    ("aggregates", "message"),
    [
        (("sum:NO_SUCH",), "aggregate sum:NO_SUCH: column NO_SUCH is not extracted"),
        (("sum:COD_TRE",), "aggregate sum:COD_TRE: column COD_TRE is string, not a number"),
        (("avg:NOT_ELP",), "is not sum:COLUMN or distinct:COLUMN"),
    ],
)
def test_an_unusable_declared_aggregate_names_dataset_and_column(sources, tmp_path, aggregates, message):
    with pytest.raises(ExtractionError, match=message) as caught:
        extract(sources["sqlite"], [elements(aggregates=aggregates)], tmp_path, parameters=YEAR.parameters())
    assert caught.value.dataset == "resultats_elements"
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob("*.json"))


def test_each_dialect_sums_exactly_and_counts_distinct_values():
    from extractors.aggregates import Aggregate, expressions

    grade = Aggregate("sum:NOT_ELP", "sum", ("NOT_ELP",), pa.decimal128(8, 3))
    people = Aggregate("distinct:COD_IND", "distinct", ("COD_IND",))
    pairs = Aggregate("distinct:COD_IND,COD_ELP", "distinct", ("COD_IND", "COD_ELP"))
    sql = "SELECT * FROM RESULTAT_ELP WHERE COD_ANU = :academic_year"
    assert expressions([grade, people], "oracle", sql) == ['TO_CHAR(SUM("NOT_ELP"))', 'COUNT(DISTINCT "COD_IND")']
    assert expressions([grade], "postgresql", sql) == ['SUM("NOT_ELP")::text']
    assert expressions([grade], "sqlite", sql) == ['SUM(CAST(ROUND("NOT_ELP" * 1000) AS INTEGER))']
    assert expressions([pairs], "oracle", sql) == [
        f'(SELECT COUNT(*) FROM (SELECT DISTINCT "COD_IND", "COD_ELP" FROM ({sql}) d '
        'WHERE "COD_IND" IS NOT NULL AND "COD_ELP" IS NOT NULL) e)'
    ]


@pytest.mark.parametrize(
    "where",
    ["", " WHERE k IS NULL", " WHERE g IS NULL", " WHERE k = 'absent'"],
    ids=["all", "null-keys-only", "null-grades-only", "empty"],
)
def test_the_grouped_postgresql_count_equals_count_distinct(sources, where):
    """NULL keys (one group, not a distinct value), NULL grades, no row: the same numbers as COUNT(DISTINCT)."""
    from extractors.aggregates import Aggregate, count_statement, expressions
    from extractors.statements import count_sql

    grade = Aggregate("sum:g", "sum", ("g",), pa.decimal128(38, 3))
    points = Aggregate("sum:p", "sum", ("p",), pa.int64())
    people = Aggregate("distinct:k", "distinct", ("k",))
    values = (
        "VALUES ('é1', 12.125::numeric, 3), ('é1', NULL, 4), (NULL, 7.5, NULL), (NULL, NULL, 1), "
        "('Œ2', 99999999999999999999999999999999999.999, 5), ('œ2', -0.001, -5)"
    )
    sql = f"SELECT * FROM (SELECT * FROM ({values}) v (k, g, p)) t{where}"
    aggregates = [grade, people, points]
    grouped = count_statement(aggregates, "postgresql", sql)
    assert "GROUP BY" in grouped and "DISTINCT" not in grouped
    plain = count_sql(sql, expressions(aggregates, "postgresql", sql))
    engine = sa.create_engine(sources["postgresql"])
    with engine.connect() as conn:
        got, expected = (tuple(conn.exec_driver_sql(q).one()) for q in (grouped, plain))
    engine.dispose()
    assert (int(got[0]), *got[1:3]) == (int(expected[0]), *expected[1:3])
    assert (got[3] is None and expected[3] is None) or int(got[3]) == int(expected[3])
    assert count_statement([grade, people], "oracle", sql) == count_sql(
        sql, expressions([grade, people], "oracle", sql)
    )
    floats = Aggregate("sum:f", "sum", ("g",), pa.float64())  # a float sum depends on the order: summed directly
    assert "GROUP BY" not in count_statement([floats, people], "postgresql", sql)
