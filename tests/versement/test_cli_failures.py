"""The command line on broken input: one JSON object with --json, schema folders that must hold
the schemas, and a reader that goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seda import SchemaError
from tests.versement.conftest import DEMO_YEAR_SCOPE, demo_settings
from versement.cli import main
from versement.ledger import Ledger, State

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
PATH_TO_ACCEPTED = [
    State.EXTRACTED,
    State.VALIDATED,
    State.PACKAGED,
    State.AWAITING_APPROVAL,
    State.APPROVED,
    State.SUBMITTING,
    State.SUBMITTED,
    State.ACCEPTED,
]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("VERSEMENT__PATHS__STAGING", str(tmp_path / "staging"))
    monkeypatch.setenv("VERSEMENT_CONFIG", str(DEMO))
    return tmp_path


def json_failure(capsys, code: int) -> dict:
    captured = capsys.readouterr()
    answer = json.loads(captured.out)  # exactly one JSON object, nothing else on stdout
    assert answer["ok"] is False and answer["exit"] == code
    assert answer["error"] in captured.err or "voir stderr" in answer["error"]
    return answer


def test_json_on_a_missing_path(isolated, capsys):
    assert main(["sip", "validate", str(isolated / "absent.zip"), "--json"]) == 2
    assert "absent.zip: no such file" in json_failure(capsys, 2)["error"]


def test_json_on_a_folder_given_as_the_sip(isolated, capsys):
    assert main(["sip", "validate", str(isolated), "--json", "--no-schemas"]) == 2
    assert "not a file" in json_failure(capsys, 2)["error"]


def test_json_on_a_file_that_is_not_a_zip(isolated, capsys, seda_schemas):
    fake = isolated / "sip.zip"
    fake.write_text("pas un zip", encoding="utf-8")
    assert main(["sip", "validate", str(fake), "--schemas", str(seda_schemas), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["issues"][0]["check"] == "container"


def test_json_on_a_bad_configuration(tmp_path, capsys, seda_schemas):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace("tenant = 0", 'tenant = "zéro"'), encoding="utf-8")
    manifest = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    assert main(["--config", str(bad), "sip", "validate", str(manifest), "--json"]) == 2
    assert "vitam.tenant" in json_failure(capsys, 2)["error"]
    assert main(["--config", str(bad), "status", "--json"]) == 2
    assert "vitam.tenant" in json_failure(capsys, 2)["error"]


def test_json_on_a_bad_command_line(isolated, capsys):
    with pytest.raises(SystemExit):
        main(["sip", "validate", "x.xml", "--seda", "9.9", "--json"])
    assert json.loads(capsys.readouterr().out)["ok"] is False


@pytest.mark.parametrize("where", ["option", "configuration"])
def test_a_mistyped_schema_folder_is_an_error_naming_it(isolated, monkeypatch, capsys, seda_schemas, where):
    manifest = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    mistyped = isolated / "shared" / "sedaa"
    args = ["sip", "validate", str(manifest), "--json"]
    if where == "option":
        args += ["--schemas", str(mistyped)]
    else:
        monkeypatch.setenv("VERSEMENT__SEDA__SCHEMAS", str(mistyped))
    assert main(args) == 2
    error = json_failure(capsys, 2)["error"]
    assert f"the schemas folder {mistyped} does not hold the SEDA 2.1 schemas" in error
    assert "seda-2.1-main.xsd" in error and "--no-schemas" in error


def test_no_schemas_configured_is_an_error_too(isolated, capsys, seda_schemas):
    without = isolated / "without-schemas.toml"
    text = DEMO.read_text(encoding="utf-8")
    without.write_text("\n".join(line for line in text.splitlines() if not line.startswith("schemas =")))
    manifest = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    assert main(["--config", str(without), "sip", "validate", str(manifest)]) == 2
    assert "no SEDA schemas folder" in capsys.readouterr().err


def test_no_schemas_says_so_in_the_json_report(isolated, capsys, seda_schemas):
    manifest = seda_schemas / "examples" / "synthetic-typical-2.1.xml"
    assert (
        main(["sip", "validate", str(manifest), "--schemas", str(isolated / "nowhere"), "--no-schemas", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["schema_checks"] == "skipped on request (--no-schemas)"
    assert report["checks_skipped"] == [
        "seda-2.1 (skipped on request (--no-schemas))",
        "vitam-2.1 (skipped on request (--no-schemas))",
    ]
    assert not any(c.startswith("seda-") for c in report["checks_run"])


def test_packaging_without_schemas_is_refused_unless_asked_and_then_recorded(
    tmp_path, seda_schemas, vitam_sandbox, capsys
):
    from versement.demo import prepare_sources
    from versement.pipeline import run_extract, run_package, run_validate

    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox, VERSEMENT__SEDA__SCHEMAS=str(tmp_path / "typo"))
    ledger = Ledger(settings.ledger_url)
    ledger.migrate()
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    batch = run_validate(settings, ledger, batch.id, actor="test")
    with pytest.raises(SchemaError, match=r"typo does not hold the SEDA 2\.1 schemas"):
        run_package(settings, ledger, batch.id, actor="test")
    assert ledger.batch(batch.id).state == State.VALIDATED
    assert ledger.events(batch.id)[-1].action == "package.failed"

    batch = run_package(settings, ledger, batch.id, actor="test", skip_schemas=True)
    assert batch.state == State.AWAITING_APPROVAL
    (package,) = [e for e in ledger.events(batch.id) if e.action == "package"]
    details = json.loads(package.details)
    assert details["schema_checks"] == "skipped on request (--no-schemas)"
    assert any(s.startswith("seda-2.1") for s in details["checks_skipped"])


def test_a_closed_pipe_ends_quietly(isolated):
    ledger = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}")
    ledger.migrate()
    for year in range(2000, 2040):
        ledger.create_batch("apogee", f"{year}-{year + 1}", "test")
    environ = {**os.environ, "PYTHONPATH": str(DEMO.parents[1])}
    reader = subprocess.Popen(
        [sys.executable, "-m", "versement.cli", "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # like `| head -0`: the reader is gone before the first line
    err = reader.stderr.read().decode()
    assert reader.wait(60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""


def test_extracting_an_archived_scope_again_needs_supersede_and_reason(tmp_path, seda_schemas, monkeypatch, capsys):
    from tests.versement.conftest import NO_SANDBOX, demo_environ
    from versement.config import load
    from versement.ledger import open_ledger

    environ = demo_environ(tmp_path, seda_schemas, NO_SANDBOX)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = load(DEMO, environ=environ)
    ledger = open_ledger(settings)
    archived = ledger.create_batch("apogee", DEMO_YEAR_SCOPE.label, "test", scope_detail=DEMO_YEAR_SCOPE.to_json())
    for state in PATH_TO_ACCEPTED:
        ledger.transition(archived.id, state, actor="test", action=f"to-{state}")

    assert main(["extract", "apogee", "--year", "2023"]) == 2
    assert f"--supersede {archived.id} --reason MOTIF" in capsys.readouterr().err
    assert main(["extract", "apogee", "--year", "2023", "--supersede", str(archived.id)]) == 2
    assert "demande un motif" in capsys.readouterr().err
    assert len(ledger.batches()) == 1

    assert main(["extract", "apogee", "--year", "2023", "--supersede", str(archived.id), "--reason", "Correction"]) == 0
    capsys.readouterr()
    new = ledger.batches()[-1]
    assert new.supersedes == archived.id and new.state == State.EXTRACTED
    assert ledger.batch(archived.id).superseded_by == new.id
    assert main(["audit", "verify"]) == 0


@pytest.fixture
def demo_cli(tmp_path, seda_schemas, monkeypatch):
    """The CLI on the embedded default, its synthetic sources (2021-2023) and ledger under tmp_path."""
    from tests.versement.conftest import NO_SANDBOX, demo_environ
    from versement.config import load
    from versement.ledger import open_ledger

    environ = demo_environ(tmp_path, seda_schemas, NO_SANDBOX)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    ledger = open_ledger(load(DEMO, environ=environ))
    yield ledger
    ledger.close()


def status_of(capsys, batch_id: int) -> tuple[dict, str]:
    assert main(["status", "--json"]) == 0
    listed = {b["id"]: b for b in json.loads(capsys.readouterr().out)["batches"]}
    assert main(["status"]) == 0
    return listed[batch_id], capsys.readouterr().out


def test_an_empty_year_is_refused_recorded_and_shown_by_status(demo_cli, capsys):
    ledger = demo_cli
    assert main(["extract", "apogee", "--year", "2019"]) == 1
    err = capsys.readouterr().err
    assert "aucune donnée pour année universitaire 2019-2020" in err and "rien à archiver" in err
    (batch,) = ledger.batches()
    assert batch.state == State.NEW and batch.datasets == []
    failed = [e for e in ledger.events(batch.id) if e.action == "extract.failed"]
    assert len(failed) == 1 and "2019-2020" in json.loads(failed[0].details)["error"]

    listed, table = status_of(capsys, batch.id)
    assert listed["failure"]["action"] == "extract.failed" and "2019-2020" in listed["failure"]["error"]
    assert (
        f"lot {batch.id} : échec de l'extraction le " in table
        and "aucune donnée pour année universitaire 2019" in table
    )

    # In a range the empty years are reported and the others are still extracted; exit 1 says some were empty.
    assert main(["extract", "apogee", "--years", "2019-2021"]) == 1
    captured = capsys.readouterr()
    assert "2 périmètre(s) sur 3 sans aucune donnée, donc sans lot extrait : 2019-2020, 2020-2021" in captured.err
    by_scope = {b.scope: b for b in ledger.batches()}
    assert by_scope["2019-2020"].id == batch.id  # the empty year's batch was tried again, not duplicated
    assert by_scope["2020-2021"].state == State.NEW
    assert by_scope["2021-2022"].state == State.EXTRACTED
    assert f"lot {by_scope['2021-2022'].id} : apogee 2021-2022 extrait" in captured.out
    assert status_of(capsys, by_scope["2021-2022"].id)[0]["failure"] is None

    # The range run again goes on where it stopped: the extracted year is left as it is.
    assert main(["extract", "apogee", "--years", "2021-2022"]) == 0
    out = capsys.readouterr().out
    assert f"lot {by_scope['2021-2022'].id} : apogee 2021-2022 déjà extrait, laissé tel quel" in out
    assert "apogee 2022-2023 extrait" in out
    assert len(ledger.batches()) == 4
    assert main(["extract", "apogee", "--year", "2021"]) == 2  # one year asked for on its own is still refused
    assert "déjà en cours" in capsys.readouterr().err
    assert main(["audit", "verify"]) == 0


def test_a_failed_extraction_shows_in_status_until_the_batch_is_extracted(demo_cli, capsys, monkeypatch):
    ledger = demo_cli
    monkeypatch.setenv("VERSEMENT__SOURCES__APOGEE__EXCLUDE_COLUMNS", '{"theses_hdr": ["COLONNE_INCONNUE"]}')
    assert main(["extract", "apogee", "--year", "2023"]) == 1
    assert "COLONNE_INCONNUE" in capsys.readouterr().err
    (batch,) = ledger.batches()
    listed, table = status_of(capsys, batch.id)
    assert listed["state"] == "new" and "COLONNE_INCONNUE" in listed["failure"]["error"]
    assert f"lot {batch.id} : échec de l'extraction" in table and "theses_hdr" in table

    monkeypatch.delenv("VERSEMENT__SOURCES__APOGEE__EXCLUDE_COLUMNS")
    assert main(["extract", "apogee", "--year", "2023"]) == 0
    capsys.readouterr()
    listed, table = status_of(capsys, batch.id)
    assert listed["state"] == "extracted" and listed["failure"] is None
    assert "échec" not in table
