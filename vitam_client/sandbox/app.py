"""The sandbox's HTTP layer: ingest-external, admin-external operations, access-external units.

Routes only translate HTTP to the workflow (workflow.py), the reply builder (reply.py) and the
store (store.py), and back.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from vitam_client.sandbox import guid
from vitam_client.sandbox.access import AccessRecords, AccessRoutes
from vitam_client.sandbox.config import SandboxConfig
from vitam_client.sandbox.events import message_time
from vitam_client.sandbox.reply import build_refused_upload_reply, build_reply
from vitam_client.sandbox.responses import (
    RequestIdMiddleware,
    TenantFilter,
    drain,
    not_implemented,
    vitam_error,
)
from vitam_client.sandbox.store import Operation, Store
from vitam_client.sandbox.workflow import IngestOutcome, IngestRequest, run_ingest

log = logging.getLogger(__name__)

INGEST = "/ingest-external/v1"
ADMIN = "/admin-external/v1"
ACCESS = "/access-external/v1"

# Workflow id (X-Context-Id) -> logbook process type.
WORKFLOWS = {"DEFAULT_WORKFLOW": "INGEST", "BLANK_TEST": "INGEST_TEST"}
NOT_REPRODUCED_WORKFLOWS = frozenset({"FILING_SCHEME", "HOLDING_SCHEME", "BIG_WORKFLOW"})
STATUSES = ("UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL")
NOT_FOUND = ("040102", "Ingest external not found")
MAX_LIMIT = 10000


def create_app(config: SandboxConfig) -> Starlette:
    """The ASGI application of one sandbox (see the package docstring)."""
    sandbox = _Sandbox(config)
    routes = [
        *(Route(f"{base}/status", _status, methods=["GET"]) for base in (INGEST, ADMIN, ACCESS)),
        Route(f"{INGEST}/ingests", sandbox.post_ingest, methods=["POST"]),
        Route(f"{INGEST}/ingests/{{operation_id}}/archivetransferreply", sandbox.get_atr),
        Route(f"{INGEST}/ingests/{{operation_id}}/manifests", sandbox.get_manifest),
        Route(f"{ADMIN}/operations/{{operation_id}}", sandbox.operation, methods=["GET", "HEAD"]),
        Route(f"{ACCESS}/units", sandbox.units, methods=["GET", "POST"]),
        # Read-back endpoints (access.py): logbook, one unit, object groups, referentials.
        Route(f"{ACCESS}/logbookoperations", sandbox.access.logbook_operations, methods=["GET", "POST"]),
        Route(
            f"{ACCESS}/logbookoperations/{{operation_id}}", sandbox.access.logbook_operation, methods=["GET", "POST"]
        ),
        Route(f"{ACCESS}/units/{{unit_id}}", sandbox.access.unit, methods=["GET", "POST"]),
        Route(f"{ACCESS}/units/{{unit_id}}/objects", sandbox.access.unit_objects, methods=["GET", "POST"]),
        *(
            Route(path, sandbox.access.referential(name), methods=["GET", "POST"])
            for name in ("rules", "ingestcontracts", "agencies")
            for path in (f"{ADMIN}/{name}", f"{ADMIN}/{name}/{{identifier}}")
        ),
    ]
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(TenantFilter, tenants=frozenset(config.tenants)),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.sandbox = sandbox
    return app


async def _status(request: Request) -> Response:
    return Response(status_code=204)


class _Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.storage_dir)
        self.access = AccessRoutes(config, self.store, AccessRecords(config.storage_dir))

    # -- ingest-external ---------------------------------------------------------------------

    async def post_ingest(self, request: Request) -> Response:
        operation_id = guid.new_guid(guid.OPERATION)  # VITAM: the request id is the operation id
        refusal = self._refuse_upload(request, operation_id)
        if refusal is not None:
            await drain(request.receive)
            refusal.headers["X-Request-Id"] = operation_id
            return refusal
        sip = await self._receive(request, operation_id)
        try:
            await run_in_threadpool(self._process, sip, operation_id, request)
        finally:
            sip.unlink(missing_ok=True)
        headers = {
            "X-Request-Id": operation_id,
            "X-Global-Execution-State": "PAUSE",
            "X-Global-Execution-Status": "UNKNOWN",
        }
        return Response(status_code=202, headers=headers)

    async def get_atr(self, request: Request) -> Response:
        operation = self._find(request)
        atr = self.store.atr(operation) if operation and operation.completed else None
        if atr is None:
            return vitam_error(404, *NOT_FOUND)
        return Response(atr, media_type="application/octet-stream")

    async def get_manifest(self, request: Request) -> Response:
        operation = self._find(request)
        manifest = self.store.manifest(operation) if operation and operation.completed else None
        if manifest is None:  # stored for OK and WARNING only
            return vitam_error(404, *NOT_FOUND)
        return Response(manifest, media_type="application/octet-stream")

    # -- admin-external ----------------------------------------------------------------------

    async def operation(self, request: Request) -> Response:
        tenant = _tenant(request)
        operation = self.store.poll(request.path_params["operation_id"], tenant)
        if operation is None:
            if request.method == "HEAD":
                return Response(status_code=404)
            return vitam_error(404, "040102", "Operation not found")
        code = 200 if operation.completed else 202
        headers = {
            "X-Global-Execution-State": operation.state,
            "X-Global-Execution-Status": operation.current_status,
            "X-Context-Id": operation.context_id,
        }
        if request.method == "HEAD":
            return Response(status_code=code, headers=headers)
        return JSONResponse(_item_status(operation, code), status_code=code, headers=headers)

    # -- access-external ---------------------------------------------------------------------

    async def units(self, request: Request) -> Response:
        if request.method == "POST" and request.headers.get("x-http-method-override") != "GET":
            return vitam_error(405, "020304", "Method not allowed", "POST needs X-Http-Method-Override")
        contract = request.headers.get("x-access-contract-id")
        if not contract or contract not in self.config.access_contracts:
            return vitam_error(401, "000700", "Internal Security Filter Unauthorized", "access contract refused")
        try:
            dsl = json.loads(await request.body())
        except ValueError:
            return vitam_error(500, "000200", "Can not read Dsl query")
        problem = _dsl_problem(dsl)
        if problem:
            return vitam_error(400, "000601", "Dsl query is not valid", problem)
        operation_id = _opi_of(dsl["$query"])
        if operation_id is None:
            return not_implemented('only {"$query": [{"$eq": {"#opi": "<operation id>"}}]}')
        operation = self.store.get(operation_id, _tenant(request))
        found = self.store.units(operation) if operation and operation.completed and operation.stored else []
        return JSONResponse(_select(found, dsl))

    # -- internals ---------------------------------------------------------------------------

    def _refuse_upload(self, request: Request, operation_id: str) -> Response | None:
        """The answers given before the body is read (vitam-api.md §4.4)."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type == "application/json":
            return not_implemented("local ingest (a SIP already on the server)")
        if media_type != "application/octet-stream":
            return PlainTextResponse("Unsupported Media Type", status_code=415)
        workflow = request.headers.get("x-context-id", "")
        if workflow in NOT_REPRODUCED_WORKFLOWS:
            return not_implemented(f"workflow {workflow}")
        if workflow not in WORKFLOWS:
            return _unknown_workflow(operation_id, workflow)
        action = request.headers.get("x-action", "").upper()
        if action == "NEXT":
            return not_implemented("step-by-step ingest (X-Action: NEXT)")
        if action != "RESUME":
            return vitam_error(412, "040101", "Ingest external precondition failed", "X-Action")
        return None

    async def _receive(self, request: Request, operation_id: str) -> Path:
        """Store the whole body, chunk by chunk, before answering (as VITAM does)."""
        folder = self.store.upload_folder()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f"{operation_id}.", suffix=".sip", delete=False) as spool:
            try:
                async for chunk in request.stream():
                    spool.write(chunk)  # local disk: fast enough not to need a thread
            except BaseException:  # client gone mid-upload: nothing was created
                Path(spool.name).unlink(missing_ok=True)
                raise
        return Path(spool.name)

    def _process(self, sip: Path, operation_id: str, request: Request) -> None:
        workflow = request.headers["x-context-id"]
        ingest = IngestRequest(
            blank_test=workflow == "BLANK_TEST",
            digest_algorithm=request.headers.get("x-manifest-digest-algo"),
            digest_value=request.headers.get("x-manifest-digest-value"),
        )
        outcome = run_ingest(sip, ingest, self.config)
        log.info("operation %s (%s) ended %s", operation_id, workflow, outcome.status)
        operation = Operation(
            id=operation_id,
            tenant=_tenant(request),
            context_id=WORKFLOWS[workflow],
            status=outcome.status,
            polls_left=max(self.config.polls_before_completion, 0),
            created=message_time(),
            message_identifier=outcome.manifest.message_identifier if outcome.manifest else None,
        )
        accepted = outcome.status in ("OK", "WARNING")
        units = _unit_records(outcome, operation) if accepted and not ingest.blank_test else []
        self.access.records.record(operation, outcome, sip, units)  # before the store makes it visible
        self.store.add(
            operation,
            atr=build_reply(outcome, operation_id, blank_test=ingest.blank_test),
            manifest=outcome.manifest_bytes if accepted else None,
            units=units,
        )

    def _find(self, request: Request) -> Operation | None:
        return self.store.get(request.path_params["operation_id"], _tenant(request))


