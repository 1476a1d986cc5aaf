"""Transferring a batch packaged as several SIPs: each part exactly once, in order.

The same protocol as a one-SIP batch (versement/transfer.py), part by part, each part's progress
in its ``sip`` row (``status``: submitting, submitted, accepted, refused, verified,
verification_failed) through audited ledger events:

- before anything is sent, every part's SHA-256 is checked against the digest the archivist
  approved for it; one changed part and nothing is sent (``transfer.refused``, naming it);
- the batch goes ``approved → submitting`` with part 1's intent; for each part in order the
  intent (``transfer.submitting``, with the part's MessageIdentifier and digest) is written
  before its first byte, its operation id (``transfer.submitted``) as soon as the 202 arrives;
  a part found ``submitting`` (an interrupted run) is looked up in VITAM's logbook by
  ``obIdIn`` = its MessageIdentifier and followed if found, uploaded again only when VITAM shows
  none (``transfer.resumed``, with the part); the batch is ``submitted`` once every part is
  (``transfer.parts_submitted``);
- each part's operation is followed to its ATR (``transfer.part_answered``); the batch is
  ``accepted`` only when every part is, ``refused`` when any part is (the parts VITAM accepted
  stay archived: the event and ``versement status`` name them);
- each accepted part is read back (units by ``#opi``, every object's digest and size); the batch
  is ``verified`` only when every part matches, else ``verification_failed`` naming the parts.

The batch columns keep describing part 1 (its operation, ATR).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extractors.files import sha256_file
from versement.config import Settings
from versement.ledger import Batch, Ledger, State
from versement.ledger.models import Sip
from versement.ledger.sips import current_sips
from versement.pipeline import DigestMismatch, StageError, batch_folder
from versement.transfer import upload_failure
from versement.vitam_reasons import reasons
from vitam_client import LogbookOperation, VitamClient, VitamError, parse_atr

SENT = frozenset({"submitted", "accepted", "refused", "verified", "verification_failed"})
ANSWERED = frozenset({"accepted", "refused", "verified", "verification_failed"})


def _key(sip: Sip) -> tuple[int, int]:
    return (sip.attempt, sip.part)


def _parts(ledger: Ledger, batch_id: int) -> tuple[Batch, list[Sip]]:
    batch = ledger.batch(batch_id)
    return batch, current_sips(batch)


def check_parts(ledger: Ledger, batch: Batch, actor: str, *, dry_run: bool = False) -> None:
    """Every part not yet sent is the one approved (for a dry run of a batch not yet approved:
    the one packaged); else nothing is sent, and the refusal is written to the ledger."""
    since = "l'empaquetage" if dry_run else "sa validation par l'archiviste"
    for sip in current_sips(batch):
        if sip.status in SENT:
            continue
        expected = sip.approved_sha256 if not dry_run or batch.state == State.APPROVED else sip.sha256
        found = sha256_file(Path(sip.path)) if Path(sip.path).is_file() else None
        if expected is None or found != expected:
            ledger.record(
                batch.id,
                actor=actor,
                action="transfer.dry_run_refused" if dry_run else "transfer.refused",
                details={
                    "reason": f"le SIP de la partie {sip.part} a changé depuis {since} : rien n'est envoyé",
                    "part": sip.part,
                    "sip": sip.path,
                    "expected_sha256": expected,
                    "found_sha256": found,
                },
            )
            raise DigestMismatch(
                f"lot {batch.id} : le SIP de la partie {sip.part} ({sip.path}) a changé depuis {since} "
                f"(SHA-256 {found}, attendu {expected}) ; rien n'est envoyé"
            )


# -- submit -------------------------------------------------------------------------------------


def submit_parts(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    """``approved`` or ``submitting`` to ``submitted``: every part sent (or found in VITAM) once."""
    check_parts(ledger, batch, actor)
    for number in [sip.part for sip in current_sips(batch)]:
        batch, parts = _parts(ledger, batch.id)
        sip = next(s for s in parts if s.part == number)
        if sip.status in SENT:
            continue
        if sip.status == "submitting":
            _resume_part(client, ledger, batch, sip, actor)
        else:
            _intent(ledger, batch, sip, actor)
            _upload_part(client, ledger, batch.id, sip, actor)
    batch, parts = _parts(ledger, batch.id)
    return ledger.transition(
        batch.id,
        State.SUBMITTED,
        actor=actor,
        action="transfer.parts_submitted",
        details={"parts": {str(sip.part): sip.vitam_operation_id for sip in parts}},
    )


def _intent(ledger: Ledger, batch: Batch, sip: Sip, actor: str) -> None:
    """The part's intent, before its first byte (the batch's own intent with part 1's)."""
    details = {
        "part": sip.part,
        "message_identifier": sip.message_identifier,
        "sip_sha256": sip.approved_sha256,
        "manifest_sha512": sip.manifest_sha512,
    }
    updates = {_key(sip): {"status": "submitting"}}
    if State(batch.state) == State.APPROVED:
        ledger.transition(
            batch.id, State.SUBMITTING, actor=actor, action="transfer.submitting", details=details, sip_updates=updates
        )
    else:
        ledger.update(
            batch.id,
            actor=actor,
            action="transfer.submitting",
            details=details,
            sip_updates=updates,
            sip_expect={_key(sip): {"status": sip.status}},
        )


