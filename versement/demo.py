"""``versement demo``: the whole pipeline on the embedded default, resumable and idempotent.

For each configured source the demo takes the live batch of its scope where it stands (or
starts one) and drives it to the end: extract, validate, package, approve (as a demo
archivist, bound to the SIP digest), transfer to VITAM. With ``vitam.sandbox = true`` it
starts the project's VITAM sandbox (a test and demo server) on a free loopback HTTPS port.
Running it again finds the batches already accepted and sends nothing twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from extractors.scope import Scope
from versement import browse, progress
from versement.browse import demo_accounts, describe_demo_accounts
from versement.config import Settings
from versement.ledger import LABELS_FR, Batch, Ledger, State, open_ledger
from versement.pipeline import (
    approve,
    run_extract,
    run_package,
    run_transfer,
    run_validate,
    with_sandbox_urls,
)

DEMO_ARCHIVIST = "Archiviste de démonstration"
ACTOR = "demo"


def run_demo(settings: Settings, *, serve: bool, port: int = 8000) -> int:
    prepare_sources(settings)
    ledger = open_ledger(settings)
    with sandbox(settings) as live:
        results = [drive(live, ledger, name) for name in live.sources]
    print(summary_table(results, ledger))
    made = demo_accounts(settings, ledger)
    if made:
        print(describe_demo_accounts(made))
    ok = all(batch.state in (State.ACCEPTED, State.VERIFIED) for batch in results)
    if serve:
        serve_browser(settings, port)
    return 0 if ok else 1


# The scope each kind of tool is demonstrated on: the synthetic sources hold 2021-2023.
DEMO_YEAR = 2023
DEMO_SCOPES: dict[str, Scope] = {
    "academic_year": Scope.academic_year(DEMO_YEAR),
    "period": Scope.period(date(1970, 1, 1), date(DEMO_YEAR, 12, 31)),
    "all": Scope.everything(),
}


def prepare_sources(settings: Settings, only: str | None = None) -> None:
    """Generate the synthetic source databases the configuration marks as such, if missing."""
    from extractors.synthetic import generate

    for source in settings.sources.values():
        if only is not None and source.name != only:
            continue
        if source.synthetic and source.url.startswith("sqlite:///"):
            generate(source.tool, source.url, years=(DEMO_YEAR - 2, DEMO_YEAR - 1, DEMO_YEAR))


def demo_scope(settings: Settings, source_name: str) -> Scope:
    return DEMO_SCOPES[settings.source(source_name).spec.scope]


@contextmanager
def sandbox(settings: Settings) -> Iterator[Settings]:
    """Start the VITAM sandbox when the configuration asks for it, and point the settings at it."""
    if not settings.vitam.sandbox:
        yield settings
        return
    from vitam_sandbox import create_app, make_tls_material, serve

    folder = settings.staging / "vitam-sandbox"
    # Mutual TLS, as VITAM requires: the sandbox refuses a client without the generated certificate.
    tls = make_tls_material(folder / "tls", require_client_cert=True)
    with serve(create_app(sandbox_config(settings, folder / "storage")), tls=tls) as base_url:
        print(
            f"bac à sable VITAM (serveur de test et de démonstration, pas VITAM) à l'écoute sur {base_url}",
            file=sys.stderr,
        )
        yield with_sandbox_urls(settings, base_url, str(tls.ca_path), client_cert=tls.client_cert)


def sandbox_config(settings: Settings, storage: Path | None) -> Any:
    """A sandbox for this deployment's tenant, with the demo's referentials (config/vitam-referentials/)."""
    from vitam_sandbox import DEMO_REFERENTIALS, SandboxConfig, load_referentials

    return SandboxConfig(
        tenants=frozenset({settings.vitam.tenant}),
        referentials=load_referentials(DEMO_REFERENTIALS),
        schema_dir=_schema_dir(settings),
        storage_dir=storage,
    )


def _schema_dir(settings: Settings) -> Path | None:
    schemas = settings.seda_schemas
    return schemas if schemas is not None and schemas.is_dir() else None


def drive(settings: Settings, ledger: Ledger, source_name: str) -> Batch:
    """Move the source's live batch forward until it is accepted, refused or stopped."""
    source = settings.source(source_name)
    scope = demo_scope(settings, source_name)
    batch = ledger.live_batch(source.name, scope.label)
    if batch is None or batch.state == State.NEW:
        print(f"[{source.name}] extraction ({scope.label_fr})…", file=sys.stderr)
        batch = run_extract(settings, ledger, source.name, scope, actor=ACTOR, progress=progress.rows_extracted)
        progress.done()
    transfer = partial(run_transfer, settings, ledger, actor=ACTOR, on_status=progress.operation_status)
    steps = {
        State.EXTRACTED: ("contrôle qualité", lambda b: run_validate(settings, ledger, b.id, actor=ACTOR)),
        State.VALIDATED: ("mise en paquet SEDA", lambda b: run_package(settings, ledger, b.id, actor=ACTOR)),
        State.AWAITING_APPROVAL: (
            "validation par l'archiviste de démonstration",
            lambda b: approve(ledger, b.id, approver=DEMO_ARCHIVIST, sha256=b.sip_sha256),
        ),
        State.APPROVED: ("transfert vers VITAM", lambda b: transfer(b.id)),
        State.SUBMITTED: ("suivi de l'opération VITAM", lambda b: transfer(b.id)),
    }
    if State(batch.state) not in steps:
        label = LABELS_FR[State(batch.state)]
        print(f"[{source.name}] lot {batch.id} déjà traité ({label}) : rien à refaire", file=sys.stderr)
    while State(batch.state) in steps:
        step, run = steps[State(batch.state)]
        print(f"[{source.name}] lot {batch.id} : {LABELS_FR[State(batch.state)]} → {step}", file=sys.stderr)
        batch = run(batch)
    return ledger.batch(batch.id)


def summary_table(batches: list[Batch], ledger: Ledger) -> str:
    lines = ["", "Résumé du versement de démonstration", "-" * 72]
    for batch in batches:
        lines.append(f"Lot n° {batch.id} — {batch.source} {batch.scope} : {LABELS_FR[State(batch.state)]}")
        for dataset in batch.datasets:
            quality = "conforme" if dataset.quality_success else "non conforme"
            lines.append(f"  {dataset.name:<20} {dataset.rows:>7} lignes  qualité {quality}")
        lines.append(f"  SIP            {batch.sip_path}")
        lines.append(f"  SHA-256        {batch.sip_sha256}")
        lines.append(f"  validé par     {batch.approved_by}")
        lines.append(f"  opération      {batch.vitam_operation_id}")
        lines.append(f"  ATR            {batch.atr_path} (ReplyCode {batch.atr_reply_code})")
    check = ledger.verify()
    lines.append(f"Journal d'audit : {check.events} événements, {'intègre' if check.ok else 'ALTÉRÉ'}")
    return "\n".join(lines)


def serve_browser(settings: Settings, port: int) -> None:
    """Serve the consultation browser until Ctrl+C, as ``versement browse`` does."""
    browse.serve_browser(settings, "127.0.0.1", port)
