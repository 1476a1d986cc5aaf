"""The sandbox's read-back endpoints: logbook operations, one unit, object groups, referentials.

Part of the TEST AND DEMO server (not VITAM), shaped after vitam-api.md:

* access-external ``GET /logbookoperations/{id}`` (GET-BY-ID DSL) and ``GET /logbookoperations``
  (SELECT SINGLE DSL with ``$eq`` on ``obIdIn``, ``evTypeProc``, ``evIdProc``, combined by
  ``$and``), §5.5 and §7.2: the operation's events end with ``PROCESS_SIP_UNITARY`` carrying the
  final outcome once the operation is completed; ``obIdIn`` is the SIP's MessageIdentifier once
  CHECK_HEADER has run, the operation id before (§11.2);
* access-external ``GET /units/{id}`` and ``GET /units/{id}/objects`` (``Accept:
  application/json``): the unit, and its object group with ``#qualifiers[].versions[]`` holding
  the SHA-512 and size the sandbox computed from the stored SIP (§7.1);
* admin-external ``GET /rules``, ``/ingestcontracts``, ``/agencies`` (SELECT SINGLE DSL) and
  ``/{collection}/{identifier}`` (§8), from the sandbox's referentials.

All access-external calls need a known ``X-Access-Contract-Id`` (401 otherwise); a POST is
accepted with ``X-Http-Method-Override: GET`` (§1). Records are kept in memory, or as one JSON
file per operation under ``<storage>/access/`` so that they survive a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vitam_client.sandbox.config import SandboxConfig
from vitam_client.sandbox.guid import looks_like_guid
from vitam_client.sandbox.responses import not_implemented, vitam_error
from vitam_client.sandbox.store import Operation, Store
from vitam_client.sandbox.workflow import IngestOutcome

CHUNK = 1024 * 1024
# Events after which VITAM has replaced obIdIn by the MessageIdentifier (CheckHeaderActionHandler).
_BEFORE_HEADER = ("STP_SANITY_CHECK_SIP", "CHECK_CONTAINER", "MANIFEST_FILE_NAME_CHECK", "MANIFEST_DIGEST_CHECK")
_QUERYABLE = frozenset({"obIdIn", "evTypeProc", "evIdProc", "evType"})
NOT_FOUND = ("020404", "Access external not found")  # service 02 External Access


class AccessRecords:
    """What the read-back endpoints answer from, filled in when an ingest is processed."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder / "access" if folder is not None else None
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)

    def record(self, operation: Operation, outcome: IngestOutcome, sip: Path, units: list[dict[str, Any]]) -> None:
        """Keep the logbook operation, units and object groups of a processed ingest."""
        record = {
            "operation": asdict_operation(operation),
            "logbook": _logbook(operation, outcome),
            "units": units,
            "groups": _object_groups(operation, outcome, sip) if units else [],
        }
        with self._lock:
            if self._folder is None:
                self._memory[operation.id] = record
            else:
                _write_atomically(self._folder / f"{operation.id}.json", json.dumps(record))

    def all(self, tenant: int) -> list[dict[str, Any]]:
        with self._lock:
            if self._folder is None:
                records = list(self._memory.values())
            else:
                records = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(self._folder.glob("*.json"))]
        return [r for r in records if r["operation"]["tenant"] == tenant]

    def one(self, operation_id: str, tenant: int) -> dict[str, Any] | None:
        if not looks_like_guid(operation_id):
            return None
        with self._lock:
            if self._folder is None:
                record = self._memory.get(operation_id)
            else:
                path = self._folder / f"{operation_id}.json"
                record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        return record if record is not None and record["operation"]["tenant"] == tenant else None


def asdict_operation(operation: Operation) -> dict[str, Any]:
    return {"id": operation.id, "tenant": operation.tenant, "context_id": operation.context_id}


