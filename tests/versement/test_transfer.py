"""Exactly-once transfer, outcomes, dry run and verification, against a sandbox of their own over
HTTPS with client certificates (each test counts the ingests the sandbox received)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.versement.conftest import demo_environ
from tests.versement.test_pipeline import to_awaiting_approval
from versement import transfer as transfer_module
from versement.attempts import RepackageRefused, repackage
from versement.config import Settings, load
from versement.demo import sandbox_config
from versement.ledger import Ledger, State, open_ledger
from versement.pipeline import DigestMismatch, approve, endpoint, run_dry_run, run_package, run_transfer, run_verify
from versement.transfer import IngestUndecided, OperationFatal, OperationStuck, outcome_text
from vitam_client import Terminal, Transient, UploadOutcomeUnknown, VitamClient
from vitam_client.tls import ssl_context
from vitam_sandbox import DEMO_REFERENTIALS, TlsMaterial, create_app, make_tls_material, serve
from vitam_sandbox.faults import Faults
from vitam_sandbox.referentials import load_referentials

REPO = Path(__file__).resolve().parents[2]


@dataclass
class World:
    settings: Settings
    environ: dict[str, str]
    ledger: Ledger
    tls: TlsMaterial

    def client(self, rewrite: Callable[[httpx.Request, httpx.Response], httpx.Response] | None = None) -> VitamClient:
        """A client over mutual TLS; ``rewrite`` may alter VITAM's answers (fault injection)."""
        vitam = self.settings.vitam
        assert vitam.ca_bundle and vitam.client_cert and vitam.client_key
        inner = httpx.HTTPTransport(verify=ssl_context(vitam.ca_bundle, (vitam.client_cert, vitam.client_key)))
        transport: httpx.BaseTransport = Rewriting(inner, rewrite) if rewrite else inner
        return VitamClient(endpoint(self.settings), transport=transport, sleep=lambda s: time.sleep(min(s, 0.02)))

    def ingests(self, batch_id: int, *, wait: bool = True) -> list[str]:
        """The INGEST operations VITAM holds for the batch's MessageIdentifier (found once VITAM
        has read the manifest's header, a moment after the 202: waited for unless ``wait=False``)."""
        identifier = self.ledger.batch(batch_id).message_identifier
        assert identifier
        with VitamClient(endpoint(self.settings)) as client:
            found = client.ingests_of_message(identifier)
            for _ in range(300 if wait else 0):  # a loaded machine reads headers slowly
                if found:
                    break
                time.sleep(0.1)
                found = client.ingests_of_message(identifier)
            return [op.operation_id for op in found]

    def actions(self, batch_id: int) -> list[str]:
        return [e.action for e in self.ledger.events(batch_id)]

    def details(self, batch_id: int, action: str) -> dict[str, Any]:
        found = [json.loads(e.details) for e in self.ledger.events(batch_id) if e.action == action]
        assert found, f"no {action} event"
        return found[-1]

    def approved(self) -> int:
        batch_id = to_awaiting_approval(self.settings, self.ledger)
        approve(self.ledger, batch_id, approver="Camille Archiviste", sha256=self.ledger.batch(batch_id).sip_sha256)
        return batch_id


def sip_counts(sip_path: str | None) -> tuple[int, int]:
    """Units and binary objects the batch's SIP declares (what a verification must read back)."""
    assert sip_path
    with zipfile.ZipFile(sip_path) as sip:
        manifest = sip.read("manifest.xml")
    return manifest.count(b"<ArchiveUnit "), manifest.count(b"<BinaryDataObject ")


class Rewriting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, rewrite: Callable[[httpx.Request, httpx.Response], httpx.Response]):
        self.inner = inner
        self.rewrite = rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        return self.rewrite(request, response)

    def close(self) -> None:
        self.inner.close()


