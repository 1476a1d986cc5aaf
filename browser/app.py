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
}


def create_app(ledger: Ledger) -> Starlette:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals["state_label"] = lambda state: LABELS_FR.get(State(state), state)
    env.globals["action_label"] = lambda action: ACTIONS_FR.get(action, action)

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