def _tenant(request: Request) -> int:
    return int(request.headers["x-tenant-id"])  # TenantFilter has checked it


def _unknown_workflow(operation_id: str, workflow: str) -> Response:
    headers = {"X-Global-Execution-State": "COMPLETED", "X-Global-Execution-Status": "FATAL"}
    body = build_refused_upload_reply(operation_id, workflow)
    return Response(body, status_code=503, media_type="application/octet-stream", headers=headers)


def _item_status(operation: Operation, code: int) -> dict[str, Any]:
    meter = [0] * len(STATUSES)
    meter[STATUSES.index(operation.current_status)] = 1
    item = {
        "itemId": operation.id,
        "globalState": operation.state,
        "globalStatus": operation.current_status,
        "statusMeter": meter,
        "itemsStatus": {},
        "data": {"contextId": operation.context_id, "evDateTime": operation.created},
    }
    hits = {"total": 1, "offset": 0, "limit": 1, "size": 1}
    return {"httpCode": code, "$hits": hits, "$results": [item], "$context": {}}


def _unit_records(outcome: IngestOutcome, operation: Operation) -> list[dict[str, Any]]:
    manifest = outcome.manifest
    assert manifest is not None
    group_of_object = {item.id: item.group_key for item in manifest.objects}
    records = []
    for unit in manifest.units:
        group = group_of_object.get(unit.group_ref or "", unit.group_ref or "")
        record: dict[str, Any] = {
            "#id": outcome.units[unit.id],
            "Title": unit.title,
            "DescriptionLevel": unit.description_level,
            "#opi": operation.id,
            "#tenant": operation.tenant,
            "#originating_agency": manifest.originating_agency,
            "#unitType": "INGEST",
        }
        if group in outcome.groups:
            record["#object"] = outcome.groups[group]
        records.append(record)
    return records


