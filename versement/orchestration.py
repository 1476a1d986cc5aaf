"""The pipeline as an orchestrator runs it: one step per task, each resumable from the ledger.

The DAGs of ``dags/versement_sources.py`` call these functions and nothing else (no Airflow
here). Every step reads where the batch stands and does its stage only when the batch is in the
state that stage starts from; otherwise it says, in French, what it found and does nothing. So a
run for a scope whose batch already exists resumes where the batch stopped, and a finished batch
is reported, never extracted twice. Each step returns a small dict of numbers for the task log.

Extraction is spread over the batch's datasets (``extractors.parallel``): ``plan`` creates the
batch and names the datasets; on PostgreSQL ``hold_snapshot`` (a task running beside the
readers) exports one snapshot and keeps its transaction open until every dataset is written;
``extract_dataset`` runs once per dataset, or once per partition of a dataset read in partitions
(``plan``'s ``units``; ``extractors.partitions``), as a mapped task inside that snapshot (``SET
TRANSACTION SNAPSHOT``; Oracle: AS OF the SCN ``plan`` read); ``finish_extract`` checks that every
unit was read, all from one state of the source, and records them in the ledger in one transition
(``pipeline.run_extract``, which keeps the finished files and combines the partitions). When the
readers did not see the same state (a holder that died and was retried, an SCN that differs, a
SQLite file that changed), the files are discarded and the batch is extracted again in one
reader: a batch is always one consistent snapshot.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from extractors import manifest as manifests
from extractors import parallel
from extractors import partitions as cuts
from extractors.errors import ExtractionError
from extractors.scope import Scope
from versement import pipeline
from versement import quality as quality_stage
from versement.approval_form import (
    APPROVE,
    COMMENT,
    DIGEST,
    JUSTIFICATION,
    OVERRIDE,
    REJECT,
    STOP,
    StepRefused,
)
from versement.config import Settings, SourceConfig
from versement.ledger import LABELS_FR, Batch, Ledger, State
from versement.ledger.sips import current_sips
from versement.ledger.states import ARCHIVED
from versement.secrets import source_secret

log = logging.getLogger("versement.orchestration")


SNAPSHOT_FILE = ".snapshot.json"  # in the batch's data folder: the exported snapshot the readers import
RELEASE_FILE = ".release"  # a reader gave up: the holder lets its snapshot go


def _fr(state: str) -> str:
    return LABELS_FR[State(state)]


def retryable(exc: BaseException) -> bool:
    """Whether a step that raised ``exc`` may succeed if run again unchanged: the one rule for retries.

    An orchestrator retries only these (a dropped connection, a busy SQLite file, VITAM
    unavailable); anything else (a missing column, bad credentials, a refused step, a bug) fails
    at once, since a retry would only hide it and, for a reader, keep the snapshot held.
    """
    from extractors.errors import is_transient as driver_transient
    from vitam_client import is_transient as vitam_transient

    if isinstance(exc, StepRefused | pipeline.StageError):
        return False
    if isinstance(exc, ExtractionError):
        return exc.transient
    return vitam_transient(exc) or driver_transient(exc)


# -- scope and datasets --------------------------------------------------------------------------


def run_scope(source: SourceConfig, text: str | None, run_date: date) -> Scope:
    """The scope asked for, or, for a scheduled run (no scope given), the last one closed at ``run_date``:
    the academic year that ended before it, or the previous calendar year for a period source."""
    if text and text.strip():
        return Scope.parse(source.spec.scope, text)
    if source.spec.scope == "academic_year":
        closed = run_date.year - 1 if run_date >= date(run_date.year, 9, 1) else run_date.year - 2
        return Scope.academic_year(closed)
    if source.spec.scope == "period":
        return Scope.parse("period", str(run_date.year - 1))
    return Scope.everything()


def scope_runs(source: SourceConfig, params: Mapping[str, Any], run_id: str) -> list[dict[str, Any]]:
    """A run for several academic years (``scope`` ``2019-2022``, as ``versement extract --years``)
    becomes one run per year, each with its own batch and approval, the other params unchanged:
    the DAG run ids and confs to trigger. Empty for a run for one scope, which goes on itself."""
    text = str(params.get("scope") or "").strip()
    found = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", text)
    if found is None or source.spec.scope != "academic_year":
        return []
    first, last = int(found.group(1)), int(found.group(2))
    if last < first:
        raise StepRefused(
            f"{source.title} : « {text} » : la dernière année précède la première "
            "(attendu : PREMIÈRE-DERNIÈRE, par exemple 2019-2022)"
        )
    years = range(first, last + 1)
    kept = {name: params[name] for name in ("datasets", "seda_version", "dry_run") if name in params}
    log.info(
        "%s : %d années universitaires (%s) ; une exécution et un lot par année, l'une après l'autre",
        source.title,
        len(years),
        ", ".join(Scope.academic_year(year).label for year in years),
    )
    return [{"trigger_run_id": f"{run_id}__{year}", "conf": {**kept, "scope": str(year)}} for year in years]


def narrowed(
    settings: Settings, source_name: str, datasets: Sequence[str] | None, seda_version: str | None
) -> Settings:
    """The settings for one run: only ``datasets`` of the source (all if none), the SEDA version asked."""
    source = settings.source(source_name)
    changed = settings
    if datasets:
        known = {d.name: d for d in source.datasets}
        unknown = [name for name in datasets if name not in known]
        if unknown:
            raise StepRefused(
                f"{source.title} : jeu(x) de données inconnu(s) {', '.join(unknown)} (disponibles : {', '.join(known)})"
            )
        chosen = tuple(known[name] for name in dict.fromkeys(datasets))
        changed = replace(changed, sources={**settings.sources, source_name: replace(source, datasets=chosen)})
    if seda_version:
        changed = replace(changed, seda_version=seda_version)  # type: ignore[arg-type]  # checked by the DAG param
    return changed


# -- extraction ----------------------------------------------------------------------------------


def plan(settings: Settings, ledger: Ledger, source_name: str, scope: Scope, *, actor: str) -> dict[str, Any]:
    """The batch this run works on: the scope's live batch (resumed), or a new one to extract.

    Returns the batch number, its state and the datasets still to extract (none when the batch is
    past extraction), plus the reference marker mapped readers share (Oracle SCN) and the source's
    fingerprint (SQLite).
    """
    source = settings.source(source_name)
    if scope.kind != source.spec.scope:
        raise StepRefused(f"{source.title} est extrait par {source.spec.scope}, pas par {scope.kind}")
    batch = ledger.live_batch(source.name, scope.label)
    if batch is not None and batch.state in ARCHIVED:
        log.info(
            "lot %d : %s %s est déjà archivé (%s) ; rien à faire. Pour le remplacer : "
            "versement extract %s --supersede %d --reason TEXTE",
            batch.id,
            source.name,
            scope.label,
            _fr(batch.state),
            source.name,
            batch.id,
        )
        return {"batch_id": batch.id, "state": batch.state, "datasets": [], "resumed": True}
    if batch is not None and batch.state != State.NEW:
        log.info(
            "lot %d : %s %s est déjà %s ; la suite reprend là où il s'est arrêté",
            batch.id,
            source.name,
            scope.label,
            _fr(batch.state),
        )
        return {"batch_id": batch.id, "state": batch.state, "datasets": [], "resumed": True}
    if batch is None:
        batch = ledger.create_batch(
            source.name, scope.label, actor, scope_detail=scope.to_json(), spec=pipeline.batch_spec(source)
        )
    password = settings.secret(source_secret(source.name))
    names = [d.name for d in source.datasets]
    log.info(
        "lot %d : %s, %s ; %d jeu(x) de données à extraire : %s",
        batch.id,
        source.title,
        scope.label_fr,
        len(names),
        ", ".join(names),
    )
    return {
        "batch_id": batch.id,
        "state": str(State.NEW),
        "datasets": names,
        "units": units(source),
        "marker": parallel.snapshot_marker(source.url, password=password),
        "fingerprint": parallel.source_fingerprint(source.url),
        "resumed": False,
    }


def units(source: SourceConfig) -> list[dict[str, Any]]:
    """What the mapped readers read: ``{"dataset": name, "partition": None}`` per dataset, one
    ``{"dataset": name, "partition": i}`` per partition (1..n) of a dataset read in partitions."""
    out: list[dict[str, Any]] = []
    for spec in source.datasets:
        count = source.partitions.get(spec.name)
        parts: list[int | None] = list(range(1, count + 1)) if count else [None]
        out.extend({"dataset": spec.name, "partition": part} for part in parts)
    return out


def unit_name(source: SourceConfig, dataset: str, partition: int | None) -> str:
    """The file name (without suffix) a unit's reader writes: the dataset's, or its partition's."""
    if partition is None:
        return dataset
    return cuts.part_name(dataset, partition, source.partitions[dataset])


