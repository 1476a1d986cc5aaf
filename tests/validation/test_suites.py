"""Suite files beside the specifications: added, overriding and disabling expectations; errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from extractors.scope import Scope
from tests.validation.helpers import dataset, spec
from validation import SuiteError, validate_batch
from validation.suites import SUITES_DIR, read_suite_file

YEAR = Scope.academic_year(2023)


def write_suite(folder: Path, dataset_name: str, expectations: list[dict[str, Any]], **extra: Any) -> Path:
    path = folder / "apogee" / f"{dataset_name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": f"apogee.{dataset_name}", "expectations": expectations, **extra}), "utf-8")
    return path


def mentions(tmp_path: Path, codes: list[Any]) -> Any:
    return dataset(tmp_path / "data", "mentions", {"COD_MEN": codes, "LIB": ["x"] * len(codes)}, spec(["COD_MEN"]))


def check(tmp_path: Path, data: Any) -> Any:
    quality = validate_batch([data], scope=YEAR, tool="apogee", suites_folder=tmp_path / "suites")
    return quality.reports[0]


def test_a_suite_file_adds_expectations_with_their_severity(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path / "suites",
        "mentions",
        [
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "COD_MEN", "value_set": ["P", "AB"]}},
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "LIB", "regex": "^y"},
                "severity": "warning",
            },
            {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "COD_MEN", "max_value": 2}},
            {"type": "expect_table_row_count_to_equal", "kwargs": {"value": 3}},
        ],
    )
    report = check(tmp_path, mentions(tmp_path, ["P", "AB", "TBX"]))
    by_type = {o.expectation: o for o in report.outcomes}
    assert by_type["expect_column_values_to_be_in_set"].unexpected_count == 1
    assert by_type["expect_column_values_to_be_in_set"].origin == str(path)
    assert by_type["expect_column_value_lengths_to_be_between"].unexpected_count == 1
    assert (
        by_type["expect_column_values_to_match_regex"].severity,
        by_type["expect_column_values_to_match_regex"].success,
    ) == ("warning", False)
    assert by_type["expect_table_row_count_to_equal"].success
    assert not report.success and len(report.failed) == 2 and len(report.warnings) == 1
    assert report.suite_files[0][0] == str(path)
    assert (
        check(tmp_path, mentions(tmp_path, ["P", "AB", "AB "[:2]])).failed[0].expectation
        == "expect_column_values_to_be_unique"
    )


def test_a_suite_file_overrides_and_disables_default_expectations(tmp_path: Path) -> None:
    write_suite(
        tmp_path / "suites",
        "mentions",
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "COD_MEN"}, "severity": "warning"},
            {
                "type": "expect_column_values_to_be_xml_characters",
                "kwargs": {"column": "LIB"},
                "meta": {"disabled": "libellés hérités, revus en 2024"},
            },
        ],
    )
    report = check(tmp_path, mentions(tmp_path, ["P", "P"]))
    unique = [o for o in report.outcomes if o.expectation == "expect_column_values_to_be_unique"]
    assert len(unique) == 1 and unique[0].severity == "warning" and not unique[0].success
    assert report.success  # the only failure was downgraded to a warning
    assert not [
        o for o in report.outcomes if o.expectation == "expect_column_values_to_be_xml_characters" and o.column == "LIB"
    ]
    assert report.disabled[0]["reason"] == "libellés hérités, revus en 2024"


@pytest.mark.parametrize(
    ("expectations", "message"),
    [
        (
            [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "COD_MENTION"}}],
            r"column COD_MENTION: .*does not have",
        ),
        ([{"type": "expect_column_values_to_be_purple", "kwargs": {"column": "COD_MEN"}}], "no such expectation type"),
        ([{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "COD_MEN"}}], "'value_set' is required"),
        (
            [{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "COD_MEN", "value_sett": []}}],
            "did you mean 'value_set'",
        ),
        (
            [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "COD_MEN"}, "severity": "fatal"}],
            "severity",
        ),
        (
            [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "LIB"}, "meta": {"disabled": "x"}}],
            "does not hold",
        ),
        (
            [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "COD_MEN", "min_value": 3}}],
            r"expect_column_values_to_be_between cannot run",
        ),
        (
            [
                {
                    "type": "expect_column_values_to_be_in_reference",
                    "kwargs": {"column_list": ["COD_MEN"], "reference_dataset": "nowhere"},
                }
            ],
            "cannot run",
        ),
    ],
)
def test_a_suite_that_cannot_run_is_a_configuration_error(
    tmp_path: Path, expectations: list[dict[str, Any]], message: str
) -> None:
    path = write_suite(tmp_path / "suites", "mentions", expectations)
    with pytest.raises(SuiteError, match=message) as raised:
        check(tmp_path, mentions(tmp_path, ["P", "AB"]))
    assert str(path) in str(raised.value) and "dataset mentions" in str(raised.value)


def test_an_unreadable_suite_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "suites" / "apogee" / "mentions.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", "utf-8")
    with pytest.raises(SuiteError, match="not a readable JSON suite"):
        check(tmp_path, mentions(tmp_path, ["P"]))


def test_the_shipped_suite_files_read_and_load_into_great_expectations() -> None:
    from validation.gx_custom import load_into_gx

    files = sorted(SUITES_DIR.glob("*/*.json"))
    assert files, "the product ships at least one suite file"
    for path in files:
        expectations = read_suite_file(path, path.stem)
        suite = load_into_gx(path)
        assert [e.expectation_type for e in suite.expectations] == [e.type for e in expectations]


def test_versement_expectation_types_load_into_great_expectations_with_severity(tmp_path: Path) -> None:
    from validation.gx_custom import load_into_gx

    path = write_suite(
        tmp_path,
        "x",
        [
            {
                "type": "expect_column_values_to_be_valid_nir",
                "kwargs": {"column": "NO_INSEE", "key_column": "CLE_INSEE"},
            },
            {"type": "expect_column_values_to_be_valid_ine", "kwargs": {"column": "COD_INE"}, "severity": "warning"},
            {
                "type": "expect_column_values_to_be_within_scale",
                "kwargs": {"column": "NOT_ELP", "scale_column": "BAR_NOT_ELP"},
            },
            {"type": "expect_column_values_to_not_be_double_encoded", "kwargs": {"column": "LIB"}},
            {"type": "expect_column_values_to_be_xml_characters", "kwargs": {"column": "LIB"}},
            {
                "type": "expect_column_values_to_be_in_reference",
                "kwargs": {"column_list": ["COD_ELP"], "reference_dataset": "ref_elements"},
            },
        ],
    )
    suite = load_into_gx(path)
    assert [str(e.severity.value) for e in suite.expectations] == [
        "critical",
        "warning",
        "critical",
        "critical",
        "critical",
        "critical",
    ]
    assert suite.expectations[0].key_column == "CLE_INSEE"
    assert [e.type for e in read_suite_file(path, "x")] == [e.expectation_type for e in suite.expectations]


def test_an_aggregate_mismatch_with_the_source_is_a_blocking_failure(tmp_path: Path) -> None:
    grades = pa.array([Decimal("12.500"), Decimal("7.250"), None], pa.decimal128(8, 3))
    table = pa.table({"COD_IND": [1, 2, 2], "COD_ELP": ["A", "A", "B"], "NOT_ELP": grades})
    good = {"sum:NOT_ELP": "19.75", "distinct:COD_IND": 2, "distinct:COD_IND,COD_ELP": 3}
    data = dataset(tmp_path, "res", table, spec(["COD_IND", "COD_ELP"]), aggregates=good)
    report = validate_batch([data], scope=YEAR, tool=None).reports[0]
    agg = next(o for o in report.outcomes if o.expectation == "reconcile_aggregates_with_source")
    assert agg.success, agg.details
    bad = {"sum:NOT_ELP": "19.751", "distinct:COD_IND": 2}
    data = dataset(tmp_path, "res", table, spec(["COD_IND", "COD_ELP"]), aggregates=bad)
    report = validate_batch([data], scope=YEAR, tool=None).reports[0]
    agg = next(o for o in report.outcomes if o.expectation == "reconcile_aggregates_with_source")
    assert (agg.success, agg.details["mismatches"]) == (False, ["sum:NOT_ELP"])
    assert agg.details["aggregates"]["sum:NOT_ELP"] == {"source": "19.751", "parquet": "19.750", "match": False}
    assert not report.success


def test_a_38_digit_sum_is_exact(tmp_path: Path) -> None:
    big = 9 * 10**37
    table = pa.table({"ID": [1, 2, 3], "MONTANT": pa.array([Decimal(big)] * 3, pa.decimal128(38, 0))})
    data = dataset(tmp_path, "m", table, spec(["ID"]), aggregates={"sum:MONTANT": str(3 * big), "sum:ID": "6"})
    agg = next(
        o for o in validate_batch([data], scope=YEAR, tool=None).reports[0].outcomes if "aggregates" in o.expectation
    )
    assert agg.success, agg.details
    data = dataset(tmp_path, "m", table, spec(["ID"]), aggregates={"sum:MONTANT": str(3 * big + 1)})
    agg = next(
        o for o in validate_batch([data], scope=YEAR, tool=None).reports[0].outcomes if "aggregates" in o.expectation
    )
    assert not agg.success


def test_rows_differing_from_the_source_count_or_a_changed_file_fail(tmp_path: Path) -> None:
    data = dataset(tmp_path, "m", {"ID": [1, 2]}, spec(["ID"]), source_count=3)
    handoff = validate_batch([data], scope=YEAR, tool=None).reports[0].outcomes[0]
    assert handoff.expectation == "reconcile_with_source" and not handoff.success
    assert handoff.details["counts_match"] is False
    data = dataset(tmp_path, "m", {"ID": [1, 2]}, spec(["ID"]))
    data.path.write_bytes(data.path.read_bytes() + b"\0")
    report = validate_batch([data], scope=YEAR, tool=None).reports[0]
    assert not report.success and report.outcomes[0].details["digest_match"] is False
    data.path.unlink()
    report = validate_batch([data], scope=YEAR, tool=None).reports[0]
    assert not report.success and report.outcomes[0].details["sha256_actual"] is None


def test_an_aggregate_on_an_unknown_column_is_a_configuration_error(tmp_path: Path) -> None:
    data = dataset(tmp_path, "m", {"ID": [1]}, spec(["ID"]), aggregates={"sum:MONTANT": "1"})
    with pytest.raises(SuiteError, match="column MONTANT"):
        validate_batch([data], scope=YEAR, tool=None)
