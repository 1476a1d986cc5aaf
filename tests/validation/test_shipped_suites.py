"""The shipped suite files against the shipped specifications and the synthetic sources.

Every file names a dataset of its tool's specification, columns that dataset's extraction
produces and expectation types the engine runs; each loads into great-expectations. Run on
the synthetic Apogée and Harpège (clean and ``nasty=True``, extracted for real), the clean
batch passes every file's expectation and the nasty values are caught by the suites meant for
them; values planted in a clean batch are caught by the file expectations written for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from extractors import extract, generate, load_tool
from extractors.files import sha256_file
from extractors.scope import Scope
from validation import BatchQuality, DatasetInput, validate_batch
from validation.engine import parquet_columns
from validation.suites import KINDS, SUITES_DIR, read_suite_file
from versement.pipeline import dataset_spec_record

SHIPPED = sorted(SUITES_DIR.glob("*/*.json"))
SCOPES = {
    "apogee": Scope.academic_year(2023),
    "harpege": Scope.period(date(2019, 1, 1), date(2023, 12, 31)),
}
YEARS = {"apogee": (2021, 2022, 2023), "harpege": (2019, 2020, 2021, 2022, 2023)}


@dataclass(frozen=True)
class Extracted:
    tool: str
    inputs: tuple[DatasetInput, ...]

    def validate(self, inputs: tuple[DatasetInput, ...] | None = None) -> BatchQuality:
        return validate_batch(list(inputs or self.inputs), scope=SCOPES[self.tool], tool=self.tool)

    def dataset(self, name: str) -> DatasetInput:
        return next(d for d in self.inputs if d.name == name)


def _extract(folder: Path, tool: str, nasty: bool) -> Extracted:
    source = folder / f"{tool}.sqlite"
    generate(tool, f"sqlite:///{source}", years=YEARS[tool], nasty=nasty)
    specs = load_tool(tool).select()
    snapshot = extract(f"sqlite:///{source}", specs, folder / "out", parameters=SCOPES[tool].parameters())
    records = {s.name: dataset_spec_record(s) for s in specs}
    inputs = tuple(
        DatasetInput(
            d.name,
            d.path,
            d.rows,
            d.source_count,
            d.sha256,
            records[d.name],
            json.loads(d.manifest.read_text("utf-8")) if d.manifest else {},
        )
        for d in snapshot.datasets
    )
    return Extracted(tool, inputs)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Extracted]:
    found = {}
    for tool in SCOPES:
        for nasty in (False, True):
            found[tool, nasty] = _extract(tmp_path_factory.mktemp(f"{tool}-{nasty}"), tool, nasty)
    return found


def file_outcomes(quality: BatchQuality) -> dict[str, list[Any]]:
    """Outcomes of the shipped files' expectations, per dataset."""
    return {r.dataset: [o for o in r.outcomes if o.origin.startswith(str(SUITES_DIR))] for r in quality.reports}


def test_every_shipped_dataset_family_has_its_files() -> None:
    tools = {p.parent.name for p in SHIPPED}
    assert {"apogee", "harpege"} <= tools
    assert len([p for p in SHIPPED if p.parent.name == "apogee"]) >= 10
    assert len([p for p in SHIPPED if p.parent.name == "harpege"]) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_shipped_file_names_its_dataset_columns_and_supported_types(
    path: Path, sources: dict[tuple[str, bool], Extracted]
) -> None:
    from validation.gx_custom import load_into_gx

    tool = path.parent.name
    assert path.stem in load_tool(tool).names(), f"{path}: no dataset {path.stem} in {tool}.toml"
    expectations = read_suite_file(path, path.stem)  # strict: types, arguments, severities
    assert expectations, path
    if path.stem in load_tool(tool).left_out_sensitive():
        # Left out whole by default (every column in a sensitive class): its file runs only
        # when a deployment includes that class; the gate then reports it "not run" otherwise.
        columns: dict[str, str] = {}
    else:
        columns = parquet_columns((sources[tool, False].dataset(path.stem).path,))
    wholly_sensitive = not columns
    for e in expectations:
        assert e.type in KINDS
        assert e.severity in ("critical", "warning"), (path, e.type)
        assert (e.meta or {}).get("why"), f"{path}: {e.type} on {e.columns} says why"
        for column in () if wholly_sensitive else e.columns:
            assert column in columns, f"{path}: {e.type} names {column}, not extracted (columns: {list(columns)})"
        reference = e.kwargs.get("reference_dataset")
        if reference:
            ref_columns = parquet_columns((sources[tool, False].dataset(reference).path,))
            for column in e.kwargs.get("reference_column_list") or e.kwargs["column_list"]:
                assert column in ref_columns, (path, reference, column)
    suite = load_into_gx(path)  # great-expectations reads it with its own argument models
    assert [x.expectation_type for x in suite.expectations] == [e.type for e in expectations]