def _is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql:", "postgresql+"))


def hold_snapshot(
    settings: Settings,
    ledger: Ledger,
    planned: Mapping[str, Any],
    *,
    hold_seconds: float = 6 * 3600,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Export a PostgreSQL snapshot for the batch's readers and hold it until they are done.

    Done means every dataset's manifest is written (it is written last), a reader gave up
    (``RELEASE_FILE``), or ``hold_seconds`` passed. Other engines and resumed batches: nothing to hold.
    """
    batch = ledger.batch(int(planned["batch_id"]))
    source = settings.source(batch.source)
    # One manifest per reader: a dataset's, or each partition's (combined after the holder let go).
    given = planned.get("units")
    names = (
        [unit_name(source, str(u["dataset"]), u.get("partition")) for u in given]
        if given is not None
        else list(planned.get("datasets") or [])
    )
    if not planned.get("datasets"):
        names = []
    if batch.state != State.NEW or not names or not _is_postgresql(source.url):
        return {"held": False}
    folder = pipeline.batch_folder(settings, batch.id) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RELEASE_FILE).unlink(missing_ok=True)
    started = time.monotonic()
    done: list[str] = []
    with parallel.exported_snapshot(source.url, password=settings.secret(source_secret(source.name))) as held:
        snapshot, marker = held.snapshot_id, held.marker
        manifests.write_manifest(
            folder / SNAPSHOT_FILE, {"format": manifests.FORMAT, "snapshot_id": snapshot, "marker": marker}
        )
        log.info(
            "lot %d : instantané %s exporté (%s), tenu ouvert pour %d lecteur(s)",
            batch.id,
            snapshot,
            marker,
            len(names),
        )
        try:
            while True:
                done = [n for n in names if manifests.manifest_path(folder, n).is_file()]
                if len(done) == len(names) or (folder / RELEASE_FILE).exists():
                    break
                if time.monotonic() - started > hold_seconds:
                    log.warning("lot %d : instantané relâché après %.0f s", batch.id, hold_seconds)
                    break
                sleep(poll)
        finally:
            (folder / SNAPSHOT_FILE).unlink(missing_ok=True)
    seconds = time.monotonic() - started
    log.info(
        "lot %d : instantané %s tenu %.1f s ; %d/%d jeux de données écrits",
        batch.id,
        snapshot,
        seconds,
        len(done),
        len(names),
    )
    return {"held": True, "marker": marker, "written": len(done), "seconds": round(seconds, 1)}


def release_snapshot(settings: Settings, batch_id: int) -> None:
    """A reader that will not try again lets the holder go (the run fails; see ``reader_failed``)."""
    folder = pipeline.batch_folder(settings, batch_id) / "data"
    if folder.is_dir():
        (folder / RELEASE_FILE).touch()


def reader_failed(
    settings: Settings, ledger: Ledger, batch_id: int, dataset: str, error: BaseException, *, actor: str
) -> None:
    """A reader's last try failed: the batch's trail says so (``extract.failed``, shown by
    ``versement status``; the batch stays new) and the snapshot holder lets go."""
    try:
        if ledger.batch(batch_id).state == State.NEW:  # a refusal of an extracted batch is no failure of it
            details = {"dataset": dataset, "error": str(error)}
            ledger.record(batch_id, actor=actor, action="extract.failed", details=details)
    finally:
        release_snapshot(settings, batch_id)


def _wait_for_snapshot(folder: Path, wait_seconds: float, sleep: Callable[[float], None]) -> str:
    deadline = time.monotonic() + wait_seconds
    while True:
        found = manifests.read_manifest(folder / SNAPSHOT_FILE)
        if found and found.get("snapshot_id"):
            return str(found["snapshot_id"])
        if time.monotonic() > deadline:
            raise ExtractionError(
                f"{folder}: no exported snapshot after {wait_seconds:.0f} s (is the hold_snapshot task running?)",
                transient=True,
            )
        sleep(1.0)


def extract_dataset(
    settings: Settings,
    ledger: Ledger,
    batch_id: int,
    dataset: str,
    marker: str | None,
    *,
    partition: int | None = None,
    wait_seconds: float = 900,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Extract one dataset of a new batch into the batch's folder (a mapped task), in the batch's snapshot.

    With ``partition``, only that partition of a dataset read in partitions (``sources.<name>.partitions``);
    ``finish_extract`` combines the partitions into the dataset's file.
    """
    batch = ledger.batch(batch_id)
    if batch.state != State.NEW:
        raise StepRefused(f"lot {batch_id} : {_fr(batch.state)} ; ses jeux de données sont déjà extraits")
    source = settings.source(batch.source)
    spec = {d.name: d for d in source.datasets}.get(dataset)
    if spec is None:
        raise StepRefused(f"lot {batch_id} : {source.title} n'a pas de jeu de données {dataset}")
    count = source.partitions.get(dataset)
    if (partition is None) != (count is None) or (partition is not None and not 1 <= partition <= (count or 0)):
        wanted = f"en {count} partitions" if count else "en une seule lecture"
        raise StepRefused(f"lot {batch_id} : {dataset} se lit {wanted}, pas la partition {partition}")
    folder = pipeline.batch_folder(settings, batch_id) / "data"
    snapshot = _wait_for_snapshot(folder, wait_seconds, sleep) if _is_postgresql(source.url) else None
    found = parallel.extract_dataset(
        source.url,
        spec,
        folder,
        parameters=pipeline.batch_scope(batch).parameters(),
        password=settings.secret(source_secret(source.name)),
        reuse_marker=marker,
        snapshot_id=snapshot,
        partition=None if partition is None or count is None else (partition, count),
    )
    size = found.path.stat().st_size
    log.info(
        "lot %d, %s : %d lignes (source : %d), %d octets, SHA-256 %s, instantané %s%s",
        batch_id,
        found.name,
        found.rows,
        found.source_count,
        size,
        found.sha256,
        found.marker,
        " (repris d'une exécution précédente)" if found.resumed else "",
    )
    return {
        "dataset": dataset,
        "partition": partition,
        "rows": found.rows,
        "bytes": size,
        "sha256": found.sha256,
        "marker": found.marker,
    }


def finish_extract(
    settings: Settings,
    ledger: Ledger,
    planned: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    *,
    actor: str,
) -> dict[str, Any]:
    """Record the batch's extraction in the ledger, after checking the files are one snapshot."""
    batch = ledger.batch(int(planned["batch_id"]))
    if batch.state != State.NEW:
        log.info("lot %d : %s ; extraction déjà enregistrée", batch.id, _fr(batch.state))
        return {"batch_id": batch.id, "state": batch.state}
    source = settings.source(batch.source)
    markers = [str(r["marker"]) for r in results]
    fingerprint = planned.get("fingerprint")
    # Every reader's unit (each dataset, each partition of a partitioned one) read once, in one snapshot.
    expected = sorted(unit_name(source, u["dataset"], u["partition"]) for u in units(source))
    read = sorted(unit_name(source, str(r["dataset"]), r.get("partition")) for r in results)
    consistent = read == expected and (
        parallel.same_snapshot(markers)
        if fingerprint is None
        else fingerprint == parallel.source_fingerprint(source.url)
    )
    if not consistent:
        log.warning(
            "lot %d : les jeux de données n'ont pas été lus dans le même état de la source (%s) ; "
            "extraction à nouveau, en un seul instantané",
            batch.id,
            ", ".join(sorted(set(markers))) or "aucun",
        )
        ledger.record(
            batch.id,
            actor=actor,
            action="extract.reread",
            details={"reason": "mapped readers saw different snapshots", "markers": sorted(set(markers))},
        )
        shutil.rmtree(pipeline.batch_folder(settings, batch.id) / "data", ignore_errors=True)
    batch = pipeline.run_extract(settings, ledger, source.name, pipeline.batch_scope(batch), actor=actor)
    total_rows = sum(d.rows for d in batch.datasets)
    total_bytes = sum(Path(d.path).stat().st_size for d in batch.datasets)
    log.info(
        "lot %d : extrait, %d jeu(x) de données, %d lignes, %d octets, instantané %s (%s)",
        batch.id,
        len(batch.datasets),
        total_rows,
        total_bytes,
        batch.snapshot_marker,
        "lectures parallèles" if consistent else "relu en un seul instantané",
    )
    return {
        "batch_id": batch.id,
        "state": batch.state,
        "rows": total_rows,
        "bytes": total_bytes,
        "parallel": consistent,
        "datasets": {d.name: {"rows": d.rows, "sha256": d.sha256} for d in batch.datasets},
    }


# -- quality and packaging -----------------------------------------------------------------------


def validate_step(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> dict[str, Any]:
    batch = ledger.batch(batch_id)
    if batch.state != State.EXTRACTED:
        log.info("lot %d : %s ; contrôle qualité déjà fait", batch_id, _fr(batch.state))
        return {"batch_id": batch_id, "state": batch.state}
    batch = pipeline.run_validate(settings, ledger, batch_id, actor=actor)
    log.info("%s", quality_stage.validate_table(batch))
    failed = [d.name for d in batch.datasets if d.quality_success is False]
    return {"batch_id": batch_id, "state": batch.state, "failed": failed}


def package_step(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> dict[str, Any]:
    batch = ledger.batch(batch_id)
    if batch.state == State.QUALITY_FAILED:
        log.info("lot %d : %s sans dérogation ; rien n'est empaqueté", batch_id, _fr(batch.state))
        return {"batch_id": batch_id, "state": batch.state}
    if batch.state != State.VALIDATED:
        log.info("lot %d : %s ; déjà empaqueté", batch_id, _fr(batch.state))
        return {"batch_id": batch_id, "state": batch.state}
    batch = pipeline.run_package(settings, ledger, batch_id, actor=actor)
    size = Path(batch.sip_path).stat().st_size if batch.sip_path else 0
    units: dict[str, Any] = next(
        (json.loads(e.details) for e in reversed(ledger.events(batch_id)) if e.action == "package"), {}
    )
    log.info(
        "lot %d : SIP %s, %d octets, %s unités archivistiques, %s objets, SHA-256 %s",
        batch_id,
        Path(batch.sip_path or "").name,
        size,
        units.get("units"),
        units.get("objects"),
        batch.sip_sha256,
    )
    log.info("%s", pipeline.requested_approval(ledger, batch))
    return {"batch_id": batch_id, "state": batch.state, "sip_sha256": batch.sip_sha256, "bytes": size}


def dry_run_step(settings: Settings, ledger: Ledger, batch_id: int, *, actor: str) -> dict[str, Any]:
    """A dry run stops before approval: VITAM's BLANK_TEST says what it would do; nothing is transferred."""
    batch = ledger.batch(batch_id)
    if batch.state != State.AWAITING_APPROVAL:
        log.info("lot %d : %s ; pas de test à blanc", batch_id, _fr(batch.state))
        return {"batch_id": batch_id, "state": batch.state}
    outcome = pipeline.run_dry_run(settings, ledger, batch_id, actor=actor)
    log.info("lot %d : test à blanc VITAM : %s", batch_id, outcome)
    return {"batch_id": batch_id, "state": batch.state, "dry_run": str(outcome)}


# -- approval ------------------------------------------------------------------------------------


def batch_link(settings: Settings, batch_id: int) -> str | None:
    base = settings.browser.base_url
    return f"{base.rstrip('/')}/lots/{batch_id}" if base else None


def approval_payload(settings: Settings, batch: Batch, ledger: Ledger | None = None) -> dict[str, Any]:
    """What the archivist is shown: subject, Markdown body (the French request, the link), the digest."""
    if batch.state != State.AWAITING_APPROVAL or not batch.sip_sha256:
        raise StepRefused(f"lot {batch.id} : {_fr(batch.state)} ; aucune validation à demander")
    scope = pipeline.batch_scope(batch)
    title = (batch.spec or {}).get("title") or batch.source
    request = pipeline.requested_approval(ledger, batch) if ledger else pipeline.approval_request(batch)
    # The CLI's last line says how to approve on the command line; here the form does it.
    lines = [line for line in request.splitlines() if not line.startswith("Pour valider")]
    link = batch_link(settings, batch.id)
    body = ["```text", *lines, "```", ""]
    if link:
        body.append(f"Consulter le lot dans le navigateur : [{link}]({link})")
    digests = [sip.sha256 for sip in current_sips(batch)] or [batch.sip_sha256]
    if len(digests) > 1:
        shown = ", ".join(f"`{digest}`" for digest in digests)
        what = f"les {len(digests)} SIP du lot, d'empreintes SHA-256 {shown} (toutes, dans le champ « {DIGEST} »)"
    else:
        what = f"le SIP d'empreinte SHA-256 `{digests[0]}` (champ « {DIGEST} »)"
    body.append(f"Validez {what} ou rejetez le lot en disant pourquoi (champ « {COMMENT} »).")
    return {
        "subject": f"Validation du lot n° {batch.id} — {title}, {scope.label_fr}",
        "body": "\n".join(body),
        "sip_sha256": batch.sip_sha256,
        "digests": digests,  # every SIP's, in part order (one for a batch of one SIP)
        "link": link,
        "request": request,
    }


def given_digests(text: str) -> list[str]:
    """The digests an answer gives, one or several (separated by spaces, commas, semicolons or lines)."""
    return [digest.lower() for digest in re.split(r"[\s,;]+", text.strip()) if digest]


def _who(user: Mapping[str, Any] | None) -> tuple[str, str]:
    if not user or not user.get("id"):
        raise StepRefused("la réponse ne dit pas qui l'a donnée ; elle n'est pas enregistrée")
    return str(user.get("name") or user["id"]), f"airflow:{user['id']}"


def record_decision(
    ledger: Ledger,
    batch_id: int,
    *,
    chosen: Sequence[str],
    params_input: Mapping[str, Any],
    responder: Mapping[str, Any] | None,
    shown_sha256: str | Sequence[str],
) -> Batch:
    """Write an archivist's answer to the ledger: approval bound to the digest(s) shown (every part's
    for a batch of several SIPs, in any order), or rejection."""
    name, identity = _who(responder)
    comment = str(params_input.get(COMMENT) or "").strip()
    if list(chosen) == [APPROVE]:
        shown = [shown_sha256] if isinstance(shown_sha256, str) else list(shown_sha256)
        confirmed = given_digests(str(params_input.get(DIGEST) or ""))
        if sorted(confirmed) != sorted(shown):
            if len(shown) == 1:
                raise pipeline.DigestMismatch(
                    f"lot {batch_id} : l'empreinte validée ({' '.join(confirmed) or 'aucune'}) n'est pas celle de "
                    f"la demande ({shown[0]}) ; rien n'est enregistré"
                )
            raise pipeline.DigestMismatch(
                f"lot {batch_id} : les empreintes validées ({' '.join(confirmed) or 'aucune'}) ne sont pas celles "
                f"de la demande, une par SIP ({' '.join(shown)}) ; rien n'est enregistré"
            )
        batch = pipeline.approve(ledger, batch_id, approver=name, sha256=confirmed, comment=comment, identity=identity)
        log.info("lot %d : validé par %s (%s), SIP %s", batch_id, name, identity, " ".join(confirmed))
        return batch
    if list(chosen) == [REJECT]:
        reason = comment or "rejeté dans Airflow, sans commentaire"
        batch = pipeline.reject(ledger, batch_id, approver=name, reason=reason, identity=identity)
        log.info("lot %d : rejeté par %s (%s) : %s ; il ne sera pas transféré", batch_id, name, identity, reason)
        return batch
    raise StepRefused(f"lot {batch_id} : réponse inattendue {list(chosen)}")


def record_expiry(ledger: Ledger, batch_id: int, *, actor: str, kind: str, hours: float) -> str:
    """An unanswered request: one ledger event, and the French sentence the task fails with."""
    batch = ledger.batch(batch_id)
    ledger.record(
        batch_id,
        actor=actor,
        action=f"{kind}.expired",
        details={"timeout_hours": hours, "state": batch.state},
    )
    what = "validation" if kind == "approval" else "dérogation"
    return (
        f"lot {batch_id} : la demande de {what} est restée sans réponse {hours:g} h et a expiré ; le lot reste "
        f"{_fr(batch.state)}, rien n'est transféré. Relancez le DAG pour le même périmètre pour redemander."
    )


def override_payload(settings: Settings, batch: Batch) -> dict[str, Any]:
    if batch.state != State.QUALITY_FAILED:
        raise StepRefused(f"lot {batch.id} : {_fr(batch.state)} ; aucune dérogation à demander")
    scope = pipeline.batch_scope(batch)
    link = batch_link(settings, batch.id)
    body = ["```text", quality_stage.validate_table(batch), "```", ""]
    if link:
        body.append(f"Consulter le lot et son rapport qualité : [{link}]({link})")
    body.append(
        f"Le contrôle qualité du lot a échoué. Pour le poursuivre malgré tout, choisissez « {OVERRIDE} » et "
        f"justifiez par écrit (champ « {JUSTIFICATION} ») ; sinon « {STOP} »."
    )
    return {
        "subject": f"Dérogation au contrôle qualité du lot n° {batch.id}, {scope.label_fr}",
        "body": "\n".join(body),
    }


def record_override(
    ledger: Ledger,
    batch_id: int,
    *,
    chosen: Sequence[str],
    params_input: Mapping[str, Any],
    responder: Mapping[str, Any] | None,
) -> Batch:
    name, identity = _who(responder)
    justification = str(params_input.get(JUSTIFICATION) or "").strip()
    if list(chosen) == [OVERRIDE]:
        if not justification:
            ledger.record(batch_id, actor=identity, action="override.refused", details={"reason": "no justification"})
            raise StepRefused(f"lot {batch_id} : une dérogation doit être justifiée par écrit ; le lot s'arrête")
        batch = quality_stage.override(ledger, batch_id, by=f"{name} ({identity})", reason=justification)
        log.info("lot %d : dérogation de %s : %s", batch_id, name, justification)
        return batch
    if list(chosen) == [STOP]:
        ledger.record(batch_id, actor=identity, action="override.declined", details={"comment": justification})
        log.info("lot %d : %s arrête le lot (pas de dérogation)", batch_id, name)
        return ledger.batch(batch_id)
    raise StepRefused(f"lot {batch_id} : réponse inattendue {list(chosen)}")