def make_world(tmp_path: Path, seda_schemas: Path, **config_changes: Any) -> Iterator[World]:
    tls = make_tls_material(tmp_path / "tls", require_client_cert=True)
    assert tls.client_cert_path and tls.client_key_path
    base = load(REPO / "config" / "demo.toml", environ={"VERSEMENT__SEDA__SCHEMAS": str(seda_schemas)})
    config = replace(sandbox_config(base, tmp_path / "vitam-storage"), **config_changes)
    with serve(create_app(config), tls=tls) as base_url:
        environ = demo_environ(
            tmp_path,
            seda_schemas,
            (base_url, tls.ca_path),
            VERSEMENT__VITAM__CLIENT_CERT=str(tls.client_cert_path),
            VERSEMENT__VITAM__CLIENT_KEY=str(tls.client_key_path),
        )
        settings = load(REPO / "config" / "demo.toml", environ=environ)
        yield World(settings, environ, open_ledger(settings), tls)


@pytest.fixture
def world(tmp_path: Path, seda_schemas: Path) -> Iterator[World]:
    yield from make_world(tmp_path, seda_schemas)


# -- exactly once -------------------------------------------------------------------------------

KILLED_AFTER_THE_202 = """
import os, sys
from versement.config import config_path, load
from versement.ledger import open_ledger
from versement.pipeline import endpoint, run_transfer
from vitam_client import VitamClient

class KilledAfterThe202(VitamClient):
    def ingest(self, *args, **kwargs):
        super().ingest(*args, **kwargs)
        os._exit(137)  # as SIGKILL: the upload finished, the operation id was never written

settings = load(config_path(None))
with KilledAfterThe202(endpoint(settings)) as client:
    run_transfer(settings, open_ledger(settings), int(sys.argv[1]), actor="doomed", client=client)
"""


def test_a_process_killed_after_the_upload_is_resumed_with_exactly_one_ingest(world: World, tmp_path: Path) -> None:
    batch_id = world.approved()
    script = tmp_path / "doomed.py"
    script.write_text(KILLED_AFTER_THE_202)
    env = {**os.environ, **world.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script), str(batch_id)], env=env, cwd=REPO, timeout=120)
    assert done.returncode == 137
    killed = world.ledger.batch(batch_id)
    assert killed.state == State.SUBMITTING and killed.vitam_operation_id is None
    (sent,) = world.ingests(batch_id)  # VITAM did receive it

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    assert batch.vitam_operation_id == sent
    assert world.ingests(batch_id) == [sent]  # exactly one ingest
    decision = world.details(batch_id, "transfer.resumed")
    assert decision["decision"] == "follow" and decision["operation_id"] == sent
    assert "transfer.submitted" not in world.actions(batch_id)
    assert world.ledger.verify().ok


def test_an_upload_that_never_reached_vitam_is_sent_again_once(world: World) -> None:
    batch_id = world.approved()

    class NeverArrives(VitamClient):
        def ingest(self, *args: Any, **kwargs: Any) -> str:
            raise UploadOutcomeUnknown("POST /ingests: no answer (ConnectError: connection refused)")

    with NeverArrives(endpoint(world.settings)) as client, pytest.raises(UploadOutcomeUnknown) as caught:
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=client)
    assert isinstance(caught.value, Transient)
    assert world.ledger.batch(batch_id).state == State.SUBMITTING
    assert world.details(batch_id, "transfer.upload_failed")["kind"] == "UploadOutcomeUnknown"
    assert world.ingests(batch_id, wait=False) == []

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    assert world.details(batch_id, "transfer.resumed")["decision"] == "upload"
    assert world.ingests(batch_id) == [batch.vitam_operation_id]


def test_a_connection_dropped_after_the_upload_is_followed_not_resent(world: World) -> None:
    batch_id = world.approved()

    with pytest.raises(UploadOutcomeUnknown):
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(drop_the_202))
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    assert world.ingests(batch_id) == [batch.vitam_operation_id]