def _dsl_problem(dsl: Any) -> str | None:
    """What makes a SELECT MULTIPLE query invalid (select-query-multiple-dsl-schema.json)."""
    if not isinstance(dsl, dict):
        return "the query must be a JSON object"
    if not isinstance(dsl.get("$projection"), dict):
        return "$projection is mandatory"
    if not isinstance(dsl.get("$query", []), list):
        return "$query must be an array"
    filters = dsl.get("$filter", {})
    if not isinstance(filters, dict):
        return "$filter must be an object"
    if any(not isinstance(filters.get(key, 0), int) for key in ("$limit", "$offset")):
        return "$limit and $offset must be integers"
    return None


def _opi_of(query: Any) -> str | None:
    if not isinstance(query, list) or len(query) != 1 or not isinstance(query[0], dict):
        return None
    equals = query[0].get("$eq")
    if not isinstance(equals, dict) or set(equals) != {"#opi"}:
        return None
    value = equals["#opi"]
    return value if isinstance(value, str) else None


def _select(units: list[dict[str, Any]], dsl: dict[str, Any]) -> dict[str, Any]:
    """Apply $filter ($offset, $limit) and $projection ($fields) to the matching units."""
    filters = dsl.get("$filter", {})
    offset = max(int(filters.get("$offset", 0)), 0)
    limit = min(max(int(filters.get("$limit", MAX_LIMIT)), 0), MAX_LIMIT)
    page = units[offset : offset + limit]
    fields = [name for name, wanted in dsl["$projection"].get("$fields", {}).items() if wanted]
    if fields:
        page = [{name: unit[name] for name in fields if name in unit} for unit in page]
    return {
        "httpCode": 200,
        "$hits": {"total": len(units), "offset": offset, "limit": limit, "size": len(page)},
        "$results": page,
        "$facetResults": [],
        "$context": dsl,
    }
