"""The pipeline stages wired to the ledger: extract, validate, package, approve, transfer.

Each function takes the settings, the ledger and a batch, calls the stage's own package
(extractors, validation, seda, vitam_client) and records the outcome as one ledger transition.
The CLI, the tests and the Airflow DAGs call these same functions. A stage that fails raises
and leaves the batch in the state it had: nothing is half-marked done.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors import ExtractedDataset, extract
from extractors.files import sha256_file
from extractors.scope import Scope
from extractors.specs import DatasetSpec
from seda import SchemaError, SipError, load_rules, validate_sip
from seda.validation import SKIPPED_ON_REQUEST
from versement import quality as quality_stage
from versement.config import Settings, SourceConfig
from versement.ledger import LABELS_FR, Batch, Dataset, Ledger, LedgerError, State, trail
from versement.ledger.states import ARCHIVED
from versement.packaging import PackagingError, build_package
from versement.secrets import VITAM_KEY, source_secret
from vitam_client import OperationStatus, VitamClient, VitamEndpoint
from vitam_client.errors import Terminal

log = logging.getLogger("versement.pipeline")

Progress = Callable[[str, int, float], None]


class StageError(Exception):
    """A stage could not complete; the batch keeps its previous state."""


class DigestMismatch(Terminal, StageError):
    """A file changed between two hand-offs (source → Parquet → SIP → VITAM)."""


def batch_folder(settings: Settings, batch_id: int) -> Path:
    return settings.staging / "batches" / f"{batch_id:06d}"


# -- extract ----------------------------------------------------------------------------------


def run_extract(
    settings: Settings,
    ledger: Ledger,
    source_name: str,
    scope: Scope,
    *,
    actor: str,
    progress: Progress | None = None,
    supersede: int | None = None,
    reason: str | None = None,
) -> Batch:
    """Extract every dataset of a source for ``scope`` in one snapshot into a new (or still empty) batch.

    The scope and the specification used are recorded with the batch when it is created; every
    later stage reads them from the batch. A scope for which the source holds no row at all is
    refused (recorded in the trail): an empty year is reported, never archived. A scope already
    archived gets a new batch only with ``supersede`` (the archived batch) and ``reason``: the
    ledger records the supersession in both batches' trails.
    """
    source = settings.source(source_name)
    if scope.kind != source.spec.scope:
        raise StageError(
            f"source {source.name} ({source.spec.label}) is extracted by {source.spec.scope}, not by {scope.kind}"
        )
    batch = ledger.live_batch(source.name, scope.label)
    if batch is not None and batch.state not in {State.NEW, *ARCHIVED} and supersede is None:
        raise LedgerError(
            f"lot {batch.id} : {source.name} {scope.label} est déjà en cours ({LABELS_FR[State(batch.state)]}) ; "
            "rejetez-le ou menez-le à son terme avant d'extraire à nouveau"
        )
    if batch is None or batch.state != State.NEW or supersede is not None:
        batch = ledger.create_batch(
            source.name,
            scope.label,
            actor,
            scope_detail=scope.to_json(),
            spec=batch_spec(source),
            supersedes=supersede,
            reason=reason,
        )
    recorded = Scope.from_json(batch.scope_detail) if batch.scope_detail else scope
    out_dir = batch_folder(settings, batch.id) / "data"
    try:
        snapshot = extract(
            source.url,
            source.datasets,
            out_dir,
            parameters=recorded.parameters(),
            progress=progress,
            password=settings.secret(source_secret(source.name)),
        )
        _refuse_empty_scope(source, recorded, snapshot.datasets)
    except Exception as exc:
        ledger.record(batch.id, actor=actor, action="extract.failed", details={"error": str(exc)})
        raise
    specs = {d.name: d for d in source.datasets}
    datasets = [_dataset_row(d, specs[d.name]) for d in snapshot.datasets]
    details = {
        "snapshot": snapshot.marker,
        "datasets": {d.name: {"rows": d.rows, "sha256": d.sha256} for d in snapshot.datasets},
    }
    return ledger.transition(
        batch.id,
        State.EXTRACTED,
        actor=actor,
        action="extract",
        details=details,
        changes={"snapshot_marker": snapshot.marker},
        datasets=datasets,
    )


def batch_spec(source: SourceConfig) -> dict[str, Any]:
    """What a batch records of the specification it is extracted with."""
    return {
        "tool": source.tool,
        "label": source.spec.label,
        "title": source.title,
        "version": source.spec.version,
        "sha256": source.spec.sha256,
        "include_sensitive": list(source.include_sensitive),
    }


def _refuse_empty_scope(source: SourceConfig, scope: Scope, datasets: Sequence[ExtractedDataset]) -> None:
    scoped = {d.name for d in source.datasets if d.scoped}
    if scoped and all(d.rows == 0 for d in datasets if d.name in scoped):
        raise StageError(
            f"{source.title} : aucune donnée pour {scope.label_fr} ({', '.join(sorted(scoped))} vides) ; "
            "rien à archiver pour ce périmètre"
        )


def dataset_spec_record(spec: DatasetSpec) -> dict[str, Any]:
    """The ledger's copy of a dataset's specification, as extracted."""
    return {
        "label": spec.label,
        "description": spec.description,
        "record_type": spec.record_type,
        "key": list(spec.key),
        "scoped": spec.scoped,
        "person_key": spec.person_key,
        "person_kind": spec.person_kind,
        "references": list(spec.references),
        "columns": {c.name: {"label": c.label, "tags": sorted(c.tags)} for c in spec.columns.values()},
        "exclude_columns": list(spec.exclude_columns),
    }


# -- validate ---------------------------------------------------------------------------------


def run_validate(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> Batch:
    """Check every dataset (hand-off, reconciliation, suites) and decide, in one transition (versement.quality)."""
    batch = ledger.batch(batch_id)
    return quality_stage.validate(
        ledger, batch_id, scope=batch_scope(batch), folder=batch_folder(settings, batch_id), actor=actor
    )


def _dataset_row(extracted: ExtractedDataset, spec: DatasetSpec) -> Dataset:
    """The ledger's record of an extracted dataset..."""
    return Dataset(
        name=extracted.name,
        source_table=spec.name,
        path=str(extracted.path),
        rows=extracted.rows,
        source_count=extracted.source_count,
        sha256=extracted.sha256,
        columns=[list(column) for column in extracted.columns],
        query=extracted.query,
        spec=dataset_spec_record(spec),
        manifest=json.loads(extracted.manifest.read_text(encoding="utf-8")) if extracted.manifest else None,
    )


