"""The command line: exit codes, JSON output, error messages naming the problem."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from versement.cli import main
from versement.config import config_path, load
from versement.ledger import Ledger, State

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """The demo configuration, with its ledger and staging folder moved to tmp_path."""
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("VERSEMENT__PATHS__STAGING", str(tmp_path / "staging"))
    monkeypatch.setenv("VERSEMENT_CONFIG", str(DEMO))
    return tmp_path


def test_status_json_on_an_empty_ledger(isolated, capsys):
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"batches": []}


def test_status_json_lists_state_sip_and_operation(isolated, capsys):
    ledger = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}")
    ledger.migrate()
    batch = ledger.create_batch("apogee", "2023-2024", "test")
    ledger.transition(batch.id, State.EXTRACTED, actor="t", action="x", changes={"snapshot_marker": "m"})
    assert main(["status", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["batches"]
    assert listed["id"] == batch.id and listed["state"] == "extracted"
    for key in ("sip_path", "sip_sha256", "vitam_operation_id", "atr_reply_code", "datasets"):
        assert key in listed
    assert main(["status"]) == 0
    assert "extrait" in capsys.readouterr().out


def test_audit_verify_passes_then_fails_after_a_hand_edit(isolated, capsys):
    ledger = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}", anchor=isolated / "staging" / "ledger-anchor.jsonl")
    ledger.migrate()
    batch = ledger.create_batch("apogee", "2023-2024", "test")
    ledger.transition(batch.id, State.EXTRACTED, actor="t", action="extract")
    assert main(["audit", "verify"]) == 0
    assert "journal d'audit intègre" in capsys.readouterr().out
    with sqlite3.connect(isolated / "ledger.sqlite") as raw:
        raw.execute("UPDATE audit_event SET actor = 'someone else' WHERE id = 2")
    assert main(["audit", "verify"]) == 1
    captured = capsys.readouterr()
    assert "événement 2" in captured.err and "modifiée" in captured.err


def test_a_bad_configuration_exits_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace("tenant = 0", 'tenant = "zéro"'), encoding="utf-8")
    assert main(["--config", str(bad), "status"]) == 2
    err = capsys.readouterr().err
    assert "vitam.tenant" in err and str(bad) in err


@pytest.mark.postgres
def test_an_unreachable_ledger_exits_2_without_its_password(isolated, monkeypatch, capsys):
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", "postgresql+psycopg://versement@127.0.0.1:1/versement")
    monkeypatch.setenv("VERSEMENT_LEDGER_PASSWORD", "Registre#secret")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the ledger postgresql+psycopg://versement:***@127.0.0.1:1/versement" in err
    assert "Connection refused" in err and "Registre#secret" not in err


@pytest.mark.postgres
def test_a_missing_ledger_database_is_named(isolated, monkeypatch, capsys):
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", "postgresql+psycopg://postgres@127.0.0.1:5432/versement_absent")
    assert main(["status"]) == 2
    assert 'database "versement_absent" does not exist' in capsys.readouterr().err


def test_a_ledger_folder_that_cannot_be_made_exits_2(isolated, monkeypatch, capsys):
    blocker = isolated / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", f"sqlite:///{blocker / 'ledger.sqlite'}")
    assert main(["status"]) == 2
    assert f"cannot create the ledger folder {blocker}" in capsys.readouterr().err


def test_unknown_batch_exits_2(isolated, capsys):
    assert main(["approve", "42", "--by", "Camille"]) == 2
    assert "aucun lot 42 dans le registre" in capsys.readouterr().err


def test_approving_a_batch_in_the_wrong_state_is_refused(isolated, capsys):
    ledger = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}")
    ledger.migrate()
    batch = ledger.create_batch("apogee", "2023-2024", "test")
    assert main(["approve", str(batch.id), "--by", "Camille", "--sha256", "0" * 64]) == 1
    assert "seul un lot en attente de validation (awaiting_approval) peut être validé" in capsys.readouterr().err
    assert ledger.batch(batch.id).state == State.NEW


def test_sip_validate_on_a_valid_manifest(seda_schemas, capsys):
    example = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    assert main(["sip", "validate", str(example), "--schemas", str(seda_schemas), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True and report["issues"] == []
    assert any(check.startswith("seda-2.1") for check in report["checks_run"])


def test_sip_validate_reports_line_and_message_and_exits_1(seda_schemas, tmp_path, capsys):
    text = (seda_schemas / "examples" / "synthetic-typical-2.1.xml").read_text(encoding="utf-8")
    # Date must come before MessageIdentifier: swapping them breaks the schema at a known line.
    broken = text.replace("<Date>", "<Datum>").replace("</Date>", "</Datum>")
    path = tmp_path / "manifest.xml"
    path.write_text(broken, encoding="utf-8")
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "<Datum>" in row)
    assert main(["sip", "validate", str(path), "--schemas", str(seda_schemas)]) == 1
    out = capsys.readouterr().out
    assert f"line {line}" in out and "INVALID" in out
    assert main(["sip", "validate", str(path), "--schemas", str(seda_schemas), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert any(issue["line"] == line for issue in report["issues"])


def test_sip_validate_with_the_wrong_version_exits_1(seda_schemas, capsys):
    example = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    assert main(["sip", "validate", str(example), "--seda", "2.2", "--schemas", str(seda_schemas)]) == 1


def test_sip_validate_on_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["sip", "validate", str(tmp_path / "absent.zip")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_readme_step_by_step_on_the_embedded_default(isolated, monkeypatch, seda_schemas, capsys):
    # As a fresh clone runs it: the synthetic source does not exist yet, the sandbox is not running.
    monkeypatch.setenv("VERSEMENT__SOURCES__APOGEE__URL", f"sqlite:///{isolated / 'apogee.sqlite'}")
    monkeypatch.setenv("VERSEMENT__SEDA__SCHEMAS", str(seda_schemas))
    monkeypatch.setenv("VERSEMENT__VITAM__POLL_TIMEOUT", "180")  # the sandbox runs FIDO on every person document
    assert main(["extract", "apogee"]) == 2  # the scope is given once, per batch
    assert "périmètre : à préciser (--year)" in capsys.readouterr().err
    assert main(["extract", "apogee", "--year", "2023"]) == 0
    datasets = len(load(config_path(), environ=dict(os.environ)).source("apogee").datasets)
    assert re.search(
        rf"lot 1 : apogee 2023-2024 extrait \(\d+ lignes dans {datasets} jeux de données\)", capsys.readouterr().out
    )
    assert main(["validate", "1"]) == 0
    assert "conforme" in capsys.readouterr().out
    assert main(["package", "1"]) == 0
    request = capsys.readouterr().out
    assert request.startswith("Demande de validation du lot n° 1 — Apogée — scolarité, année universitaire 2023-2024")
    assert re.search(r"Dossiers étudiants : identité : \d+ lignes \(source : \d+\), contrôle qualité conforme", request)
    sha256 = request.rsplit("--sha256 ", 1)[1].strip()
    assert main(["transfer", "1", "--dry-run"]) == 0  # before approval: what would VITAM say?
    out = capsys.readouterr().out
    assert "Lot 1 : essai à blanc (BLANK_TEST, opération aeeaaa" in out and "VITAM accepterait ce paquet" in out
    assert "l'état du lot est inchangé" in out
    assert main(["approve", "1", "--by", "Camille Archiviste", "--sha256", sha256]) == 0
    assert main(["transfer", "1"]) == 0
    out, err = capsys.readouterr()
    assert "bac à sable VITAM (serveur de test et de démonstration, pas VITAM) à l'écoute sur https://127.0.0.1:" in err
    assert "Lot 1 : accepté par VITAM (opération aeeaaa" in out and "ReplyCode OK" in out
    assert re.search(
        r"Lot 1 : vérifié dans VITAM : \d+ unités et \d+ objets relus, identiques à ce qui a été envoyé", out
    )
    assert main(["transfer", "1"]) == 1  # a verified batch is not sent again
    assert "seul un lot validé par l'archiviste (approved) peut être transféré" in capsys.readouterr().err
    assert main(["verify", "1"]) == 1  # verified already: nothing to verify
    assert "seul un lot accepté par VITAM (accepted, verification_failed) peut être vérifié" in capsys.readouterr().err
