"""Each expectation fails on a crafted bad dataset and passes on a clean one (DuckDB over Parquet)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from extractors.scope import Scope
from tests.validation.helpers import dataset, spec
from validation import DatasetInput, ExpectationOutcome, validate_batch
from validation.identifiers import is_valid_nir, is_well_formed_ine, nir_key

YEAR = Scope.academic_year(2023)


def run(*datasets: DatasetInput, tool: str | None = None, folder: Path | None = None) -> dict[str, Any]:
    quality = validate_batch(list(datasets), scope=YEAR, tool=tool, suites_folder=folder)
    return {r.dataset: r for r in quality.reports}


def outcome(report: Any, expectation: str, column: str | None = None) -> ExpectationOutcome:
    found = [o for o in report.outcomes if o.expectation == expectation and (column is None or o.column == column)]
    assert len(found) == 1, [(o.expectation, o.column) for o in report.outcomes]
    return found[0]


def nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


PEOPLE = spec(
    ["COD_IND"],
    person_key="COD_IND",
    person_kind="student",
    tags={
        "LIB_NOM": ["name"],
        "DATE_NAI": ["birth_date"],
        "NIR": ["nir"],
        "COD_NNE_IND": ["ine"],
        "COD_CLE_NNE_IND": ["ine"],
    },
)


def people(tmp_path: Path, **overrides: list[Any]) -> DatasetInput:
    from datetime import date

    columns: dict[str, list[Any]] = {
        "COD_IND": [1, 2, 3],
        "LIB_NOM": ["Zoé", "L'Haÿ-les-Roses Œuvre", "Noël"],
        "DATE_NAI": [date(1990, 1, 1), date(2001, 6, 30), None],
        "NIR": [nir("1840575123456"), nir("28405" + "2A" + "123456"), nir("18405" + "2B" + "654321")],
        "COD_NNE_IND": ["1234567890", "123456789A", "1234A12345"],
        "COD_CLE_NNE_IND": ["F", "B", "K"],
    }
    columns.update(overrides)
    return dataset(tmp_path, "individus", columns, PEOPLE)


def test_a_clean_dataset_passes_every_default_expectation(tmp_path: Path) -> None:
    report = run(people(tmp_path))["individus"]
    assert report.success and not report.warnings, [o.to_dict() for o in report.outcomes if not o.success]
    types = {o.expectation for o in report.outcomes}
    assert {
        "reconcile_with_source",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_valid_nir",
        "expect_column_values_to_be_valid_ine",
        "expect_column_values_to_not_be_double_encoded",
        "expect_column_values_to_be_xml_characters",
    } <= types
    ine = outcome(report, "expect_column_values_to_be_valid_ine")
    assert ine.details["kwargs"] == {"column": "COD_NNE_IND", "key_column": "COD_CLE_NNE_IND"}


def test_nir_rule_with_corsica() -> None:
    assert nir_key("1840575123456") == 97 - 1840575123456 % 97
    assert nir_key("18405" + "2A" + "123456") == 97 - 1840519123456 % 97
    assert nir_key("18405" + "2B" + "123456") == 97 - 1840518123456 % 97
    assert is_valid_nir(nir("18405" + "2A" + "123456"))
    assert not is_valid_nir("18405" + "2A" + "123456" + f"{(nir_key('1840519123456') + 1) % 100:02d}")
    assert is_well_formed_ine("123456789AB") and not is_well_formed_ine("12345678AB")


@pytest.mark.parametrize(
    "value",
    [
        "184057512345600",  # wrong key
        "18405" + "2A" + "123456" + "00",  # Corsica, wrong key
        "1840575123456",  # no key
        "5840575123456" + "11",  # sex digit
        "18405" + "2C" + "123456" + "11",  # no such department
    ],
)
def test_a_bad_nir_fails_blocking_and_names_the_row(tmp_path: Path, value: str) -> None:
    data = people(tmp_path, NIR=[nir("1840575123456"), value, None])
    report = run(data)["individus"]
    check = outcome(report, "expect_column_values_to_be_valid_nir")
    assert (check.success, check.unexpected_count, check.severity) == (False, 1, "critical")
    assert check.examples == ({"key": {"COD_IND": 2}, "values": {"NIR": value}},)
    assert check.personal and not report.success


def test_corsican_nir_computed_with_the_mainland_substitution_is_refused(tmp_path: Path) -> None:
    # the key of "2A" read as "20" (no substitution) is not the key of the number
    body = "18405" + "2A" + "123456"
    naive = 97 - int(body.replace("2A", "20")) % 97
    report = run(people(tmp_path, NIR=[f"{body}{naive:02d}", None, None]))["individus"]
    assert not outcome(report, "expect_column_values_to_be_valid_nir").success


@pytest.mark.parametrize(
    ("body", "key"), [("12345678", "F"), ("1234567890", "1"), ("12345 7890", "F"), ("123456789a", "b")]
)
def test_a_malformed_ine_fails(tmp_path: Path, body: str, key: str) -> None:
    report = run(people(tmp_path, COD_NNE_IND=["1234567890", body, None], COD_CLE_NNE_IND=["F", key, None]))
    check = outcome(report["individus"], "expect_column_values_to_be_valid_ine")
    assert (check.success, check.unexpected_count) == (False, 1)


def test_a_birth_date_in_1850_or_after_extraction_fails(tmp_path: Path) -> None:
    from datetime import date

    report = run(people(tmp_path, DATE_NAI=[date(1850, 3, 1), date(2030, 1, 1), date(1900, 1, 1)]))["individus"]
    check = outcome(report, "expect_column_values_to_be_between", "DATE_NAI")
    assert (check.success, check.unexpected_count) == (False, 2)
    assert check.details["kwargs"] == {"column": "DATE_NAI", "min_value": "1900-01-01", "max_value": "2026-11-30"}
    assert [e["values"]["DATE_NAI"] for e in check.examples] == ["1850-03-01", "2030-01-01"]


def test_mojibake_and_xml_forbidden_characters_are_warnings(tmp_path: Path) -> None:
    names = ["NoÃ©l", "Ã‰lodie", "a\x01b", "tab\tand\nnewline", "l’été", "prÂ°"]
    data = people(
        tmp_path,
        COD_IND=[1, 2, 3, 4, 5, 6],
        LIB_NOM=names,
        DATE_NAI=[None] * 6,
        NIR=[None] * 6,
        COD_NNE_IND=[None] * 6,
        COD_CLE_NNE_IND=[None] * 6,
    )
    report = run(data)["individus"]
    mojibake = outcome(report, "expect_column_values_to_not_be_double_encoded", "LIB_NOM")
    xml = outcome(report, "expect_column_values_to_be_xml_characters", "LIB_NOM")
    assert (mojibake.success, mojibake.unexpected_count, mojibake.severity) == (False, 3, "warning")
    assert [e["key"]["COD_IND"] for e in mojibake.examples] == [1, 2, 6]
    assert (xml.success, xml.unexpected_count, xml.severity) == (False, 1, "warning")
    assert xml.examples[0]["values"]["LIB_NOM"] == "a\x01b"
    assert report.success  # warnings never block
    assert len(report.warnings) == 2


def test_null_and_duplicate_keys_fail(tmp_path: Path) -> None:
    data = people(tmp_path, COD_IND=[1, 1, None])
    report = run(data)["individus"]
    nulls = outcome(report, "expect_column_values_to_not_be_null", "COD_IND")
    unique = outcome(report, "expect_column_values_to_be_unique", "COD_IND")
    assert (nulls.success, nulls.unexpected_count) == (False, 1)
    assert (unique.success, unique.unexpected_count) == (False, 2)
    assert unique.examples == ({"values": {"COD_IND": 1}, "rows": 2},)


def test_a_duplicate_compound_key_fails_but_each_column_may_repeat(tmp_path: Path) -> None:
    data = dataset(
        tmp_path, "bacs", {"COD_IND": [1, 1, 1, 2], "COD_BAC": ["S", "ES", "S", "S"]}, spec(["COD_IND", "COD_BAC"])
    )
    unique = outcome(run(data)["bacs"], "expect_compound_columns_to_be_unique")
    assert (unique.success, unique.unexpected_count) == (False, 2)
    clean = dataset(tmp_path, "bacs", {"COD_IND": [1, 1, 2], "COD_BAC": ["S", "ES", "S"]}, spec(["COD_IND", "COD_BAC"]))
    assert run(clean)["bacs"].success


def test_38_digit_keys_are_compared_exactly(tmp_path: Path) -> None:
    big = 10**37
    ids = pa.array([Decimal(big + 1), Decimal(big + 2), Decimal(big + 1)], pa.decimal128(38, 0))
    data = dataset(tmp_path, "ids", pa.table({"ID": ids}), spec(["ID"]))
    unique = outcome(run(data)["ids"], "expect_column_values_to_be_unique")
    assert (unique.success, unique.unexpected_count) == (False, 2)
    assert unique.examples[0]["values"] == {"ID": str(big + 1)}
    ids = pa.array([Decimal(big + 1), Decimal(big + 2)], pa.decimal128(38, 0))
    assert run(dataset(tmp_path, "ids", pa.table({"ID": ids}), spec(["ID"])))["ids"].success


def results(tmp_path: Path, **overrides: list[Any]) -> list[DatasetInput]:
    columns: dict[str, list[Any]] = {
        "COD_IND": [1, 2, 3],
        "COD_ANU": ["2023", "2023", "2023"],
        "COD_ELP": ["MATH1", "PHYS1", "MATH1"],
        "NOT_ELP": [Decimal("12.500"), Decimal("20.000"), Decimal("0.000")],
        "BAR_NOT_ELP": [20, 20, 20],
    }
    columns.update(overrides)
    table = pa.table(
        {
            **{k: v for k, v in columns.items() if k != "NOT_ELP"},
            "NOT_ELP": pa.array(columns["NOT_ELP"], pa.decimal128(8, 3)),
        }
    )
    result_spec = spec(["COD_IND", "COD_ELP"], person_key="COD_IND", person_kind="student", references=["ref_elp"])
    return [
        people(tmp_path),
        dataset(tmp_path, "resultats_elp", table, result_spec),
        dataset(
            tmp_path,
            "ref_elp",
            {"COD_ELP": ["MATH1", "PHYS1"], "LIB_ELP": ["Maths", "Physique"]},
            spec(["COD_ELP"], scoped=False),
        ),
    ]


def test_a_clean_batch_with_references_passes(tmp_path: Path) -> None:
    reports = run(*results(tmp_path))
    assert all(r.success for r in reports.values()), {n: r.failed for n, r in reports.items()}
    checks = [
        o for o in reports["resultats_elp"].outcomes if o.expectation == "expect_column_values_to_be_in_reference"
    ]
    assert [(o.details["kwargs"]["reference_dataset"], o.column) for o in checks] == [
        ("ref_elp", "COD_ELP"),
        ("individus", "COD_IND"),
    ]
    assert outcome(reports["resultats_elp"], "expect_column_values_to_be_in_set", "COD_ANU").success


def test_a_code_not_in_its_reference_and_an_unknown_person_fail(tmp_path: Path) -> None:
    reports = run(*results(tmp_path, COD_IND=[1, 2, 99], COD_ELP=["MATH1", "CHIM9", "MATH1"]))
    checks = {
        o.column: o
        for o in reports["resultats_elp"].outcomes
        if o.expectation == "expect_column_values_to_be_in_reference"
    }
    assert (checks["COD_ELP"].success, checks["COD_ELP"].unexpected_count) == (False, 1)
    assert checks["COD_ELP"].examples[0] == {"key": {"COD_IND": 2, "COD_ELP": "CHIM9"}, "values": {"COD_ELP": "CHIM9"}}
    assert (checks["COD_IND"].success, checks["COD_IND"].unexpected_count) == (False, 1)
    assert not reports["resultats_elp"].success


def test_a_grade_outside_its_scale_and_a_year_outside_the_scope_fail(tmp_path: Path) -> None:
    reports = run(
        *results(tmp_path, NOT_ELP=[Decimal("20.500"), Decimal("-1.000"), None], COD_ANU=["2023", "2022", "2023"])
    )
    scale = outcome(reports["resultats_elp"], "expect_column_values_to_be_within_scale", "NOT_ELP")
    assert (scale.success, scale.unexpected_count) == (False, 2)
    year = outcome(reports["resultats_elp"], "expect_column_values_to_be_in_set", "COD_ANU")
    assert (year.success, year.unexpected_count) == (False, 1)
    assert year.details["kwargs"]["value_set"] == ["2023"]


def test_reports_are_json(tmp_path: Path) -> None:
    reports = run(*results(tmp_path, COD_ELP=["MATH1", "CHIM9", "MATH1"]))
    payload = json.loads(json.dumps(reports["resultats_elp"].to_dict()))
    assert payload["expectations"] == payload["passed"] + payload["failed"] + payload["warnings"]
    assert payload["failed"] == 1 and payload["success"] is False
    failed = [o for o in payload["outcomes"] if not o["success"]]
    assert failed[0]["personal"] is True and failed[0]["examples"][0]["values"] == {"COD_ELP": "CHIM9"}


def test_a_reference_table_example_is_not_personal(tmp_path: Path) -> None:
    data = dataset(tmp_path, "ref_elp", {"COD_ELP": ["A", "A"]}, spec(["COD_ELP"], scoped=False))
    unique = outcome(run(data)["ref_elp"], "expect_column_values_to_be_unique")
    assert not unique.success and unique.personal is False


def test_the_engine_reads_nothing_but_the_batch_files(tmp_path: Path) -> None:
    from validation.engine import DatasetFiles, locked_connection

    data = dataset(tmp_path / "a", "x", {"A": [1]}, spec(["A"]))
    other = dataset(tmp_path / "b", "y", {"A": [1]}, spec(["A"]))
    import duckdb

    with locked_connection([DatasetFiles("x", (data.path,), ("A",), frozenset())]) as con:
        assert con.execute('SELECT count(*) FROM "ds_x"').fetchone() == (1,)
        for sql in (
            f"SELECT * FROM read_parquet('{other.path}')",
            "INSTALL httpfs",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