# -- package ----------------------------------------------------------------------------------


def run_package(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str, skip_schemas: bool = False) -> Batch:
    """Build the SIP, validate it before it leaves, and ask the archivist for approval.

    The schema checks run unless ``skip_schemas`` says explicitly they may not (recorded in the
    package event); no schemas folder configured, or one that does not hold them, is an error.
    """
    batch = ledger.batch(batch_id)
    if batch.state != State.VALIDATED:
        raise StageError(f"batch {batch_id} is {batch.state}; only a validated batch can be packaged")
    if settings.seda_schemas is None and not skip_schemas:
        raise SchemaError(
            "no SEDA schemas folder configured (seda.schemas): a SIP is checked against the schemas "
            "before it is offered for approval; set it, or skip the checks explicitly (--no-schemas)"
        )
    folder = batch_folder(settings, batch_id)
    message_id = f"{settings.institution.identifier}-{batch.source}-{batch.scope}-{batch_id:06d}".upper()
    for dataset in batch.datasets:
        _check_parquet(dataset)
    # The batch's trail so far travels inside its SIP: VITAM keeps a copy (checked by audit verify).
    trail_path = folder / trail.filename(batch_id)
    trail_path.parent.mkdir(parents=True, exist_ok=True)
    trail_path.write_bytes(trail.document(batch, ledger.events(batch_id)))
    try:
        packaged = build_package(settings, batch, folder, message_id, trail_path)
    except (PackagingError, SipError) as exc:
        ledger.record(batch_id, actor=actor, action="package.failed", details={"error": str(exc)})
        raise StageError(f"lot {batch_id} : empaquetage impossible : {exc}") from exc
    parts = packaged.result.sips
    if len(parts) > 1:
        for part in parts:
            part.path.unlink(missing_ok=True)
        problem = (
            f"lot {batch_id} : le lot dépasse les limites d'un SIP ({settings.seda_max_items} unités et objets, "
            f"{settings.seda_max_bytes} octets) et donnerait {len(parts)} SIP ; l'enregistrement de plusieurs SIP "
            "par lot n'est pas encore disponible : réduisez le périmètre du lot ou relevez seda.max_items / "
            "seda.max_bytes"
        )
        ledger.record(batch_id, actor=actor, action="package.failed", details={"error": problem})
        raise StageError(problem)
    (sip,) = parts
    rules = load_rules(settings.seda_rules) if settings.seda_rules is not None else None
    try:
        report = validate_sip(
            sip.path,
            None if skip_schemas else settings.seda_schemas,
            version=settings.seda_version,
            skip_reason=SKIPPED_ON_REQUEST,
            rules=rules,
        )
    except SchemaError as exc:
        ledger.record(batch_id, actor=actor, action="package.failed", details={"error": str(exc)})
        raise
    if not report.valid:
        problems = "; ".join(f"[{i.check}] line {i.line}: {i.message}" for i in report.issues[:10])
        ledger.record(batch_id, actor=actor, action="package.invalid", details=report.to_dict())
        raise StageError(f"batch {batch_id}: the SIP {sip.path} is not valid: {problems}")
    if report.checks_skipped:
        log.warning("SIP %s: schema checks SKIPPED: %s", sip.path.name, ", ".join(report.checks_skipped))
    ledger.transition(
        batch_id,
        State.PACKAGED,
        actor=actor,
        action="package",
        details={
            "sip": sip.path.name,
            "sha256": sip.sha256,
            "units": sip.unit_count,
            "objects": sip.object_count,
            "schema_checks": SKIPPED_ON_REQUEST if skip_schemas else "run",
            "checks_run": list(report.checks_run),
            "checks_skipped": list(report.checks_skipped),
            **packaged.details(),
        },
        changes={
            "message_identifier": message_id,
            "sip_path": str(sip.path),
            "sip_sha256": sip.sha256,
            "manifest_sha512": sip.manifest_sha512,
            "sip_validation": report.to_dict(),
        },
    )
    request_text = approval_request(ledger.batch(batch_id), packaged.approval_lines())
    return ledger.transition(
        batch_id,
        State.AWAITING_APPROVAL,
        actor=actor,
        action="approval.requested",
        details={"message": request_text, "sip_sha256": sip.sha256},
    )


