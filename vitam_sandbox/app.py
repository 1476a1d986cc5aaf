"""The sandbox's HTTP layer. Routes only translate HTTP to the workflow (workflow.py), the reply
and record builders (reply.py, records.py) and the store (store.py), and back.

What is served, as vitam-api.md documents it (every call needs ``X-Tenant-Id``; access-external
also ``X-Access-Contract-Id``, an ACTIVE access contract of the referentials, else 401):

* ingest-external ``POST /ingests`` (§4): 202 once the whole body is stored, ``X-Request-Id`` = the
  operation id, state PAUSE / status UNKNOWN; the controls then run after the answer;
  ``GET /ingests/{id}/archivetransferreply`` (404 VitamError 040102 until completed; a KO ATR is a
  200 too) and ``GET /ingests/{id}/manifests`` (OK/WARNING only);
* admin-external ``HEAD``/``GET /operations/{id}`` (§5.1): 202 while not completed, 200 when
  completed, ``X-Global-Execution-State/Status``, ``X-Context-Id``; PAUSE + FATAL for a stopped
  workflow; 404 for an unknown (or purged) operation; ``GET /rules``, ``/ingestcontracts``,
  ``/accesscontracts``, ``/agencies`` (SELECT SINGLE DSL) and ``/<referential>/{id}`` (§8);
* access-external (§7): ``GET /units`` (SELECT MULTIPLE: ``$roots``, one ``$query`` element,
  ``$filter``, mandatory ``$projection``), ``GET /units/{id}`` (GET-BY-ID), ``GET
  /units/{id}/objects`` (the unit's object group metadata, ``#qualifiers[].versions[]`` with
  ``MessageDigest`` SHA-512, ``Algorithm`` and ``Size``; with ``Accept: application/octet-stream``,
  ``X-Qualifier`` and ``X-Version``, the object's bytes as the store's offer kept them),
  ``GET /objects`` (SELECT MULTIPLE),
  ``GET /logbookoperations`` (SELECT SINGLE, e.g. ``{"$query": {"$eq": {"obIdIn": "<MessageIdentifier>"}}}``)
  and ``GET /logbookoperations/{id}``; each answers a RequestResponseOK
  ``{"httpCode", "$hits": {total, offset, limit, size}, "$results", "$facetResults", "$context"}``
  and accepts ``POST`` with ``X-Http-Method-Override: GET`` (§1);
* ``GET /status`` (204) on each service; ``PUT``/``GET /sandbox-test/v1/faults`` (fault injection,
  only when built with ``test_endpoint=True``, admin tenant only).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from vitam_sandbox import guid
from vitam_sandbox.config import SandboxConfig
from vitam_sandbox.container import Container, container_kind
from vitam_sandbox.dsl import DslError, Unsupported, select_multiple, select_single
from vitam_sandbox.events import message_time
from vitam_sandbox.faults import Faults
from vitam_sandbox.records import (
    group_records,
    initial_logbook,
    logbook_record,
    referential_records,
    unit_records,
    visible_logbook,
)
from vitam_sandbox.reply import build_refused_upload_reply, build_reply
from vitam_sandbox.responses import (
    FaultMiddleware,
    RequestIdMiddleware,
    TenantFilter,
    drain,
    not_implemented,
    request_response_ok,
    vitam_error,
)
from vitam_sandbox.store import Operation, Store
from vitam_sandbox.workflow import IngestRequest, run_ingest

log = logging.getLogger(__name__)

INGEST = "/ingest-external/v1"
ADMIN = "/admin-external/v1"
ACCESS = "/access-external/v1"
TEST = "/sandbox-test/v1"

# Workflow id (X-Context-Id) -> logbook process type.
WORKFLOWS = {"DEFAULT_WORKFLOW": "INGEST", "BLANK_TEST": "INGEST_TEST"}
NOT_REPRODUCED_WORKFLOWS = frozenset({"FILING_SCHEME", "HOLDING_SCHEME", "BIG_WORKFLOW"})
STATUSES = ("UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL")
NOT_FOUND = ("040102", "Ingest external not found")
REFERENTIALS = ("rules", "ingestcontracts", "accesscontracts", "agencies")


def create_app(config: SandboxConfig) -> Starlette:
    """The ASGI application of one sandbox (see the module docstring)."""
    sandbox = _Sandbox(config)
    routes = [
        *(Route(f"{base}/status", _status, methods=["GET"]) for base in (INGEST, ADMIN, ACCESS)),
        Route(f"{INGEST}/ingests", sandbox.post_ingest, methods=["POST"]),
        Route(f"{INGEST}/ingests/{{operation_id}}/archivetransferreply", sandbox.get_atr),
        Route(f"{INGEST}/ingests/{{operation_id}}/manifests", sandbox.get_manifest),
        Route(f"{ADMIN}/operations/{{operation_id}}", sandbox.operation, methods=["GET", "HEAD"]),
        *(Route(f"{ADMIN}/{name}", sandbox.referential, methods=["GET", "POST"]) for name in REFERENTIALS),
        *(Route(f"{ADMIN}/{name}/{{identifier}}", sandbox.referential_item) for name in REFERENTIALS),
        Route(f"{ACCESS}/units", sandbox.units, methods=["GET", "POST"]),
        Route(f"{ACCESS}/units/{{unit_id}}", sandbox.unit, methods=["GET", "POST"]),
        Route(f"{ACCESS}/units/{{unit_id}}/objects", sandbox.unit_objects, methods=["GET", "POST"]),
        Route(f"{ACCESS}/objects", sandbox.objects, methods=["GET", "POST"]),
        Route(f"{ACCESS}/logbookoperations", sandbox.logbook_operations, methods=["GET", "POST"]),
        Route(f"{ACCESS}/logbookoperations/{{operation_id}}", sandbox.logbook_operation, methods=["GET", "POST"]),
    ]
    if config.test_endpoint:
        routes.append(Route(f"{TEST}/faults", sandbox.fault_endpoint, methods=["GET", "PUT"]))
    middleware = [
        Middleware(FaultMiddleware, faults=config.faults),
        Middleware(RequestIdMiddleware),
        Middleware(
            TenantFilter,
            tenants=frozenset(config.tenants) | ({config.admin_tenant} if config.test_endpoint else frozenset()),
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.sandbox = sandbox
    return app


async def _status(request: Request) -> Response:
    return Response(status_code=204)


class _Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.faults: Faults = config.faults
        self.store = Store(config.storage_dir)

    # -- ingest-external ---------------------------------------------------------------------

    async def post_ingest(self, request: Request) -> Response:
        operation_id = guid.new_guid(guid.OPERATION)  # VITAM: the request id is the operation id
        refusal = self._refuse_upload(request, operation_id)
        if refusal is not None:
            await drain(request.receive)
            refusal.headers["X-Request-Id"] = operation_id
            return refusal
        sip = await self._receive(request, operation_id)
        workflow = request.headers["x-context-id"]
        operation = Operation(
            id=operation_id,
            tenant=_tenant(request),
            context_id=WORKFLOWS[workflow],
            status="STARTED",
            polls_left=max(self.config.polls_before_completion, 0),
            created=message_time(),
            stuck=self.faults.take("stuck"),
            purge_completed=self.faults.purge_completed,
        )
        application = request.headers.get("x-application-id")
        self.store.create(operation, initial_logbook(operation, application))
        if self.faults.take("drop_after_upload"):
            request.scope["sandbox.drop"] = True  # FaultMiddleware cuts the connection instead of answering
        headers = {
            "X-Request-Id": operation_id,
            "X-Global-Execution-State": "PAUSE",
            "X-Global-Execution-Status": "UNKNOWN",
        }
        task = BackgroundTask(self._process_in_thread, sip, operation, request, application)
        return Response(status_code=202, headers=headers, background=task)

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
        operation = self.store.poll(request.path_params["operation_id"], _tenant(request))
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

    async def referential(self, request: Request) -> Response:
        name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        records = referential_records(self.config.referentials, name)
        return await self._select_single(request, lambda: records)

    async def referential_item(self, request: Request) -> Response:
        name = request.url.path.rstrip("/").rsplit("/", 2)[-2]
        key = "RuleId" if name == "rules" else "Identifier"
        identifier = request.path_params["identifier"]
        found = [r for r in referential_records(self.config.referentials, name) if r.get(key) == identifier]
        if not found:
            return vitam_error(404, "120402", "Referential item not found", f"{name}/{identifier}")
        return JSONResponse(request_response_ok(found, {}))

    # -- access-external ---------------------------------------------------------------------

    async def units(self, request: Request) -> Response:
        return await self._select_multiple(
            request, lambda opi: self._completed(self.store.units(_tenant(request), opi))
        )

    async def objects(self, request: Request) -> Response:
        return await self._select_multiple(
            request, lambda opi: self._completed(self.store.object_groups(_tenant(request)))
        )

    async def unit(self, request: Request) -> Response:
        def one() -> dict[str, Any] | None:
            found = self.store.unit(request.path_params["unit_id"], _tenant(request))
            return next(iter(self._completed([found])), None) if found else None

        return await self._get_by_id(request, one)

    async def unit_objects(self, request: Request) -> Response:
        def group() -> dict[str, Any] | None:
            unit = self.store.unit(request.path_params["unit_id"], _tenant(request))
            if unit is None or "#object" not in unit or not list(self._completed([unit])):
                return None
            return self.store.object_group(unit["#object"], _tenant(request))

        accept = request.headers.get("accept", "application/json")
        if "application/octet-stream" in accept:
            refusal = self._access_refusal(request)
            if refusal is not None:
                return refusal
            return await run_in_threadpool(self._download, request, group)
        return await self._get_by_id(request, group)

    def _download(self, request: Request, group: Callable[[], dict[str, Any] | None]) -> Response:
        """The binary of one version of the unit's object group (vitam-api.md §7: ``X-Qualifier``
        and ``X-Version`` required, the version a number), echoing both headers."""
        qualifier = request.headers.get("x-qualifier", "")
        version = request.headers.get("x-version", "")
        if not qualifier or not re.fullmatch(r"[0-9]+", version):
            return vitam_error(412, "020115", "Access external precondition failed", "X-Qualifier and X-Version")
        found = group()
        wanted = f"{qualifier}_{int(version)}"
        entry = next(
            (
                v
                for q in (found or {}).get("#qualifiers", [])
                for v in q.get("versions", [])
                if v.get("DataObjectVersion") == wanted
            ),
            None,
        )
        path = self.store.object_path(_tenant(request), entry["#id"]) if entry else None
        if entry is None or path is None:
            return vitam_error(404, "020111", "Access external object not found", wanted)
        media_type = (entry.get("FormatIdentification") or {}).get("MimeType") or "application/octet-stream"
        return FileResponse(
            path,
            media_type=media_type,
            headers={"X-Qualifier": qualifier, "X-Version": str(int(version))},
        )

    async def logbook_operations(self, request: Request) -> Response:
        tenant = _tenant(request)
        return await self._select_single(request, lambda: self._logbooks(tenant), access=True)

    async def logbook_operation(self, request: Request) -> Response:
        tenant = _tenant(request)

        def one() -> dict[str, Any] | None:
            record = self.store.logbook(request.path_params["operation_id"], tenant)
            return self._visible(record, tenant) if record else None

        return await self._get_by_id(request, one)

    # -- the test endpoint -------------------------------------------------------------------

    async def fault_endpoint(self, request: Request) -> Response:
        if _tenant(request) != self.config.admin_tenant:
            return vitam_error(401, "000700", "Internal Security Filter Unauthorized", "admin tenant only")
        if request.method == "PUT":
            try:
                self.faults.update(json.loads(await request.body()))
            except ValueError as exc:
                return vitam_error(400, "000601", "Invalid fault injection request", str(exc))
        return JSONResponse(self.faults.to_dict())

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

    async def _process_in_thread(
        self, sip: Path, operation: Operation, request: Request, application: str | None
    ) -> None:
        try:
            await run_in_threadpool(self._process, sip, operation, request, application)
        except Exception:  # a defect of the sandbox: VITAM's answer to a technical error is FATAL
            log.exception("operation %s: the controls failed", operation.id)
            operation.status, operation.processing = "FATAL", False
            logbook = initial_logbook(operation, application)
            self.store.finish(operation, atr=None, manifest=None, units=[], groups=[], logbook=logbook)
        finally:
            sip.unlink(missing_ok=True)

    def _process(self, sip: Path, operation: Operation, request: Request, application: str | None) -> None:
        if self.faults.take("slow_header"):
            time.sleep(self.faults.header_delay_seconds)  # a busy VITAM: obIdIn stays the operation id
        tenant = operation.tenant
        blank_test = operation.context_id == "INGEST_TEST"
        forced = "KO" if self.faults.take("force_ko") else "WARNING" if self.faults.take("force_warning") else None
        ingest = IngestRequest(
            blank_test=blank_test,
            digest_algorithm=request.headers.get("x-manifest-digest-algo"),
            digest_value=request.headers.get("x-manifest-digest-value"),
            find_unit=lambda unit_id: self.store.unit(unit_id, tenant),
            all_units=lambda: self.store.units(tenant),
            forced=forced,
        )
        outcome = run_ingest(sip, ingest, self.config)
        fatal = self.faults.take("fatal")
        status = "FATAL" if fatal else outcome.status
        log.info("operation %s (%s) ended %s", operation.id, operation.context_id, status)
        manifest = outcome.manifest
        operation.status = status
        operation.processing = False
        operation.message_identifier = manifest.message_identifier if manifest and outcome.header_read else None
        accepted = status in ("OK", "WARNING")
        keep = accepted and not blank_test
        if keep:
            self._keep_objects(sip, outcome, tenant)  # before the units appear: never a unit without its bytes
        self.store.finish(
            operation,
            atr=None if fatal else build_reply(outcome, operation.id, blank_test=blank_test),
            manifest=outcome.manifest_bytes if accepted else None,
            units=unit_records(outcome, operation, self.store.unit) if keep else [],
            groups=group_records(outcome, operation) if keep else [],
            logbook=logbook_record(outcome, operation, application, fatal=fatal),
        )

    def _keep_objects(self, sip: Path, outcome: Any, tenant: int) -> None:
        """Copy each binary object of an accepted SIP to the storage offer, by its object GUID."""
        manifest = outcome.manifest
        work = Path(tempfile.mkdtemp(prefix="keep-", dir=self.store.upload_folder()))
        try:
            with Container(sip, container_kind(sip), work / "sip") as container:
                for item in manifest.objects:
                    if item.kind == "BinaryDataObject" and item.uri and item.id in outcome.objects:
                        with container.open(item.uri) as stream:
                            self.store.put_object(tenant, outcome.objects[item.id], stream)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _find(self, request: Request) -> Operation | None:
        return self.store.get(request.path_params["operation_id"], _tenant(request))

    def _completed(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Records of operations that show COMPLETED: units appear once the ingest has ended."""
        done: dict[str, bool] = {}
        for record in records:
            opi = record["#opi"]
            if opi not in done:
                operation = self.store.get(opi, record["#tenant"])
                done[opi] = operation is not None and operation.completed
            if done[opi]:
                yield record

    def _logbooks(self, tenant: int) -> list[dict[str, Any]]:
        return [self._visible(record, tenant) for record in self.store.logbooks(tenant)]

    def _visible(self, record: dict[str, Any], tenant: int) -> dict[str, Any]:
        operation = self.store.get(record["evIdProc"], tenant)
        return visible_logbook(record, completed=operation is not None and operation.completed)

    def _access_refusal(self, request: Request) -> Response | None:
        if request.method == "POST" and request.headers.get("x-http-method-override", "").upper() != "GET":
            return vitam_error(405, "020304", "Method not allowed", "POST needs X-Http-Method-Override: GET")
        contract = self.config.referentials.access_contracts.get(request.headers.get("x-access-contract-id", ""))
        if contract is None or not contract.active:
            return vitam_error(401, "000700", "Internal Security Filter Unauthorized", "access contract refused")
        return None

    async def _dsl(self, request: Request) -> Any:
        body = await request.body()
        return json.loads(body) if body.strip() else {}

    async def _select_multiple(
        self, request: Request, source: Callable[[str | None], Iterable[dict[str, Any]]]
    ) -> Response:
        refusal = self._access_refusal(request)
        if refusal is not None:
            return refusal
        try:
            dsl = await self._dsl(request)
            return JSONResponse(select_multiple(dsl, source))
        except ValueError as exc:
            return _dsl_failure(exc)

    async def _select_single(
        self, request: Request, source: Callable[[], Iterable[dict[str, Any]]], *, access: bool = False
    ) -> Response:
        if access:
            refusal = self._access_refusal(request)
            if refusal is not None:
                return refusal
        elif request.method == "POST" and request.headers.get("x-http-method-override", "").upper() != "GET":
            return not_implemented("referential import")
        try:
            dsl = await self._dsl(request)
            return JSONResponse(select_single(dsl, source()))
        except ValueError as exc:
            return _dsl_failure(exc)

    async def _get_by_id(self, request: Request, find: Callable[[], dict[str, Any] | None]) -> Response:
        refusal = self._access_refusal(request)
        if refusal is not None:
            return refusal
        try:
            dsl = await self._dsl(request)
        except ValueError as exc:
            return _dsl_failure(exc)
        if not isinstance(dsl, dict) or set(dsl) - {"$projection"}:
            return vitam_error(400, "000601", "Dsl query is not valid", "a GET-BY-ID query holds only $projection")
        found = find()
        if found is None:
            return vitam_error(404, "020404", "Not found", "no such item visible under this contract")
        try:
            return JSONResponse(select_single({"$query": {}, **dsl}, [found]))
        except ValueError as exc:
            return _dsl_failure(exc)


def _dsl_failure(exc: ValueError) -> Response:
    if isinstance(exc, Unsupported):
        return not_implemented(str(exc))
    if isinstance(exc, DslError):
        return vitam_error(400, "000601", "Dsl query is not valid", str(exc))
    return vitam_error(500, "000200", "Can not read Dsl query", str(exc))


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