def _upload_part(client: VitamClient, ledger: Ledger, batch_id: int, sip: Sip, actor: str) -> None:
    try:
        operation_id = client.ingest(Path(sip.path), manifest_sha512=sip.manifest_sha512)
    except VitamError as exc:
        # The part stays `submitting`: the next run looks in VITAM before sending anything.
        ledger.record(
            batch_id,
            actor=actor,
            action="transfer.upload_failed",
            details={"part": sip.part, **upload_failure(exc)},
        )
        raise
    _submitted(ledger, batch_id, sip, operation_id, actor, "transfer.submitted", {"sip_sha256": sip.approved_sha256})


def _submitted(
    ledger: Ledger, batch_id: int, sip: Sip, operation_id: str, actor: str, action: str, details: dict[str, Any]
) -> None:
    ledger.update(
        batch_id,
        actor=actor,
        action=action,
        details={**details, "part": sip.part, "operation_id": operation_id},
        changes={"vitam_operation_id": operation_id} if sip.part == 1 else None,
        sip_updates={_key(sip): {"vitam_operation_id": operation_id, "status": "submitted"}},
    )


def _resume_part(client: VitamClient, ledger: Ledger, batch: Batch, sip: Sip, actor: str) -> None:
    """A part's upload was interrupted: VITAM's logbook decides whether it arrived."""
    from versement.transfer import CannotResume, _looked_up, _not_ours, _parse_time

    if not client.endpoint.access_contract:
        raise CannotResume(
            f"lot {batch.id} : l'envoi de la partie {sip.part} a été interrompu et VITAM ne peut pas être interrogé "
            "sur son arrivée (vitam.access_contract absent) : le SIP n'est pas renvoyé"
        )
    intents = [
        e for e in ledger.events(batch.id) if e.action == "transfer.submitting" and _part_of(e.details) == sip.part
    ]
    intent = _parse_time(intents[-1].at) if intents else None
    found = _looked_up(client, ledger, batch.id, actor, sip.message_identifier, intent, {"part": sip.part})
    candidates: list[LogbookOperation] = []
    ignored: dict[str, str] = {}
    for operation in found:
        reason = _not_ours(client, sip, operation, intent)  # type: ignore[arg-type]  # reads manifest_sha512
        if reason:
            ignored[operation.operation_id] = reason
        else:
            candidates.append(operation)
    summary = {
        "part": sip.part,
        "message_identifier": sip.message_identifier,
        "found": [op.operation_id for op in candidates],
        "ignored": ignored,
    }
    if candidates:
        chosen = next((op for op in candidates if op.outcome not in ("KO", "FATAL")), candidates[0])
        details = {**summary, "decision": "follow"}
        _submitted(ledger, batch.id, sip, chosen.operation_id, actor, "transfer.resumed", details)
        return
    ledger.record(batch.id, actor=actor, action="transfer.resumed", details={**summary, "decision": "upload"})
    check_parts(ledger, ledger.batch(batch.id), actor)
    _upload_part(client, ledger, batch.id, sip, actor)


def _part_of(details: str) -> int | None:
    try:
        loaded = json.loads(details)
    except ValueError:
        return None
    return loaded.get("part") if isinstance(loaded, dict) else None


# -- follow -------------------------------------------------------------------------------------