def _check_parquet(dataset: Dataset) -> None:
    """A dataset's Parquet file is the one extraction recorded (SHA-256) before it is packaged."""
    actual = sha256_file(Path(dataset.path))
    if actual != dataset.sha256:
        raise DigestMismatch(
            f"dataset {dataset.name}: {dataset.path} has SHA-256 {actual}, the ledger recorded {dataset.sha256}"
        )


def batch_scope(batch: Batch) -> Scope:
    """The scope the batch recorded at creation (older batches: read back from its label)."""
    if batch.scope_detail:
        return Scope.from_json(batch.scope_detail)
    return Scope.academic_year(int(batch.scope[:4])) if batch.scope[:4].isdigit() else Scope.everything()


def _title(dataset: Dataset) -> str:
    return str((dataset.spec or {}).get("label") or dataset.name)


def _source_title(batch: Batch) -> str:
    return str((batch.spec or {}).get("title") or batch.source)


def approval_request(batch: Batch, packaging: Sequence[str] = ()) -> str:
    """The French summary an archivist reviews before approving a batch (read from the batch, and
    the packaging's own lines: its profile, rules and the records left without a rule start date)."""
    lines = [
        f"Demande de validation du lot n° {batch.id} — {_source_title(batch)}, {batch_scope(batch).label_fr}",
        f"Identifiant du versement : {batch.message_identifier}",
        f"Instantané de la source : {batch.snapshot_marker}",
    ]
    for dataset in batch.datasets:
        quality = "conforme" if dataset.quality_success else "NON CONFORME"
        lines.append(
            f"  • {_title(dataset)} : {dataset.rows} lignes (source : {dataset.source_count}), "
            f"contrôle qualité {quality}"
        )
    lines.extend(packaging)
    lines.extend(quality_stage.approval_lines(batch))
    lines.append(f"Empreinte SHA-256 du SIP : {batch.sip_sha256}")
    lines.append(f'Pour valider : versement approve {batch.id} --by "Prénom Nom" --sha256 {batch.sip_sha256}')
    return "\n".join(lines)