@pytest.mark.parametrize("tool", list(SCOPES))
def test_the_clean_synthetic_source_passes_every_shipped_file(
    tool: str, sources: dict[tuple[str, bool], Extracted]
) -> None:
    quality = sources[tool, False].validate()
    assert quality.success, {r.dataset: [o.to_dict() for o in r.failed] for r in quality.reports if not r.success}
    ran = file_outcomes(quality)
    assert sum(len(v) for v in ran.values()) >= 40  # the files' expectations did run
    unexpected = {name: [(o.expectation, o.column) for o in found if not o.success] for name, found in ran.items()}
    assert not any(unexpected.values()), unexpected
    for report in quality.reports:
        assert not report.disabled, (report.dataset, report.disabled)


def test_the_nasty_synthetic_apogee_is_caught(sources: dict[tuple[str, bool], Extracted]) -> None:
    quality = sources["apogee", True].validate()
    failed = {r.dataset for r in quality.reports if not r.success}
    # duplicated IND_BAC row, duplicated result group, NULL COD_ELP in an exemption
    assert failed == {"inscriptions_administratives", "resultats_etapes", "dispenses"}
    warned = {(r.dataset, o.expectation, o.column) for r in quality.reports for o in r.warnings}
    assert ("etudiants_identite", "expect_column_values_to_not_be_double_encoded", "LIB_PR1_IND") in warned
    assert ("etudiants_identite", "expect_column_values_to_be_xml_characters", "LIB_NOM_PAT_IND") in warned
    comment = next(
        o
        for o in quality.report("ref_diplomes").warnings
        if o.expectation == "expect_column_value_lengths_to_be_between"
    )
    assert comment.origin.endswith("apogee/ref_diplomes.json") and comment.unexpected_count == 1  # the 2 MB comment


def test_the_nasty_synthetic_harpege_is_caught(sources: dict[tuple[str, bool], Extracted]) -> None:
    quality = sources["harpege", True].validate()
    failed = {r.dataset: {(o.expectation, o.column) for o in r.failed} for r in quality.reports if not r.success}
    # agents_adresses (with its planted duplicate) is left out by default: addresses only.
    assert "agents_adresses" not in {r.dataset for r in quality.reports}
    assert failed == {
        "affectations_recherche": {("expect_column_values_to_not_be_null", "NO_SEQ_AFFE_RECH")},
    }
    warned = {(o.expectation, o.column) for o in quality.report("agents_identite").warnings}
    assert ("expect_column_values_to_not_be_double_encoded", "NOM_PATRONYMIQUE") in warned


def _planted(folder: Path, dataset: DatasetInput, change: Callable[[pa.Table], pa.Table]) -> DatasetInput:
    """The dataset with one change made to its clean file, recorded as if extracted so."""
    path = folder / f"{dataset.name}.parquet"
    table = change(pq.read_table(dataset.path))
    pq.write_table(table, path)
    manifest = {k: v for k, v in dataset.manifest.items() if k != "aggregates"}  # the source's, not this file's
    return DatasetInput(dataset.name, path, table.num_rows, table.num_rows, sha256_file(path), dataset.spec, manifest)


def _set(column: str, row: int, value: Any) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        values = table.column(column).to_pylist()
        values[row] = value
        index = table.schema.get_field_index(column)
        return table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))

    return change