def follow_parts(
    settings: Settings, client: VitamClient, ledger: Ledger, batch: Batch, actor: str, on_status: Any
) -> Batch:
    """Every part's operation to its ATR; then the batch ``accepted`` (all) or ``refused`` (any)."""
    from versement.transfer import _wait

    for number in [sip.part for sip in current_sips(batch)]:
        batch, parts = _parts(ledger, batch.id)
        sip = next(s for s in parts if s.part == number)
        if sip.status in ANSWERED:
            continue
        assert sip.vitam_operation_id is not None
        status = _wait(settings, client, ledger, batch, actor, sip.vitam_operation_id, on_status)
        raw = client.archive_transfer_reply(sip.vitam_operation_id)
        atr_path = batch_folder(settings, batch.id) / f"atr-{sip.message_identifier}.xml"
        atr_path.parent.mkdir(parents=True, exist_ok=True)
        atr_path.write_bytes(raw)
        atr = parse_atr(raw)
        answered = atr.message_request_identifier
        if (answered or atr.accepted) and answered != sip.message_identifier:
            raise StageError(
                f"lot {batch.id} : l'ATR de la partie {sip.part} répond à {answered!r}, "
                f"pas à {sip.message_identifier!r}"
            )
        found = reasons(atr)
        outcome = "accepted" if atr.accepted else "refused"
        summary = {
            "reply_code": atr.reply_code,
            "operation_id": sip.vitam_operation_id,
            "operation_status": status.status,
            "grant_date": atr.grant_date,
            "units": dict(atr.units),
            "objects": dict(atr.objects),
            "groups": dict(atr.groups),
            "reasons_fr": [reason.text() for reason in found],
        }
        ledger.update(
            batch.id,
            actor=actor,
            action="transfer.part_answered",
            details={
                "part": sip.part,
                "reply_code": atr.reply_code,
                "atr_sha256": hashlib.sha256(raw).hexdigest(),
                "reasons": [reason.to_dict() for reason in found],
            },
            changes=(
                {"atr_path": str(atr_path), "atr_reply_code": atr.reply_code, "atr": summary} if sip.part == 1 else None
            ),
            sip_updates={_key(sip): {"atr_path": str(atr_path), "atr_reply_code": atr.reply_code, "status": outcome}},
        )
    batch, parts = _parts(ledger, batch.id)
    codes = {str(sip.part): sip.atr_reply_code for sip in parts}
    refused = [sip for sip in parts if sip.status == "refused"]
    if refused:
        archived = [sip.part for sip in parts if sip.status == "accepted"]
        return ledger.transition(
            batch.id,
            State.REFUSED,
            actor=actor,
            action="transfer.refused_by_vitam",
            details={"parts": codes, "refused_parts": [sip.part for sip in refused], "archived_parts": archived},
        )
    warned = any(sip.atr_reply_code == "WARNING" for sip in parts)
    return ledger.transition(
        batch.id,
        State.ACCEPTED,
        actor=actor,
        action="transfer.accepted_with_warnings" if warned else "transfer.accepted",
        details={"parts": codes},
    )


# -- dry run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartsDryRunReport:
    """What VITAM would say of every part (BLANK_TEST); nothing was archived."""

    batch_id: int
    parts: tuple[tuple[int, str, Any], ...]  # (part, MessageIdentifier, transfer.DryRunReport)

    @property
    def outcome(self) -> str:
        outcomes = {report.outcome for _, _, report in self.parts}
        if outcomes - {"OK", "WARNING", "KO"}:
            return "FATAL"
        return next((worst for worst in ("KO", "WARNING") if worst in outcomes), "OK")

    @property
    def reply_code(self) -> str:
        return f"Test {self.outcome}"

    def text(self) -> str:
        verdict = {
            "OK": "VITAM accepterait chacune des parties",
            "WARNING": "VITAM accepterait chacune des parties, avec des avertissements",
            "KO": "VITAM REFUSERAIT au moins une partie",
        }.get(self.outcome, "l'essai n'a pas abouti pour au moins une partie : faire intervenir l'exploitant VITAM")
        lines = [f"Lot {self.batch_id} : essai à blanc (BLANK_TEST) de {len(self.parts)} SIP : {verdict}."]
        for number, identifier, report in self.parts:
            lines.append(f"  partie {number} ({identifier}) : {report.reply_code} (opération {report.operation_id})")
            lines += [f"    • {reason.text()}" for reason in report.reasons]
        lines.append("Rien n'a été archivé ; l'état du lot est inchangé.")
        return "\n".join(lines)


def dry_run_parts(
    settings: Settings, client: VitamClient, ledger: Ledger, batch: Batch, actor: str, on_status: Any
) -> PartsDryRunReport:
    """Every part ingested with BLANK_TEST, in order; one ``transfer.dry_run`` event per part."""
    from versement.transfer import DryRunReport
    from vitam_client import OperationStatus, VitamTimeout

    found = []
    for sip in current_sips(batch):
        operation_id = client.ingest(Path(sip.path), context_id="BLANK_TEST", manifest_sha512=sip.manifest_sha512)
        try:
            status = client.wait_for_operation(operation_id, timeout=settings.vitam.poll_timeout, on_status=on_status)
        except VitamTimeout:
            status = OperationStatus(operation_id, "RUNNING", "STARTED")
        report = DryRunReport(batch.id, operation_id, "FATAL")
        answered = None
        if status.state == "COMPLETED":
            raw = client.archive_transfer_reply(operation_id)
            path = batch_folder(settings, batch.id) / f"atr-essai-a-blanc-{sip.message_identifier}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
            atr = parse_atr(raw)
            answered = atr.message_request_identifier
            report = DryRunReport(batch.id, operation_id, atr.reply_code, tuple(reasons(atr)), path)
        ledger.record(
            batch.id,
            actor=actor,
            action="transfer.dry_run",
            details={
                "part": sip.part,
                "operation_id": operation_id,
                "reply_code": report.reply_code,
                "operation_state": status.state,
                "operation_status": status.status,
                "reasons": [reason.to_dict() for reason in report.reasons],
                "message_request_identifier": answered,
            },
        )
        found.append((sip.part, sip.message_identifier, report))
    return PartsDryRunReport(batch.id, tuple(found))


