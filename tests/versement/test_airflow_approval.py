"""Approval through Airflow's human-in-the-loop operators, without a scheduler: the request's
payload, an approval bound to the digest shown, a rejection that blocks the transfer, expiry, the
quality override, and the operators' execute / execute_complete around Airflow's HITL machinery."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.versement.test_quality_gate import YEAR, extracted_batch
from versement import orchestration as steps
from versement.ledger import Ledger, State
from versement.pipeline import DigestMismatch, StageError
from versement.quality import validate


def details(event: Any) -> dict[str, Any]:
    return dict(json.loads(event.details))


ARCHIVIST = {"id": "claire.dupre", "name": "Claire Dupré"}


@pytest.fixture(scope="module", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("AIRFLOW_HOME")
    os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    yield
    if previous is None:
        os.environ.pop("AIRFLOW_HOME", None)
    else:
        os.environ["AIRFLOW_HOME"] = previous


def test_the_payload_shows_the_batch_the_digest_and_the_link(packaged) -> None:
    settings, ledger, batch = packaged
    payload = steps.approval_payload(settings, batch, ledger)
    body = payload["body"]
    assert payload["subject"] == f"Validation du lot n° {batch.id} — Apogée — scolarité, année universitaire 2023-2024"
    assert payload["sip_sha256"] == batch.sip_sha256 and f"`{batch.sip_sha256}`" in body
    assert f"Empreinte SHA-256 du SIP : {batch.sip_sha256}" in body
    for dataset in batch.datasets:  # scope, every dataset with its rows, its quality and its rules
        assert f"{dataset.rows} lignes" in body
    assert "contrôle qualité conforme" in body and "communicabilité ACC-" in body
    assert f"[http://127.0.0.1:8000/lots/{batch.id}](http://127.0.0.1:8000/lots/{batch.id})" in body
    assert "versement approve" not in body  # the form answers, not the command line


def test_an_approval_is_bound_to_the_digest_shown_and_names_the_archivist(packaged) -> None:
    _, ledger, batch = packaged
    wrong = "0" * 64
    with pytest.raises(DigestMismatch, match="n'est pas celle de la demande"):
        steps.record_decision(
            ledger,
            batch.id,
            chosen=[steps.APPROVE],
            params_input={steps.DIGEST: wrong},
            responder=ARCHIVIST,
            shown_sha256=batch.sip_sha256,
        )
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL  # nothing written
    with pytest.raises(steps.StepRefused, match="qui l'a donnée"):
        steps.record_decision(
            ledger,
            batch.id,
            chosen=[steps.APPROVE],
            params_input={steps.DIGEST: batch.sip_sha256},
            responder=None,
            shown_sha256=batch.sip_sha256,
        )
    approved = steps.record_decision(
        ledger,
        batch.id,
        chosen=[steps.APPROVE],
        params_input={steps.DIGEST: batch.sip_sha256.upper(), steps.COMMENT: "conforme"},
        responder=ARCHIVIST,
        shown_sha256=batch.sip_sha256,
    )
    assert approved.state == State.APPROVED and approved.approved_by == "Claire Dupré"
    event = ledger.events(batch.id)[-1]
    assert (event.actor, event.action) == ("airflow:claire.dupre", "approve")
    assert details(event)["sip_sha256"] == batch.sip_sha256 and details(event)["authenticated"] is True


def test_a_rejection_keeps_its_comment_and_the_batch_is_never_transferred(packaged) -> None:
    settings, ledger, batch = packaged
    rejected = steps.record_decision(
        ledger,
        batch.id,
        chosen=[steps.REJECT],
        params_input={steps.COMMENT: "périmètre incomplet"},
        responder=ARCHIVIST,
        shown_sha256=batch.sip_sha256,
    )
    assert rejected.state == State.REJECTED
    event = ledger.events(batch.id)[-1]
    assert (event.actor, event.action, details(event)["reason"]) == (
        "airflow:claire.dupre",
        "reject",
        "périmètre incomplet",
    )
    from versement.transfer import submit

    with pytest.raises(StageError, match="seul un lot validé par l'archiviste"):
        submit(settings, ledger, batch.id, actor="test")


def test_an_expired_request_is_recorded_and_leaves_the_batch_waiting(packaged) -> None:
    _, ledger, batch = packaged
    message = steps.record_expiry(ledger, batch.id, actor="airflow:versement_apogee.approval", kind="approval", hours=2)
    assert "restée sans réponse 2 h et a expiré" in message and "en attente de validation" in message.lower()
    event = ledger.events(batch.id)[-1]
    assert event.action == "approval.expired" and details(event) == {"timeout_hours": 2, "state": "awaiting_approval"}
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL


@pytest.fixture
def failed(tmp_path: Path) -> Iterator[tuple[Ledger, int]]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.migrate()
    batch_id = extracted_batch(ledger, tmp_path / "data", ["P", "P"])  # a duplicated key: the gate fails
    assert validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "batch", actor="test").state == State.QUALITY_FAILED
    yield ledger, batch_id
    ledger.close()


def test_the_override_needs_a_written_justification(failed) -> None:
    ledger, batch_id = failed
    with pytest.raises(steps.StepRefused, match="justifiée par écrit"):
        steps.record_override(ledger, batch_id, chosen=[steps.OVERRIDE], params_input={}, responder=ARCHIVIST)
    assert ledger.batch(batch_id).state == State.QUALITY_FAILED
    assert ledger.events(batch_id)[-1].action == "override.refused"
    stopped = steps.record_override(
        ledger, batch_id, chosen=[steps.STOP], params_input={steps.JUSTIFICATION: ""}, responder=ARCHIVIST
    )
    assert stopped.state == State.QUALITY_FAILED and ledger.events(batch_id)[-1].action == "override.declined"
    lifted = steps.record_override(
        ledger,
        batch_id,
        chosen=[steps.OVERRIDE],
        params_input={steps.JUSTIFICATION: "doublon connu de la source, documenté"},
        responder=ARCHIVIST,
    )
    assert lifted.state == State.VALIDATED
    event = ledger.events(batch_id)[-1]
    assert details(event)["reason"] == "doublon connu de la source, documenté"
    assert details(event)["by"] == "Claire Dupré (airflow:claire.dupre)"


# -- the operators around Airflow's HITL machinery -----------------------------------------------


class FakeTI:
    id = "0197a1b2-0000-7000-8000-000000000001"
    map_index = -1


@pytest.mark.airflow
def test_the_approval_operator_asks_the_archivists_then_records_the_answer(packaged, monkeypatch) -> None:
    import airflow.providers.standard.operators.hitl as hitl
    from airflow.sdk.exceptions import AirflowFailException

    from versement.airflow.operators.approval import BatchApprovalOperator

    settings, ledger, batch = packaged
    written: dict[str, Any] = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: written.update(kwargs))

    def operator() -> BatchApprovalOperator:
        return BatchApprovalOperator(
            task_id="approval", batch_id=str(batch.id), timeout_hours=1, deployment=lambda: (settings, ledger)
        )

    with pytest.raises(hitl.TaskAwaitingInput):
        operator().execute({"task_instance": FakeTI()})
    assert written["assigned_users"] == [{"id": "archiviste", "name": "archiviste"}]  # config/demo.toml
    assert written["options"] == [steps.APPROVE, steps.REJECT]
    assert written["params"][steps.DIGEST]["value"] == batch.sip_sha256  # filled with the digest shown
    assert batch.sip_sha256 in written["body"] and written["subject"].startswith(f"Validation du lot n° {batch.id}")

    # An unanswered request: the scheduler's sweep resumes the task with a timeout event.
    with pytest.raises(AirflowFailException, match="a expiré"):
        operator().execute_complete({}, {"error": "timeout", "error_type": "timeout"})
    assert ledger.events(batch.id)[-1].action == "approval.expired"

    answer = {
        "chosen_options": [steps.APPROVE],
        "params_input": {steps.DIGEST: batch.sip_sha256, steps.COMMENT: ""},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "archiviste", "name": "archiviste"},
    }
    # A digest other than the one shown is refused for good (no retry would ask again).
    wrong = {**answer, "params_input": {steps.DIGEST: "0" * 64, steps.COMMENT: ""}}
    with pytest.raises(AirflowFailException, match="n'est pas celle de la demande"):
        operator().execute_complete({}, wrong)
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL
    result = operator().execute_complete({}, answer)
    assert result["state"] == State.APPROVED and ledger.batch(batch.id).approver_identity == "airflow:archiviste"
    # A resumed run finds the batch answered: no second request, the gate decides.
    assert operator().execute({"task_instance": FakeTI()})["state"] == State.APPROVED


@pytest.mark.airflow
def test_no_configured_archivist_means_no_request(packaged, monkeypatch) -> None:
    from dataclasses import replace

    import airflow.providers.standard.operators.hitl as hitl
    from airflow.sdk.exceptions import AirflowFailException

    from versement.airflow.operators.approval import BatchApprovalOperator
    from versement.config import ApprovalConfig

    settings, ledger, batch = packaged
    nobody = replace(settings, approval=ApprovalConfig(archivists=()))
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: pytest.fail("a request was written"))
    op = BatchApprovalOperator(
        task_id="approval", batch_id=batch.id, timeout_hours=1, deployment=lambda: (nobody, ledger)
    )
    with pytest.raises(AirflowFailException, match=r"approval\.archivists est vide"):
        op.execute({"task_instance": FakeTI()})


# -- a batch packaged as several SIPs --------------------------------------------------------------


@pytest.fixture
def split_packaged(tmp_path, seda_schemas, monkeypatch):
    """A batch of the embedded default packaged as several SIPs, awaiting approval."""
    from tests.versement.conftest import package_demo
    from tests.versement.test_sips import SMALL
    from versement.ledger.sips import current_sips

    settings, ledger, batch = package_demo(tmp_path, seda_schemas, monkeypatch, limits=SMALL)
    parts = [sip.sha256 for sip in current_sips(batch)]
    assert len(parts) >= 2
    yield settings, ledger, batch, parts
    ledger.close()


def test_a_split_batch_shows_every_part_and_is_approved_with_every_digest(split_packaged) -> None:
    settings, ledger, batch, parts = split_packaged
    payload = steps.approval_payload(settings, batch, ledger)
    assert payload["digests"] == parts  # what the form is filled with and the answer is bound to
    for digest in parts:
        assert f"`{digest}`" in payload["body"]
    assert "versement approve" not in payload["body"]  # the form answers, not the command line
    shown = payload["digests"]
    # One part's digest only, or one not shown: refused, nothing written.
    for given in (parts[0], " ".join([*parts[:-1], "0" * 64])):
        with pytest.raises(DigestMismatch, match="ne sont pas celles de la demande, une par SIP"):
            steps.record_decision(
                ledger,
                batch.id,
                chosen=[steps.APPROVE],
                params_input={steps.DIGEST: given},
                responder=ARCHIVIST,
                shown_sha256=shown,
            )
    assert ledger.batch(batch.id).state == State.AWAITING_APPROVAL
    # Every part's digest, as the form shows them (any order, separated by spaces, commas or lines).
    approved = steps.record_decision(
        ledger,
        batch.id,
        chosen=[steps.APPROVE],
        params_input={steps.DIGEST: ",\n".join(reversed(parts)).upper()},
        responder=ARCHIVIST,
        shown_sha256=shown,
    )
    assert approved.state == State.APPROVED
    event = ledger.events(batch.id)[-1]
    assert (event.actor, event.action) == ("airflow:claire.dupre", "approve")
    assert details(event)["parts_sha256"] == parts


@pytest.mark.airflow
def test_the_approval_operator_binds_a_split_batch_to_every_part(split_packaged, monkeypatch) -> None:
    import airflow.providers.standard.operators.hitl as hitl

    from versement.airflow.operators.approval import BatchApprovalOperator

    settings, ledger, batch, parts = split_packaged
    written: dict[str, Any] = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: written.update(kwargs))

    def operator() -> BatchApprovalOperator:
        return BatchApprovalOperator(
            task_id="approval", batch_id=str(batch.id), timeout_hours=1, deployment=lambda: (settings, ledger)
        )

    with pytest.raises(hitl.TaskAwaitingInput):
        operator().execute({"task_instance": FakeTI()})
    filled = written["params"][steps.DIGEST]["value"]
    assert filled.split() == parts  # every part's digest, in part order
    answer = {
        "chosen_options": [steps.APPROVE],
        "params_input": {steps.DIGEST: filled, steps.COMMENT: ""},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "archiviste", "name": "archiviste"},
    }
    result = operator().execute_complete({}, answer)
    assert result["state"] == State.APPROVED
    assert details(ledger.events(batch.id)[-1])["parts_sha256"] == parts


@pytest.mark.airflow
def test_the_override_operator_asks_then_lifts_the_gate_with_the_justification(failed, monkeypatch) -> None:
    import airflow.providers.standard.operators.hitl as hitl
    from airflow.sdk.exceptions import AirflowFailException

    from versement.airflow.operators.approval import QualityOverrideOperator
    from versement.config import load

    ledger, batch_id = failed
    settings = load(Path(__file__).resolve().parents[2] / "config" / "demo.toml", environ={})
    written: dict[str, Any] = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: written.update(kwargs))

    def operator() -> QualityOverrideOperator:
        return QualityOverrideOperator(
            task_id="override", batch_id=str(batch_id), timeout_hours=1, deployment=lambda: (settings, ledger)
        )

    with pytest.raises(hitl.TaskAwaitingInput):
        operator().execute({"task_instance": FakeTI()})
    assert written["assigned_users"] == [{"id": "archiviste", "name": "archiviste"}]
    assert written["options"] == [steps.OVERRIDE, steps.STOP]
    assert written["subject"] == f"Dérogation au contrôle qualité du lot n° {batch_id}, année universitaire 2023-2024"
    assert "Le contrôle qualité du lot a échoué" in written["body"] and f"/lots/{batch_id}" in written["body"]

    def answer(option: str, justification: str) -> dict[str, Any]:
        return {
            "chosen_options": [option],
            "params_input": {steps.JUSTIFICATION: justification},
            "responded_at": datetime.now(UTC),
            "responded_by_user": {"id": "archiviste", "name": "archiviste"},
        }

    with pytest.raises(AirflowFailException, match="justifiée par écrit"):  # refused for good, no retry
        operator().execute_complete({}, answer(steps.OVERRIDE, "  "))
    assert ledger.batch(batch_id).state == State.QUALITY_FAILED
    result = operator().execute_complete({}, answer(steps.OVERRIDE, "doublon connu de la source"))
    assert result == {"batch_id": batch_id, "state": State.VALIDATED, "by": {"id": "archiviste", "name": "archiviste"}}
    event = ledger.events(batch_id)[-1]
    assert details(event)["reason"] == "doublon connu de la source"
    # A validated batch asks for no override: the task is skipped (a resumed run).
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        operator().execute({"task_instance": FakeTI()})
