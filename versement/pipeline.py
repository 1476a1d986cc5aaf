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
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors import ExtractedDataset, Snapshot, extract
from extractors.files import sha256_file
from extractors.scope import Scope
from extractors.specs import DatasetSpec
from seda import Limits, PackageResult, SchemaError, SipError, load_rules, validate_sip
from seda.validation import SKIPPED_ON_REQUEST
from versement import quality as quality_stage
from versement.config import Settings, SourceConfig
from versement.ledger import LABELS_FR, Batch, Dataset, Ledger, LedgerError, State, trail
from versement.ledger.models import Sip
from versement.ledger.sips import attempt_identifier, current_sips, next_attempt, part_updates
from versement.ledger.states import ARCHIVED
from versement.packaging import Packaged, PackagingError, build_package
from versement.records import batch_scope, dataset_spec_record
from versement.renditions import use_system_allocator
from versement.secrets import VITAM_KEY, source_secret
from vitam_client import OperationStatus, VitamClient, VitamEndpoint
from vitam_client.errors import Terminal

log = logging.getLogger("versement.pipeline")

Progress = Callable[[str, int, float], None]


class StageError(Exception):
    """A stage could not complete; the batch keeps its previous state."""


class EmptyScope(StageError):
    """The source holds no row of any scoped dataset for the scope: nothing to archive (recorded)."""


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
            f"la source {source.name} ({source.spec.label}) s'extrait par {source.spec.scope}, pas par {scope.kind}"
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

    def read() -> Snapshot:
        return extract(
            source.url,
            source.datasets,
            out_dir,
            parameters=recorded.parameters(),
            progress=progress,
            password=settings.secret(source_secret(source.name)),
            partitions=source.partitions,
        )

    try:
        snapshot = read()
        if len(snapshot.markers) > 1:
            # Resumed on a source whose snapshot died with the interrupted run (PostgreSQL): the
            # datasets kept come from an earlier state than those just read. A batch is one state
            # of the source, so it is read again whole, in one snapshot (as the source DAGs do).
            log.warning(
                "lot %d : jeux de données conservés d'un instantané antérieur (%s) ; nouvelle lecture complète",
                batch.id,
                ", ".join(snapshot.markers),
            )
            ledger.record(
                batch.id,
                actor=actor,
                action="extract.reread",
                details={
                    "reason": "datasets kept from an earlier snapshot than the ones read",
                    "markers": list(snapshot.markers),
                    "kept": list(snapshot.resumed),
                },
            )
            shutil.rmtree(out_dir)
            snapshot = read()
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
        "left_out_datasets": left_out_datasets(source),
        **(
            {}
            if source.spec.extension is None
            else {
                "added_datasets": {
                    "file": str(source.spec.extension),
                    "sha256": source.spec.extension_sha256,
                    "datasets": [d.name for d in source.datasets if d.name in source.spec.added],
                }
            }
        ),
    }


def left_out_datasets(source: SourceConfig) -> dict[str, str]:
    """The datasets of the tool not extracted because every column but their keys is sensitive, and why."""
    chosen = {d.name for d in source.datasets}
    return {
        name: (
            f"non versé : toutes ses colonnes hors clés relèvent de données sensibles exclues ({', '.join(classes)}) ; "
            f"include_sensitive = [{', '.join(repr(c) for c in classes)}] pour le verser"
        )
        for name, classes in source.spec.left_out_sensitive(source.include_sensitive).items()
        if name not in chosen
    }


def _refuse_empty_scope(source: SourceConfig, scope: Scope, datasets: Sequence[ExtractedDataset]) -> None:
    scoped = {d.name for d in source.datasets if d.scoped}
    if scoped and all(d.rows == 0 for d in datasets if d.name in scoped):
        raise EmptyScope(
            f"{source.title} : aucune donnée pour {scope.label_fr} ({', '.join(sorted(scoped))} vides) ; "
            "rien à archiver pour ce périmètre"
        )


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


def message_base(settings: Settings, ledger: Ledger, batch: Batch) -> str:
    """The first attempt's MessageIdentifier: institution, tool, scope, batch number and the
    ledger's fingerprint (batch numbers restart in every ledger; VITAM's tenant does not)."""
    return (
        f"{settings.institution.identifier}-{batch.source}-{batch.scope}-{batch.id:06d}-{ledger.fingerprint()}".upper()
    )


