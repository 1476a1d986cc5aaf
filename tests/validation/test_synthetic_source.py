"""The synthetic Apogée's nasty values, extracted for real with the shipped specification, are
caught by the suites meant for them."""

from __future__ import annotations

from pathlib import Path

from extractors import extract, generate, load_tool
from extractors.scope import Scope
from validation import DatasetInput, validate_batch
from versement.pipeline import dataset_spec_record

SCOPE = Scope.academic_year(2023)


def test_nasty_synthetic_values_are_caught(tmp_path: Path) -> None:
    source = tmp_path / "apogee.sqlite"
    generate("apogee", f"sqlite:///{source}", years=(2021, 2022, 2023), nasty=True)
    specs = load_tool("apogee").select(only=["etudiants_identite", "inscriptions_administratives"])
    snapshot = extract(f"sqlite:///{source}", specs, tmp_path / "out", parameters=SCOPE.parameters())
    records = {s.name: dataset_spec_record(s) for s in specs}
    inputs = [
        DatasetInput(d.name, d.path, d.rows, d.source_count, d.sha256, records[d.name]) for d in snapshot.datasets
    ]
    quality = validate_batch(inputs, scope=SCOPE, tool=None)

    people = quality.report("etudiants_identite")
    warned = {(o.expectation, o.column): o for o in people.warnings}
    mojibake = warned["expect_column_values_to_not_be_double_encoded", "LIB_PR1_IND"]
    assert "HÃ©loÃ¯se" in [e["values"]["LIB_PR1_IND"] for e in mojibake.examples]
    control = warned["expect_column_values_to_be_xml_characters", "LIB_NOM_PAT_IND"]
    assert "MARTIN\x0bDUPONT" in [e["values"]["LIB_NOM_PAT_IND"] for e in control.examples]
    assert all(o.personal for o in warned.values())  # examples of personal data are marked

    registrations = quality.report("inscriptions_administratives")
    failed = {(o.expectation, o.column) for o in registrations.failed}
    assert ("expect_compound_columns_to_be_unique", None) in failed  # IND_BAC duplicates a registration
    assert not registrations.success
