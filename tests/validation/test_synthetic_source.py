"""The synthetic Apogée's nasty values, extracted for real, are caught by the suites meant for them."""

from __future__ import annotations

from pathlib import Path

from extractors import DatasetSpec, extract, generate_apogee
from extractors.scope import Scope
from tests.validation.helpers import spec
from validation import DatasetInput, validate_batch

PEOPLE = spec(
    ["COD_IND"],
    person_key="COD_IND",
    person_kind="student",
    tags={
        "LIB_NOM_PAT_IND": ["name"],
        "LIB_PR1_IND": ["first_name"],
        "DATE_NAI_IND": ["birth_date"],
        "COD_NNE_IND": ["ine"],
        "COD_CLE_NNE_IND": ["ine"],
    },
)
BACS = spec(["COD_IND", "COD_BAC"], person_key="COD_IND", person_kind="student")


def test_nasty_synthetic_values_are_caught(tmp_path: Path) -> None:
    source = generate_apogee(tmp_path / "apogee.sqlite", students=30, nasty=True)
    specs = [DatasetSpec("individus", "INDIVIDU", ("COD_IND",)), DatasetSpec("bacs", "IND_BAC", ("COD_IND", "COD_BAC"))]
    snapshot = extract(f"sqlite:///{source.path}", specs, tmp_path / "out")
    inputs = [
        DatasetInput(d.name, d.path, d.rows, d.source_count, d.sha256, PEOPLE if d.name == "individus" else BACS)
        for d in snapshot.datasets
    ]
    quality = validate_batch(inputs, scope=Scope.academic_year(2023), tool=None)
    people, bacs = quality.report("individus"), quality.report("bacs")
    warned = {(o.expectation, o.column): o for o in people.warnings}
    mojibake = warned["expect_column_values_to_not_be_double_encoded", "LIB_NOM_PAT_IND"]
    assert "FRANÃ‡OIS" in [e["values"]["LIB_NOM_PAT_IND"] for e in mojibake.examples]
    assert "HÃ©loÃ¯se" in [
        e["values"]["LIB_PR1_IND"]
        for e in warned["expect_column_values_to_not_be_double_encoded", "LIB_PR1_IND"].examples
    ]
    assert "MARTIN\x0bDUPONT" in [
        e["values"]["LIB_NOM_PAT_IND"]
        for e in warned["expect_column_values_to_be_xml_characters", "LIB_NOM_PAT_IND"].examples
    ]
    assert all(o.personal for o in warned.values())
    failed = {(o.expectation, o.column) for o in bacs.failed}
    assert ("expect_column_values_to_not_be_null", "COD_IND") in failed
    assert ("expect_compound_columns_to_be_unique", None) in failed
    # every bac row of a known person refers to an extracted person
    assert ("expect_column_values_to_be_in_reference", "COD_IND") not in failed
    assert not bacs.success
