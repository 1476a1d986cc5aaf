"""Re-packaging a batch as a new attempt, with a reason, keeping the old attempt in the record.

A batch whose SIP VITAM refused, that the archivist rejected, or whose SIP was changed after
packaging (the approval or the transfer then refuses it) can be packaged again from the same
extraction: ``versement repackage N --by NAME --reason TEXT`` takes it back to ``validated``
in one audited transition (``batch.repackaged``, the only action the life cycle allows for
these transitions). The event names the attempt it closes (its SIPs and digests, the approval,
VITAM's operation and ATR); that attempt's ``sip`` rows stay, and the batch's own SIP columns
are cleared for the next one. ``run_package`` then writes attempt n+1 under a new
MessageIdentifier (``<base>-A2``...), so VITAM's logbook never confuses two attempts.

A batch left in ``submitting`` (the intent recorded, the upload's outcome unknown) whose SIP was
then changed cannot be sent (the transfer refuses it) nor followed; it is re-packaged only once
VITAM's logbook shows no ingest of any of its SIPs (asked by MessageIdentifier, as a resumed
transfer does): what VITAM answered is written in the event. If VITAM holds one, the batch is
followed by ``versement transfer`` instead.

One live batch per scope: a refused or rejected batch had freed its scope; re-packaging takes
it back, and is refused if another batch has taken it meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractors.files import sha256_file
from versement.ledger import LABELS_FR, Batch, Ledger, LedgerError, State
from versement.ledger.consistency import ATTEMPT_COLUMNS
from versement.ledger.sips import current_attempt, current_sips, sip_summary
from versement.ledger.states import REPACKAGE_ACTION
from versement.pipeline import StageError, approver_identity
from vitam_client import VitamClient

# Always allowed (the attempt was answered); the others only when a SIP changed since packaging.
ANSWERED = (State.REFUSED, State.REJECTED)
TAMPERABLE = (State.AWAITING_APPROVAL, State.APPROVED, State.SUBMITTING)
CLEARED = ATTEMPT_COLUMNS  # what a new attempt starts without: the columns of the attempt it closes


class RepackageRefused(StageError):
    """The batch cannot be re-packaged (state, missing reason, intact SIP, scope taken)."""


def changed_sips(batch: Batch) -> list[dict[str, Any]]:
    """The SIPs of the current attempt that are no longer what was packaged (or gone)."""
    parts = [(s.part, s.path, s.sha256) for s in current_sips(batch)]
    if not parts and batch.sip_path:  # packaged before SIP rows were recorded
        parts = [(1, batch.sip_path, batch.sip_sha256 or "")]
    changed = []
    for part, path, expected in parts:
        found = sha256_file(Path(path)) if Path(path).is_file() else None
        if found != expected:
            changed.append({"part": part, "sip": path, "expected_sha256": expected, "found_sha256": found})
    return changed


def repackage(
    ledger: Ledger,
    batch_id: int,
    *,
    by: str,
    reason: str,
    identity: str | None = None,
    vitam: VitamClient | None = None,
) -> Batch:
    """Take a refused, rejected or tampered batch back to ``validated`` for a new attempt.

    ``vitam`` is needed for a batch in ``submitting`` only: its logbook must show no ingest of the
    batch's SIPs before they may be replaced."""
    if not by.strip():
        raise RepackageRefused("un nouvel empaquetage doit porter le nom de l'archiviste (--by)")
    if not reason.strip():
        raise RepackageRefused("un nouvel empaquetage doit être justifié (--reason), pour le registre")
    batch = ledger.batch(batch_id)
    state = State(batch.state)
    label = LABELS_FR[state]
    if state not in (*ANSWERED, *TAMPERABLE):
        raise RepackageRefused(
            f"lot {batch_id} : {label} ; seul un lot rejeté par VITAM, refusé par l'archiviste, ou dont le SIP "
            "a été modifié après l'empaquetage peut être empaqueté à nouveau"
        )
    archived = [sip for sip in current_sips(batch) if sip.status in ("accepted", "verified", "verification_failed")]
    if archived:
        names = ", ".join(
            f"partie {sip.part} ({sip.message_identifier}, opération {sip.vitam_operation_id})" for sip in archived
        )
        raise RepackageRefused(
            f"lot {batch_id} : VITAM a archivé une partie du lot ({names}) ; un nouvel empaquetage les enverrait "
            "une seconde fois : il n'est pas possible pour ce lot (voir avec l'exploitant VITAM)"
        )
    changed = changed_sips(batch)
    if state == State.SUBMITTING and not changed:
        raise RepackageRefused(
            f"lot {batch_id} : {label} et son SIP est intact ; reprenez l'envoi avec « versement transfer {batch_id} » "
            "(il retrouve dans VITAM un envoi déjà reçu et ne l'envoie pas deux fois)"
        )
    if state in TAMPERABLE and not changed:
        raise RepackageRefused(
            f"lot {batch_id} : {label} et son SIP est intact ; pour le refaire, retirez d'abord la validation "
            "(versement withdraw) puis refusez-le (versement reject), ou rejetez-le s'il attend la validation"
        )
    checked = _nothing_in_vitam(ledger, batch, vitam) if state == State.SUBMITTING else None
    key = f"{batch.source}/{batch.scope}"
    live = ledger.live_batch(batch.source, batch.scope)
    if live is not None and live.id != batch_id:
        raise LedgerError(
            f"lot {batch_id} : le lot {live.id} est désormais en cours pour {key} ({LABELS_FR[State(live.state)]}) ; "
            "le périmètre ne peut pas être repris"
        )
    who = approver_identity(identity)
    closed = {
        "attempt": current_attempt(batch) or 1,
        "state": state.value,
        "message_identifier": batch.message_identifier,
        "sip_sha256": batch.sip_sha256,
        "approved_sha256": batch.approved_sha256,
        "approved_by": batch.approved_by,
        "vitam_operation_id": batch.vitam_operation_id,
        "atr_reply_code": batch.atr_reply_code,
        "sips": [sip_summary(sip) for sip in current_sips(batch)],
    }
    return ledger.transition(
        batch_id,
        State.VALIDATED,
        actor=who,
        action=REPACKAGE_ACTION,
        details={
            "declared_by": by,
            "identity": who,
            "reason": reason,
            "previous_attempt": closed,
            "changed_sips": changed,
            **({"vitam_logbook": checked} if checked is not None else {}),
        },
        changes={**dict.fromkeys(CLEARED), "active_key": key},
    )