def run_package(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    *,
    actor: str,
    skip_schemas: bool = False,
    limits: Limits | None = None,
) -> Batch:
    """Build the SIP(s), validate each before it leaves, and ask the archivist for approval.

    The schema checks run unless ``skip_schemas`` says explicitly they may not (recorded in the
    package event); no schemas folder configured, or one that does not hold them, is an error.
    A batch over ``limits`` (by default the configuration's ``seda.max_items`` and
    ``seda.max_bytes``; tests pass their own) becomes several self-contained SIPs;
    the ledger records every one (``sip`` rows, versement/ledger/sips.py). A batch packaged
    again after a re-packaging gets the next attempt number and MessageIdentifier (``-A2``...).
    """
    batch = ledger.batch(batch_id)
    if batch.state != State.VALIDATED:
        raise StageError(
            f"lot {batch_id} : état {batch.state} ({LABELS_FR[State(batch.state)]}) ; seul un lot contrôlé "
            "(validated) peut être empaqueté"
        )
    use_system_allocator()  # before anything reads Parquet (versement.renditions)
    if settings.seda_schemas is None and not skip_schemas:
        raise SchemaError(
            f"lot {batch_id} : aucun dossier de schémas SEDA configuré (seda.schemas) ; un SIP est contrôlé sur les "
            "schémas avant d'être soumis à validation : renseignez-le, ou passez ces contrôles explicitement "
            "(--no-schemas)"
        )
    folder = batch_folder(settings, batch_id)
    events = ledger.events(batch_id)
    attempt = next_attempt(batch, events)
    base_id = message_base(settings, ledger, batch)
    message_id = attempt_identifier(base_id, attempt)
    for dataset in batch.datasets:
        _check_parquet(dataset)
    # The batch's trail so far travels inside its SIP: VITAM keeps a copy (checked by audit verify).
    trail_path = folder / trail.filename(batch_id)
    trail_path.parent.mkdir(parents=True, exist_ok=True)
    trail_path.write_bytes(trail.document(batch, events))
    try:
        packaged = build_package(settings, batch, folder, message_id, trail_path, limits=limits)
    except (PackagingError, SipError) as exc:
        ledger.record(batch_id, actor=actor, action="package.failed", details={"error": str(exc)})
        raise StageError(f"lot {batch_id} : empaquetage impossible : {exc}") from exc
    return _record_package(settings, ledger, batch_id, packaged, attempt, actor=actor, skip_schemas=skip_schemas)


def _record_package(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    packaged: Packaged,
    attempt: int,
    *,
    actor: str,
    skip_schemas: bool,
) -> Batch:
    """Validate every SIP of a package and record them all (one ``sip`` row per part; the batch
    columns describe part 1), then ask for approval."""
    package: PackageResult = packaged.result
    rules = load_rules(settings.seda_rules) if settings.seda_rules is not None else None
    reports = []
    for number, part in enumerate(package.sips, 1):
        try:
            report = validate_sip(
                part.path,
                None if skip_schemas else settings.seda_schemas,
                version=settings.seda_version,
                skip_reason=SKIPPED_ON_REQUEST,
                rules=rules,
            )
        except SchemaError as exc:
            ledger.record(batch_id, actor=actor, action="package.failed", details={"error": str(exc)})
            raise SchemaError(f"lot {batch_id} : le SIP n'a pas pu être contrôlé sur les schémas SEDA : {exc}") from exc
        if not report.valid:
            problems = "; ".join(f"[{i.check}] ligne {i.line} : {i.message}" for i in report.issues[:10])
            details = {**report.to_dict(), "part": number, "sip": part.path.name}
            ledger.record(batch_id, actor=actor, action="package.invalid", details=details)
            raise StageError(f"lot {batch_id} : le SIP {part.path} n'est pas valide : {problems}")
        if report.checks_skipped:
            log.warning("SIP %s: schema checks SKIPPED: %s", part.path.name, ", ".join(report.checks_skipped))
        reports.append(report)
    first, report = package.sips[0], reports[0]
    rows = [
        Sip(
            attempt=attempt,
            part=number,
            message_identifier=part.message_identifier,
            path=str(part.path),
            sha256=part.sha256,
            manifest_sha512=part.manifest_sha512,
            units=part.unit_count,
            objects=part.object_count,
            bytes=part.payload_bytes,
        )
        for number, part in enumerate(package.sips, 1)
    ]
    ledger.transition(
        batch_id,
        State.PACKAGED,
        actor=actor,
        action="package",
        details={
            "sip": first.path.name,
            "sha256": first.sha256,
            "units": package.units,
            "objects": package.objects,
            "attempt": attempt,
            "parts": len(package.sips),
            "schema_checks": SKIPPED_ON_REQUEST if skip_schemas else "run",
            "checks_run": list(report.checks_run),
            "checks_skipped": list(report.checks_skipped),
            **packaged.details(),
        },
        changes={
            "message_identifier": first.message_identifier,
            "sip_path": str(first.path),
            "sip_sha256": first.sha256,
            "manifest_sha512": first.manifest_sha512,
            "sip_validation": report.to_dict(),
        },
        sips=rows,
    )
    request_text = approval_request(ledger.batch(batch_id), packaged.approval_lines())
    requested: dict[str, Any] = {"message": request_text, "sip_sha256": first.sha256}
    if len(package.sips) > 1:
        requested["parts_sha256"] = [part.sha256 for part in package.sips]
    return ledger.transition(
        batch_id,
        State.AWAITING_APPROVAL,
        actor=actor,
        action="approval.requested",
        details=requested,
    )


