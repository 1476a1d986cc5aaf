"""Approvals bound to what was reviewed: the digest required, the real identity kept, and an
approval that can be withdrawn before the transfer."""

from __future__ import annotations

import getpass
import json

import pytest

from versement.cli import main
from versement.ledger import State
from versement.pipeline import DigestMismatch, DigestRequired, StageError, approve, withdraw


def test_an_approval_without_the_digest_is_refused_in_french(packaged, capsys):
    _, ledger, batch = packaged
    events = len(ledger.events())
    assert main(["approve", str(batch.id), "--by", "Camille Archiviste"]) == 1
    err = capsys.readouterr().err
    assert "la validation doit porter l'empreinte SHA-256 du SIP que vous avez examiné (--sha256" in err
    assert "demande de validation" in err and "versement status" in err
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL and len(ledger.events()) == events
    with pytest.raises(DigestRequired):
        approve(ledger, batch.id, approver="Camille", sha256="  ")


def test_the_status_shows_the_digest_to_approve(packaged, capsys):
    _, _, batch = packaged
    assert main(["status"]) == 0
    assert f"lot {batch.id} en attente de validation : empreinte SHA-256 du SIP {batch.sip_sha256}" in (
        capsys.readouterr().out
    )


def test_an_approval_of_another_digest_is_refused(packaged):
    _, ledger, batch = packaged
    with pytest.raises(DigestMismatch, match="vous avez validé l'empreinte SHA-256 0000"):
        approve(ledger, batch.id, approver="Camille", sha256="0" * 64)
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL


def test_the_cli_keeps_the_declared_name_and_the_os_account(packaged, capsys):
    _, ledger, batch = packaged
    assert main(["approve", str(batch.id), "--by", "Camille Archiviste", "--sha256", batch.sip_sha256.upper()]) == 0
    assert f"Lot {batch.id} validé par Camille Archiviste (os:{getpass.getuser()})" in capsys.readouterr().out
    row = ledger.batch(batch.id)
    assert (row.approved_by, row.approver_identity, row.approved_sha256) == (
        "Camille Archiviste",
        f"os:{getpass.getuser()}",
        batch.sip_sha256,
    )
    event = ledger.events(batch.id)[-1]
    details = json.loads(event.details)
    assert event.actor == f"os:{getpass.getuser()}"
    assert details["declared_by"] == "Camille Archiviste" and details["authenticated"] is False
    assert ledger.verify().ok


def test_an_authenticated_identity_is_the_recorded_actor(packaged):
    _, ledger, batch = packaged
    approved = approve(ledger, batch.id, approver="Camille", sha256=batch.sip_sha256, identity="airflow:cdupont")
    assert approved.approver_identity == "airflow:cdupont" and approved.approved_by == "Camille"
    event = ledger.events(batch.id)[-1]
    assert event.actor == "airflow:cdupont" and json.loads(event.details)["authenticated"] is True


def test_an_approval_is_withdrawn_before_transfer_with_its_reason(packaged, capsys):
    _, ledger, batch = packaged
    with pytest.raises(StageError, match=r"seul un lot validé \(approved\) et pas encore transféré"):
        withdraw(ledger, batch.id, by="Camille", reason="erreur")
    approve(ledger, batch.id, approver="Camille", sha256=batch.sip_sha256)

    reason = "Règle de communicabilité à revoir"
    assert main(["withdraw", str(batch.id), "--by", "Camille", "--reason", reason]) == 0
    assert f"Validation du lot {batch.id} retirée par Camille : {reason}" in capsys.readouterr().out
    row = ledger.batch(batch.id)
    assert row.state == State.AWAITING_APPROVAL
    assert (row.approved_by, row.approver_identity, row.approved_sha256, row.approved_at) == (None,) * 4
    event = ledger.events(batch.id)[-1]
    details = json.loads(event.details)
    assert event.action == "approval.withdrawn" and details["reason"] == reason
    assert details["withdrawn_sha256"] == batch.sip_sha256 and details["approved_by"] == "Camille"
    assert ledger.verify().ok

    with pytest.raises(StageError, match="demande un motif"):
        withdraw(ledger, batch.id, by="Camille", reason=" ")
    again = approve(ledger, batch.id, approver="Dominique", sha256=batch.sip_sha256)
    assert again.state == State.APPROVED and again.approved_by == "Dominique"
    assert ledger.verify().ok


def test_a_rejection_keeps_the_declared_name_and_the_identity(packaged):
    from versement.pipeline import reject

    _, ledger, batch = packaged
    rejected = reject(ledger, batch.id, approver="Camille", reason="Mauvais périmètre", identity="navigateur:cdupont")
    assert rejected.state == State.REJECTED
    event = ledger.events(batch.id)[-1]
    assert event.actor == "navigateur:cdupont"
    assert json.loads(event.details) == {
        "reason": "Mauvais périmètre",
        "declared_by": "Camille",
        "identity": "navigateur:cdupont",
    }