def test_a_sip_changed_while_submitting_is_not_sent_and_the_refusal_is_recorded(world: World) -> None:
    batch_id = world.approved()

    class NeverArrives(VitamClient):
        def ingest(self, *args: Any, **kwargs: Any) -> str:
            raise UploadOutcomeUnknown("no answer")

    with NeverArrives(endpoint(world.settings)) as client, pytest.raises(UploadOutcomeUnknown):
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=client)
    sip = Path(str(world.ledger.batch(batch_id).sip_path))
    sip.write_bytes(sip.read_bytes() + b"\0")
    with pytest.raises(DigestMismatch) as caught:
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert isinstance(caught.value, Terminal)
    refusal = world.details(batch_id, "transfer.refused")
    assert refusal["found_sha256"] != refusal["expected_sha256"]
    assert "il n'est pas envoyé" in refusal["reason"]
    assert world.ingests(batch_id, wait=False) == []
    assert world.ledger.batch(batch_id).state == State.SUBMITTING
    # The archivist packages it again: only once VITAM's logbook shows no ingest of that SIP.
    first_id = world.ledger.batch(batch_id).message_identifier
    with pytest.raises(RepackageRefused, match="journal des opérations de VITAM doit être consulté"):
        repackage(world.ledger, batch_id, by="Camille Archiviste", reason="SIP altéré pendant l'envoi")
    with world.client() as vitam:
        batch = repackage(
            world.ledger, batch_id, by="Camille Archiviste", reason="SIP altéré pendant l'envoi", vitam=vitam
        )
    assert batch.state == State.VALIDATED
    event = world.details(batch_id, "batch.repackaged")
    assert event["vitam_logbook"] == {first_id: []} and event["changed_sips"][0]["part"] == 1
    batch = run_package(world.settings, world.ledger, batch_id, actor="test")
    assert batch.message_identifier == f"{first_id}-A2"
    approve(world.ledger, batch_id, approver="Camille Archiviste", sha256=batch.sip_sha256)
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED and world.ingests(batch_id) == [batch.vitam_operation_id]
    assert world.ledger.verify().ok