# -- approve / reject -------------------------------------------------------------------------


class DigestRequired(StageError):
    """An approval given without the digest of the SIP the archivist reviewed."""

    def __init__(self, batch_id: int) -> None:
        super().__init__(
            f"lot {batch_id} : la validation doit porter l'empreinte SHA-256 du SIP que vous avez examiné "
            f"(--sha256 EMPREINTE) ; elle figure dans la demande de validation du lot et dans "
            f"`versement status` (ou `versement status --json`, champ sip_sha256)"
        )
        self.batch_id = batch_id


def approver_identity(identity: str | None) -> str:
    """Who is really behind an approval: the authenticated identity a caller vouches for
    (Airflow user, browser login), else the operating-system account running the command."""
    if identity is not None and identity.strip():
        return identity.strip()
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"os:uid-{os.getuid()}"


def approve(
    ledger: Ledger,
    batch_id: int,
    *,
    approver: str,
    sha256: str | None,
    comment: str = "",
    identity: str | None = None,
) -> Batch:
    """Record an archivist's approval, bound to the digest they reviewed and to the SIP on disk.

    ``approver`` is the name the archivist declares; ``identity`` the authenticated identity of
    the caller where there is one. Both are kept, in the event and in the batch row.
    """
    batch = ledger.batch(batch_id)
    if not approver.strip():
        raise StageError("an approval needs the approver's name")
    if sha256 is None or not sha256.strip():
        raise DigestRequired(batch_id)
    if batch.state != State.AWAITING_APPROVAL or batch.sip_path is None:
        raise StageError(f"batch {batch_id} is {batch.state}; only a batch awaiting approval can be approved")
    actual = sha256_file(Path(batch.sip_path))
    if actual != batch.sip_sha256:
        raise DigestMismatch(f"batch {batch_id}: the SIP on disk changed since packaging (SHA-256 {actual})")
    if sha256.strip().lower() != actual:
        raise DigestMismatch(f"batch {batch_id}: you approved SHA-256 {sha256}, but the SIP's is {actual}")
    who = approver_identity(identity)
    return ledger.transition(
        batch_id,
        State.APPROVED,
        actor=who,
        action="approve",
        details={
            "sip_sha256": actual,
            "comment": comment,
            "declared_by": approver,
            "identity": who,
            "authenticated": identity is not None and bool(identity.strip()),
        },
        changes={"approved_by": approver, "approver_identity": who, "approved_at": _now(), "approved_sha256": actual},
    )


