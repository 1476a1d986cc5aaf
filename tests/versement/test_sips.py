"""Every SIP of a batch in the ledger, approval bound to each part's digest, re-packaging as a new
attempt; through the real pipeline and, for transfers, a sandbox of their own over mutual TLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from extractors.files import sha256_file
from seda import Limits
from tests.versement.conftest import DEMO_YEAR_SCOPE
from tests.versement.test_transfer import World, make_world
from versement.attempts import RepackageRefused, repackage
from versement.cli import main
from versement.demo import prepare_sources
from versement.ledger import IllegalTransition, Ledger, LedgerError, State
from versement.ledger.sips import current_sips
from versement.pipeline import (
    DigestMismatch,
    approval_request,
    approve,
    endpoint,
    reject,
    run_dry_run,
    run_extract,
    run_package,
    run_transfer,
    run_validate,
    withdraw,
)
from versement.transfer import logbook_mismatches, outcome_text
from vitam_client import UploadOutcomeUnknown, VitamClient
from vitam_sandbox import Faults

# Over the demo batch's size but over its largest atomic subtree (the reference tables' series,
# about 70 units and objects with its ancestors): the batch is cut into several SIPs.
SMALL = Limits(max_items=150)


def validated(world: World) -> int:
    prepare_sources(world.settings)
    batch = run_extract(world.settings, world.ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    batch = run_validate(world.settings, world.ledger, batch.id, actor="test")
    assert batch.state == State.VALIDATED
    return batch.id


def split(world: World) -> int:
    batch_id = validated(world)
    batch = run_package(world.settings, world.ledger, batch_id, actor="test", limits=SMALL)
    assert batch.state == State.AWAITING_APPROVAL
    return batch_id


def digests(ledger: Ledger, batch_id: int) -> list[str]:
    return [sip.sha256 for sip in current_sips(ledger.batch(batch_id))]


def ingests_of(world: World, message_identifier: str) -> list[str]:
    with VitamClient(endpoint(world.settings)) as client:
        return [op.operation_id for op in client.ingests_of_message(message_identifier)]


@pytest.fixture
def world(tmp_path: Path, seda_schemas: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for found in make_world(tmp_path, seda_schemas):
        for name, value in found.environ.items():
            monkeypatch.setenv(name, value)  # the CLI reads the same ledger
        yield found


# -- every SIP recorded -------------------------------------------------------------------------


def test_a_batch_over_the_limits_is_recorded_sip_by_sip(world: World) -> None:
    batch_id = split(world)
    batch = world.ledger.batch(batch_id)
    parts = current_sips(batch)
    assert len(parts) >= 3, len(parts)
    base = str(batch.message_identifier).removesuffix("-001")
    assert [p.message_identifier for p in parts] == [f"{base}-{n:03d}" for n in range(1, len(parts) + 1)]
    assert [(p.attempt, p.part) for p in parts] == [(1, n) for n in range(1, len(parts) + 1)]
    for sip in parts:
        assert sha256_file(Path(sip.path)) == sip.sha256
        assert sip.units >= 2 and sip.objects >= 1 and sip.bytes > 0  # Fonds, its path and pieces
        assert sip.units + sip.objects <= SMALL.max_items
    # The batch columns describe part 1.
    first = parts[0]
    assert (batch.sip_path, batch.sip_sha256) == (first.path, first.sha256)
    assert batch.manifest_sha512 == first.manifest_sha512
    package = world.details(batch_id, "package")
    assert package["parts"] == len(parts) and package["attempt"] == 1
    assert set(world.details(batch_id, "package")) >= {"sip", "sha256"}
    # The approval request names every part's digest and the command approving them all.
    request = approval_request(batch)
    assert f"découpé en {len(parts)} SIP autonomes" in request
    for sip in parts:
        assert f"partie {sip.part} — {sip.message_identifier}" in request and sip.sha256 in request
    assert " ".join(f"--sha256 {d}" for d in digests(world.ledger, batch_id)) in request
    assert world.ledger.verify().ok  # the trail is read from the part that carries it


def test_a_sip_row_edited_added_or_deleted_alone_is_reported(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    batch_id = split(world)
    original = current_sips(world.ledger.batch(batch_id))[1].sha256
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()

    def verify() -> list[str]:
        code = main(["audit", "verify"])
        err = capsys.readouterr().err
        assert code == 1
        return [line.removeprefix("ALTÉRATION : ") for line in err.splitlines() if line.startswith("ALTÉRATION : ")]

    with world.ledger.engine.begin() as db:
        db.execute(text("UPDATE sip SET sha256 = :d WHERE batch_id = :b AND part = 2"), {"d": "0" * 64, "b": batch_id})
    problems = verify()
    assert any(
        p.startswith(f'lot {batch_id} : SIP partie 2 de la tentative 1, sha256 vaut "{"0" * 64}" dans la ligne')
        for p in problems
    ), problems
    assert any("le registre a empaqueté " + "0" * 64 in p for p in problems)  # its file no longer matches either
    with world.ledger.engine.begin() as db:
        db.execute(text("UPDATE sip SET sha256 = :d WHERE batch_id = :b AND part = 2"), {"d": original, "b": batch_id})
        db.execute(text("UPDATE sip SET approved_sha256 = sha256 WHERE batch_id = :b AND part = 3"), {"b": batch_id})
    (problem,) = verify()
    assert problem.startswith(f"lot {batch_id} : SIP partie 3 de la tentative 1, approved_sha256 vaut ")
    assert "mais null dans son journal d'audit (la ligne a été modifiée hors du registre)" in problem
    with world.ledger.engine.begin() as db:
        db.execute(text("UPDATE sip SET approved_sha256 = NULL WHERE batch_id = :b"), {"b": batch_id})
        db.execute(text("DELETE FROM sip WHERE batch_id = :b AND part = 1"), {"b": batch_id})
        db.execute(
            text(
                "INSERT INTO sip (batch_id, attempt, part, message_identifier, path, sha256, manifest_sha512, units, "
                "objects, bytes) VALUES (:b, 1, 99, 'X', '/tmp/x.zip', :d, :m, 1, 1, 1)"
            ),
            {"b": batch_id, "d": "1" * 64, "m": "2" * 128},
        )
    problems = verify()
    assert (
        f"lot {batch_id} : le SIP partie 99 de la tentative 1 ne figure dans aucun événement (ajouté hors du registre)"
    ) in problems
    assert (
        f"lot {batch_id} : le SIP partie 1 de la tentative 1 de son journal d'audit n'a pas de ligne "
        "(supprimée hors du registre)"
    ) in problems


def test_a_replaced_part_is_reported_by_audit_verify(world: World) -> None:
    batch_id = split(world)
    second = current_sips(world.ledger.batch(batch_id))[1]
    Path(second.path).write_bytes(Path(second.path).read_bytes() + b"\0")
    problems = world.ledger.verify().problems
    assert any(f"le SIP {second.path} a l'empreinte SHA-256" in p and second.sha256 in p for p in problems), problems


# -- approval covers every SIP ------------------------------------------------------------------


def test_the_approval_names_every_part(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    batch_id = split(world)
    every = digests(world.ledger, batch_id)
    with pytest.raises(DigestMismatch, match=r"le lot compte \d+ SIP .* manquent : partie 2"):
        approve(world.ledger, batch_id, approver="Camille", sha256=[every[0], *every[2:]])
    with pytest.raises(DigestMismatch, match="n'est celle d'aucun des"):
        approve(world.ledger, batch_id, approver="Camille", sha256=[*every, "f" * 64])
    with pytest.raises(DigestMismatch, match="une seule fois"):
        approve(world.ledger, batch_id, approver="Camille", sha256=[*every, every[0]])
    assert world.ledger.batch(batch_id).state == State.AWAITING_APPROVAL

    words = ["approve", str(batch_id), "--by", "Camille Archiviste"]
    for digest in reversed(every):  # any order
        words += ["--sha256", digest]
    assert main(words) == 0
    assert f"Lot {batch_id} validé par Camille Archiviste" in capsys.readouterr().out
    batch = world.ledger.batch(batch_id)
    assert batch.state == State.APPROVED and batch.approved_sha256 == every[0]
    assert [sip.approved_sha256 for sip in current_sips(batch)] == every
    assert world.details(batch_id, "approve")["parts_sha256"] == every
    assert world.ledger.verify().ok
    withdraw(world.ledger, batch_id, by="Camille", reason="à revoir")
    assert [sip.approved_sha256 for sip in current_sips(world.ledger.batch(batch_id))] == [None] * len(every)
    assert world.ledger.verify().ok


def test_a_part_changed_before_approval_cannot_be_approved(world: World) -> None:
    batch_id = split(world)
    every = digests(world.ledger, batch_id)
    last = current_sips(world.ledger.batch(batch_id))[-1]
    Path(last.path).write_bytes(b"PK")
    with pytest.raises(DigestMismatch, match=f"partie {last.part} .* a changé depuis l'empaquetage"):
        approve(world.ledger, batch_id, approver="Camille", sha256=every)


# -- transfer of a split batch ------------------------------------------------------------------


def test_a_split_batch_is_transferred_part_by_part_and_verified(world: World, capsys) -> None:
    batch_id = split(world)
    approve(world.ledger, batch_id, approver="Camille", sha256=digests(world.ledger, batch_id))
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    parts = current_sips(world.ledger.batch(batch_id))
    assert {sip.status for sip in parts} == {"verified"} and {sip.atr_reply_code for sip in parts} == {"OK"}
    for sip in parts:  # exactly one ingest per part, each under its own MessageIdentifier
        assert ingests_of(world, sip.message_identifier) == [sip.vitam_operation_id]
        assert Path(str(sip.atr_path)).is_file()
    assert len({sip.vitam_operation_id for sip in parts}) == len(parts)
    assert batch.vitam_operation_id == parts[0].vitam_operation_id  # the batch columns: part 1
    intents = [json.loads(e.details) for e in world.ledger.events(batch_id) if e.action == "transfer.submitting"]
    assert [i["part"] for i in intents] == [sip.part for sip in parts]  # in order, each before its upload
    verified = world.details(batch_id, "verify")
    assert verified["parts"] == len(parts) and verified["units_read"] == sum(sip.units for sip in parts)
    assert verified["objects_checked"] == sum(sip.objects for sip in parts)
    assert world.ledger.verify().ok
    assert logbook_mismatches(world.ledger, world.client()) == []
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"lot {batch_id} : tentative 1 (en cours), {len(parts)} SIP" in out
    # Each part is compared with VITAM's logbook.
    with world.ledger.engine.begin() as db:
        db.execute(text("UPDATE sip SET atr_reply_code = 'KO' WHERE batch_id = :b AND part = 2"), {"b": batch_id})
    (problem,) = logbook_mismatches(world.ledger, world.client())
    assert "(partie 2), le registre a enregistré KO" in problem


def test_a_dry_run_of_a_split_batch_tries_every_part(world: World) -> None:
    batch_id = split(world)
    report = run_dry_run(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    parts = current_sips(world.ledger.batch(batch_id))
    assert report.outcome == "OK" and f"essai à blanc (BLANK_TEST) de {len(parts)} SIP" in report.text()
    tried = [json.loads(e.details) for e in world.ledger.events(batch_id) if e.action == "transfer.dry_run"]
    assert [(t["part"], t["reply_code"]) for t in tried] == [(sip.part, "Test OK") for sip in parts]
    assert world.ledger.batch(batch_id).state == State.AWAITING_APPROVAL
    assert all(ingests_of(world, sip.message_identifier) == [] for sip in parts)  # nothing archived
    Path(parts[-1].path).write_bytes(b"PK")
    with pytest.raises(DigestMismatch, match=f"partie {parts[-1].part}"):
        run_dry_run(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert world.details(batch_id, "transfer.dry_run_refused")["part"] == parts[-1].part


def test_an_interrupted_part_is_found_in_vitam_not_sent_again(world: World) -> None:
    batch_id = split(world)
    approve(world.ledger, batch_id, approver="Camille", sha256=digests(world.ledger, batch_id))
    sent: list[Path] = []

    class LostAfterTheSecondUpload(VitamClient):
        def ingest(self, sip: Path, *args: Any, **kwargs: Any) -> str:
            operation = super().ingest(sip, *args, **kwargs)
            sent.append(sip)
            if len(sent) == 2:  # the upload arrived; the 202 was lost
                raise UploadOutcomeUnknown("POST /ingests: no answer (ReadError)")
            return operation

    with LostAfterTheSecondUpload(endpoint(world.settings)) as client, pytest.raises(UploadOutcomeUnknown):
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=client)
    batch = world.ledger.batch(batch_id)
    assert batch.state == State.SUBMITTING
    assert [sip.status for sip in current_sips(batch)][:3] == ["submitted", "submitting", None]

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    resumed = world.details(batch_id, "transfer.resumed")
    assert resumed["part"] == 2 and resumed["decision"] == "follow"
    for sip in current_sips(batch):
        assert ingests_of(world, sip.message_identifier) == [sip.vitam_operation_id]
    assert world.ledger.verify().ok


def test_a_tampered_part_is_refused_then_repackaged_as_attempt_2(world: World, capsys) -> None:
    batch_id = split(world)
    every = digests(world.ledger, batch_id)
    approve(world.ledger, batch_id, approver="Camille", sha256=every)
    before = current_sips(world.ledger.batch(batch_id))
    Path(before[1].path).write_bytes(Path(before[1].path).read_bytes()[:-1])
    with pytest.raises(DigestMismatch, match=r"partie 2 .* rien n'est envoyé"):
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    refusal = world.details(batch_id, "transfer.refused")
    assert refusal["part"] == 2 and refusal["expected_sha256"] == every[1] and refusal["found_sha256"] != every[1]
    assert all(ingests_of(world, sip.message_identifier) == [] for sip in before)

    with pytest.raises(RepackageRefused, match="justifié"):
        repackage(world.ledger, batch_id, by="Camille", reason=" ")
    assert main(["repackage", str(batch_id), "--by", "Camille", "--reason", "partie 2 modifiée"]) == 0
    assert "nouvel empaquetage demandé par Camille" in capsys.readouterr().out
    batch = world.ledger.batch(batch_id)
    assert batch.state == State.VALIDATED and batch.sip_path is None and batch.approved_sha256 is None
    event = world.details(batch_id, "batch.repackaged")
    assert event["previous_attempt"]["attempt"] == 1 and event["changed_sips"][0]["part"] == 2
    assert [s["sha256"] for s in event["previous_attempt"]["sips"]] == every

    batch = run_package(world.settings, world.ledger, batch_id, actor="test", limits=SMALL)
    second = current_sips(batch)
    assert {sip.attempt for sip in second} == {2}
    assert second[0].message_identifier == before[0].message_identifier.replace("-001", "-A2-001")
    kept = [sip for sip in batch.sips if sip.attempt == 1]
    assert [(s.sha256, s.approved_sha256) for s in kept] == [(d, d) for d in every]  # attempt 1 kept
    assert "Tentative n° 2" in approval_request(batch)
    assert world.ledger.verify().ok


# -- re-packaging after VITAM's refusal ---------------------------------------------------------


@pytest.fixture
def refusing_once(tmp_path: Path, seda_schemas: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for found in make_world(tmp_path, seda_schemas, faults=Faults(force_ko=1)):
        for name, value in found.environ.items():
            monkeypatch.setenv(name, value)
        yield found


def test_a_refused_batch_is_repackaged_and_attempt_2_is_archived(refusing_once: World, capsys) -> None:
    world = refusing_once
    batch_id = world.approved()
    first = world.ledger.batch(batch_id)
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.REFUSED and batch.atr_reply_code == "KO" and batch.active_key is None
    refused_operation = batch.vitam_operation_id

    batch = repackage(world.ledger, batch_id, by="Camille Archiviste", reason="offres de stockage indisponibles")
    assert batch.state == State.VALIDATED and batch.active_key == f"{batch.source}/{batch.scope}"
    assert batch.vitam_operation_id is None and batch.message_identifier is None
    batch = run_package(world.settings, world.ledger, batch_id, actor="test")
    assert batch.message_identifier == f"{first.message_identifier}-A2"
    approve(world.ledger, batch_id, approver="Camille Archiviste", sha256=batch.sip_sha256)
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED and batch.atr_reply_code == "OK"

    # Exactly one ingest per attempt, each under its own MessageIdentifier.
    assert ingests_of(world, str(first.message_identifier)) == [refused_operation]
    assert world.ingests(batch_id) == [batch.vitam_operation_id]
    one, two = world.ledger.batch(batch_id).sips
    assert (one.attempt, one.vitam_operation_id, one.atr_reply_code, one.status) == (
        1,
        refused_operation,
        "KO",
        "refused",
    )
    assert (two.attempt, two.vitam_operation_id, two.atr_reply_code, two.status) == (
        2,
        batch.vitam_operation_id,
        "OK",
        "verified",
    )
    assert one.sha256 == first.sip_sha256 and one.approved_sha256 == first.approved_sha256
    actions = world.actions(batch_id)
    assert actions.count("transfer.refused_by_vitam") == 1 and actions.count("batch.repackaged") == 1
    assert world.ledger.verify().ok  # attempt 2's SIP carries the trail of attempt 1 too

    assert main(["status", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["batches"]
    assert shown["attempt"] == 2
    assert [(s["attempt"], s["atr_reply_code"]) for s in shown["sips"]] == [(1, "KO"), (2, "OK")]
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"lot {batch_id} : tentative 1 (close), 1 SIP ; opération VITAM : {refused_operation} (KO)" in out
    assert f"lot {batch_id} : tentative 2 (en cours)" in out


def test_a_part_refused_by_vitam_refuses_the_batch_and_names_what_is_archived(refusing_once: World, capsys) -> None:
    world = refusing_once
    batch_id = split(world)
    approve(world.ledger, batch_id, approver="Camille", sha256=digests(world.ledger, batch_id))
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.REFUSED
    parts = current_sips(world.ledger.batch(batch_id))
    assert [sip.status for sip in parts] == ["refused"] + ["accepted"] * (len(parts) - 1)
    refusal = world.details(batch_id, "transfer.refused_by_vitam")
    assert refusal["refused_parts"] == [1] and refusal["archived_parts"] == list(range(2, len(parts) + 1))
    text = outcome_text(world.ledger, batch)
    assert f"partie 1 ({parts[0].message_identifier}) : REJETÉE par VITAM" in text
    assert f"partie 2 ({parts[1].message_identifier}) : acceptée par VITAM" in text
    # Re-sending the whole batch would archive the accepted parts twice.
    with pytest.raises(RepackageRefused, match="VITAM a archivé une partie du lot"):
        repackage(world.ledger, batch_id, by="Camille", reason="nouvel essai")
    for sip in parts:
        assert ingests_of(world, sip.message_identifier) == [sip.vitam_operation_id]
    assert world.ledger.verify().ok


# -- what cannot be re-packaged -----------------------------------------------------------------


def test_only_refused_rejected_or_tampered_batches_are_repackaged(world: World) -> None:
    batch_id = world.approved()
    with pytest.raises(RepackageRefused, match="son SIP est intact"):
        repackage(world.ledger, batch_id, by="Camille", reason="essai")
    with pytest.raises(IllegalTransition, match=r"ne se fait que par l'action journalisée batch\.repackaged"):
        world.ledger.transition(batch_id, State.VALIDATED, actor="t", action="sneaky")
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    with pytest.raises(RepackageRefused, match="vérifié dans VITAM ; seul un lot rejeté"):
        repackage(world.ledger, batch_id, by="Camille", reason="essai")


def test_a_rejected_batch_cannot_take_back_a_scope_another_batch_holds(world: World) -> None:
    batch_id = split(world)
    reject(world.ledger, batch_id, approver="Camille", reason="règles à revoir")
    other = run_extract(world.settings, world.ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    with pytest.raises(LedgerError, match=f"le lot {other.id} est désormais en cours"):
        repackage(world.ledger, batch_id, by="Camille", reason="règles corrigées")
    assert world.ledger.batch(batch_id).state == State.REJECTED
    assert world.ledger.verify().ok
