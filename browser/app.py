"""The consultation browser: batches, their lineage to VITAM, their datasets, the audit trail.

Server-rendered HTML in French, usable without JavaScript, every asset served by the app. It
reads the ledger and the staging files and changes nothing but the audit trail: each
consultation of a batch or a dataset, each download and export is an audit event
(``Ledger.record``). Every route but the login page, the static assets and the health probe
needs a signed-in user whose role holds the route's permission (``browser.security``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import and_, func, or_, select, true
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from browser import data, manifest, person_file, persons
from browser.quality import batch_quality
from browser.security import PERMISSIONS, LoginLimiter, User, csrf_ok, csrf_token, header_user
from browser.texts import ACTIONS_FR, CHECKS_FR, event_summary, failed_checks
from browser.vitam import VitamReader, VitamUnavailable, not_found_fr
from browser.vitam import operations as vitam_operations
from versement.config import BrowserConfig
from versement.ledger import LABELS_FR, AuditEvent, Ledger, LedgerError, State
from versement.ledger.accounts import ROLE_LABELS_FR, Accounts
from versement.quality import QualityRefused, override
from vitam_client import VitamNotFound

__all__ = ["ACTIONS_FR", "CHECKS_FR", "create_app", "failed_checks"]

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PUBLIC_PATHS = ("/connexion", "/sante", "/static/")  # reachable without a session; nothing else is
CONSULTATIONS = ("consult.", "download.", "export.", "auth.")
INTEGRITY_SECONDS = 30.0  # how long a verification of the audit trail is shown before it is redone
INTEGRITY_DUTY = 100.0  # ... and at least this many times what the last one took (it grows with the trail)

Handler = Callable[[Request, User], Response]


def create_app(
    ledger: Ledger,
    config: BrowserConfig | None = None,
    *,
    secret_key: str | None = None,
    accounts: Accounts | None = None,
    person_index: persons.PersonIndex | None = None,
    vitam: VitamReader | None = None,
) -> Starlette:
    """The browser on ``ledger``; ``secret_key`` signs the session cookies (random when absent:
    sessions then end when the process does). ``person_index`` is the person index (default:
    ``person-index.sqlite`` beside the ledger's anchor log, in the staging area, else in a
    temporary folder). ``vitam`` reads back from VITAM what a purged batch no longer has locally
    (``browser.vitam``; None: such pieces are said purged)."""
    config = config or BrowserConfig()
    accounts = accounts or Accounts(ledger)
    index = person_index or persons.PersonIndex(_index_path(ledger), ledger)
    integrity = _Integrity(ledger)
    timelines = _Timelines(ledger)
    activity = _Activity(ledger)
    trail = _AuditWriter(ledger)
    limiter = LoginLimiter(config.login_attempts, config.login_window_seconds)
    # The templates ship with the code: no modification time to check on every page.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
    env.globals.update(
        state_label=lambda state: LABELS_FR.get(State(state), state) if state else "—",
        action_label=lambda action: ACTIONS_FR.get(action, action),
        role_label=lambda role: ROLE_LABELS_FR.get(role, role),
        failed_checks=failed_checks,
        event_summary=event_summary,
        operators=data.OPERATORS_FR,
        page_sizes=data.PAGE_SIZES,
    )

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        page = env.get_template(template).render(request=request, user=user, csrf=csrf_token(request), **context)
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})

    def refused(request: Request, status: int, message: str) -> HTMLResponse:
        return render(request, "error.html", status=status, title=_ERROR_TITLES[status], message=message)

    def guarded(permission: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        assert permission in PERMISSIONS

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                user: User | None = request.state.user
                if user is None:  # the middleware refuses first; this is the second lock
                    return refused(request, 401, "Veuillez vous connecter.")
                if not user.may(permission):
                    return refused(request, 403, "Votre rôle ne donne pas accès à cette page.")
                # The pages read SQLite/PostgreSQL and DuckDB, which block: off the event loop.
                return await run_in_threadpool(handler, request, user)

            endpoint.__name__ = handler.__name__
            endpoint.permission = permission  # type: ignore[attr-defined]
            return endpoint

        return wrap

    def current_user(request: Request) -> User | None:
        if config.auth == "header":
            return header_user(config, request)
        name, via = request.session.get("user"), request.session.get("via")
        if not isinstance(name, str) or via != "local":
            return None
        account = accounts.get(name)  # a disabled or changed account takes effect at once
        if account is None or not account.active:
            return None
        return User(account.name, account.role, "local")

    def consulted(user: User, batch_id: int | None, action: str, **details: Any) -> None:
        trail.record(batch_id, user.name, action, {"role": user.role, **details})

    def find_batch(batch_id: int) -> Any:
        try:
            return ledger.batch(batch_id)
        except LedgerError:
            return None

    # -- sign in / out --------------------------------------------------------------------

    async def login(request: Request) -> Response:
        if config.auth == "header":
            return refused(request, 401, "La connexion se fait par le service d'authentification de l'établissement.")
        if request.method == "GET":
            return render(
                request, "login.html", error=None, name="", next=_local_path(request.query_params.get("suite"))
            )
        form = await request.form()
        name = str(form.get("nom", ""))[:128]
        following = _local_path(form.get("suite"))
        password = str(form.get("mot_de_passe", ""))[:1024]
        if not csrf_ok(request, form.get("csrf")):
            return render(
                request,
                "login.html",
                status=403,
                error="Formulaire expiré : veuillez réessayer.",
                name=name,
                next=following,
            )
        address = request.client.host if request.client else "?"
        wait = limiter.blocked(address, name)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            error = f"Trop de tentatives de connexion. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}."
            return render(request, "login.html", status=429, error=error, name=name, next=following)
        account = accounts.authenticate(name, password)
        if account is None:
            limiter.failed(address, name)
            ledger.record(None, actor=name or "?", action="auth.failed", details={"address": address})
            error = "Nom ou mot de passe incorrect."
            return render(request, "login.html", status=401, error=error, name=name, next=following)
        limiter.succeeded(name)
        request.session.clear()  # a new session on sign-in: no fixation
        request.session.update({"user": account.name, "via": "local", "csrf": secrets.token_urlsafe(32)})
        ledger.record(None, actor=account.name, action="auth.login", details={"role": account.role, "address": address})
        return RedirectResponse(following, status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            return refused(request, 403, "Formulaire expiré : veuillez réessayer.")
        request.session.clear()
        return RedirectResponse("/connexion", status_code=303)

    # -- pages ----------------------------------------------------------------------------

    @guarded("dashboard")
    def dashboard(request: Request, user: User) -> Response:
        batches = ledger.batches()
        sources: dict[str, dict[str, int]] = {}
        for batch in batches:
            sources.setdefault(batch.source, {}).setdefault(batch.state, 0)
            sources[batch.source][batch.state] += 1
        runs, stuck = activity.read()
        waiting = [b for b in batches if b.state == State.AWAITING_APPROVAL]
        failed = [b for b in batches if b.state == State.QUALITY_FAILED]
        stuck_batches = [b for b in batches if b.id in stuck and b.state == State.SUBMITTED]
        return render(
            request,
            "dashboard.html",
            batches=batches,
            sources=sources,
            states=[s for s in State if any(s in counts for counts in sources.values())],
            runs=runs,
            waiting=waiting,
            stuck=stuck_batches,
            failed=failed,
            check=integrity.check(),
        )

    @guarded("batch")
    def batch_page(request: Request, user: User) -> Response:
        batch_id = request.path_params["batch_id"]
        found = find_batch(batch_id)
        if found is None:
            return refused(request, 404, f"Le lot n° {batch_id} n'existe pas dans le registre.")
        events = timelines.of(batch_id)
        tree: tuple[manifest.Unit, ...] = ()
        tree_error = None
        manifest_from: str | None = None
        if found.sip_path:
            try:
                content, manifest_from = batch_manifest(user, found)
                tree = manifest.units(content)
            except manifest.ManifestUnreadable:
                tree_error = "Le bordereau du SIP n'est pas lisible localement."
            except (VitamUnavailable, VitamNotFound) as exc:
                tree_error = f"Bordereau non disponible : {manifest_problem(exc, found)}."
        origin = {"manifest_from_vitam": manifest_from} if manifest_from else {}
        consulted(user, batch_id, "consult.batch", **origin)
        system_ids = dict((found.atr or {}).get("units") or {})
        return render(
            request,
            "batch.html",
            batch=found,
            events=events,
            may=user.may,
            tree=tree,
            tree_error=tree_error,
            manifest_from=manifest_from,
            manifest_available=bool(found.sip_path)
            and (Path(found.sip_path).is_file() or (vitam is not None and bool(vitam_operations(found)))),
            system_ids=system_ids,
            quality=batch_quality(found.datasets, user, config.sensitive_roles),
            quality_report=_quality_report(events) is not None,
        )

    async def batch_override(request: Request) -> Response:
        """An archivist lifts the batch's failed quality gate: versement.quality.override, in writing."""
        user: User | None = request.state.user
        if user is None:
            return refused(request, 401, "Veuillez vous connecter.")
        if not user.may("override"):
            return refused(request, 403, "Votre rôle ne permet pas de lever un contrôle qualité.")
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            return refused(request, 403, "Formulaire expiré : veuillez réessayer.")
        batch_id = request.path_params["batch_id"]
        reason = str(form.get("motif", ""))[:4000].strip()

        def lift() -> str | None:
            try:
                override(ledger, batch_id, by=user.name, reason=reason, identity=f"{user.via}:{user.name}")
            except (QualityRefused, LedgerError) as exc:
                return str(exc)
            return None

        problem = await run_in_threadpool(lift)
        if problem is not None:
            return refused(request, 400, f"Dérogation refusée : {problem}.")
        return RedirectResponse(f"/lots/{batch_id}#qualite", status_code=303)

    batch_override.permission = "override"  # type: ignore[attr-defined]

    @guarded("download")
    def atr_download(request: Request, user: User) -> Response:
        batch_id = request.path_params["batch_id"]
        found = find_batch(batch_id)
        if found is None or not found.atr_path:
            return refused(request, 404, "Ce lot n'a pas d'ATR enregistré.")
        path = Path(found.atr_path)  # from the ledger, never from the request
        try:
            content = path.read_bytes()
        except OSError:
            return refused(request, 404, "Le fichier de l'ATR n'est plus disponible localement.")
        consulted(user, batch_id, "download.atr")
        return _attachment(content, f"lot-{batch_id}-atr.xml", "application/xml")

    @guarded("download")
    def quality_report(request: Request, user: User) -> Response:
        """The batch's HTML quality report, as the quality stage wrote it (the path and SHA-256
        of its last ``validate`` event, never a name from the request), shown inline: a page of
        its own style and nothing else, its personal examples masked (``validation.html``)."""
        batch_id = request.path_params["batch_id"]
        found = find_batch(batch_id)
        recorded = _quality_report(timelines.of(batch_id)) if found is not None else None
        if recorded is None:
            return refused(request, 404, "Ce lot n'a pas de rapport de contrôle qualité enregistré.")
        path, sha256 = recorded
        try:
            content = path.read_bytes()
        except OSError:
            return refused(request, 404, "Le rapport de contrôle qualité n'est plus disponible localement.")
        if hashlib.sha256(content).hexdigest() != sha256:
            return refused(
                request, 409, "Le rapport de contrôle qualité a été modifié depuis le contrôle : il n'est pas montré."
            )
        consulted(user, batch_id, "download.quality_report", sha256=sha256)
        return Response(
            content,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _REPORT_POLICY},
        )

    @guarded("download")
    def manifest_download(request: Request, user: User) -> Response:
        batch_id = request.path_params["batch_id"]
        found = find_batch(batch_id)
        if found is None or not found.sip_path:
            return refused(request, 404, "Ce lot n'a pas de SIP enregistré.")
        try:
            content, manifest_from = batch_manifest(user, found)
        except manifest.ManifestUnreadable:
            return refused(request, 404, "Le bordereau du SIP n'est plus disponible localement.")
        except (VitamUnavailable, VitamNotFound) as exc:
            return refused(request, 503, f"Bordereau non disponible : {manifest_problem(exc, found)}.")
        consulted(user, batch_id, "download.manifest", **({"from_vitam": manifest_from} if manifest_from else {}))
        return _attachment(content, f"lot-{batch_id}-manifest.xml", "application/xml")

    def batch_manifest(user: User, batch: Any) -> tuple[bytes, str | None]:
        """The manifest of the batch's SIP (the path from the ledger, never from the request) and
        the VITAM operation it was read from: None for the SIP's own member; the operation when
        the SIP is purged and VITAM's stored copy is read instead (the download is audited).
        Raises ManifestUnreadable, or VitamUnavailable / VitamNotFound from VITAM."""
        local = Path(batch.sip_path)
        if vitam is None or local.is_file() or not vitam_operations(batch):
            return manifest.read_manifest(local), None
        path, operation, downloaded = vitam.manifest(batch)
        content = manifest.read_file(path)
        if downloaded:
            consulted(user, batch.id, "consult.vitam", manifest=True, operation=operation, bytes=len(content))
        return content, operation

    def manifest_problem(exc: Exception, batch: Any) -> str:
        if isinstance(exc, VitamNotFound):
            operation = next(iter(vitam_operations(batch)), "?")
            return f"SIP purgé localement et bordereau introuvable dans VITAM (opération {operation})"
        return str(exc)

    def dataset_of(request: Request) -> tuple[Any, Any] | None:
        found = find_batch(request.path_params["batch_id"])
        if found is None:
            return None
        for dataset in found.datasets:
            if dataset.name == request.path_params["name"]:  # matched against the ledger's names
                return found, dataset
        return None

    def explorer_input(request: Request, user: User, path: Path, dataset: Any) -> tuple[tuple[data.Column, ...], ...]:
        columns = data.schema(path, dataset.spec)
        return data.visible_columns(columns, user.role in config.sensitive_roles)

    def dataset_file(user: User, batch: Any, dataset: Any) -> tuple[Path, tuple[tuple[str, ...], str] | None]:
        """The dataset's Parquet file: the local one, else (purged) its copy read back from VITAM,
        with the (units, operation) it came from (several units: a dataset packaged per group);
        the download is audited. Raises VitamUnavailable or VitamNotFound when VITAM cannot give
        it; a missing local file without VITAM stays missing."""
        path = Path(dataset.path)
        if vitam is None or path.is_file() or not vitam_operations(batch):
            return path, None
        tool = str((batch.spec or {}).get("tool") or batch.source)
        copy, units, operation, downloaded = vitam.table(batch, dataset, tool=tool)
        if downloaded:
            consulted(user, batch.id, "consult.vitam", dataset=dataset.name, operation=operation, units=list(units))
        return copy, (units, operation)

    def vitam_problem(exc: Exception, batch: Any) -> str:
        if isinstance(exc, VitamNotFound):
            return not_found_fr(next(iter(vitam_operations(batch)), None))
        return str(exc)

    @guarded("dataset")
    def dataset_page(request: Request, user: User) -> Response:
        found = dataset_of(request)
        if found is None:
            return refused(request, 404, "Ce jeu de données n'existe pas dans le registre.")
        batch, dataset = found
        context = {"batch": batch, "dataset": dataset, "page": None, "error": None, "from_vitam": None}
        try:
            path, from_vitam = dataset_file(user, batch, dataset)
            shown, hidden = explorer_input(request, user, path, dataset)
        except (VitamUnavailable, VitamNotFound) as exc:
            return render(request, "dataset.html", **{**context, "missing": vitam_problem(exc, batch)})
        except OSError:
            return render(request, "dataset.html", **{**context, "missing": True})
        context.update(missing=False, from_vitam=from_vitam)
        try:
            query = data.parse_query(request.query_params, request.query_params.getlist, shown)
        except data.QueryError as exc:
            empty = data.Page(shown, [], 0, data.Query(), hidden)
            return render(
                request,
                "dataset.html",
                status=400,
                **{**context, "page": empty, "error": str(exc), "links": _links(request, data.Query())},
            )
        result = data.page(path, shown, query, hidden)
        origin = _origin(from_vitam)
        consulted(user, batch.id, "consult.dataset", dataset=dataset.name, **_described(query), **origin)
        return render(request, "dataset.html", **{**context, "page": result, "links": _links(request, query)})

    @guarded("export")
    def dataset_export(request: Request, user: User) -> Response:
        found = dataset_of(request)
        if found is None:
            return refused(request, 404, "Ce jeu de données n'existe pas dans le registre.")
        batch, dataset = found
        try:
            path, from_vitam = dataset_file(user, batch, dataset)
            shown, _hidden = explorer_input(request, user, path, dataset)
            query = data.parse_query(request.query_params, request.query_params.getlist, shown)
            rows = data.count(path, query)
        except (VitamUnavailable, VitamNotFound) as exc:
            return refused(request, 503, f"Jeu de données non disponible : {vitam_problem(exc, batch)}.")
        except OSError:
            return refused(request, 404, "Le fichier de ce jeu de données n'est plus disponible localement.")
        except data.QueryError as exc:
            return refused(request, 400, str(exc))
        consulted(
            user,
            batch.id,
            "export.dataset",
            dataset=dataset.name,
            rows=rows,
            columns=[c.name for c in shown],
            **_described(query),
            **(_origin(from_vitam)),
        )
        name = f"lot-{batch.id}-{dataset.name}.csv"
        return StreamingResponse(
            _csv(path, shown, query),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    # -- persons ----------------------------------------------------------------------------

    @guarded("person")
    def person_search(request: Request, user: User) -> Response:
        asked = any(request.query_params.get(k) for k in ("nom", "prenom", "naissance", "numero"))
        form = {k: request.query_params.get(k, "")[:200] for k in ("nom", "prenom", "naissance", "numero")}
        context: dict[str, Any] = {"form": form, "results": None, "more": False, "error": None, "index": index}
        if not asked:
            return render(request, "persons.html", **context)
        try:
            wanted = persons.criteria(request.query_params)
            index.ensure_fresh()
            found, more = index.search(wanted)
        except persons.SearchError as exc:
            return render(request, "persons.html", status=400, **{**context, "error": str(exc)})
        consulted(user, None, "consult.person_search", criteria=wanted.described(), results=len(found))
        return render(request, "persons.html", **{**context, "results": found, "more": more})

    def load_file(request: Request, user: User) -> persons.PersonFile | None:
        key = request.path_params["key"]
        if len(key) > 200:
            return None
        index.ensure_fresh()
        found = index.person_file(key)
        if found is None:
            return None
        assembled = person_file.assemble(ledger, found, user.role in config.sensitive_roles, index.indexed_file, vitam)
        for piece in assembled.pieces:
            if piece.from_vitam:  # the pieces read back from VITAM, each its own audited read
                consulted(
                    user,
                    piece.batch_id,
                    "consult.vitam",
                    person=found.identity.key,
                    dataset=piece.dataset,
                    operation=piece.vitam_operation,
                    units=list(piece.from_vitam),
                    rows=len(piece.rows),
                )
        return assembled

    @guarded("person")
    def person_page(request: Request, user: User) -> Response:
        found = load_file(request, user)
        if found is None:
            return refused(request, 404, "Cette personne n'est pas dans l'index des personnes.")
        consulted(user, None, "consult.person", **person_file.summary(found))
        return render(request, "person.html", file=found, may=user.may)

    @guarded("export")
    def person_csv(request: Request, user: User) -> Response:
        found = load_file(request, user)
        if found is None:
            return refused(request, 404, "Cette personne n'est pas dans l'index des personnes.")
        content = person_file.to_csv(found)
        consulted(user, None, "export.person_csv", **person_file.summary(found))
        return _attachment(content, f"dossier-{_safe_name(found.identity.key)}.csv", "text/csv; charset=utf-8")

    @guarded("export")
    def person_pdf(request: Request, user: User) -> Response:
        found = load_file(request, user)
        if found is None:
            return refused(request, 404, "Cette personne n'est pas dans l'index des personnes.")
        at = _now_text()
        content = person_file.to_pdf(found, user.name, at)
        consulted(user, None, "export.person_pdf", **person_file.summary(found))
        return _attachment(content, f"dossier-{_safe_name(found.identity.key)}.pdf", "application/pdf")

    @guarded("audit_log")
    def audit_log(request: Request, user: User) -> Response:
        kind = request.query_params.get("type", "tout")
        if kind not in _KINDS:
            return refused(request, 400, "type d'événement inconnu")
        actor = request.query_params.get("par", "")[:200]
        try:
            page = data.integer(request.query_params.get("page", "1"), "page")
        except data.QueryError as exc:
            return refused(request, 400, str(exc))
        size = 50
        total, shown, pages, page = _audit_page(ledger, kind, actor, page, size)
        return render(
            request,
            "audit.html",
            events=shown,
            total=total,
            kind=kind,
            actor=actor,
            page=page,
            pages=pages,
            kinds=_KIND_LABELS,
            check=integrity.check(),
        )

    @guarded("accounts")
    def accounts_page(request: Request, user: User) -> Response:
        return render(request, "accounts.html", accounts=accounts.all(), config=config)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/connexion", login, methods=["GET", "POST"]),
        Route("/deconnexion", logout, methods=["POST"]),
        Route("/", dashboard),
        Route("/lots/{batch_id:int}", batch_page),
        Route("/lots/{batch_id:int}/derogation", batch_override, methods=["POST"]),
        Route("/lots/{batch_id:int}/atr.xml", atr_download),
        Route("/lots/{batch_id:int}/manifest.xml", manifest_download),
        Route("/lots/{batch_id:int}/rapport-qualite.html", quality_report),
        Route("/lots/{batch_id:int}/jeux/{name}", dataset_page),
        Route("/lots/{batch_id:int}/jeux/{name}/export.csv", dataset_export),
        Route("/personnes", person_search),
        Route("/personnes/{key}", person_page),
        Route("/personnes/{key}/dossier.csv", person_csv),
        Route("/personnes/{key}/dossier.pdf", person_pdf),
        Route("/journal", audit_log),
        Route("/comptes", accounts_page),
        Route("/sante", health),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=secret_key or secrets.token_urlsafe(32),
            session_cookie="versement_session",
            max_age=config.session_minutes * 60,
            same_site="strict",
            https_only=config.secure_cookies,
        ),
        Middleware(_Gate, resolve=current_user, refuse=refused),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return refused(request, 404, "Cette page n'existe pas.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return refused(request, 405, "Cette page ne s'utilise pas ainsi : le navigateur est en lecture seule.")

    app = Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: not_allowed})
    app.state.accounts = accounts
    app.state.limiter = limiter
    app.state.persons = index
    return app


