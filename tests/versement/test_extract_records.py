"""What an extracted batch records: datasets left out for sensitivity, source aggregates in the ledger."""

from __future__ import annotations

from pathlib import Path

from tests.versement.conftest import NO_SANDBOX, demo_settings
from versement.demo import DEMO_SCOPES, prepare_sources
from versement.ledger import open_ledger
from versement.ledger.consistency import mismatches, replay
from versement.pipeline import run_extract, run_validate

PERIOD = DEMO_SCOPES["period"]


def test_a_wholly_sensitive_dataset_is_left_out_with_a_note_and_aggregates_reach_the_gate(tmp_path, seda_schemas):
    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "harpege", PERIOD, actor="test")

    # Bank details: every column but the keys is sensitive, so no file of keys alone; the batch says why.
    names = {d.name for d in batch.datasets}
    assert "agents_coordonnees_bancaires" not in names and "agents_identite" in names
    note = (batch.spec or {})["left_out_datasets"]["agents_coordonnees_bancaires"]
    assert note.startswith("non versé : toutes ses colonnes hors clés relèvent de données sensibles exclues")
    assert "bank_details" in note
    data = Path(batch.datasets[0].path).parent
    assert not list(data.glob("agents_coordonnees_bancaires*"))

    # The source's aggregates are in each dataset's manifest, in the ledger row and its event.
    careers = next(d for d in batch.datasets if d.name == "carrieres")
    assert careers.manifest is not None and "distinct:NO_DOSSIER_PERS" in careers.manifest["aggregates"]
    assert careers.manifest["aggregates"]["distinct:NO_DOSSIER_PERS"] > 0
    assert not mismatches(batch, replay(ledger.events(batch.id)).get(batch.id))

    validated = run_validate(settings, ledger, batch.id, actor="test")
    quality = next(d for d in validated.datasets if d.name == "carrieres").quality
    assert "reconcile_aggregates_with_source" in str(quality)
    ledger.close()


def test_the_dataset_is_extracted_when_the_deployment_asks_for_bank_details(tmp_path, seda_schemas):
    settings = demo_settings(
        tmp_path, seda_schemas, NO_SANDBOX, VERSEMENT__SOURCES__HARPEGE__INCLUDE_SENSITIVE='["bank_details"]'
    )
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "harpege", PERIOD, actor="test")
    bank = next(d for d in batch.datasets if d.name == "agents_coordonnees_bancaires")
    assert "NO_COMPTE" in [c for c, _ in bank.columns] and bank.rows > 0
    assert "agents_coordonnees_bancaires" not in (batch.spec or {})["left_out_datasets"]
    assert (batch.spec or {})["include_sensitive"] == ["bank_details"]
    ledger.close()


def test_the_extract_command_prints_the_datasets_left_out(tmp_path, seda_schemas, monkeypatch, capsys):
    from tests.versement.conftest import demo_environ
    from versement.cli import main

    for name, value in demo_environ(tmp_path, seda_schemas, NO_SANDBOX).items():
        monkeypatch.setenv(name, value)
    assert main(["extract", "harpege", "--period", "2023-01-01..2023-12-31"]) == 0
    out = capsys.readouterr().out
    assert "  agents_coordonnees_bancaires : non versé : toutes ses colonnes hors clés" in out
    assert "include_sensitive = ['bank_details'] pour le verser" in out


# The example of config/demo.toml's `add_datasets`, shipped beside it.
LOCAL_DATASET = (Path(__file__).resolve().parents[2] / "config" / "apogee-local.toml").read_text(encoding="utf-8")


def test_a_dataset_the_deployment_adds_is_extracted_recorded_and_packaged(tmp_path, seda_schemas):
    import sqlite3
    import zipfile

    from versement.demo import DEMO_YEAR
    from versement.pipeline import run_package

    local = tmp_path / "apogee-local.toml"
    local.write_text(LOCAL_DATASET, encoding="utf-8")
    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX, VERSEMENT__SOURCES__APOGEE__ADD_DATASETS=str(local))
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", DEMO_SCOPES["academic_year"], actor="test")

    added = next(d for d in batch.datasets if d.name == "dispenses_notees")
    with sqlite3.connect(tmp_path / "apogee.sqlite") as source:
        (expected,) = source.execute(
            "SELECT COUNT(*) FROM IND_DISPENSE_ELP WHERE COD_ANU = ? AND NOT_VAA IS NOT NULL", (str(DEMO_YEAR),)
        ).fetchone()
    assert expected > 0 and added.rows == added.source_count == expected
    assert (added.spec or {})["label"] == "Dispenses notées (table locale)"
    recorded = (batch.spec or {})["added_datasets"]
    assert recorded["file"] == str(local) and recorded["datasets"] == ["dispenses_notees"]
    assert len(recorded["sha256"]) == 64 and recorded["sha256"] != (batch.spec or {})["sha256"]
    assert not mismatches(batch, replay(ledger.events(batch.id)).get(batch.id))

    run_validate(settings, ledger, batch.id, actor="test")
    packaged = run_package(settings, ledger, batch.id, actor="test")
    assert packaged.sip_path is not None
    with zipfile.ZipFile(packaged.sip_path) as sip:
        manifest = sip.read("manifest.xml").decode("utf-8")
    assert "<Filename>dispenses_notees.csv</Filename>" in manifest  # its table, in the registers' Series
    assert "Dispenses notées (table locale)" in manifest
    ledger.close()


def test_a_configuration_changed_after_extraction_does_not_change_what_the_sip_says(tmp_path, seda_schemas):
    import zipfile

    from versement.pipeline import run_package

    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", DEMO_SCOPES["academic_year"], actor="test")
    # Later, the deployment renames the source, drops a dataset and asks for a sensitive class.
    changed = demo_settings(
        tmp_path,
        seda_schemas,
        NO_SANDBOX,
        VERSEMENT__SOURCES__APOGEE__TITLE="Titre changé après coup",
        VERSEMENT__SOURCES__APOGEE__DROP_DATASETS='["theses_hdr"]',
        VERSEMENT__SOURCES__APOGEE__INCLUDE_SENSITIVE='["postal_address"]',
    )
    run_validate(changed, ledger, batch.id, actor="test")
    packaged = run_package(changed, ledger, batch.id, actor="test")
    assert packaged.sip_path is not None
    with zipfile.ZipFile(packaged.sip_path) as sip:
        manifest = sip.read("manifest.xml").decode("utf-8")
    assert "Titre changé après coup" not in manifest
    assert f"Versement {(batch.spec or {})['title']}, 2023-2024 (lot {batch.id})" in manifest
    assert "<Filename>theses_hdr.csv</Filename>" in manifest  # what the batch holds, not what is configured now
    assert "LIB_AD1" not in manifest  # the addresses left out at extraction stay out
    ledger.close()
