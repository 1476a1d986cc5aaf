"""Structural quality checks with great-expectations."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import great_expectations as gx
import pytest

from extractors import extract, generate_apogee
from tests.extractors.helpers import table_spec
from tests.validation.conftest import WriteParquet
from validation import ExpectationOutcome, QualityReport, check_dataset

IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE")


def outcome(report: QualityReport, expectation: str, column: str | None = None) -> ExpectationOutcome:
    (found,) = [o for o in report.outcomes if o.expectation == expectation and o.column == column]
    return found


def test_a_clean_extracted_dataset_passes(tmp_path: Path) -> None:
    source = generate_apogee(tmp_path / "apogee.sqlite", students=30)
    spec = table_spec("inscriptions", "INS_ADM_ETP", IAE_KEY)
    (dataset,) = extract(f"sqlite:///{source.path}", [spec], tmp_path / "out", parameters={}).datasets
    report = check_dataset(
        dataset.name, dataset.path, key=IAE_KEY, not_null=("ETA_IAE",), expected_rows=dataset.source_count
    )
    assert report.success, report.to_dict()
    assert report.rows == dataset.rows
    assert report.engine == f"great_expectations {gx.__version__}"
    assert [(o.expectation, o.column) for o in report.outcomes] == [
        ("expect_table_row_count_to_equal", None),
        *[("expect_column_values_to_not_be_null", column) for column in (*IAE_KEY, "ETA_IAE")],
        ("expect_compound_columns_to_be_unique", None),
    ]
    assert all(o.success for o in report.outcomes)


def test_a_null_key_fails_on_that_column(write_parquet: WriteParquet) -> None:
    path = write_parquet("people", {"COD_IND": [1, 2, None, 4], "LIB": ["Zoé", "Noël", "Anaïs", None]})
    report = check_dataset("people", path, key=["COD_IND"], not_null=["LIB"])
    assert not report.success
    nulls = outcome(report, "expect_column_values_to_not_be_null", "COD_IND")
    assert (nulls.success, nulls.unexpected_count) == (False, 1)
    lib = outcome(report, "expect_column_values_to_not_be_null", "LIB")
    assert (lib.success, lib.unexpected_count) == (False, 1)
    unique = outcome(report, "expect_column_values_to_be_unique", "COD_IND")
    assert unique.success


def test_a_duplicate_compound_key_fails(write_parquet: WriteParquet) -> None:
    path = write_parquet(
        "bacs",
        {"COD_IND": [1, 1, 1, 2], "COD_BAC": ["S", "ES", "S", "S"], "DAA": ["2015", "2016", "2015", "2017"]},
    )
    report = check_dataset("bacs", path, key=("COD_IND", "COD_BAC"))
    assert not report.success
    unique = outcome(report, "expect_compound_columns_to_be_unique")
    assert (unique.success, unique.unexpected_count) == (False, 2)
    assert unique.details["kwargs"] == {"column_list": ["COD_IND", "COD_BAC"]}
    # each column alone is allowed to repeat: only the pair is the key
    assert all(o.success for o in report.outcomes if o.expectation != "expect_compound_columns_to_be_unique")


def test_a_duplicate_single_key_fails(write_parquet: WriteParquet) -> None:
    path = write_parquet("mentions", {"COD_MEN": ["P", "AB", "AB"]})
    unique = outcome(check_dataset("mentions", path, key=["COD_MEN"]), "expect_column_values_to_be_unique", "COD_MEN")
    assert (unique.success, unique.unexpected_count) == (False, 2)


def test_a_row_count_mismatch_fails(write_parquet: WriteParquet) -> None:
    path = write_parquet("mentions", {"COD_MEN": ["P", "AB", "B", "TB"]})
    report = check_dataset("mentions", path, key=["COD_MEN"], expected_rows=5)
    assert not report.success
    count = outcome(report, "expect_table_row_count_to_equal")
    assert count.success is False
    assert count.details["observed_value"] == 4 and count.details["kwargs"] == {"value": 5}
    assert check_dataset("mentions", path, key=["COD_MEN"], expected_rows=4).success


def test_wide_integer_keys_with_nulls_are_compared_exactly(write_parquet: WriteParquet) -> None:
    # As float64 (pandas' default for integers with NULLs) 2**53 and 2**53 + 1 are equal.
    path = write_parquet("ids", {"ID": [2**53, 2**53 + 1, None]})
    report = check_dataset("ids", path, key=["ID"])
    assert outcome(report, "expect_column_values_to_be_unique", "ID").success


def test_report_is_json_serialisable_with_awkward_values(write_parquet: WriteParquet) -> None:
    path = write_parquet(
        "results",
        {
            "COD_IND": [1, 1],
            "DAT_OBT_VDI": [date(9999, 12, 31), date(9999, 12, 31)],
            "NOT_VDI": [Decimal("12.345"), Decimal("12.345")],
        },
    )
    report = check_dataset("results", path, key=("COD_IND", "DAT_OBT_VDI", "NOT_VDI"), expected_rows=2)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["dataset"] == "results" and payload["success"] is False and payload["rows"] == 2
    unique = payload["outcomes"][-1]
    assert unique["details"]["partial_unexpected_list"][0] == {
        "COD_IND": 1,
        "DAT_OBT_VDI": "9999-12-31",
        "NOT_VDI": "12.345",
    }


def test_missing_key_column_or_file_is_a_clear_error(write_parquet: WriteParquet, tmp_path: Path) -> None:
    path = write_parquet("mentions", {"COD_MEN": ["P"]})
    with pytest.raises(ValueError, match=r"mentions\.parquet has no column COD_TRE \(columns: COD_MEN\)"):
        check_dataset("mentions", path, key=["COD_TRE"])
    with pytest.raises(FileNotFoundError, match=r"nowhere\.parquet"):
        check_dataset("mentions", tmp_path / "nowhere.parquet", key=["COD_MEN"])
    with pytest.raises(ValueError, match="a key is required"):
        check_dataset("mentions", path, key=[])


def test_validation_is_quiet(write_parquet: WriteParquet, capfd: pytest.CaptureFixture[str]) -> None:
    path = write_parquet("mentions", {"COD_MEN": ["P", "AB"]})
    check_dataset("mentions", path, key=["COD_MEN"])
    captured = capfd.readouterr()
    assert captured.out == "" and "Calculating Metrics" not in captured.err
