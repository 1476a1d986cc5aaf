"""``versement atr parse FILE [--json]`` and the French reasons it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from versement.cli import main
from versement.vitam_reasons import reasons
from vitam_client import AtrEvent, parse_atr
from vitam_client.atr import ArchiveTransferReply

FIXTURES = Path(__file__).resolve().parents[1] / "vitam_client" / "fixtures" / "atr"


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_atr_parse_json(version: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / f"atr-ko-seda-{version}.xml"
    assert main(["atr", "parse", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["seda_version"], data["reply_code"], data["accepted"]) == (version, "KO", False)
    assert data["message_request_identifier"] == "UNIV-DEMO-APOGEE-2023-2024-000042"
    assert len(data["units"]) == 3 and len(data["objects"]) == 2
    assert any("un fichier a été altéré" in line for line in data["reasons_fr"])


def test_atr_parse_text_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["atr", "parse", str(FIXTURES / "atr-warning-seda-2.2.xml")]) == 0
    out = capsys.readouterr().out
    assert "ATR SEDA 2.2, ReplyCode WARNING — accepté avec avertissements" in out
    assert "unités d'archives    3" in out
    assert "Étape « contrôle des objets » : la taille d'un fichier diffère" in out
    assert "(objet ou groupe d'objets ID7)" in out


def test_atr_parse_refuses_what_is_not_an_atr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "manifest.xml"
    other.write_text('<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"/>')
    assert main(["atr", "parse", str(other)]) == 1
    assert "not an ArchiveTransferReply" in capsys.readouterr().err
    assert main(["atr", "parse", str(tmp_path / "absent.xml")]) == 2
    hostile = tmp_path / "billion.xml"
    hostile.write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">]>'
        '<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><ReplyCode>&y;</ReplyCode>'
        "</ArchiveTransferReply>"
    )
    main(["atr", "parse", str(hostile), "--json"])
    assert "xxxxxxxxxx" not in capsys.readouterr().out  # entities are not expanded


def test_the_ko_reason_names_step_object_and_action() -> None:
    atr = parse_atr((FIXTURES / "atr-ko-seda-2.3.xml").read_bytes())
    found = {(r.code, r.where) for r in reasons(atr)}
    assert ("CHECK_DIGEST.KO", "digest mismatch for ID8") in found
    assert ("LFC.CHECK_DIGEST.KO", "objet ou groupe d'objets ID7") in found
    assert ("LFC.UNITS_RULES_COMPUTE.UNKNOWN.KO", "unité ID5") in found
    digest = next(r for r in reasons(atr) if r.code == "CHECK_DIGEST.KO")
    assert digest.step == "contrôle des objets"
    assert "reconstruire le paquet" in digest.action
    # The framing events (the step, the process) give no reason of their own.
    assert not any(r.code.startswith(("STP_", "PROCESS_SIP_UNITARY")) for r in reasons(atr))


def test_an_unknown_code_still_gets_a_line() -> None:
    event = AtrEvent("CHECK_SOMETHING_NEW", None, "KO", "CHECK_SOMETHING_NEW.KO", "Échec inédit", None)
    atr = ArchiveTransferReply("2.2", "KO", None, None, None, None, events=(event,))
    (reason,) = reasons(atr)
    assert reason.what == "Échec inédit" and "équipe technique" in reason.action
    assert "[code VITAM CHECK_SOMETHING_NEW.KO]" in reason.text()