class AccessRoutes:
    """The route handlers; ``store`` says whether an operation has completed yet."""

    def __init__(self, config: SandboxConfig, store: Store, records: AccessRecords) -> None:
        self.config = config
        self.store = store
        self.records = records

    # -- logbook -----------------------------------------------------------------------------

    async def logbook_operation(self, request: Request) -> Response:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        record = self.records.one(request.path_params["operation_id"], _tenant(request))
        if record is None:
            return vitam_error(404, *NOT_FOUND, "no such logbook operation")
        return _envelope([self._current_logbook(record, _tenant(request))], request)

    async def logbook_operations(self, request: Request) -> Response:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        dsl = await _dsl(request)
        if isinstance(dsl, Response):
            return dsl
        query = dsl.get("$query", {})
        if not isinstance(query, dict):
            return vitam_error(400, "000601", "Dsl query is not valid", "$query must be an object (SELECT SINGLE)")
        conditions = _equalities(query)
        if conditions is None:
            return not_implemented('only $eq on obIdIn, evTypeProc, evIdProc or evType, combined with "$and"')
        tenant = _tenant(request)
        found = [self._current_logbook(record, tenant) for record in self.records.all(tenant)]
        found = [item for item in found if all(item.get(k) == v for k, v in conditions.items())]
        order = (dsl.get("$filter") or {}).get("$orderby", {}).get("evDateTime", 1)
        found.sort(key=lambda item: str(item["evDateTime"]), reverse=order == -1)
        return _envelope(found, request)

    def _current_logbook(self, record: dict[str, Any], tenant: int) -> dict[str, Any]:
        """The final PROCESS_SIP_UNITARY event shows only once the operation has completed."""
        logbook = dict(record["logbook"])
        operation = self.store.get(logbook["evIdProc"], tenant)
        if operation is not None and not operation.completed:
            logbook["events"] = logbook["events"][:-1]
        return logbook

    # -- units and object groups -------------------------------------------------------------

    async def unit(self, request: Request) -> Response:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        found = self._unit(request)
        if found is None:
            return vitam_error(404, *NOT_FOUND, "no such unit under this contract")
        return _envelope([found[1]], request)

    async def unit_objects(self, request: Request) -> Response:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        if "application/octet-stream" in request.headers.get("accept", ""):
            return not_implemented("binary object download")
        found = self._unit(request)
        if found is None:
            return vitam_error(404, *NOT_FOUND, "no such unit under this contract")
        record, unit = found
        group = next((g for g in record["groups"] if g["#id"] == unit.get("#object")), None)
        if group is None:
            return vitam_error(404, *NOT_FOUND, "the unit has no object group")
        return _envelope([group], request)

    def _unit(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]] | None:
        unit_id = request.path_params["unit_id"]
        tenant = _tenant(request)
        for record in self.records.all(tenant):
            operation = self.store.get(record["operation"]["id"], tenant)
            if operation is None or not operation.completed:
                continue
            for unit in record["units"]:
                if unit.get("#id") == unit_id:
                    return record, unit
        return None

    # -- referentials ------------------------------------------------------------------------

    def referential(self, collection: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if request.method == "POST" and request.headers.get("x-http-method-override", "").upper() != "GET":
                return not_implemented(f"importing the {collection} referential")
            items = self._referential_items(collection)
            identifier = request.path_params.get("identifier")
            if identifier is not None:
                chosen = [item for item in items if item["Identifier"] == identifier]
                if not chosen:
                    return vitam_error(404, "120404", f"{collection} item not found", identifier)
                return _envelope(chosen, request)
            return _envelope(items, request)

        return handle

    def _referential_items(self, collection: str) -> list[dict[str, Any]]:
        if collection == "rules":
            return [
                {"Identifier": rule_id, "RuleId": rule_id, "RuleType": rule_type, "RuleValue": rule_id}
                for rule_id, rule_type in sorted(self.config.rules.items())
            ]
        if collection == "ingestcontracts":
            return [{"Identifier": c, "Name": c, "Status": "ACTIVE"} for c in sorted(self.config.ingest_contracts)]
        return [{"Identifier": a, "Name": a, "Description": ""} for a in sorted(self.config.agencies)]

    # -- helpers -----------------------------------------------------------------------------

    async def _refuse(self, request: Request) -> Response | None:
        if request.method == "POST" and request.headers.get("x-http-method-override", "").upper() != "GET":
            return vitam_error(405, "020304", "Method not allowed", "POST needs X-Http-Method-Override")
        contract = request.headers.get("x-access-contract-id")
        if not contract or contract not in self.config.access_contracts:
            return vitam_error(401, "000700", "Internal Security Filter Unauthorized", "access contract refused")
        return None


def _tenant(request: Request) -> int:
    return int(request.headers["x-tenant-id"])  # TenantFilter has checked it


async def _dsl(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    try:
        dsl = json.loads(body) if body.strip() else {}
    except ValueError:
        return vitam_error(500, "000200", "Can not read Dsl query")
    if not isinstance(dsl, dict):
        return vitam_error(400, "000601", "Dsl query is not valid", "the query must be a JSON object")
    return dsl


def _equalities(query: dict[str, Any]) -> dict[str, Any] | None:
    """``{}``, one ``$eq`` or an ``$and`` of them, as field → value; None for anything else."""
    if not query:
        return {}
    parts = query["$and"] if set(query) == {"$and"} and isinstance(query["$and"], list) else [query]
    conditions: dict[str, Any] = {}
    for part in parts:
        equals = part.get("$eq") if isinstance(part, dict) and set(part) == {"$eq"} else None
        if not isinstance(equals, dict) or len(equals) != 1 or not set(equals) <= _QUERYABLE:
            return None
        conditions.update(equals)
    return conditions


def _envelope(results: list[dict[str, Any]], request: Request) -> JSONResponse:
    hits = {"total": len(results), "offset": 0, "limit": len(results), "size": len(results)}
    return JSONResponse({"httpCode": 200, "$hits": hits, "$results": results, "$facetResults": [], "$context": {}})


def _logbook(operation: Operation, outcome: IngestOutcome) -> dict[str, Any]:
    process = "PROCESS_SIP_UNITARY_TEST" if operation.context_id == "INGEST_TEST" else "PROCESS_SIP_UNITARY"
    manifest = outcome.manifest
    header_read = (
        manifest is not None
        and bool(manifest.message_identifier)
        and not any(e.code in _BEFORE_HEADER or e.code.startswith("CHECK_SEDA") for e in outcome.events)
    )
    ob_id_in = manifest.message_identifier if header_read and manifest is not None else operation.id
    events = [
        {
            "evId": operation.id,
            "evType": event.code,
            "evDateTime": event.date,
            "outcome": event.outcome,
            "outDetail": event.detail,
            "outMessg": event.message,
            "evDetData": event.detail_data,
            "evIdProc": operation.id,
        }
        for event in outcome.events
    ]
    events.append(
        {
            "evId": operation.id,
            "evType": process,
            "evDateTime": operation.created,
            "outcome": outcome.status,
            "outDetail": f"{process}.{outcome.status}",
            "outMessg": f"Processus d'entrée : {outcome.status}",
            "evDetData": None,
            "evIdProc": operation.id,
        }
    )
    return {
        "evId": operation.id,
        "evIdProc": operation.id,
        "evType": process,
        "evTypeProc": operation.context_id,
        "evDateTime": operation.created,
        "outcome": "STARTED",
        "outDetail": f"{process}.STARTED",
        "obIdIn": ob_id_in,
        "agIdExt": json.dumps({"originatingAgency": manifest.originating_agency if manifest else None}),
        "rightsStatementIdentifier": json.dumps(
            {"ArchivalAgreement": manifest.archival_agreement if manifest else None}
        ),
        "events": events,
    }


def _object_groups(operation: Operation, outcome: IngestOutcome, sip: Path) -> list[dict[str, Any]]:
    """The groups as VITAM indexes them, with digests and sizes computed from what arrived."""
    manifest = outcome.manifest
    if manifest is None:
        return []
    groups: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(sip) as archive:
        for item in manifest.objects:
            group_id = outcome.groups[item.group_key]
            group = groups.setdefault(
                group_id, {"#id": group_id, "#tenant": operation.tenant, "#opi": operation.id, "#qualifiers": []}
            )
            version: dict[str, Any] = {
                "#id": outcome.objects[item.id],
                "DataObjectVersion": item.version,
                "DataObjectGroupId": group_id,
            }
            if item.kind == "BinaryDataObject" and item.uri:
                digest, size = _sha512_and_size(archive, item.uri)
                version.update({"MessageDigest": digest, "Algorithm": "SHA-512", "Size": size, "Uri": item.uri})
            usage = (item.version or "BinaryMaster_1").split("_")[0]
            qualifier = next((q for q in group["#qualifiers"] if q["qualifier"] == usage), None)
            if qualifier is None:
                qualifier = {"qualifier": usage, "#nbc": 0, "versions": []}
                group["#qualifiers"].append(qualifier)
            qualifier["versions"].append(version)
            qualifier["#nbc"] += 1
    return list(groups.values())


def _sha512_and_size(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    hasher = hashlib.sha512()
    size = 0
    with archive.open(name) as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
