"""The quality stage wired to the ledger: validate a batch, and the archivist's override.

Both are one ``Ledger.transition`` each: the datasets' quality summaries are written in the
same transaction that moves the batch to ``validated`` or ``quality_failed``, and a batch in
any other state than ``extracted`` is refused before anything is read or written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from extractors.scope import Scope
from validation import DatasetInput, QualityError, validate_batch
from validation.engine import PACKAGING_RULE_FR
from validation.html import write_report
from validation.labels import describe_outcome
from versement.ledger import LABELS_FR, Batch, Ledger, LedgerError, State
from versement.ledger.states import OVERRIDE_ACTION, OVERRIDE_LABEL_FR

REPORT_NAME = "quality/rapport-qualite.html"


class QualityRefused(Exception):
    """A quality request the batch's state or the arguments do not allow; nothing was written."""


def validate(
    ledger: Ledger,
    batch_id: int,
    *,
    scope: Scope,
    folder: Path,
    actor: str,
    suites_folder: Path | None = None,
) -> Batch:
    """Run the batch's suites and record the verdict, with every dataset's summary, in one transition."""
    batch = ledger.batch(batch_id)
    if batch.state != State.EXTRACTED:
        raise QualityRefused(
            f"lot {batch_id} : état {batch.state} ({LABELS_FR[State(batch.state)]}) ; seul un lot extrait "
            "(extracted) peut être contrôlé (rien n'a été modifié)"
        )
    inputs = [
        DatasetInput(d.name, Path(d.path), d.rows, d.source_count, d.sha256, d.spec or {}, d.manifest or {})
        for d in batch.datasets
    ]
    tool = (batch.spec or {}).get("tool") or batch.source
    try:
        quality = validate_batch(
            inputs, scope=scope, tool=tool, suites_folder=suites_folder, temp_directory=folder / "quality" / "tmp"
        )
    except QualityError as exc:
        ledger.record(batch_id, actor=actor, action="validate.error", details={"error": str(exc)})
        raise
    summaries = {r.dataset: r.to_dict() for r in quality.reports}
    title = f"Contrôle qualité du lot n° {batch.id} — {batch.source}, {scope.label_fr}"
    report = write_report(folder / REPORT_NAME, title, list(summaries.values()), PACKAGING_RULE_FR)
    target = State.VALIDATED if quality.success else State.QUALITY_FAILED
    details = {
        "datasets": {name: _brief(summary) for name, summary in summaries.items()},
        "report": {"path": str(report), "sha256": hashlib.sha256(report.read_bytes()).hexdigest()},
    }
    return ledger.transition(
        batch_id,
        target,
        actor=actor,
        action="validate",
        details=details,
        dataset_updates={
            name: {"quality": summary, "quality_success": summary["success"]} for name, summary in summaries.items()
        },
    )