def _index_path(ledger: Ledger) -> Path:
    anchor = getattr(ledger, "anchor", None)
    if anchor is not None:
        return Path(anchor).parent / persons.FILENAME
    import tempfile

    return Path(tempfile.mkdtemp(prefix="versement-persons-")) / persons.FILENAME


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class _AuditWriter:
    """Consultations written by group commit: each request waits until its event is committed
    (no page is shown unrecorded), but the events that arrive while one transaction commits go
    together in the next one, so many users do not queue one disk flush each."""

    MAX_GROUP = 500

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._pending: list[_Pending] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def record(self, batch_id: int | None, actor: str, action: str, details: dict[str, Any]) -> None:
        item = _Pending((batch_id, actor, action, details))
        with self._wake:
            self._pending.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            self._wake.notify()
        if not item.done.wait(timeout=120):
            raise LedgerError("the consultation could not be recorded in the audit trail in time")
        if item.error is not None:
            raise item.error

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    if not self._wake.wait(timeout=60) and not self._pending:
                        self._thread = None
                        return
                group, self._pending = self._pending[: self.MAX_GROUP], self._pending[self.MAX_GROUP :]
            try:
                self.ledger.record_many([item.event for item in group])
            except Exception as exc:  # handed to each waiting request, which fails as before
                for item in group:
                    item.error = exc
            for item in group:
                item.done.set()