# -- verify -------------------------------------------------------------------------------------


@dataclass
class _PartView:
    """What ``transfer._compare`` reads of a batch, for one part."""

    id: int
    sip_path: str
    vitam_operation_id: str
    atr: dict[str, Any]


def verify_parts(client: VitamClient, ledger: Ledger, batch: Batch, actor: str) -> Batch:
    """Every part read back; ``verified`` only when all match what was sent."""
    from versement.transfer import _compare

    problems: list[str] = []
    counts = {"units_read": 0, "objects_checked": 0, "versions_read": 0}
    updates = {}
    for sip in current_sips(batch):
        assert sip.vitam_operation_id is not None and sip.atr_path is not None
        atr = parse_atr(Path(sip.atr_path).read_bytes())
        view = _PartView(batch.id, sip.path, sip.vitam_operation_id, {"units": atr.units, "objects": atr.objects})
        found, read = _compare(client, view)  # type: ignore[arg-type]
        problems += [f"partie {sip.part} ({sip.message_identifier}) : {problem}" for problem in found]
        for name, value in read.items():
            counts[name] = counts.get(name, 0) + value
        updates[_key(sip)] = {"status": "verification_failed" if found else "verified"}
    details = {"operation_id": batch.vitam_operation_id, "parts": len(updates), **counts}
    if problems:
        return ledger.transition(
            batch.id,
            State.VERIFICATION_FAILED,
            actor=actor,
            action="verify.mismatch",
            details={**details, "problems": problems},
            sip_updates=updates,
        )
    return ledger.transition(
        batch.id, State.VERIFIED, actor=actor, action="verify", details=details, sip_updates=updates
    )


def part_lines(batch: Batch, events: list[Any]) -> list[str]:
    """French lines on each part's transfer, for ``outcome_text``; VITAM's reasons for a refused part."""
    labels = {
        "submitting": "envoi en cours",
        "submitted": "transférée, en attente de VITAM",
        "accepted": "acceptée par VITAM",
        "refused": "REJETÉE par VITAM",
        "verified": "vérifiée dans VITAM",
        "verification_failed": "VÉRIFICATION EN ÉCHEC",
    }
    answers: dict[int, list[Any]] = {}
    for event in events:
        if event.action == "transfer.part_answered":
            loaded = json.loads(event.details)
            answers[loaded.get("part")] = loaded.get("reasons") or []
    lines = []
    for sip in current_sips(batch):
        lines.append(
            f"  partie {sip.part} ({sip.message_identifier}) : {labels.get(sip.status or '', 'non envoyée')}"
            f" (opération {sip.vitam_operation_id or '-'}, ReplyCode {sip.atr_reply_code or '-'})"
        )
        if sip.status == "refused":
            lines += [f"    • {reason.get('text') or reason}" for reason in answers.get(sip.part, [])]
    return lines


def logbook_part_mismatches(batch: Batch, client: VitamClient) -> list[str]:
    """``audit verify --vitam`` for a batch of several SIPs: each part VITAM answered for must be
    in VITAM's logbook, for that part's MessageIdentifier, with the outcome its row records."""
    from vitam_client import VitamNotFound

    problems = []
    for sip in current_sips(batch):
        if sip.status not in ANSWERED or not sip.vitam_operation_id:
            continue
        try:
            operation = client.logbook_operation(sip.vitam_operation_id)
        except VitamNotFound:
            problems.append(
                f"lot {batch.id} : le journal des opérations de VITAM n'a pas d'opération {sip.vitam_operation_id}, "
                f"à laquelle VITAM a répondu pour la partie {sip.part} selon le registre"
            )
            continue
        if operation.message_identifier != sip.message_identifier:
            problems.append(
                f"lot {batch.id} : l'opération VITAM {operation.operation_id} porte sur "
                f"{operation.message_identifier!r}, le registre a envoyé la partie {sip.part} sous "
                f"{sip.message_identifier!r}"
            )
        if operation.outcome != sip.atr_reply_code:
            problems.append(
                f"lot {batch.id} : le journal des opérations de VITAM indique {operation.outcome} pour l'opération "
                f"{operation.operation_id} (partie {sip.part}), le registre a enregistré {sip.atr_reply_code}"
            )
    return problems
