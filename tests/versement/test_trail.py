"""The batch's audit trail inside its SIP: packed at packaging, compared by `audit verify`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from sqlalchemy import text

from versement.cli import main
from versement.ledger import trail
from versement.ledger.audit import GENESIS, event_hash


def test_the_sip_carries_the_trail_up_to_packaging(packaged, capsys):
    _, ledger, batch = packaged
    embedded = trail.read(Path(batch.sip_path))
    actions = [event["action"] for event in embedded["events"]]
    assert actions[0] == "batch.created" and actions[-1] == "validate"
    assert actions == ["batch.created", "extract", "validate"]  # quality results ride in the validate event
    validate = next(event for event in embedded["events"] if event["action"] == "validate")
    assert set(json.loads(validate["details"])["row_quality"]) == {d.name for d in batch.datasets}
    assert embedded["format"] == "versement-audit-trail/1" and embedded["batch"] == batch.id
    # Re-verifiable from the SIP alone: each event's hash chains to the previous one.
    ours = {e.id: e for e in ledger.events()}
    for item in embedded["events"]:
        assert item["hash"] == ours[item["id"]].hash
    with zipfile.ZipFile(batch.sip_path) as archive:
        manifest = archive.read("manifest.xml").decode()
    assert "Journal d'audit du lot 1" in manifest and "fmt/817" in manifest
    assert main(["audit", "verify"]) == 0, capsys.readouterr().err


def rechain(ledger, anchor: Path) -> None:
    """A ledger rewritten by someone holding the database and the anchor log: every hash
    recomputed, the head and the anchor log rewritten to match. Only the SIP's copy disagrees."""
    previous = GENESIS
    lines = []
    with ledger.engine.begin() as connection:
        rows = connection.execute(text("SELECT * FROM audit_event ORDER BY id")).mappings().all()
        for row in rows:
            digest = event_hash(
                event_id=row["id"],
                batch_id=row["batch_id"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                from_state=row["from_state"],
                to_state=row["to_state"],
                details=row["details"],
                prev_hash=previous,
            )
            connection.execute(
                text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": previous, "h": digest, "i": row["id"]},
            )
            lines.append(json.dumps({"events": row["id"], "head": digest, "at": row["at"]}))
            previous = digest
        connection.execute(text("UPDATE audit_head SET last_hash = :h, count = :c"), {"h": previous, "c": len(rows)})
    anchor.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_rewritten_ledger_disagrees_with_the_trail_in_the_sip(packaged, capsys):
    settings, ledger, batch = packaged
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'quelqu''un d''autre' WHERE id = 2"))
    rechain(ledger, settings.staging / "ledger-anchor.jsonl")

    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err.splitlines()
    # Chain, head, anchor log and rows all agree again: only VITAM's copy tells.
    assert err[0] == (
        f"ALTÉRATION : lot {batch.id} : le journal d'audit contenu dans son SIP diffère du registre sur "
        "l'événement 2 (extract)"
    )
    assert all("le journal d'audit contenu dans son SIP diffère du registre" in line for line in err)


def test_an_event_removed_from_the_ledger_is_still_in_the_sip(packaged, capsys):
    settings, ledger, _ = packaged
    with ledger.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = 3"))  # a quality result
        connection.execute(text("UPDATE audit_event SET id = id - 1 WHERE id > 3"))
    rechain(ledger, settings.staging / "ledger-anchor.jsonl")

    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "le journal d'audit contenu dans son SIP diffère du registre sur l'événement 3" in err


def test_a_sip_repacked_with_another_trail_is_reported(packaged, capsys):
    _, _, batch = packaged
    sip = Path(batch.sip_path)
    forged = sip.with_name("forged.zip")
    with zipfile.ZipFile(sip) as source, zipfile.ZipFile(forged, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".json"):
                data = data.replace(b'"actor":"test"', b'"actor":"autre"', 1)
            target.writestr(info, data)
    forged.replace(sip)

    assert main(["audit", "verify"]) == 1
    assert f"lot {batch.id} : le SIP {sip} a l'empreinte SHA-256" in capsys.readouterr().err


def test_a_sip_that_is_gone_is_reported(packaged, capsys):
    _, _, batch = packaged
    Path(batch.sip_path).unlink()
    assert main(["audit", "verify"]) == 1
    assert "a disparu ; le journal d'audit qu'il contient ne peut pas être comparé" in capsys.readouterr().err
