"""Sending an approved batch to VITAM exactly once, following it, and checking what VITAM holds.

VITAM's ingest is not idempotent (vitam-api.md §11.2): a SIP sent twice is archived twice, and
the operation id only arrives with the 202, after the whole upload. So the ledger records the
intent first:

    approved ──(SIP digest checked)──▶ submitting ──(202, operation id)──▶ submitted
                                        │
                 resumed from here:  look the ingest up in the logbook by obIdIn = the SIP's
                                     MessageIdentifier (access-external); follow it if found,
                                     upload again only when VITAM shows none; the decision
                                     is an audit event

Then ``submitted`` is followed to its ATR (accepted, accepted with warnings, refused with French
reasons, or left for an operator when FATAL or stuck), and an accepted batch is verified by
reading back (units by ``#opi``, object groups): only then is it ``verified``; a mismatch is
``verification_failed``, loudly.

Known limit: VITAM writes the MessageIdentifier into ``obIdIn`` only once CHECK_HEADER has run;
an ingest refused by the sanity checks is not found by the look-up, and the SIP is sent again.
That second ingest cannot duplicate archives, since the first one stored nothing.

A batch packaged as several SIPs goes through the same steps part by part
(``versement.transfer_parts``); the batch's own columns describe part 1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from extractors.files import sha256_file
from versement.config import Settings
from versement.ledger import Batch, Ledger, State
from versement.ledger.sips import current_sips, part_updates
from versement.pipeline import DigestMismatch, StageError, batch_folder, vitam_client
from versement.vitam_reasons import Reason, reasons
from vitam_client import (
    ArchiveTransferReply,
    LogbookOperation,
    OperationStatus,
    Terminal,
    Transient,
    VitamClient,
    VitamError,
    VitamNotFound,
    VitamTimeout,
    is_transient,
    parse_atr,
)

log = logging.getLogger("versement.transfer")

OnStatus = Callable[[OperationStatus], None]
# An ingest found in the logbook must have started after the intent was recorded (minus this,
# for clock differences between VITAM's hosts and ours).
CLOCK_MARGIN = timedelta(minutes=10)
DIGESTS = {"SHA-512": "sha512", "SHA-384": "sha384", "SHA-256": "sha256", "SHA-1": "sha1", "MD5": "md5"}
CHUNK = 1024 * 1024


class NeedsOperator(StageError):
    """VITAM's operation cannot finish without a VITAM operator (FATAL) or is stuck (timeout)."""

    def __init__(self, message: str, operation_id: str, state: str | None, status: str | None) -> None:
        super().__init__(message)
        self.operation_id = operation_id
        self.state = state
        self.status = status


class OperationFatal(Terminal, NeedsOperator):
    """Paused on FATAL: polling again changes nothing until an operator acts."""


class OperationStuck(Transient, NeedsOperator):
    """Still running after ``vitam.poll_timeout``: a later ``versement transfer`` polls again."""


class IngestUndecided(Transient, StageError):
    """VITAM is still reading ingests that started after the interrupted upload: one may be it."""

    def __init__(self, message: str, operations: tuple[str, ...]) -> None:
        super().__init__(message)
        self.operations = operations


class CannotResume(Terminal, StageError):
    """An interrupted upload cannot be checked in VITAM, so the SIP is not sent again."""


@dataclass(frozen=True)
class DryRunReport:
    """What VITAM would say of the SIP (BLANK_TEST); nothing was archived."""

    batch_id: int
    operation_id: str
    reply_code: str  # "Test OK", "Test WARNING", "Test KO"... or "FATAL" when stuck
    reasons: tuple[Reason, ...] = ()
    atr_path: Path | None = None

    @property
    def outcome(self) -> str:
        return self.reply_code.removeprefix("Test ")

    def text(self) -> str:
        verdict = {
            "OK": "VITAM accepterait ce paquet",
            "WARNING": "VITAM accepterait ce paquet, avec des avertissements",
            "KO": "VITAM REFUSERAIT ce paquet",
        }.get(self.outcome, f"l'essai n'a pas abouti ({self.reply_code}) : faire intervenir l'exploitant VITAM")
        lines = [f"Lot {self.batch_id} : essai à blanc (BLANK_TEST, opération {self.operation_id}) : {verdict}."]
        lines += [f"  • {reason.text()}" for reason in self.reasons]
        lines.append("Rien n'a été archivé ; l'état du lot est inchangé.")
        return "\n".join(lines)