def drop_the_202(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    if request.method == "POST" and request.url.path.endswith("/ingests"):
        raise httpx.RemoteProtocolError("server disconnected without sending a response")
    return response


def test_an_upload_vitam_has_not_yet_read_is_not_sent_again(
    tmp_path: Path, seda_schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VITAM names an ingest (obIdIn) only at CHECK_HEADER: while one started after the intent is
    unread, "no ingest of this SIP" cannot be told from "not read yet", so nothing is sent."""
    monkeypatch.setattr(transfer_module, "HEADER_WAIT_SECONDS", (0.2, 0.4))  # give up before VITAM reads it
    for world in make_world(tmp_path, seda_schemas, faults=Faults(slow_header=1, header_delay_seconds=8.0)):
        batch_id = world.approved()
        with pytest.raises(UploadOutcomeUnknown):
            run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(drop_the_202))
        with pytest.raises(IngestUndecided, match="n'a pas encore lu l'en-tête") as raised:
            run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
        assert isinstance(raised.value, Transient) and len(raised.value.operations) == 1
        assert world.ledger.batch(batch_id).state == State.SUBMITTING
        waited = world.details(batch_id, "transfer.resumed")
        assert waited["decision"] == "wait" and waited["unread"] == list(raised.value.operations)
        (received,) = world.ingests(batch_id)  # VITAM has now read it: it was this SIP
        assert received == raised.value.operations[0]
        batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
        assert batch.state == State.VERIFIED and batch.vitam_operation_id == received
        assert world.ingests(batch_id) == [received]  # exactly one ingest
        assert world.details(batch_id, "transfer.resumed")["decision"] == "follow"


def test_a_sip_vitam_received_cannot_be_replaced_while_submitting(world: World) -> None:
    batch_id = world.approved()

    with pytest.raises(UploadOutcomeUnknown):
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(drop_the_202))
    (received,) = world.ingests(batch_id)
    sip = Path(str(world.ledger.batch(batch_id).sip_path))
    sip.write_bytes(sip.read_bytes() + b"\0")
    with world.client() as client, pytest.raises(RepackageRefused, match=f"VITAM a reçu le SIP .*{received}"):
        repackage(world.ledger, batch_id, by="Camille Archiviste", reason="SIP altéré", vitam=client)
    assert world.ledger.batch(batch_id).state == State.SUBMITTING  # nothing written
    # The transfer follows what VITAM received (found by its MessageIdentifier), never re-sends.
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.vitam_operation_id == received and world.ingests(batch_id) == [received]


# -- outcomes -----------------------------------------------------------------------------------


def test_a_refusal_is_explained_in_french(tmp_path: Path, seda_schemas: Path) -> None:
    demo = load_referentials(DEMO_REFERENTIALS)
    rules = {rule_id: rule for rule_id, rule in demo.rules.items() if rule_id != "APP-00003"}  # unknown here
    for world in make_world(tmp_path, seda_schemas, referentials=replace(demo, rules=rules)):
        batch_id = world.approved()
        batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
        assert batch.state == State.REFUSED and batch.atr_reply_code == "KO"
        reasons = world.details(batch_id, "transfer.refused_by_vitam")["reasons"]
        (reason, *_) = [r for r in reasons if r["code"] == "UNITS_RULES_COMPUTE.UNKNOWN.KO"]
        assert reason["step"] == "contrôle des unités d'archives"
        assert "APP-00003" in (reason["where"] or "")
        text = outcome_text(world.ledger, batch)
        assert text.startswith(f"Lot {batch_id} : REFUSÉ par VITAM")
        assert "une règle de gestion citée n'existe pas" in text and "À faire" in text
        assert batch.active_key is None  # the scope is free for a new attempt


def test_a_fatal_operation_waits_for_an_operator(world: World) -> None:
    batch_id = world.approved()

    def fatal(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method == "HEAD" and "/operations/" in request.url.path:
            headers = {"X-Global-Execution-State": "PAUSE", "X-Global-Execution-Status": "FATAL"}
            return httpx.Response(202, headers=headers)
        return response

    with pytest.raises(OperationFatal) as caught:
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(fatal))
    assert isinstance(caught.value, Terminal)
    assert "l'exploitant VITAM doit la reprendre" in str(caught.value)
    assert world.ledger.batch(batch_id).state == State.SUBMITTED
    assert world.details(batch_id, "transfer.needs_operator")["reason"] == "fatal"
    # Once the operator has acted, the same command finishes the job, without a second upload.
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED and world.ingests(batch_id) == [batch.vitam_operation_id]


def test_an_operation_stuck_past_the_poll_timeout(world: World) -> None:
    batch_id = world.approved()
    world.settings = replace(world.settings, vitam=replace(world.settings.vitam, poll_timeout=0.2))

    def running(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method == "HEAD" and "/operations/" in request.url.path:
            headers = {"X-Global-Execution-State": "RUNNING", "X-Global-Execution-Status": "STARTED"}
            return httpx.Response(202, headers=headers)
        return response

    with pytest.raises(OperationStuck) as caught:
        run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(running))
    assert isinstance(caught.value, Transient)
    assert world.details(batch_id, "transfer.needs_operator")["reason"] == "timeout"
    assert world.ledger.batch(batch_id).state == State.SUBMITTED


# -- dry run ------------------------------------------------------------------------------------


def test_a_dry_run_reports_and_changes_nothing(world: World) -> None:
    batch_id = to_awaiting_approval(world.settings, world.ledger)  # also before approval
    report = run_dry_run(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert report.reply_code == "Test OK" and report.outcome == "OK"
    assert "VITAM accepterait ce paquet" in report.text()
    assert world.ledger.batch(batch_id).state == State.AWAITING_APPROVAL
    event = world.details(batch_id, "transfer.dry_run")
    assert event["reply_code"] == "Test OK" and event["operation_id"] == report.operation_id
    assert world.ingests(batch_id, wait=False) == []  # BLANK_TEST is INGEST_TEST: nothing archived
    with VitamClient(endpoint(world.settings)) as client:
        assert client.logbook_operation(report.operation_id).type_proc == "INGEST_TEST"
        assert client.units_by_operation(report.operation_id) == []


# -- verification -------------------------------------------------------------------------------


def test_a_mismatch_read_back_is_loud_and_a_later_verification_can_clear_it(world: World) -> None:
    batch_id = world.approved()

    def altered(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/objects"):
            data = response.json()
            version = data["$results"][0]["#qualifiers"][0]["versions"][0]
            version["MessageDigest"] = "0" * 128
            version["Size"] += 1
            return httpx.Response(200, json=data)
        return response

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(altered))
    assert batch.state == State.VERIFICATION_FAILED
    problems = world.details(batch_id, "verify.mismatch")["problems"]
    assert any("l'empreinte SHA-512 détenue par VITAM diffère" in p for p in problems)
    assert any("octets" in p for p in problems)
    text = outcome_text(world.ledger, batch)
    assert "VÉRIFICATION EN ÉCHEC" in text and "✗" in text

    batch = run_verify(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    verified = world.details(batch_id, "verify")
    units, objects = sip_counts(world.ledger.batch(batch_id).sip_path)
    assert verified["units_read"] == units and verified["objects_checked"] == objects


def test_units_missing_from_vitam_fail_the_verification(world: World) -> None:
    batch_id = world.approved()

    def one_unit_less(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/access-external/v1/units"):
            data = response.json()
            data["$results"] = data["$results"][1:]
            return httpx.Response(200, json=data)
        return response

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(one_unit_less))
    assert batch.state == State.VERIFICATION_FAILED
    problems = world.details(batch_id, "verify.mismatch")["problems"]
    units, _ = sip_counts(world.ledger.batch(batch_id).sip_path)
    expected = f"VITAM restitue {units - 1} unités d'archives pour l'opération, le bordereau en déclare {units}"
    assert any(expected in p for p in problems)
    assert any("introuvable dans VITAM" in p for p in problems)


def test_accepted_with_warnings_is_verified_and_says_so(world: World) -> None:
    batch_id = world.approved()
    warning = (
        b"<ReplyCode>WARNING</ReplyCode><Operation><Event><EventTypeCode>CHECK_OBJECT_SIZE</EventTypeCode>"
        b"<EventType>V\xc3\xa9rification de la taille des objets</EventType><Outcome>WARNING</Outcome>"
        b"<OutcomeDetail>CHECK_OBJECT_SIZE.WARNING</OutcomeDetail>"
        b"<OutcomeDetailMessage>taille d\xc3\xa9clar\xc3\xa9e incorrecte</OutcomeDetailMessage></Event></Operation>"
    )

    def warned(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/archivetransferreply"):
            return httpx.Response(200, content=response.content.replace(b"<ReplyCode>OK</ReplyCode>", warning))
        return response

    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client(warned))
    assert batch.state == State.VERIFIED and batch.atr_reply_code == "WARNING"
    assert "transfer.accepted_with_warnings" in world.actions(batch_id)
    text = outcome_text(world.ledger, batch)
    assert "accepté par VITAM avec avertissements" in text
    assert "la taille d'un fichier diffère de celle déclarée" in text


def test_the_ledger_is_compared_with_vitams_logbook(world: World) -> None:
    from sqlalchemy import update

    from versement.ledger.models import Batch
    from versement.transfer import logbook_mismatches

    batch_id = world.approved()
    batch = run_transfer(world.settings, world.ledger, batch_id, actor="test", client=world.client())
    assert batch.state == State.VERIFIED
    assert logbook_mismatches(world.ledger, world.client()) == []

    # A ledger rewritten whole (events and rows alike) still disagrees with VITAM's own record.
    with world.ledger.session() as session:
        session.execute(update(Batch).where(Batch.id == batch_id).values(atr_reply_code="KO"))
    (problem,) = logbook_mismatches(world.ledger, world.client())
    assert f"lot {batch_id} : le journal des opérations de VITAM indique OK" in problem
    assert "le registre a enregistré KO" in problem
    with world.ledger.session() as session:
        session.execute(update(Batch).where(Batch.id == batch_id).values(vitam_operation_id="aeeaaaaaaaunknown"))
    (problem,) = logbook_mismatches(world.ledger, world.client())
    assert "le journal des opérations de VITAM n'a pas d'opération aeeaaaaaaaunknown" in problem
