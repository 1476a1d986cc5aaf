"""A suite file means the same in versement's DuckDB engine as in great-expectations itself.

The built-in expectation types are run by great-expectations (pandas, on a small frame) and by
validation.engine (DuckDB, on the same rows as Parquet): success and unexpected counts agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extractors.scope import Scope
from tests.validation.helpers import dataset, spec
from validation import validate_batch
from validation.suites import Suite

ROWS: dict[str, list[Any]] = {
    "ID": [1, 2, 3, 4, 5, 6],
    "CODE": ["P", "AB", "AB", None, "TB", "X"],
    "NOTE": [12.5, 21.0, None, 0.0, 19.99, -1.0],
    "BAREME": [20.0, 20.0, 20.0, 20.0, 10.0, 20.0],
    "A": [1, 2, 3, None, 5, 6],
    "B": [1, 1, 4, 1, None, 1],
}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("expect_column_values_to_not_be_null", {"column": "CODE"}),
    ("expect_column_values_to_be_unique", {"column": "CODE"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["CODE", "B"]}),
    ("expect_column_values_to_be_between", {"column": "NOTE", "min_value": 0, "max_value": 20}),
    ("expect_column_values_to_be_between", {"column": "NOTE", "min_value": 0, "strict_min": True}),
    ("expect_column_values_to_be_in_set", {"column": "CODE", "value_set": ["P", "AB", "TB"]}),
    ("expect_column_values_to_not_be_in_set", {"column": "CODE", "value_set": ["X"]}),
    ("expect_column_values_to_match_regex", {"column": "CODE", "regex": "^[A-Z]{2}$"}),
    ("expect_column_values_to_not_match_regex", {"column": "CODE", "regex": "B"}),
    ("expect_column_value_lengths_to_be_between", {"column": "CODE", "min_value": 2}),
    ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "A", "column_B": "B"}),
    ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "A", "column_B": "B", "or_equal": True}),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "A", "column_B": "B", "ignore_row_if": "either_value_is_missing"},
    ),
    ("expect_column_values_to_be_in_set", {"column": "CODE", "value_set": ["P", "AB", "TB"], "mostly": 0.7}),
    ("expect_column_values_to_be_in_set", {"column": "CODE", "value_set": ["P", "AB", "TB"], "mostly": 0.8}),
]


def gx_result(type_: str, kwargs: dict[str, Any]) -> tuple[bool, int | None]:
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(name="s")
        .add_dataframe_asset(name="a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": pd.DataFrame(ROWS)})
    )
    expectation = get_expectation_impl(type_)(**kwargs)
    result = batch.validate(expectation, result_format="SUMMARY")
    return bool(result.success), result.result.get("unexpected_count")


@pytest.mark.parametrize(("type_", "kwargs"), CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_duckdb_and_great_expectations_agree(
    tmp_path: Path, type_: str, kwargs: dict[str, Any], monkeypatch: Any
) -> None:
    import validation.gate as gate
    from validation.suites import Expectation

    data = dataset(tmp_path, "t", ROWS, spec(["ID"]))
    only = Expectation(type_, kwargs)
    monkeypatch.setattr(gate, "build_suite", lambda context, **_: Suite(context.name, (only,)))
    report = validate_batch([data], scope=Scope.everything(), tool=None).reports[0]
    ours = report.outcomes[-1]
    assert ours.expectation == type_
    assert (ours.success, ours.unexpected_count) == gx_result(type_, kwargs)