@contextmanager
def _client(settings: Settings, given: VitamClient | None) -> Iterator[VitamClient]:
    if given is not None:
        yield given
        return
    with vitam_client(settings) as client:
        yield client


# -- transfer -----------------------------------------------------------------------------------


def transfer(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    on_status: OnStatus | None = None,
    client: VitamClient | None = None,
) -> Batch:
    """Drive a batch from ``approved`` (or wherever an earlier run stopped) to ``verified``."""
    with _client(settings, client) as vitam:
        submit(settings, ledger, batch_id, actor=actor, client=vitam)
        return complete(settings, ledger, batch_id, actor=actor, on_status=on_status, client=vitam)


def submit(
    settings: Settings, ledger: Ledger, batch_id: int, *, actor: str, client: VitamClient | None = None
) -> Batch:
    """The exactly-once part: ``approved`` or ``submitting`` to ``submitted``; a batch already
    further along is returned as it is. (Airflow's operator submits, then defers.)"""
    batch = ledger.batch(batch_id)
    state = State(batch.state)
    if state not in (State.APPROVED, State.SUBMITTING, State.SUBMITTED, State.ACCEPTED):
        raise StageError(
            f"lot {batch_id} : état {batch.state} ; seul un lot validé par l'archiviste (approved) peut être transféré"
        )
    if state not in (State.APPROVED, State.SUBMITTING):
        return batch
    if len(current_sips(batch)) > 1:  # several SIPs: each part exactly once, in order
        from versement.transfer_parts import submit_parts

        with _client(settings, client) as vitam:
            return submit_parts(vitam, ledger, batch, actor)
    with _client(settings, client) as vitam:
        if state == State.APPROVED:
            return _submit(vitam, ledger, batch, actor)
        return _resume(vitam, ledger, batch, actor)


def complete(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    on_status: OnStatus | None = None,
    client: VitamClient | None = None,
) -> Batch:
    """Follow a ``submitted`` batch to its ATR, then verify an accepted one by reading it back."""
    batch = ledger.batch(batch_id)
    with _client(settings, client) as vitam:
        if State(batch.state) == State.SUBMITTED:
            batch = _follow(settings, vitam, ledger, batch, actor, on_status)
        if State(batch.state) == State.ACCEPTED:
            batch = _verify(vitam, ledger, batch, actor)
    return batch


def _check_sip(ledger: Ledger, batch: Batch, actor: str, expected: str | None, action: str) -> str:
    """The SIP must be the one the archivist approved; a refusal is written to the ledger."""
    assert batch.sip_path is not None
    actual = sha256_file(Path(batch.sip_path))
    if actual != expected:
        ledger.record(
            batch.id,
            actor=actor,
            action=action,
            details={
                "reason": "le SIP a changé depuis sa validation par l'archiviste : il n'est pas envoyé",
                "sip": batch.sip_path,
                "expected_sha256": expected,
                "found_sha256": actual,
            },
        )
        raise DigestMismatch(
            f"lot {batch.id} : le SIP a l'empreinte SHA-256 {actual}, l'archiviste a validé {expected} ; "
            "il n'est pas envoyé"
        )
    return actual