class _Pending:
    def __init__(self, event: tuple[int | None, str, str, dict[str, Any]]) -> None:
        self.event = event
        self.done = threading.Event()
        self.error: Exception | None = None


class _Integrity:
    """The audit trail's verification, redone at most every ``seconds`` (and every
    ``INTEGRITY_DUTY`` times its last duration, so it never takes more than about 1 % of a core
    however long the trail grows), and never on a page view but the very first: it replays
    every event and re-reads the trail inside every packaged SIP (about a second at ten
    thousand events), which must not be paid by whoever opens the dashboard when the last result
    is stale, nor by many users at once. A stale result is shown while a background thread has
    a child process redo it."""

    def __init__(self, ledger: Ledger, seconds: float | None = None) -> None:
        self.ledger = ledger
        self._seconds = seconds
        self._lock = threading.Lock()
        self._running = False
        self._cost = 0.0  # how long the last verification took
        self._last: tuple[float, Any] | None = None

    def check(self) -> Any:
        last = self._last
        if last is None:
            with self._lock:  # the first page waits for the first result (once per process)
                if self._last is None:
                    self._last = (time.monotonic(), self.ledger.verify())
                return self._last[1]
        seconds = INTEGRITY_SECONDS if self._seconds is None else self._seconds
        if time.monotonic() - last[0] >= max(seconds, INTEGRITY_DUTY * self._cost):
            with self._lock:
                start, self._running = not self._running, True
            if start:
                threading.Thread(target=self._redo, name="audit-verify", daemon=True).start()
        return last[1]

    def _redo(self) -> None:
        try:
            started = time.monotonic()
            result = self._verify_apart()
            self._cost = time.monotonic() - started
            self._last = (time.monotonic(), result)
        except Exception:  # the last result stays shown; the next look tries again
            log.exception("audit trail verification failed")
        finally:
            with self._lock:
                self._running = False

    def _verify_apart(self) -> Any:
        """The verification in a child process of its own: it is pure Python work over the
        whole trail, which in this process would hold the interpreter lock and stall every page
        being served meanwhile. One child per verification (a daemon: it ends with this process
        at the latest), none kept waiting between them. An in-memory ledger is verified here."""
        url = self.ledger.engine.url
        if url.drivername.startswith("sqlite") and url.database in (None, "", ":memory:"):
            return self.ledger.verify()
        from multiprocessing import get_context

        context = get_context("spawn")
        receiving, sending = context.Pipe(duplex=False)
        anchor = getattr(self.ledger, "anchor", None)
        target = url.render_as_string(hide_password=False)  # handed over a pipe, never logged
        child = context.Process(
            target=_verify_ledger, args=(target, str(anchor) if anchor else None, sending), daemon=True
        )
        child.start()
        sending.close()
        try:
            if not receiving.poll(3600):
                raise TimeoutError("the audit trail verification did not answer within an hour")
            outcome = receiving.recv()
        finally:
            receiving.close()
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _verify_ledger(url: str, anchor: str | None, answer: Any) -> None:
    """``Ledger.verify`` of the ledger at ``url``, in the child process of ``_Integrity``; the
    result (or the error) is sent back on ``answer``."""
    try:
        checked = Ledger(url, anchor=Path(anchor) if anchor else None)
        try:
            answer.send(checked.verify())
        finally:
            checked.close()
    except Exception as exc:
        answer.send(LedgerError(f"audit trail verification failed: {exc}"))
    finally:
        answer.close()