def _check_parquet(dataset: Dataset) -> None:
    """A dataset's Parquet file is the one extraction recorded (SHA-256) before it is packaged."""
    actual = sha256_file(Path(dataset.path))
    if actual != dataset.sha256:
        raise DigestMismatch(
            f"jeu de données {dataset.name} : {dataset.path} a l'empreinte SHA-256 {actual}, le registre a "
            f"enregistré {dataset.sha256} (le fichier a changé depuis l'extraction)"
        )


def _title(dataset: Dataset) -> str:
    return str((dataset.spec or {}).get("label") or dataset.name)


def _source_title(batch: Batch) -> str:
    return str((batch.spec or {}).get("title") or batch.source)


def requested_approval(ledger: Ledger, batch: Batch) -> str:
    """The approval request as recorded when approval was asked (with the packaging's lines), the
    text every approval path shows; rebuilt from the batch if the ledger holds none."""
    asked = [e for e in ledger.events(batch.id) if e.action == "approval.requested"]
    if asked:
        message = json.loads(asked[-1].details).get("message")
        if message:
            return str(message)
    return approval_request(batch)


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
    parts = current_sips(batch)
    if parts and parts[0].attempt > 1:
        lines.append(
            f"Tentative n° {parts[0].attempt} : les tentatives précédentes restent au registre "
            "(versement status --json, champ sips)"
        )
    if len(parts) > 1:
        lines.append(f"Le versement est découpé en {len(parts)} SIP autonomes ; la validation porte sur chacun :")
        lines += [
            f"  • partie {sip.part} — {sip.message_identifier} : {sip.units} unités, {sip.objects} objets, "
            f"{sip.bytes} octets ; empreinte SHA-256 {sip.sha256}"
            for sip in parts
        ]
        digests = " ".join(f"--sha256 {sip.sha256}" for sip in parts)
        lines.append(
            f'Pour valider (une empreinte par partie) : versement approve {batch.id} --by "Prénom Nom" {digests}'
        )
        return "\n".join(lines)
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
    sha256: str | Sequence[str] | None,
    comment: str = "",
    identity: str | None = None,
) -> Batch:
    """Record an archivist's approval, bound to the digest they reviewed and to the SIP on disk.

    A batch packaged as several SIPs is approved with the digest of every part (``sha256`` a
    sequence, one per part, in any order): the approval binds each part's ``sip`` row to its
    digest, and the transfer checks each again before it is sent.

    ``approver`` is the name the archivist declares; ``identity`` the authenticated identity of
    the caller where there is one. Both are kept, in the event and in the batch row.
    """
    batch = ledger.batch(batch_id)
    if not approver.strip():
        raise StageError(f"lot {batch_id} : une validation doit porter le nom de l'archiviste (--by)")
    given = [sha256] if isinstance(sha256, str) else list(sha256 or [])
    given = [digest.strip().lower() for digest in given if digest and digest.strip()]
    if not given:
        raise DigestRequired(batch_id)
    if batch.state != State.AWAITING_APPROVAL or batch.sip_path is None:
        raise StageError(
            f"lot {batch_id} : état {batch.state} ({LABELS_FR[State(batch.state)]}) ; seul un lot en attente de "
            "validation (awaiting_approval) peut être validé"
        )
    parts = current_sips(batch)
    if len(parts) > 1:
        approved = _approved_parts(batch_id, parts, given)
        actual = approved[0]
    else:
        if len(given) > 1:
            raise DigestMismatch(
                f"lot {batch_id} : le lot tient en un seul SIP ; donnez une seule empreinte (--sha256), "
                f"pas {len(given)}"
            )
        actual = sha256_file(Path(batch.sip_path))
        if actual != batch.sip_sha256:
            raise DigestMismatch(
                f"lot {batch_id} : le SIP a changé sur le disque depuis sa mise en paquet (SHA-256 {actual})"
            )
        if given[0] != actual:
            raise DigestMismatch(
                f"lot {batch_id} : vous avez validé l'empreinte SHA-256 {given[0]}, mais celle du SIP est {actual}"
            )
        approved = [actual]
    who = approver_identity(identity)
    details: dict[str, Any] = {
        "sip_sha256": actual,
        "comment": comment,
        "declared_by": approver,
        "identity": who,
        "authenticated": identity is not None and bool(identity.strip()),
    }
    if len(parts) > 1:
        details["parts_sha256"] = approved
    return ledger.transition(
        batch_id,
        State.APPROVED,
        actor=who,
        action="approve",
        details=details,
        changes={"approved_by": approver, "approver_identity": who, "approved_at": _now(), "approved_sha256": actual},
        sip_updates={
            (sip.attempt, sip.part): {"approved_sha256": digest} for sip, digest in zip(parts, approved, strict=False)
        },
    )


