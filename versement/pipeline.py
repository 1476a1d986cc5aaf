"""The pipeline stages wired to the ledger: extract, validate, package, approve, transfer.

Each function takes the settings, the ledger and a batch, calls the stage's own package
(extractors, validation, seda, vitam_client) and records the outcome as one ledger transition.
The CLI, the tests and the Airflow DAGs call these same functions. A stage that fails raises
and leaves the batch in the state it had: nothing is half-marked done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors import DatasetSpec, ExtractedDataset, extract
from extractors.files import sha256_file
from seda import Management, Payload, Rule, Series, SipRequest, build_sip, validate_sip
from validation import check_dataset, reconcile
from versement.config import Settings, SourceConfig
from versement.ledger import Batch, Dataset, Ledger, LedgerError, State
from versement.renditions import parquet_to_csv
from versement.secrets import VITAM_KEY, source_secret
from vitam_client import OperationStatus, VitamClient, VitamEndpoint
from vitam_client.errors import Terminal

log = logging.getLogger("versement.pipeline")

Progress = Callable[[str, int], None]


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
    *,
    actor: str,
    progress: Progress | None = None,
) -> Batch:
    """Extract every dataset of a source in one snapshot into a new (or still empty) batch."""
    source = settings.source(source_name)
    batch = ledger.live_batch(source.name, source.scope())
    if batch is not None and batch.state != State.NEW:
        raise LedgerError(
            f"batch {batch.id} already holds {source.name} {source.scope()} (state {batch.state}); "
            "reject it or let it finish before extracting again"
        )
    if batch is None:
        batch = ledger.create_batch(source.name, source.scope(), actor)
    out_dir = batch_folder(settings, batch.id) / "data"
    try:
        snapshot = extract(
            source.url,
            dataset_specs(source),
            out_dir,
            progress=progress,
            password=settings.secret(source_secret(source.name)),
        )
    except Exception as exc:
        ledger.record(batch.id, actor=actor, action="extract.failed", details={"error": str(exc)})
        raise
    datasets = [_dataset_row(d) for d in snapshot.datasets]
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


def dataset_specs(source: SourceConfig) -> list[DatasetSpec]:
    return [DatasetSpec(name=d.name, table=d.table, key=d.key, filters=dict(d.filters)) for d in source.datasets]


# -- validate ---------------------------------------------------------------------------------


def run_validate(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> Batch:
    """Check every dataset (digest hand-off, counts, great-expectations suite) and decide."""
    batch = ledger.batch(batch_id)
    source = settings.source(batch.source)
    summary: dict[str, Any] = {}
    for dataset in batch.datasets:
        config = next(d for d in source.datasets if d.name == dataset.name)
        handoff = reconcile(_extracted(dataset))
        report = check_dataset(
            dataset.name,
            Path(dataset.path),
            key=config.key,
            not_null=config.not_null,
            expected_rows=dataset.rows,
        )
        result = report.to_dict()
        result["outcomes"] = [handoff.to_dict(), *result["outcomes"]]
        success = report.success and handoff.success
        result["success"] = success
        ledger.update_dataset_quality(batch_id, dataset.name, result, success)
        summary[dataset.name] = {"success": success, "failed": _failed(result)}
    passed = all(item["success"] for item in summary.values())
    target = State.VALIDATED if passed else State.QUALITY_FAILED
    return ledger.transition(batch_id, target, actor=actor, action="validate", details={"datasets": summary})


def _dataset_row(extracted: ExtractedDataset) -> Dataset:
    """The ledger's record of an extracted dataset..."""
    return Dataset(
        name=extracted.name,
        source_table=extracted.table,
        path=str(extracted.path),
        rows=extracted.rows,
        source_count=extracted.source_count,
        sha256=extracted.sha256,
        columns=[list(column) for column in extracted.columns],
        query=extracted.query,
    )


def _extracted(dataset: Dataset) -> ExtractedDataset:
    """...and back, for the hand-off check against the file on disk."""
    return ExtractedDataset(
        name=dataset.name,
        table=dataset.source_table,
        path=Path(dataset.path),
        rows=dataset.rows,
        source_count=dataset.source_count,
        sha256=dataset.sha256,
        columns=tuple((str(c[0]), str(c[1])) for c in dataset.columns),
        query=dataset.query,
        parameters={},
    )


def _failed(result: dict[str, Any]) -> list[str]:
    return [
        f"{o['expectation']}({o['column']})" if o.get("column") else o["expectation"]
        for o in result["outcomes"]
        if not o["success"]
    ]


# -- package ----------------------------------------------------------------------------------


def run_package(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> Batch:
    """Build the SIP, validate it before it leaves, and ask the archivist for approval."""
    batch = ledger.batch(batch_id)
    if batch.state != State.VALIDATED:
        raise StageError(f"batch {batch_id} is {batch.state}; only a validated batch can be packaged")
    source = settings.source(batch.source)
    folder = batch_folder(settings, batch_id)
    message_id = f"{settings.institution.identifier}-{source.name}-{source.scope()}-{batch_id:06d}".upper()
    payloads = [_rendition(dataset, folder / "renditions") for dataset in batch.datasets]
    request = _sip_request(settings, source, batch, message_id, payloads)
    sip = build_sip(request, folder / f"{message_id}.zip")
    report = validate_sip(sip.path, settings.seda_schemas, version=settings.seda_version)
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
        },
        changes={
            "message_identifier": message_id,
            "sip_path": str(sip.path),
            "sip_sha256": sip.sha256,
            "manifest_sha512": sip.manifest_sha512,
            "sip_validation": report.to_dict(),
        },
    )
    request_text = approval_request(ledger.batch(batch_id), settings)
    return ledger.transition(
        batch_id,
        State.AWAITING_APPROVAL,
        actor=actor,
        action="approval.requested",
        details={"message": request_text, "sip_sha256": sip.sha256},
    )