class _Timelines:
    """Each batch's timeline (its events but the consultations), read incrementally: the trail
    is append-only and its ids grow in commit order (one writer at a time holds the chain's
    head), so a view reads only the events appended since the last view of any batch, instead
    of scanning again every consultation the batch ever had (they grow with every view)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._known: dict[int, tuple[int, tuple[Any, ...]]] = {}

    def of(self, batch_id: int) -> list[Any]:
        with self._lock:
            seen, events = self._known.get(batch_id, (0, ()))
        with self.ledger.reading() as session:
            newest = session.scalar(select(func.max(AuditEvent.id))) or 0
            query = select(AuditEvent).where(
                AuditEvent.batch_id == batch_id,
                AuditEvent.id > seen,
                AuditEvent.id <= newest,
                ~_prefixed(*CONSULTATIONS),
            )
            fresh = list(session.scalars(query.order_by(AuditEvent.id)))
            for event in fresh:
                session.expunge(event)
        timeline = events + tuple(fresh)  # complete up to ``newest``
        with self._lock:
            if newest > self._known.get(batch_id, (0, ()))[0]:  # not behind another thread's answer
                self._known[batch_id] = (newest, timeline)
        return list(timeline)


class _Activity:
    """The dashboard's last transitions and the batches that waited for an operator, kept up to
    date incrementally like ``_Timelines``: only the events appended since the last look are
    read, not the whole trail (which every consultation lengthens) on each view."""

    SHOWN = 10

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._seen = 0
        self._runs: tuple[Any, ...] = ()
        self._stuck: frozenset[int] = frozenset()

    def read(self) -> tuple[list[Any], set[int]]:
        with self._lock:
            seen, runs, stuck = self._seen, self._runs, self._stuck
        with self.ledger.reading() as session:
            newest = session.scalar(select(func.max(AuditEvent.id))) or 0
            window = and_(AuditEvent.id > seen, AuditEvent.id <= newest)
            transitions = select(AuditEvent).where(window, AuditEvent.to_state.is_not(None))
            fresh = list(session.scalars(transitions.order_by(AuditEvent.id.desc()).limit(self.SHOWN)))
            needing = select(AuditEvent.batch_id).where(window, AuditEvent.action == "transfer.needs_operator")
            waited = {b for b in session.scalars(needing.distinct()) if b is not None}
            for event in fresh:
                session.expunge(event)
        runs = (tuple(fresh) + runs)[: self.SHOWN]
        stuck = stuck | waited
        with self._lock:
            if newest > self._seen:
                self._seen, self._runs, self._stuck = newest, runs, stuck
        return list(runs), set(stuck)


class _Gate:
    """Resolves the user of every request and refuses, before any route runs, a request without
    one for anything but the public paths: a route added later cannot be reached anonymously."""

    def __init__(self, app: ASGIApp, resolve: Callable[[Request], User | None], refuse: Any) -> None:
        self.app = app
        self.resolve = resolve
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        user = await run_in_threadpool(self.resolve, request)
        scope.setdefault("state", {})["user"] = user
        path = scope["path"]
        public = path in PUBLIC_PATHS or any(path.startswith(p) for p in PUBLIC_PATHS if p.endswith("/"))
        if user is None and not public:
            if scope["method"] in ("GET", "HEAD"):
                response: Response = RedirectResponse("/connexion?" + urlencode({"suite": path}), status_code=303)
            else:
                response = self.refuse(request, 401, "Veuillez vous connecter.")
        else:
            await self.app(scope, receive, _with_security_headers(send))
            return
        await response(scope, receive, _with_security_headers(send))


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"content-security-policy" for name, _ in headers):  # its own, stricter
                headers.append(
                    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'")
                )
            headers += [
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin"),
                (b"x-frame-options", b"DENY"),
            ]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


_ERROR_TITLES = {
    400: "Demande incorrecte",
    401: "Connexion requise",
    403: "Accès refusé",
    404: "Introuvable",
    405: "Action non permise",
    409: "Fichier modifié",
    503: "Service indisponible",
}


# The quality report carries its own style and nothing else: no script, no request, no form.
_REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'"


def _quality_report(events: Sequence[Any]) -> tuple[Path, str] | None:
    """The path and SHA-256 of the quality report of the batch's last check (its ``validate``
    event, ``versement.quality``), or None."""
    for event in reversed(events):
        if event.action == "validate":
            try:
                report = json.loads(event.details).get("report") or {}
            except (TypeError, ValueError, AttributeError):
                return None
            path, sha256 = report.get("path"), report.get("sha256")
            return (Path(path), sha256) if isinstance(path, str) and isinstance(sha256, str) else None
    return None


def _prefixed(*prefixes: str) -> Any:
    return or_(*(AuditEvent.action.startswith(p, autoescape=True) for p in prefixes))


# Which events each filter of the audit log shows, as SQL conditions on the action.
_KINDS: dict[str, Any] = {
    "tout": true(),
    "decisions": ~_prefixed(*CONSULTATIONS, "account."),
    "consultations": _prefixed("consult.", "download.", "export."),
    "exports": _prefixed("export."),
    "connexions": _prefixed("auth.", "account."),
}


def _audit_page(ledger: Ledger, kind: str, actor: str, page: int, size: int) -> tuple[int, list[Any], int, int]:
    """One page of the audit trail, newest first, filtered and counted in the database."""
    condition = _KINDS[kind]
    if actor:
        condition = and_(condition, func.lower(AuditEvent.actor).contains(actor.lower(), autoescape=True))
    with ledger.reading() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent).where(condition)) or 0
        pages = max(1, -(-total // size))
        page = min(max(page, 1), pages)
        query = select(AuditEvent).where(condition).order_by(AuditEvent.id.desc())
        events = list(session.scalars(query.limit(size).offset((page - 1) * size)))
    return total, events, pages, page


_KIND_LABELS = {
    "tout": "tous les événements",
    "decisions": "états et décisions",
    "consultations": "consultations et exports",
    "exports": "exports",
    "connexions": "connexions et comptes",
}


def _local_path(value: object) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a URL)."""
    if isinstance(value, str) and re.fullmatch(r"/(?![/\\])[A-Za-z0-9/._~%?&=+-]*", value) and len(value) < 500:
        return value
    return "/"