REFERENCE = "expect_column_values_to_be_in_reference"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
PLANTED: Mapping[str, list[tuple[str, str, Any, str, str | None, str]]] = {
    # tool: (dataset, column, value, expectation, column reported, severity)
    "apogee": [
        ("inscriptions_administratives", "COD_PAY_NAT", "998", REFERENCE, "COD_PAY_NAT", "critical"),
        ("inscriptions_administratives", "COD_ETU", None, "expect_column_values_to_not_be_null", "COD_ETU", "critical"),
        (
            "inscriptions_administratives",
            "TEM_IAE_PRM",
            "Y",
            "expect_column_values_to_be_in_set",
            "TEM_IAE_PRM",
            "critical",
        ),
        ("resultats_elements", "COD_ADM", "9", "expect_column_values_to_be_in_set", "COD_ADM", "critical"),
        ("resultats_elements", "NOT_SUB_ELP", "XYZ", REFERENCE, "NOT_SUB_ELP", "warning"),
        ("ref_etablissements", "COD_ETB", "075065E", "expect_column_values_to_match_regex", "COD_ETB", "critical"),
        ("ref_types_resultat", "COD_NEG_TRE", 7, "expect_column_values_to_be_in_set", "COD_NEG_TRE", "critical"),
        ("theses_hdr", "DAT_FIN_CFD_THS", date(2001, 1, 1), PAIR, None, "warning"),
    ],
    "harpege": [
        ("agents_identite", "C_PAYS_NATIONNALITE", "998", REFERENCE, "C_PAYS_NATIONNALITE", "critical"),
        ("agents_identite", "D_DECES", date(1900, 1, 2), PAIR, None, "critical"),
        (
            "elements_carriere",
            "QUOTITE_ELEMENT",
            None,
            "expect_column_values_to_be_between",
            "QUOTITE_ELEMENT",
            "critical",
        ),
        ("elements_carriere", "C_CORPS", "MCF", REFERENCE, None, "critical"),
        ("carrieres", "D_FIN_CARRIERE", date(1990, 1, 1), PAIR, None, "critical"),
        ("affectations", "NUM_QUOT_AFFECTATION", 150, PAIR, None, "critical"),
        ("ref_structures", "C_STRUCTURE_PERE", "NOPE", REFERENCE, "C_STRUCTURE_PERE", "critical"),
    ],
}


@pytest.mark.parametrize(
    ("tool", "plant"), [(tool, plant) for tool, plants in PLANTED.items() for plant in plants], ids=lambda v: str(v)
)
def test_values_planted_in_a_clean_batch_are_caught_by_the_file_meant_for_them(
    tool: str,
    plant: tuple[str, str, Any, str, str | None, str],
    sources: dict[tuple[str, bool], Extracted],
    tmp_path: Path,
) -> None:
    name, column, value, expectation, reported, severity = plant
    clean = sources[tool, False]
    if column == "QUOTITE_ELEMENT":  # 120 % of full time (a DECIMAL(5,2) column)
        from decimal import Decimal

        value = Decimal("120.00")
    if column == "C_CORPS":  # a grade of another corps: row 0's grade is not an MCF grade
        first_grade = pq.read_table(clean.dataset(name).path).column("C_GRADE")[0].as_py()
        assert not first_grade.startswith("MCF")
    if column == "NUM_QUOT_AFFECTATION":
        assert pc.max(pq.read_table(clean.dataset(name).path).column("DEN_QUOT_AFFECTATION")).as_py() == 100
    if column == "D_DECES":  # a death date before the birth date of row 0
        assert pq.read_table(clean.dataset(name).path).column("D_NAISSANCE")[0].as_py() > value
    changed = _planted(tmp_path, clean.dataset(name), _set(column, 0, value))
    inputs = tuple(changed if d.name == name else d for d in clean.inputs)
    report = clean.validate(inputs).report(name)
    caught = [
        o
        for o in report.outcomes
        if not o.success and o.expectation == expectation and column in json.dumps(o.details.get("kwargs"))
    ]
    assert caught, [(o.expectation, o.column, o.origin) for o in report.outcomes if not o.success]
    (outcome,) = caught
    assert outcome.origin.endswith(f"{tool}/{name}.json") and outcome.severity == severity
    assert outcome.column == reported and outcome.unexpected_count == 1
    assert report.success is (severity != "critical")
