"""The auditors' read-only web application: batches, their states and their history.

Server-rendered HTML in French. It only reads the ledger; nothing here changes a batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from versement.ledger import LABELS_FR, Ledger, LedgerError, State

TEMPLATES = Path(__file__).with_name("templates")

# How the ledger's actions read in the audit log shown to archivists and auditors.
ACTIONS_FR = {
    "batch.created": "création du lot",
    "extract": "extraction",
    "extract.failed": "échec de l'extraction",
    "validate": "contrôle qualité",
    "package": "constitution du SIP",
    "package.invalid": "SIP non conforme aux schémas",
    "approval.requested": "demande de validation",
    "approve": "validation par l'archiviste",
    "reject": "refus par l'archiviste",
    "transfer.submitted": "transfert à VITAM",
    "transfer.needs_operator": "VITAM demande une intervention",
    "transfer.reply": "réponse de VITAM (ATR)",
    # versement/transfer.py
    "transfer.submitting": "envoi à VITAM décidé (avant le premier octet)",
    "transfer.upload_failed": "envoi à VITAM interrompu",
    "transfer.resumed": "reprise de l'envoi : VITAM consulté",
    "transfer.refused": "envoi refusé : SIP modifié depuis sa validation",
    "transfer.accepted": "accepté par VITAM (ATR)",
    "transfer.accepted_with_warnings": "accepté par VITAM avec avertissements (ATR)",
    "transfer.refused_by_vitam": "rejeté par VITAM (ATR)",
    "transfer.dry_run": "essai à blanc dans VITAM (rien archivé)",
    "transfer.dry_run_refused": "essai à blanc refusé : SIP modifié",
    "verify": "vérifié par relecture dans VITAM",
    "verify.mismatch": "VÉRIFICATION EN ÉCHEC : VITAM ne restitue pas ce qui a été envoyé",
}


# What each quality check means, for the archivist deciding on a batch.
CHECKS_FR = {
    "reconcile_with_source": "fichier différent de l'extraction (lignes ou empreinte)",
    "expect_table_row_count_to_equal": "nombre de lignes différent de la source",
    "expect_column_values_to_not_be_null": "valeurs manquantes",
    "expect_column_values_to_be_unique": "clé en double",
    "expect_compound_columns_to_be_unique": "clé composée en double",
}


def failed_checks(quality: dict[str, Any] | None) -> list[str]:
    """The failed checks of a dataset, in French: what, on which column, how many rows."""
    problems = []
    for outcome in (quality or {}).get("outcomes", []):
        if outcome.get("success"):
            continue
        text = CHECKS_FR.get(outcome.get("expectation", ""), outcome.get("expectation", "?"))
        columns = outcome.get("column") or ", ".join(
            outcome.get("details", {}).get("kwargs", {}).get("column_list", [])
        )
        if columns:
            text += f" ({columns})"
        count = outcome.get("unexpected_count")
        if count:
            text += f" : {count} ligne{'s' if count > 1 else ''}"
        problems.append(text)
    return problems


def create_app(ledger: Ledger) -> Starlette:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals["state_label"] = lambda state: LABELS_FR.get(State(state), state)
    env.globals["action_label"] = lambda action: ACTIONS_FR.get(action, action)
    env.globals["failed_checks"] = failed_checks

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    async def batches(request: Request) -> HTMLResponse:
        return render("batches.html", batches=ledger.batches())

    async def batch(request: Request) -> HTMLResponse:
        batch_id = request.path_params["batch_id"]
        try:
            found = ledger.batch(batch_id)
        except LedgerError:
            return render("not_found.html", status=404, what=f"Lot n° {batch_id}")
        return render("batch.html", batch=found, events=ledger.events(batch_id))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/", batches),
        Route("/lots/{batch_id:int}", batch),
        Route("/sante", health),
    ]
    return Starlette(routes=routes)
