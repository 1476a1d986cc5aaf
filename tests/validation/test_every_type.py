"""Every expectation type the engine supports fails on a crafted bad dataset and passes on a clean one.

One case per type of ``validation.suites.KINDS``, written as a suite file (as a reviewer would
write it), run by ``validate_batch`` in DuckDB over Parquet. A test pins that no type is left
without its case. Then the edges of the configuration: a missing column is an error, except for
``expect_column_to_exist`` (whose failure it is); a column the deployment left out and a dataset
it did not extract are reported as not run, with the reason, never as passed.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from extractors.scope import Scope
from tests.validation.helpers import dataset, spec
from validation import SuiteError, validate_batch
from validation.identifiers import nir_key
from validation.suites import KINDS

YEAR = Scope.academic_year(2023)


def nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


# type: (kwargs, clean column values, bad column values); the dataset's key is ID = 1, 2...
CASES: dict[str, tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[Any]]]] = {
    "expect_table_row_count_to_equal": ({"value": 3}, {"A": [1, 2, 3]}, {"A": [1, 2]}),
    "expect_column_to_exist": ({"column": "A"}, {"A": [1, 2, 3]}, {"B": [1, 2, 3]}),
    "expect_column_values_to_not_be_null": ({"column": "A"}, {"A": ["x", "", "z"]}, {"A": ["x", None, "z"]}),
    "expect_column_values_to_be_unique": ({"column": "A"}, {"A": [1, 2, None]}, {"A": [1, 2, 1]}),
    "expect_compound_columns_to_be_unique": (
        {"column_list": ["A", "B"]},
        {"A": [1, 1, 2], "B": ["x", "y", "x"]},
        {"A": [1, 1, 2], "B": ["x", "x", "x"]},
    ),
    "expect_column_values_to_be_between": (
        {"column": "A", "min_value": 0, "max_value": 20, "strict_min": True},
        {"A": [0.5, 20.0, None]},
        {"A": [0.0, 20.0, 3.0]},
    ),
    "expect_column_values_to_be_in_set": (
        {"column": "A", "value_set": ["O", "N"]},
        {"A": ["O", "N", None]},
        {"A": ["O", "N", "o"]},
    ),
    "expect_column_values_to_not_be_in_set": (
        {"column": "A", "value_set": ["XX"]},
        {"A": ["O", "N", None]},
        {"A": ["O", "XX", None]},
    ),
    "expect_column_values_to_match_regex": (
        {"column": "A", "regex": "^[0-9]{4}$"},
        {"A": ["2023", "1999", None]},
        {"A": ["2023", "99", None]},
    ),
    "expect_column_values_to_not_match_regex": (
        {"column": "A", "regex": "<script"},
        {"A": ["a", "&lt;script", None]},
        {"A": ["a", "x<script>", None]},
    ),
    "expect_column_value_lengths_to_be_between": (
        {"column": "A", "min_value": 1, "max_value": 3},
        {"A": ["a", "abc", None]},
        {"A": ["a", "abcd", None]},
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        {"column_A": "A", "column_B": "B", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        {"A": [date(2020, 1, 2), date(2020, 1, 1), None], "B": [date(2020, 1, 1), date(2020, 1, 1), date(2021, 1, 1)]},
        {"A": [date(2020, 1, 2), date(2019, 12, 31), None], "B": [date(2020, 1, 1), date(2020, 1, 1), None]},
    ),
    "expect_column_values_to_be_valid_nir": (
        {"column": "A"},
        {"A": [nir("1840575123456"), nir("28405" + "2A" + "123456"), None]},
        {"A": [nir("1840575123456"), "28405" + "2A" + "123456" + "00", None]},
    ),
    "expect_column_values_to_be_valid_ine": (
        {"column": "A", "key_column": "B"},
        {"A": ["1234567890", "123456789A", None], "B": ["F", "B", None]},
        {"A": ["1234567890", "12345678", None], "B": ["F", "B", None]},
    ),
    "expect_column_values_to_be_within_scale": (
        {"column": "A", "scale_column": "B"},
        {"A": [Decimal("20.000"), Decimal("0.000"), None], "B": [20, 20, 20]},
        {"A": [Decimal("20.000"), Decimal("10.500"), None], "B": [20, 10, 20]},
    ),
    "expect_column_values_to_not_be_double_encoded": (
        {"column": "A"},
        {"A": ["Héloïse", "CŒUR", None]},
        {"A": ["Héloïse", "HÃ©loÃ¯se", None]},
    ),
    "expect_column_values_to_be_xml_characters": (
        {"column": "A"},
        {"A": ["a\tb\nc", "é", None]},
        {"A": ["a\tb\nc", "Zoé\x01", None]},
    ),
    "expect_column_values_to_be_in_reference": (
        {"column_list": ["A"], "reference_dataset": "ref", "reference_column_list": ["CODE"]},
        {"A": ["X", "Y", None]},
        {"A": ["X", "Q", None]},
    ),
}


def test_every_supported_type_has_its_case() -> None:
    assert set(CASES) == set(KINDS)


def run_case(folder: Path, type_: str, columns: dict[str, list[Any]]) -> Any:
    kwargs = CASES[type_][0]
    suites = folder / "suites" / "apogee"
    suites.mkdir(parents=True, exist_ok=True)
    suite = {"name": "apogee.jeu", "expectations": [{"type": type_, "kwargs": kwargs, "severity": "critical"}]}
    (suites / "jeu.json").write_text(json.dumps(suite), "utf-8")
    rows = len(next(iter(columns.values())))
    data = {"ID": list(range(1, rows + 1)), **columns}
    if type_ == "expect_column_values_to_be_between" and isinstance(columns["A"][0], float):
        data["A"] = pa.array(columns["A"], pa.float64())
    inputs = [dataset(folder / "data", "jeu", data, spec(["ID"], scoped=False))]
    inputs.append(dataset(folder / "data", "ref", {"CODE": ["X", "Y"]}, spec(["CODE"], scoped=False)))
    quality = validate_batch(inputs, scope=YEAR, tool="apogee", suites_folder=folder / "suites")
    report = quality.report("jeu")
    (found,) = [o for o in report.outcomes if o.expectation == type_ and o.origin.endswith("jeu.json")]
    return report, found


@pytest.mark.parametrize("type_", sorted(CASES))
def test_the_type_passes_on_a_clean_dataset(tmp_path: Path, type_: str) -> None:
    report, found = run_case(tmp_path, type_, CASES[type_][1])
    assert found.success, found.to_dict()
    assert report.success


@pytest.mark.parametrize("type_", sorted(CASES))
def test_the_type_fails_on_a_crafted_bad_dataset(tmp_path: Path, type_: str) -> None:
    report, found = run_case(tmp_path, type_, CASES[type_][2])
    assert not found.success, found.to_dict()
    assert found.blocking_failure and not report.success
    if found.unexpected_count is not None:
        assert found.unexpected_count >= 1
        assert found.examples, "a failing map or uniqueness check names its rows"


def write_file(folder: Path, name: str, expectations: list[dict[str, Any]]) -> Path:
    path = folder / "apogee" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": f"apogee.{name}", "expectations": expectations}), "utf-8")
    return path


def test_a_file_naming_a_column_the_dataset_lacks_is_a_configuration_error(tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "suites",
        "jeu",
        [{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "COD_PAYS", "value_set": ["100"]}}],
    )
    data = dataset(tmp_path / "data", "jeu", {"ID": [1], "COD_PAY": ["100"]}, spec(["ID"]))
    with pytest.raises(SuiteError) as raised:
        validate_batch([data], scope=YEAR, tool="apogee", suites_folder=tmp_path / "suites")
    message = str(raised.value)
    assert str(path) in message and "dataset jeu" in message and "column COD_PAYS" in message
    assert "COD_PAY" in message.split("columns:")[1]  # the columns it does have


def test_a_column_the_deployment_left_out_is_reported_as_not_run(tmp_path: Path) -> None:
    write_file(
        tmp_path / "suites",
        "jeu",
        [
            {"type": "expect_column_values_to_be_valid_nir", "kwargs": {"column": "NO_INSEE"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "NOM"}},
        ],
    )
    left_out = {**spec(["ID"]), "exclude_columns": ["NO_INSEE"]}
    data = dataset(tmp_path / "data", "jeu", {"ID": [1], "NOM": [None]}, left_out)
    report = validate_batch([data], scope=YEAR, tool="apogee", suites_folder=tmp_path / "suites").report("jeu")
    assert [d["reason"] for d in report.disabled] == ["colonne NO_INSEE laissée de côté à l'extraction"]
    assert not [o for o in report.outcomes if o.expectation == "expect_column_values_to_be_valid_nir"]
    assert not report.success  # the other expectation of the file still ran, and failed


def test_a_reference_to_a_dataset_the_deployment_did_not_extract_is_reported_as_not_run(tmp_path: Path) -> None:
    # ref_pays is a dataset of apogee.toml, absent from this batch; "ref_nowhere" is of no specification
    write_file(
        tmp_path / "suites",
        "jeu",
        [
            {
                "type": "expect_column_values_to_be_in_reference",
                "kwargs": {
                    "column_list": ["PAYS"],
                    "reference_dataset": "ref_pays",
                    "reference_column_list": ["COD_PAY"],
                },
            }
        ],
    )
    data = dataset(tmp_path / "data", "jeu", {"ID": [1], "PAYS": ["100"]}, spec(["ID"]))
    report = validate_batch([data], scope=YEAR, tool="apogee", suites_folder=tmp_path / "suites").report("jeu")
    assert [d["reason"] for d in report.disabled] == ["jeu de données ref_pays non extrait dans ce lot"]
    assert not [o for o in report.outcomes if o.expectation == "expect_column_values_to_be_in_reference"]
    write_file(
        tmp_path / "suites",
        "jeu",
        [
            {
                "type": "expect_column_values_to_be_in_reference",
                "kwargs": {"column_list": ["PAYS"], "reference_dataset": "ref_nowhere"},
            }
        ],
    )
    with pytest.raises(SuiteError, match="cannot run"):
        validate_batch([data], scope=YEAR, tool="apogee", suites_folder=tmp_path / "suites")