def _nothing_in_vitam(ledger: Ledger, batch: Batch, vitam: VitamClient | None) -> dict[str, list[str]]:
    """VITAM's logbook has no ingest of any SIP of the current attempt (else: refused, follow it),
    nor any ingest still unread since the upload was decided (else: refused for now)."""
    from versement.transfer import IngestUndecided, _ingests_once_read, _intent_time

    if vitam is None:
        raise RepackageRefused(
            f"lot {batch.id} : en cours d'envoi (submitting) ; le journal des opérations de VITAM doit être "
            "consulté avant tout nouvel empaquetage"
        )
    identifiers = [s.message_identifier for s in current_sips(batch)] or [str(batch.message_identifier)]
    answered: dict[str, list[str]] = {}
    for identifier in identifiers:
        try:
            found = _ingests_once_read(vitam, identifier, _intent_time(ledger, batch.id))
        except IngestUndecided as exc:
            raise RepackageRefused(f"lot {batch.id} : {exc}") from exc
        if found:
            operations = ", ".join(op.operation_id for op in found)
            raise RepackageRefused(
                f"lot {batch.id} : VITAM a reçu le SIP {identifier} (opération {operations}) ; il ne peut pas être "
                f"remplacé : suivez l'opération avec « versement transfer {batch.id} »"
            )
        answered[identifier] = []
    return answered


def status_lines(batches: list[dict[str, Any]]) -> list[str]:
    """French lines for ``versement status`` (from ``batch_summary``): each part of a split batch,
    and the attempts of a re-packaged one. Nothing for a batch of one SIP in one attempt."""
    lines = []
    for b in batches:
        by_attempt: dict[int, list[dict[str, Any]]] = {}
        for sip in b.get("sips") or []:
            by_attempt.setdefault(sip["attempt"], []).append(sip)
        current = b.get("attempt")
        for number, parts in sorted(by_attempt.items()):
            if len(by_attempt) == 1 and len(parts) == 1:
                continue
            live = number == current and b.get("message_identifier") is not None
            operations = ", ".join(p["vitam_operation_id"] for p in parts if p["vitam_operation_id"]) or "aucune"
            codes = ", ".join(sorted({p["atr_reply_code"] for p in parts if p["atr_reply_code"]})) or "sans ATR"
            lines.append(
                f"lot {b['id']} : tentative {number} ({'en cours' if live else 'close'}), {len(parts)} SIP ; "
                f"opération VITAM : {operations} ({codes})"
            )
            if len(parts) > 1:
                lines += [
                    f"    partie {p['part']} {p['message_identifier']} : SHA-256 {p['sha256']}"
                    + (" (validée)" if p["approved_sha256"] else "")
                    for p in parts
                ]
    return lines


def attempts_json(batch: Batch) -> dict[str, Any]:
    """The batch's attempt and every SIP row, for ``versement status --json``."""
    return {"attempt": current_attempt(batch) or None, "sips": [sip_summary(sip) for sip in batch.sips]}