def _approved_parts(batch_id: int, parts: Sequence[Sip], given: list[str]) -> list[str]:
    """Every part of a split batch approved by its own digest (one ``--sha256`` per part, in any
    order), each part's file still the one packaged; the digests approved, in part order."""
    expected = {sip.sha256: sip for sip in parts}
    unknown = [digest for digest in given if digest not in expected]
    if unknown:
        raise DigestMismatch(
            f"lot {batch_id} : l'empreinte {unknown[0]} n'est celle d'aucun des {len(parts)} SIP du lot "
            "(voir la demande de validation)"
        )
    missing = [sip for sip in parts if sip.sha256 not in given]
    if missing or len(given) != len(parts):
        names = ", ".join(f"partie {sip.part} ({sip.message_identifier})" for sip in missing) or "aucune"
        raise DigestMismatch(
            f"lot {batch_id} : le lot compte {len(parts)} SIP ; la validation doit porter l'empreinte de chacun, "
            f"une seule fois (--sha256 par partie) ; manquent : {names}"
        )
    for sip in parts:
        actual = sha256_file(Path(sip.path))
        if actual != sip.sha256:
            raise DigestMismatch(
                f"lot {batch_id} : le SIP de la partie {sip.part} ({sip.path}) a changé depuis l'empaquetage "
                f"(SHA-256 {actual}, empaqueté {sip.sha256}) ; il ne peut pas être validé"
            )
    return [sip.sha256 for sip in parts]


def withdraw(ledger: Ledger, batch_id: int, *, by: str, reason: str, identity: str | None = None) -> Batch:
    """Take an approval back before the transfer: the batch awaits approval again."""
    if not reason.strip():
        raise StageError(f"lot {batch_id} : retirer une validation demande un motif, gardé au journal (--reason)")
    if not by.strip():
        raise StageError(f"lot {batch_id} : retirer une validation demande le nom de l'archiviste (--by)")
    batch = ledger.batch(batch_id)
    if batch.state != State.APPROVED:
        raise StageError(
            f"lot {batch_id} : état {batch.state} ({LABELS_FR[State(batch.state)]}) ; seul un lot validé (approved) "
            "et pas encore transféré peut voir sa validation retirée"
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
        sip_updates=part_updates(current_sips(batch), approved_sha256=None),
    )


def reject(ledger: Ledger, batch_id: int, *, approver: str, reason: str, identity: str | None = None) -> Batch:
    """Record an archivist's rejection; like an approval, it keeps the declared name and who was there."""
    if not reason.strip():
        raise StageError(f"lot {batch_id} : un refus demande un motif, gardé au journal (--reason)")
    if not approver.strip():
        raise StageError(f"lot {batch_id} : un refus demande le nom de l'archiviste (--by)")
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