def _brief(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit event keeps of a dataset's summary (no example values: they may be personal)."""
    return {
        "success": summary["success"],
        "expectations": summary["expectations"],
        "failed": [
            describe_outcome(o) for o in summary["outcomes"] if not o["success"] and o["severity"] == "critical"
        ],
        "warnings": [
            describe_outcome(o) for o in summary["outcomes"] if not o["success"] and o["severity"] != "critical"
        ],
    }


def override(ledger: Ledger, batch_id: int, *, by: str, reason: str, identity: str | None = None) -> Batch:
    """An archivist lifts a failed quality gate, in writing: quality_failed → validated, audited.

    The justification is in the audit event and beside each failed dataset's quality summary,
    so it travels with the batch to the approval request and the browser. ``identity`` is the
    authenticated identity of the caller where there is one (the browser's signed-in account);
    the event keeps it beside the declared name, else the operating-system account.
    """
    from versement.pipeline import approver_identity  # pipeline imports this module

    if not by.strip():
        raise QualityRefused("une dérogation doit porter le nom de l'archiviste (--by)")
    if not reason.strip():
        raise QualityRefused("une dérogation doit être justifiée (--reason)")
    batch = ledger.batch(batch_id)
    if batch.state != State.QUALITY_FAILED:
        raise QualityRefused(
            f"lot {batch_id} : état {batch.state} ({LABELS_FR[State(batch.state)]}) ; seul un lot en échec de "
            "contrôle qualité (quality_failed) peut faire l'objet d'une dérogation"
        )
    key = f"{batch.source}/{batch.scope}"
    live = ledger.live_batch(batch.source, batch.scope)
    if live is not None:
        raise LedgerError(
            f"lot {batch_id} : le lot {live.id} est déjà en cours pour {key} ; menez-le à son terme ou rejetez-le"
        )
    record = {"by": by, "reason": reason}
    failed = {
        d.name: [
            describe_outcome(o)
            for o in (d.quality or {}).get("outcomes", [])
            if not o.get("success") and o.get("severity", "critical") == "critical"
        ]
        for d in batch.datasets
        if d.quality_success is False
    }
    updates = {
        name: {"quality": {**(d.quality or {}), "override": record}}
        for d in batch.datasets
        if (name := d.name) in failed
    }
    return ledger.transition(
        batch_id,
        State.VALIDATED,
        actor=by,
        action=OVERRIDE_ACTION,
        details={
            **record,
            "label": OVERRIDE_LABEL_FR,
            "lifted": failed,
            "identity": approver_identity(identity),
            "authenticated": identity is not None and bool(identity.strip()),
        },
        changes={"active_key": key},
        dataset_updates=updates,
    )


def approval_lines(batch: Batch) -> list[str]:
    """Failures, warnings and overrides, for the approval request (read from the batch alone)."""
    lines = []
    for dataset in batch.datasets:
        quality = dataset.quality or {}
        outcomes = quality.get("outcomes", [])
        for o in outcomes:
            if not o.get("success") and o.get("severity", "critical") == "critical":
                lines.append(
                    f"    ✗ {dataset.name} : {describe_outcome(o)} — {o.get('unexpected_count') or 0} ligne(s)"
                )
        for o in outcomes:
            if not o.get("success") and o.get("severity", "critical") != "critical":
                lines.append(
                    f"    ⚠ {dataset.name} : {describe_outcome(o)} — {o.get('unexpected_count') or 0} ligne(s)"
                    " (avertissement)"
                )
        for disabled in quality.get("disabled") or ():
            kwargs = disabled.get("kwargs") or {}
            described = describe_outcome(
                {"expectation": disabled.get("type"), "column": kwargs.get("column"), "details": disabled}
            )
            lines.append(f"    ○ {dataset.name} : {described} non effectué — {disabled.get('reason')}")
        if quality.get("override"):
            record = quality["override"]
            lines.append(f"    ✎ {dataset.name} : dérogation de {record['by']} : {record['reason']}")
    if lines:
        lines.insert(0, "  Contrôle qualité (échecs ✗, avertissements ⚠, contrôles non effectués ○, dérogations ✎) :")
    return lines


def validate_table(batch: Batch) -> str:
    """``versement validate N``'s French table: one line per dataset, then what failed."""
    header = (
        f"{'jeu de données':<32} {'lignes':>9} {'contrôles':>9} {'réussis':>8} {'échecs':>7} {'avert.':>7}  verdict"
    )
    lines = [header, "-" * len(header)]
    for dataset in batch.datasets:
        q = dataset.quality or {}
        verdict = "conforme" if q.get("success") else "NON CONFORME"
        lines.append(
            f"{dataset.name:<32} {q.get('rows', dataset.rows):>9} {q.get('expectations', 0):>9} "
            f"{q.get('passed', 0):>8} {q.get('failed', 0):>7} {q.get('warnings', 0):>7}  {verdict}"
        )
    lines.extend(approval_lines(batch))
    lines.append(f"Lot {batch.id} : {LABELS_FR[State(batch.state)]}")
    return "\n".join(lines)