def _rendition(dataset: Dataset, out_dir: Path) -> tuple[Dataset, Path]:
    """The archival CSV of a dataset, made from a Parquet file whose digest is checked first."""
    actual = sha256_file(Path(dataset.path))
    if actual != dataset.sha256:
        raise DigestMismatch(
            f"dataset {dataset.name}: {dataset.path} has SHA-256 {actual}, the ledger recorded {dataset.sha256}"
        )
    return dataset, parquet_to_csv(Path(dataset.path), out_dir / f"{dataset.name}.csv")


def _sip_request(
    settings: Settings,
    source: SourceConfig,
    batch: Batch,
    message_id: str,
    payloads: list[tuple[Dataset, Path]],
) -> SipRequest:
    start = source.scope_end()
    configs = {d.name: d for d in source.datasets}
    series = []
    for dataset, csv_path in payloads:
        config = configs[dataset.name]
        management = Management(
            appraisal=Rule(config.appraisal_rule, start) if config.appraisal_rule else None,
            final_action="Keep" if config.final_action == "Keep" else "Destroy",
            access=Rule(config.access_rule, start) if config.access_rule else None,
        )
        payload = Payload(
            source=csv_path,
            filename=csv_path.name,
            title=f"{config.title} — {source.scope()} (fichier CSV, {dataset.rows} lignes)",
            mime_type="text/csv",
            format_id="x-fmt/18",
            format_name="Comma Separated Values",
            description=f"Extraction de la table {dataset.source_table} ; {dataset.rows} lignes.",
        )
        series.append(
            Series(
                title=f"{config.title} — {source.scope()}",
                description=config.description or None,
                payloads=[payload],
                management=management,
            )
        )
    return SipRequest(
        message_identifier=message_id,
        comment=f"Versement {source.title}, {source.scope()} (lot {batch.id})",
        archival_agreement=settings.vitam.ingest_contract,
        archival_agency=settings.vitam.archival_agency,
        transferring_agency=settings.institution.transferring_agency,
        originating_agency=settings.institution.identifier,
        submission_agency=settings.institution.submission_agency,
        fonds_title=f"{settings.institution.name} — {source.title}",
        series=series,
        date=datetime.now(UTC).replace(microsecond=0),
        seda_version=settings.seda_version,  # type: ignore[arg-type]
    )


def approval_request(batch: Batch, settings: Settings) -> str:
    """The French summary an archivist reviews before approving a batch."""
    source = settings.source(batch.source)
    lines = [
        f"Demande de validation du lot n° {batch.id} — {source.title}, {source.scope()}",
        f"Identifiant du versement : {batch.message_identifier}",
        f"Instantané de la source : {batch.snapshot_marker}",
    ]
    configs = {d.name: d for d in source.datasets}
    for dataset in batch.datasets:
        config = configs[dataset.name]
        quality = "conforme" if dataset.quality_success else "NON CONFORME"
        lines.append(
            f"  • {config.title} : {dataset.rows} lignes (source : {dataset.source_count}), "
            f"contrôle qualité {quality} ; sort final {_final_action_fr(config.final_action)} "
            f"({config.appraisal_rule or 'sans règle'}), communicabilité {config.access_rule or 'sans règle'}"
        )
    lines.append(f"Empreinte SHA-256 du SIP : {batch.sip_sha256}")
    lines.append(f'Pour valider : versement approve {batch.id} --by "Prénom Nom" --sha256 {batch.sip_sha256}')
    return "\n".join(lines)


def _final_action_fr(action: str) -> str:
    return "conservation" if action == "Keep" else "destruction"


# -- approve / reject -------------------------------------------------------------------------


def approve(ledger: Ledger, batch_id: int, *, approver: str, sha256: str | None = None, comment: str = "") -> Batch:
    """Record an archivist's approval, bound to the SIP's digest as it is on disk now."""
    batch = ledger.batch(batch_id)
    if not approver.strip():
        raise StageError("an approval needs the approver's name")
    if batch.state != State.AWAITING_APPROVAL or batch.sip_path is None:
        raise StageError(f"batch {batch_id} is {batch.state}; only a batch awaiting approval can be approved")
    actual = sha256_file(Path(batch.sip_path))
    if actual != batch.sip_sha256:
        raise DigestMismatch(f"batch {batch_id}: the SIP on disk changed since packaging (SHA-256 {actual})")
    if sha256 is not None and sha256.lower() != actual:
        raise DigestMismatch(f"batch {batch_id}: you approved SHA-256 {sha256}, but the SIP's is {actual}")
    return ledger.transition(
        batch_id,
        State.APPROVED,
        actor=approver,
        action="approve",
        details={"sip_sha256": actual, "comment": comment},
        changes={"approved_by": approver, "approved_at": _now(), "approved_sha256": actual},
    )


def reject(ledger: Ledger, batch_id: int, *, approver: str, reason: str) -> Batch:
    if not reason.strip():
        raise StageError("a rejection needs a reason for the record")
    if not approver.strip():
        raise StageError("a rejection needs the archivist's name")
    return ledger.transition(batch_id, State.REJECTED, actor=approver, action="reject", details={"reason": reason})


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
