"""Fault injection over real HTTPS with mutual TLS (serve + the generated material): each fault,
armed through the admin-only test endpoint or the constructor, seen by a plain HTTP client."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.vitam_client.sips import MESSAGE_IDENTIFIER, build_sip
from vitam_sandbox import Faults, HttpFault, SandboxConfig, create_app, make_tls_material, serve

TENANT = {"X-Tenant-Id": "0"}
ADMIN_TENANT = {"X-Tenant-Id": "1"}
ACCESS = {"X-Tenant-Id": "0", "X-Access-Contract-Id": "AC-000001"}
UPLOAD = {
    **TENANT,
    "X-Context-Id": "DEFAULT_WORKFLOW",
    "X-Action": "RESUME",
    "Content-Type": "application/octet-stream",
}


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig, tmp_path: Path) -> Iterator[tuple[httpx.Client, bytes]]:
    tls = make_tls_material(tmp_path / "tls", require_client_cert=True)
    assert tls.client_cert is not None
    context = ssl.create_default_context(cafile=str(tls.ca_path))
    context.load_cert_chain(*tls.client_cert)
    config = replace(sandbox_config, test_endpoint=True, faults=Faults())
    with serve(create_app(config), tls=tls) as base, httpx.Client(base_url=base, verify=context, timeout=30) as http:
        yield http, build_sip(tmp_path).read_bytes()


def arm(http: httpx.Client, **faults: Any) -> None:
    answer = http.put("/sandbox-test/v1/faults", json=faults, headers=ADMIN_TENANT)
    assert answer.status_code == 200, answer.text


def upload(http: httpx.Client, sip: bytes) -> httpx.Response:
    return http.post("/ingest-external/v1/ingests", content=sip, headers=UPLOAD)


def poll(http: httpx.Client, operation_id: str, times: int = 150) -> httpx.Response:
    """HEAD until the operation is no longer running (the controls run after the 202)."""
    answer = http.head(f"/admin-external/v1/operations/{operation_id}", headers=TENANT)
    for _ in range(times):
        if answer.status_code != 202 or answer.headers.get("X-Global-Execution-State") == "PAUSE":
            return answer
        time.sleep(0.05)
        answer = http.head(f"/admin-external/v1/operations/{operation_id}", headers=TENANT)
    return answer


def logbook_by_message(http: httpx.Client) -> list[dict[str, Any]]:
    dsl = {"$query": {"$eq": {"obIdIn": MESSAGE_IDENTIFIER}}, "$projection": {}}
    return list(
        http.request("GET", "/access-external/v1/logbookoperations", json=dsl, headers=ACCESS).json()["$results"]
    )


def test_the_test_endpoint_is_admin_only_and_refuses_nonsense(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, _ = sandbox
    assert http.put("/sandbox-test/v1/faults", json={"fatal": 1}, headers=TENANT).status_code == 401
    assert http.put("/sandbox-test/v1/faults", json={"fatall": 1}, headers=ADMIN_TENANT).status_code == 400
    assert (
        http.put("/sandbox-test/v1/faults", json={"http_errors": [{"status": 404}]}, headers=ADMIN_TENANT).status_code
        == 400
    )


def test_a_slow_header_keeps_the_ingest_unnamed_then_names_it(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    for nonsense in (-1, "3", True, 601):
        answer = http.put("/sandbox-test/v1/faults", json={"header_delay_seconds": nonsense}, headers=ADMIN_TENANT)
        assert answer.status_code == 400, nonsense
    arm(http, slow_header=1, header_delay_seconds=1.5)
    operation_id = upload(http, sip).headers["X-Request-Id"]
    dsl = {"$query": {"$eq": {"evTypeProc": "INGEST"}}, "$projection": {}}
    found = http.request("GET", "/access-external/v1/logbookoperations", json=dsl, headers=ACCESS).json()["$results"]
    (running,) = [op for op in found if op["evIdProc"] == operation_id]
    assert running["obIdIn"] == operation_id  # not yet named: it could be any SIP
    assert logbook_by_message(http) == []
    assert poll(http, operation_id).headers["X-Global-Execution-Status"] == "OK"
    assert [op["evIdProc"] for op in logbook_by_message(http)] == [operation_id]
    assert http.get("/sandbox-test/v1/faults", headers=ADMIN_TENANT).json()["slow_header"] == 0


def test_503_then_500_n_times_then_normal(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    arm(http, http_errors=[{"status": 503, "times": 2, "method": "POST", "path": "/ingests"}])
    assert [upload(http, sip).status_code for _ in range(2)] == [503, 503]
    accepted = upload(http, sip)
    assert accepted.status_code == 202
    arm(http, http_errors=[{"status": 500, "times": 1, "method": "HEAD"}])
    operation_id = accepted.headers["X-Request-Id"]
    assert http.head(f"/admin-external/v1/operations/{operation_id}", headers=TENANT).status_code == 500
    assert poll(http, operation_id).status_code == 200
    assert [r["evIdProc"] for r in logbook_by_message(http)] == [operation_id]  # refused attempts created nothing


def test_the_connection_dropped_after_the_upload(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    arm(http, drop_after_upload=1)
    with pytest.raises(httpx.TransportError):
        upload(http, sip)
    # The SIP arrived: only the logbook (obIdIn = MessageIdentifier) tells the client its operation.
    for _ in range(150):
        found = logbook_by_message(http)
        if found and found[0]["events"]:
            break
        time.sleep(0.05)
    assert len(found) == 1
    operation_id = found[0]["evIdProc"]
    assert poll(http, operation_id).headers["X-Global-Execution-Status"] == "OK"
    assert upload(http, sip).status_code == 202  # the fault fired once


def test_running_past_any_timeout(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    arm(http, stuck=1)
    operation_id = upload(http, sip).headers["X-Request-Id"]
    answer = poll(http, operation_id, times=40)
    assert (answer.status_code, answer.headers["X-Global-Execution-State"]) == (202, "RUNNING")
    atr = http.get(f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply", headers=TENANT)
    assert atr.status_code == 404


def test_fatal_waits_for_an_operator_without_an_atr(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    arm(http, fatal=1)
    operation_id = upload(http, sip).headers["X-Request-Id"]
    answer = poll(http, operation_id)
    assert (answer.headers["X-Global-Execution-State"], answer.headers["X-Global-Execution-Status"]) == (
        "PAUSE",
        "FATAL",
    )
    assert (
        http.get(f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply", headers=TENANT).status_code == 404
    )
    units = http.request(
        "GET",
        "/access-external/v1/units",
        json={"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}},
        headers=ACCESS,
    )
    assert units.json()["$hits"]["total"] == 0


@pytest.mark.parametrize(
    ("fault", "code", "detail"),
    [
        ("force_ko", "KO", "STORAGE_AVAILABILITY_CHECK.STORAGE_OFFER_KO_UNAVAILABLE.KO"),
        ("force_warning", "WARNING", "CHECK_OBJECT_SIZE.WARNING"),
    ],
)
def test_a_ko_or_warning_atr_on_demand(sandbox: tuple[httpx.Client, bytes], fault: str, code: str, detail: str) -> None:
    http, sip = sandbox
    arm(http, **{fault: 1})
    operation_id = upload(http, sip).headers["X-Request-Id"]
    assert poll(http, operation_id).headers["X-Global-Execution-Status"] == code
    atr = etree.fromstring(
        http.get(f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply", headers=TENANT).content
    )
    assert atr.findtext("{*}ReplyCode") == code
    assert detail in [e.findtext("{*}OutcomeDetail") for e in atr.iterfind("{*}Operation/{*}Event")]


def test_operations_purged_while_the_logbook_keeps_them(sandbox: tuple[httpx.Client, bytes]) -> None:
    http, sip = sandbox
    arm(http, purge_completed=True)
    operation_id = upload(http, sip).headers["X-Request-Id"]
    last = poll(http, operation_id)
    assert last.status_code == 404  # completed, then gone from the operations API
    logbook = http.request(
        "GET", f"/access-external/v1/logbookoperations/{operation_id}", json={"$projection": {}}, headers=ACCESS
    )
    assert logbook.json()["$results"][0]["events"][-1]["outDetail"] == "PROCESS_SIP_UNITARY.OK"
    assert (
        http.get(f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply", headers=TENANT).status_code == 200
    )


def test_faults_armed_through_the_constructor(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    faults = Faults(http_errors=[HttpFault(500, times=1, path="/status")])
    config = replace(sandbox_config, faults=faults)
    with serve(create_app(config)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/ingest-external/v1/status").status_code == 500
        assert http.get("/ingest-external/v1/status").status_code == 204