def _attachment(content: bytes, name: str, media_type: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _described(query: data.Query) -> dict[str, Any]:
    """The query as the audit trail records it."""
    return {
        "filters": [[f.column, f.operator, f.value] for f in query.filters],
        "sort": query.sort,
        "descending": query.descending,
        "page": query.page,
    }


def _links(request: Request, query: data.Query) -> dict[str, Any]:
    """Links that keep the filters: sort by a column, go to a page, export the same rows."""
    base = [(k, v) for k, v in request.query_params.multi_items() if k not in ("tri", "ordre", "page")]

    def with_(**extra: Any) -> str:
        items = base + [(k, str(v)) for k, v in extra.items() if v is not None]
        return "?" + urlencode(items)

    current = [("tri", query.sort)] if query.sort else []
    if query.sort:
        current.append(("ordre", "desc" if query.descending else "asc"))
    return {
        "sort": lambda column: with_(
            tri=column, ordre="desc" if query.sort == column and not query.descending else "asc"
        ),
        "page": lambda number: "?" + urlencode(base + current + [("page", str(number))]),
        "export": request.url.path.rstrip("/") + "/export.csv?" + urlencode(base + current),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv(path: Path, columns: tuple[data.Column, ...], query: data.Query) -> Iterator[bytes]:
    """UTF-8 CSV (with a BOM, for spreadsheet software); text cells that a spreadsheet would run
    as a formula get a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for chunk in data.export_rows(path, columns, query):
        buffer.seek(0)
        buffer.truncate()
        for row in chunk:
            writer.writerow(
                [
                    "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else ("" if v is None else v)
                    for v in row
                ]
            )
        yield buffer.getvalue().encode("utf-8")


def _origin(from_vitam: tuple[tuple[str, ...], str] | None) -> dict[str, Any]:
    """The VITAM units a consultation read, for its audit event (``vitam_unit`` for one Item,
    ``vitam_units`` for a dataset read back from its group Items)."""
    if not from_vitam:
        return {}
    units = from_vitam[0]
    return {"vitam_unit": units[0]} if len(units) == 1 else {"vitam_units": list(units)}