def withdraw(ledger: Ledger, batch_id: int, *, by: str, reason: str, identity: str | None = None) -> Batch:
    """Take an approval back before the transfer: the batch awaits approval again."""
    if not reason.strip():
        raise StageError("withdrawing an approval needs a reason for the record")
    if not by.strip():
        raise StageError("withdrawing an approval needs the archivist's name")
    batch = ledger.batch(batch_id)
    if batch.state != State.APPROVED:
        raise StageError(
            f"batch {batch_id} is {batch.state}; only an approved batch not yet transferred can have its approval "
            "withdrawn"
        )
    who = approver_identity(identity)
    return ledger.transition(
        batch_id,
        State.AWAITING_APPROVAL,
        actor=who,
        action="approval.withdrawn",
        details={
            "reason": reason,
            "declared_by": by,
            "identity": who,
            "withdrawn_sha256": batch.approved_sha256,
            "approved_by": batch.approved_by,
        },
        changes={"approved_by": None, "approver_identity": None, "approved_at": None, "approved_sha256": None},
    )


def reject(ledger: Ledger, batch_id: int, *, approver: str, reason: str, identity: str | None = None) -> Batch:
    """Record an archivist's rejection; like an approval, it keeps the declared name and who was there."""
    if not reason.strip():
        raise StageError("a rejection needs a reason for the record")
    if not approver.strip():
        raise StageError("a rejection needs the archivist's name")
    who = approver_identity(identity)
    details = {"reason": reason, "declared_by": approver, "identity": who}
    return ledger.transition(batch_id, State.REJECTED, actor=who, action="reject", details=details)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- transfer ---------------------------------------------------------------------------------


def endpoint(settings: Settings) -> VitamEndpoint:
    vitam = settings.vitam
    cert = (vitam.client_cert, vitam.client_key) if vitam.client_cert and vitam.client_key else None
    return VitamEndpoint(
        ingest_url=vitam.ingest_url,
        admin_url=vitam.admin_url,
        access_url=vitam.access_url,
        tenant=vitam.tenant,
        access_contract=vitam.access_contract,
        application_id=vitam.application_id,
        verify=vitam.ca_bundle or True,
        client_cert=cert,
        client_key_password=settings.secret(VITAM_KEY) if cert else None,
    )


@contextmanager
def vitam_client(settings: Settings) -> Iterator[VitamClient]:
    with VitamClient(endpoint(settings)) as client:
        yield client


def run_transfer(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    on_status: Callable[[OperationStatus], None] | None = None,
    client: VitamClient | None = None,
) -> Batch:
    """Send an approved SIP to VITAM exactly once, follow the operation, store the ATR, and
    verify an accepted batch by reading it back (``versement.transfer``).

    ``on_status`` sees each operation status read while waiting (progress for the CLI);
    ``client`` replaces the one built from the settings (tests).
    """
    from versement.transfer import transfer

    return transfer(settings, ledger, batch_id, actor=actor, on_status=on_status, client=client)


def run_verify(
    settings: Settings, ledger: Ledger, batch_id: int, *, actor: str, client: VitamClient | None = None
) -> Batch:
    """Check by reading back that VITAM holds what was sent; ``verified`` or ``verification_failed``."""
    from versement.transfer import verify

    return verify(settings, ledger, batch_id, actor=actor, client=client)


def run_dry_run(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    on_status: Callable[[OperationStatus], None] | None = None,
    client: VitamClient | None = None,
) -> Any:
    """Ingest with BLANK_TEST and report what VITAM would say; no state changes (an audit event)."""
    from versement.transfer import dry_run

    return dry_run(settings, ledger, batch_id, actor=actor, on_status=on_status, client=client)


def with_sandbox_urls(
    settings: Settings, base_url: str, ca_bundle: str, *, client_cert: tuple[str, str] | None = None
) -> Settings:
    """Point the settings at a running sandbox (the demo's in-process test server)."""
    vitam = replace(
        settings.vitam,
        ingest_url=f"{base_url}/ingest-external/v1",
        admin_url=f"{base_url}/admin-external/v1",
        access_url=f"{base_url}/access-external/v1",
        ca_bundle=ca_bundle,
    )
    if client_cert is not None:
        vitam = replace(vitam, client_cert=client_cert[0], client_key=client_cert[1])
    return replace(settings, vitam=vitam)