def _submit(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    digest = _check_sip(ledger, batch, actor, batch.approved_sha256, "transfer.refused")
    # The intent, before the first byte: a crash from here on is resumed by a logbook look-up.
    batch = ledger.transition(
        batch.id,
        State.SUBMITTING,
        actor=actor,
        action="transfer.submitting",
        details={
            "message_identifier": batch.message_identifier,
            "sip_sha256": digest,
            "manifest_sha512": batch.manifest_sha512,
        },
        sip_updates=part_updates(current_sips(batch), status=State.SUBMITTING.value),
    )
    return _upload(client, ledger, batch, actor)


def upload_failure(exc: VitamError) -> dict[str, Any]:
    """What a ``transfer.upload_failed`` event records of VITAM's answer (or of its absence)."""
    return {
        "error": str(exc),
        "kind": type(exc).__name__,
        "transient": is_transient(exc),
        "http_code": exc.http_code,
        "vitam_code": exc.vitam_code,
        "request_id": exc.request_id,
    }


def _upload(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    assert batch.sip_path is not None
    try:
        operation_id = client.ingest(Path(batch.sip_path), manifest_sha512=batch.manifest_sha512)
    except VitamError as exc:
        # The batch stays `submitting`: the next run looks in VITAM before sending anything.
        ledger.record(
            batch.id,
            actor=actor,
            action="transfer.upload_failed",
            details=upload_failure(exc),
        )
        raise
    # Persisted before anything else: from now on a retry follows this operation.
    return ledger.transition(
        batch.id,
        State.SUBMITTED,
        actor=actor,
        action="transfer.submitted",
        details={"operation_id": operation_id, "sip_sha256": batch.approved_sha256},
        changes={"vitam_operation_id": operation_id},
        sip_updates=part_updates(current_sips(batch), vitam_operation_id=operation_id, status=State.SUBMITTED.value),
    )


def _resume(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    """An upload was interrupted: ask VITAM's logbook whether it arrived before deciding."""
    message_identifier = batch.message_identifier
    assert message_identifier is not None
    if not client.endpoint.access_contract:
        raise CannotResume(
            f"lot {batch.id} : un envoi a été interrompu et VITAM ne peut pas être interrogé sur son arrivée "
            "(vitam.access_contract absent) : le SIP n'est pas renvoyé"
        )
    intent = _intent_time(ledger, batch.id)
    found = _looked_up(client, ledger, batch.id, actor, message_identifier, intent, {})
    candidates: list[tuple[LogbookOperation, str | None]] = []
    ignored: list[tuple[LogbookOperation, str | None]] = []
    for operation in found:
        reason = _not_ours(client, batch, operation, intent)
        (ignored if reason else candidates).append((operation, reason))
    summary = {
        "message_identifier": message_identifier,
        "found": [op.operation_id for op, _ in candidates],
        "ignored": {op.operation_id: reason for op, reason in ignored},
    }
    if candidates:
        # Newest first; prefer one that did not fail, in case duplicates already exist.
        chosen = next((op for op, _ in candidates if op.outcome not in ("KO", "FATAL")), candidates[0][0])
        return ledger.transition(
            batch.id,
            State.SUBMITTED,
            actor=actor,
            action="transfer.resumed",
            details={**summary, "decision": "follow", "operation_id": chosen.operation_id},
            changes={"vitam_operation_id": chosen.operation_id},
            sip_updates=part_updates(
                current_sips(batch), vitam_operation_id=chosen.operation_id, status=State.SUBMITTED.value
            ),
        )
    ledger.record(batch.id, actor=actor, action="transfer.resumed", details={**summary, "decision": "upload"})
    _check_sip(ledger, batch, actor, batch.approved_sha256, "transfer.refused")
    return _upload(client, ledger, batch, actor)


def _looked_up(
    client: VitamClient,
    ledger: Ledger,
    batch_id: int,
    actor: str,
    message_identifier: str,
    intent: datetime | None,
    part: dict[str, int],
) -> list[LogbookOperation]:
    """The logbook look-up of a resumed upload; an undecided one is written to the trail."""
    try:
        return _ingests_once_read(client, message_identifier, intent)
    except IngestUndecided as exc:
        ledger.record(
            batch_id,
            actor=actor,
            action="transfer.resumed",
            details={
                **part,
                "message_identifier": message_identifier,
                "decision": "wait",
                "unread": list(exc.operations),
                "reason": str(exc),
            },
        )
        raise


def _intent_time(ledger: Ledger, batch_id: int) -> datetime | None:
    intents = [e for e in ledger.events(batch_id) if e.action == "transfer.submitting"]
    return _parse_time(intents[-1].at) if intents else None


def _not_ours(client: VitamClient, batch: Batch, operation: LogbookOperation, intent: datetime | None) -> str | None:
    """Why an ingest with our MessageIdentifier is not this batch's upload (None: it is)."""
    started = _parse_time(operation.started)
    if intent is not None and started is not None and started < intent - CLOCK_MARGIN:
        return f"started {operation.started}, before this batch's upload was decided"
    if operation.outcome in ("OK", "WARNING") and batch.manifest_sha512:
        try:
            stored = client.manifest(operation.operation_id)
        except VitamNotFound:
            return None
        if hashlib.sha512(stored).hexdigest() != batch.manifest_sha512.lower():
            return "its stored manifest is not this batch's"
    return None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # VITAM writes UTC without offset


def _follow(
    settings: Settings, client: VitamClient, ledger: Ledger, batch: Batch, actor: str, on_status: OnStatus | None
) -> Batch:
    if len(current_sips(batch)) > 1:
        from versement.transfer_parts import follow_parts

        return follow_parts(settings, client, ledger, batch, actor, on_status)
    operation_id = batch.vitam_operation_id
    assert operation_id is not None
    status = _wait(settings, client, ledger, batch, actor, operation_id, on_status)
    raw = client.archive_transfer_reply(operation_id)
    atr_path = batch_folder(settings, batch.id) / "atr.xml"
    atr_path.parent.mkdir(parents=True, exist_ok=True)
    atr_path.write_bytes(raw)
    atr = parse_atr(raw)
    # VITAM leaves MessageRequestIdentifier empty when it refuses a SIP before reading its header.
    answered = atr.message_request_identifier
    if (answered or atr.accepted) and answered != batch.message_identifier:
        raise StageError(
            f"lot {batch.id} : l'ATR répond à {atr.message_request_identifier!r}, pas à {batch.message_identifier!r}"
        )
    found = reasons(atr)
    if atr.accepted:
        target = State.ACCEPTED
        action = "transfer.accepted" if atr.reply_code == "OK" else "transfer.accepted_with_warnings"
    else:
        target, action = State.REFUSED, "transfer.refused_by_vitam"
    summary = {
        "reply_code": atr.reply_code,
        "operation_id": operation_id,
        "operation_status": status.status,
        "grant_date": atr.grant_date,
        "units": dict(atr.units),
        "objects": dict(atr.objects),
        "groups": dict(atr.groups),
        "events": [
            {"code": e.type_code, "outcome": e.outcome, "detail": e.detail, "message": e.message} for e in atr.events
        ],
        "reasons_fr": [reason.text() for reason in found],
    }
    return ledger.transition(
        batch.id,
        target,
        actor=actor,
        action=action,
        details={
            "reply_code": atr.reply_code,
            "atr_sha256": hashlib.sha256(raw).hexdigest(),
            "reasons": [reason.to_dict() for reason in found],
        },
        changes={"atr_path": str(atr_path), "atr_reply_code": atr.reply_code, "atr": summary},
        sip_updates=part_updates(
            current_sips(batch), atr_path=str(atr_path), atr_reply_code=atr.reply_code, status=target.value
        ),
    )


def _wait(
    settings: Settings,
    client: VitamClient,
    ledger: Ledger,
    batch: Batch,
    actor: str,
    operation_id: str,
    on_status: OnStatus | None,
) -> OperationStatus:
    """The finished status, or a ledger event and :class:`NeedsOperator`."""
    timeout = settings.vitam.poll_timeout
    try:
        status = client.wait_for_operation(operation_id, timeout=timeout, on_status=on_status)
    except VitamTimeout as exc:
        ledger.record(
            batch.id,
            actor=actor,
            action="transfer.needs_operator",
            details={
                "reason": "timeout",
                "operation_id": operation_id,
                "state": exc.state,
                "status": exc.status,
                "poll_timeout": timeout,
            },
        )
        raise OperationStuck(
            f"lot {batch.id} : l'opération VITAM {operation_id} n'est pas terminée après {timeout:g} s "
            f"({exc.state}/{exc.status}) ; relancer « versement transfer {batch.id} » plus tard, ou faire "
            "vérifier l'opération par l'exploitant VITAM",
            operation_id,
            exc.state,
            exc.status,
        ) from exc
    if status.needs_operator:
        ledger.record(
            batch.id,
            actor=actor,
            action="transfer.needs_operator",
            details={"reason": "fatal", "operation_id": operation_id, "state": status.state, "status": status.status},
        )
        raise OperationFatal(
            f"lot {batch.id} : l'opération VITAM {operation_id} est suspendue sur une erreur technique "
            f"({status.state}/{status.status}) ; l'exploitant VITAM doit la reprendre ou l'annuler",
            operation_id,
            status.state,
            status.status,
        )
    return status


# -- dry run ------------------------------------------------------------------------------------


def dry_run(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    on_status: OnStatus | None = None,
    client: VitamClient | None = None,
) -> DryRunReport:
    """Ingest the SIP with BLANK_TEST: VITAM runs its controls and archives nothing.

    Allowed before and after approval; the batch's state does not change, the report is an
    audit event (``transfer.dry_run``).
    """
    batch = ledger.batch(batch_id)
    if State(batch.state) not in (State.AWAITING_APPROVAL, State.APPROVED) or batch.sip_path is None:
        raise StageError(
            f"lot {batch_id} : état {batch.state} ; seul un lot empaqueté et pas encore envoyé (awaiting_approval, "
            "approved) peut faire l'objet d'un essai à blanc"
        )
    if len(current_sips(batch)) > 1:
        from versement.transfer_parts import check_parts, dry_run_parts

        check_parts(ledger, batch, actor, dry_run=True)
        with _client(settings, client) as vitam:
            return dry_run_parts(settings, vitam, ledger, batch, actor, on_status)  # type: ignore[return-value]
    expected = batch.approved_sha256 if batch.state == State.APPROVED else batch.sip_sha256
    _check_sip(ledger, batch, actor, expected, "transfer.dry_run_refused")
    with _client(settings, client) as vitam:
        operation_id = vitam.ingest(
            Path(batch.sip_path), context_id="BLANK_TEST", manifest_sha512=batch.manifest_sha512
        )
        try:
            status = vitam.wait_for_operation(operation_id, timeout=settings.vitam.poll_timeout, on_status=on_status)
        except VitamTimeout:
            status = OperationStatus(operation_id, "RUNNING", "STARTED")
        report = DryRunReport(batch.id, operation_id, "FATAL" if status.state != "COMPLETED" else "")
        atr: ArchiveTransferReply | None = None
        if status.state == "COMPLETED":
            raw = vitam.archive_transfer_reply(operation_id)
            path = batch_folder(settings, batch.id) / "atr-essai-a-blanc.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
            atr = parse_atr(raw)
            report = DryRunReport(batch.id, operation_id, atr.reply_code, tuple(reasons(atr)), path)
    ledger.record(
        batch.id,
        actor=actor,
        action="transfer.dry_run",
        details={
            "operation_id": operation_id,
            "reply_code": report.reply_code,
            "operation_state": status.state,
            "operation_status": status.status,
            "reasons": [reason.to_dict() for reason in report.reasons],
            "message_request_identifier": atr.message_request_identifier if atr else None,
        },
    )
    return report


# -- verification by reading back ---------------------------------------------------------------


@dataclass
class _Sent:
    """What the SIP declared and contained: unit ids, and per binary object its URI."""

    units: list[str] = field(default_factory=list)
    objects: dict[str, str] = field(default_factory=dict)  # manifest object id -> URI in the zip


def verify(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    client: VitamClient | None = None,
) -> Batch:
    """Read the operation's units and objects back from VITAM and compare with what was sent."""
    batch = ledger.batch(batch_id)
    if State(batch.state) not in (State.ACCEPTED, State.VERIFICATION_FAILED):
        raise StageError(
            f"lot {batch_id} : état {batch.state} ; seul un lot accepté par VITAM (accepted, verification_failed) "
            "peut être vérifié"
        )
    with _client(settings, client) as vitam:
        return _verify(vitam, ledger, batch, actor)


def _verify(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    if len(current_sips(batch)) > 1:
        from versement.transfer_parts import verify_parts

        return verify_parts(client, ledger, batch, actor)
    assert batch.sip_path is not None and batch.vitam_operation_id is not None
    problems, counts = _compare(client, batch)
    if problems:
        log.error("batch %s: VITAM does not hold what was sent: %s", batch.id, "; ".join(problems))
        return ledger.transition(
            batch.id,
            State.VERIFICATION_FAILED,
            actor=actor,
            action="verify.mismatch",
            details={"operation_id": batch.vitam_operation_id, "problems": problems, **counts},
            sip_updates=part_updates(current_sips(batch), status=State.VERIFICATION_FAILED.value),
        )
    return ledger.transition(
        batch.id,
        State.VERIFIED,
        actor=actor,
        action="verify",
        details={"operation_id": batch.vitam_operation_id, **counts},
        sip_updates=part_updates(current_sips(batch), status=State.VERIFIED.value),
    )


def _compare(client: VitamClient, batch: Batch) -> tuple[list[str], dict[str, Any]]:
    """French problems (empty when VITAM holds exactly what was sent) and the counts read."""
    assert batch.sip_path is not None and batch.vitam_operation_id is not None
    sip = Path(batch.sip_path)
    sent = _read_sent(sip)
    atr = batch.atr or {}
    atr_units: dict[str, str] = dict(atr.get("units") or {})
    atr_objects: dict[str, str] = dict(atr.get("objects") or {})
    problems: list[str] = []

    units = client.units_by_operation(batch.vitam_operation_id)
    read_ids = {str(u.get("#id")) for u in units}
    if len(units) != len(sent.units):
        problems.append(
            f"VITAM restitue {len(units)} unités d'archives pour l'opération, le bordereau en déclare {len(sent.units)}"
        )
    if set(atr_units) != set(sent.units):
        missing = sorted(set(sent.units) - set(atr_units))
        problems.append(f"l'ATR ne mentionne pas toutes les unités du bordereau (manquent : {', '.join(missing)})")
    for manifest_id, unit_guid in sorted(atr_units.items()):
        if unit_guid not in read_ids:
            problems.append(f"l'unité {manifest_id} ({unit_guid}) annoncée par l'ATR est introuvable dans VITAM")
    unexpected = read_ids - set(atr_units.values())
    if unexpected:
        problems.append(f"VITAM restitue des unités que l'ATR n'annonce pas : {', '.join(sorted(unexpected))}")

    versions = {}
    unit_of_group = {str(u["#object"]): str(u["#id"]) for u in units if u.get("#object")}
    for unit_id in sorted(set(unit_of_group.values())):
        for version in client.object_group_of_unit(unit_id).versions:
            versions[version.id] = version
    with zipfile.ZipFile(sip) as archive:
        for object_id, uri in sorted(sent.objects.items()):
            system_id = atr_objects.get(object_id)
            held = versions.get(system_id or "")
            if system_id is None or held is None:
                problems.append(f"l'objet {object_id} ({uri}) n'est pas restitué par VITAM")
                continue
            algorithm = (held.algorithm or "SHA-512").upper()
            digest, size = _member_digest(archive, uri, DIGESTS.get(algorithm, "sha512"))
            if held.size != size:
                problems.append(
                    f"l'objet {object_id} ({uri}) : VITAM détient {held.size} octets, {size} ont été envoyés"
                )
            if (held.digest or "").lower() != digest:
                problems.append(f"l'objet {object_id} ({uri}) : l'empreinte {algorithm} détenue par VITAM diffère")
    counts = {"units_read": len(units), "objects_checked": len(sent.objects), "versions_read": len(versions)}
    return problems, counts


def _read_sent(sip: Path) -> _Sent:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    with zipfile.ZipFile(sip) as archive:
        name = next(n for n in archive.namelist() if "/" not in n and n.endswith("manifest.xml"))
        root = etree.fromstring(archive.read(name), parser)
    sent = _Sent()
    for unit in root.iter("{*}ArchiveUnit"):
        if unit.get("id"):
            sent.units.append(unit.get("id", ""))
    for item in root.iter("{*}BinaryDataObject"):
        uri = item.findtext("{*}Uri")
        if item.get("id") and uri:
            sent.objects[item.get("id", "")] = uri.strip()
    return sent


def _member_digest(archive: zipfile.ZipFile, name: str, algorithm: str) -> tuple[str, int]:
    hasher = hashlib.new(algorithm)
    size = 0
    with archive.open(name) as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


# -- what the archivist reads -------------------------------------------------------------------


def outcome_text(ledger: Ledger, batch: Batch) -> str:
    """The French account of where a transfer stands, for the CLI."""
    operation = batch.vitam_operation_id or "-"
    code = batch.atr_reply_code or "-"
    atr = batch.atr or {}
    head = f"Lot {batch.id} : "
    state = State(batch.state)
    if state in (State.VERIFIED, State.VERIFICATION_FAILED, State.ACCEPTED):
        warned = code == "WARNING"
        lines = [
            head
            + ("accepté par VITAM avec avertissements" if warned else "accepté par VITAM")
            + f" (opération {operation}, ReplyCode {code})"
        ]
        lines += [f"  • {text}" for text in atr.get("reasons_fr") or []] if warned else []
        last = _last_details(ledger, batch.id, ("verify", "verify.mismatch"))
        if state == State.VERIFIED:
            lines.append(
                head + f"vérifié dans VITAM : {last.get('units_read', '?')} unités et "
                f"{last.get('objects_checked', '?')} objets relus, identiques à ce qui a été envoyé"
            )
        elif state == State.VERIFICATION_FAILED:
            lines.append(head + "VÉRIFICATION EN ÉCHEC : VITAM ne restitue pas ce qui a été envoyé")
            lines += [f"  ✗ {problem}" for problem in last.get("problems") or []]
            lines.append("  À faire : ne rien supprimer à la source ; transmettre ces écarts à l'exploitant VITAM.")
        return "\n".join(lines + _part_lines(ledger, batch))
    if state == State.REFUSED:
        lines = [head + f"REFUSÉ par VITAM (opération {operation}, ReplyCode {code})"]
        lines += [f"  • {text}" for text in atr.get("reasons_fr") or []]
        return "\n".join(lines + _part_lines(ledger, batch))
    return head + f"état {batch.state} (opération {operation})"


def _part_lines(ledger: Ledger, batch: Batch) -> list[str]:
    """Each part of a batch of several SIPs, with VITAM's reasons for a refused one."""
    if len(current_sips(batch)) <= 1:
        return []
    from versement.transfer_parts import part_lines

    return part_lines(batch, ledger.events(batch.id))


def _last_details(ledger: Ledger, batch_id: int, actions: tuple[str, ...]) -> dict[str, Any]:
    events = [e for e in ledger.events(batch_id) if e.action in actions]
    if not events:
        return {}
    details = json.loads(events[-1].details)
    return details if isinstance(details, dict) else {}


# VITAM sets an ingest's obIdIn to the MessageIdentifier only once CHECK_HEADER has read the
# manifest, a few seconds after the 202: an upload that has just arrived is not yet findable.
HEADER_WAIT_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _ingests_once_read(
    client: VitamClient, message_identifier: str, since: datetime | None = None
) -> list[LogbookOperation]:
    """The ingests VITAM holds for the SIP, asked again while a just-arrived one may be unread.

    With ``since`` (when the upload was decided), "none" is only answered once no ingest started
    since then is still running with its header unread: such an ingest may be this very SIP
    (VITAM names it only at CHECK_HEADER), so the look-up raises :class:`IngestUndecided` rather
    than let the caller send the SIP a second time."""
    for pause in (*HEADER_WAIT_SECONDS, None):
        found = client.ingests_of_message(message_identifier)
        if found:
            return found
        unread = _unread_since(client, since)
        if since is not None and not unread:
            # Nothing in flight: asked once more, in case one was named between the two questions.
            return client.ingests_of_message(message_identifier)
        if pause is None:
            break
        time.sleep(pause)
    if unread:
        raise IngestUndecided(
            f"VITAM n'a pas encore lu l'en-tête de {len(unread)} entrée(s) commencée(s) depuis l'envoi interrompu de "
            f"{message_identifier} ({', '.join(op.operation_id for op in unread)}) : l'une d'elles peut être ce SIP ; "
            "il n'est pas renvoyé, relancer le transfert plus tard",
            tuple(op.operation_id for op in unread),
        )
    return []


def _unread_since(client: VitamClient, since: datetime | None) -> list[LogbookOperation]:
    if since is None:
        return []
    return [op for op in client.ingests_since(since - CLOCK_MARGIN) if op.unread_in_flight]


# States whose batch VITAM has answered for: the ledger's record of them must match VITAM's logbook.
_ANSWERED = {State.ACCEPTED, State.VERIFIED, State.REFUSED, State.VERIFICATION_FAILED}


def logbook_mismatches(ledger: Ledger, client: VitamClient) -> list[str]:
    """How the ledger's transferred batches differ from what VITAM's logbook holds.

    The ledger proves itself (chain, rows, anchor log); this anchors it outside the institution
    too: each batch VITAM answered for must have its ingest operation in VITAM's logbook, for
    its SIP (obIdIn), with the outcome the ledger recorded from the ATR.
    """
    problems = []
    for batch in ledger.batches():
        if State(batch.state) not in _ANSWERED or not batch.vitam_operation_id:
            continue
        if len(current_sips(batch)) > 1:
            from versement.transfer_parts import logbook_part_mismatches

            problems.extend(logbook_part_mismatches(batch, client))
            continue
        try:
            operation = client.logbook_operation(batch.vitam_operation_id)
        except VitamNotFound:
            problems.append(
                f"lot {batch.id} : le journal des opérations de VITAM n'a pas d'opération "
                f"{batch.vitam_operation_id}, à laquelle VITAM a répondu selon le registre"
            )
            continue
        if operation.message_identifier != batch.message_identifier:
            problems.append(
                f"lot {batch.id} : l'opération VITAM {operation.operation_id} porte sur "
                f"{operation.message_identifier!r}, le registre a envoyé {batch.message_identifier!r}"
            )
        if operation.outcome != batch.atr_reply_code:
            problems.append(
                f"lot {batch.id} : le journal des opérations de VITAM indique {operation.outcome} pour l'opération "
                f"{operation.operation_id}, le registre a enregistré {batch.atr_reply_code}"
            )
    return problems
