"""The sandbox's HTTP answers (vitam-api.md §4-§9) and how VitamClient maps them to errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.vitam_client.sips import build_sip
from vitam_client import VitamClient, VitamError

TENANT = {"X-Tenant-Id": "0"}
SIP_HEADERS = {
    **TENANT,
    "Content-Type": "application/octet-stream",
    "X-Context-Id": "DEFAULT_WORKFLOW",
    "X-Action": "RESUME",
}
UNITS_DSL = {"$roots": [], "$query": [{"$eq": {"#opi": "x"}}], "$projection": {}}


def post_sip(http: TestClient, tmp_path: Path, **headers: str) -> Any:
    return http.post(
        "/ingest-external/v1/ingests", content=build_sip(tmp_path).read_bytes(), headers={**SIP_HEADERS, **headers}
    )


def test_status_answers_204_without_a_tenant(http: TestClient) -> None:
    for service in ("ingest-external", "admin-external", "access-external"):
        assert http.get(f"/{service}/v1/status").status_code == 204


def test_upload_answers_202_once_stored(http: TestClient, tmp_path: Path) -> None:
    answer = post_sip(http, tmp_path)
    assert answer.status_code == 202
    operation_id = answer.headers["X-Request-Id"]
    assert len(operation_id) == 36 and operation_id.startswith("aeeaaa")
    assert operation_id == operation_id.lower()
    assert answer.headers["X-Global-Execution-State"] == "PAUSE"
    assert answer.headers["X-Global-Execution-Status"] == "UNKNOWN"
    assert answer.content == b""


@pytest.mark.parametrize("tenant", [None, "", "abc", "1.5"])
def test_missing_or_non_integer_tenant_is_412(http: TestClient, tmp_path: Path, tenant: str | None) -> None:
    headers = {key: value for key, value in SIP_HEADERS.items() if key != "X-Tenant-Id"}
    if tenant is not None:
        headers["X-Tenant-Id"] = tenant
    answer = http.post("/ingest-external/v1/ingests", content=b"PK", headers=headers)
    assert answer.status_code == 412
    assert answer.json() == {"Error": "X-Tenant-Id check failed!"}
    error = VitamError.from_response(answer)
    assert (error.http_code, error.vitam_code, error.message) == (412, None, "X-Tenant-Id check failed!")


def test_unknown_tenant_is_401_through_the_client(make_client: Callable[..., VitamClient], tmp_path: Path) -> None:
    with pytest.raises(VitamError) as caught:
        make_client(tenant=42).ingest(build_sip(tmp_path))
    assert (caught.value.http_code, caught.value.message) == (401, "X-Tenant-Id check failed!")


def test_wrong_content_type_is_415(http: TestClient, tmp_path: Path) -> None:
    answer = post_sip(http, tmp_path, **{"Content-Type": "application/zip"})
    assert answer.status_code == 415
    error = VitamError.from_response(answer)
    assert (error.http_code, error.vitam_code) == (415, None)
    assert error.request_id is not None


def test_unknown_workflow_is_503_with_an_atr(http: TestClient, tmp_path: Path) -> None:
    answer = post_sip(http, tmp_path, **{"X-Context-Id": "NOPE"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["X-Global-Execution-State"] == "COMPLETED"
    assert answer.headers["X-Global-Execution-Status"] == "FATAL"
    assert b"ArchiveTransferReply" in answer.content


def test_step_by_step_is_not_reproduced(http: TestClient, tmp_path: Path) -> None:
    answer = post_sip(http, tmp_path, **{"X-Action": "NEXT"})
    assert answer.status_code == 501
    assert "sandbox" in answer.json()["message"]


def test_operation_polling_202_then_200(http: TestClient, tmp_path: Path) -> None:
    operation_id = post_sip(http, tmp_path).headers["X-Request-Id"]
    url = f"/admin-external/v1/operations/{operation_id}"
    running = http.head(url, headers=TENANT)
    assert running.status_code == 202
    assert running.headers["X-Global-Execution-State"] == "RUNNING"
    assert running.headers["X-Global-Execution-Status"] == "STARTED"
    assert running.headers["X-Context-Id"] == "INGEST"
    assert running.content == b""
    done = http.get(url, headers=TENANT)
    assert done.status_code == 200
    assert done.headers["X-Global-Execution-State"] == "COMPLETED"
    assert done.headers["X-Global-Execution-Status"] == "OK"
    item = done.json()["$results"][0]
    assert (item["itemId"], item["globalState"], item["globalStatus"]) == (operation_id, "COMPLETED", "OK")


def test_an_operation_is_invisible_from_another_tenant(http: TestClient, tmp_path: Path) -> None:
    operation_id = post_sip(http, tmp_path).headers["X-Request-Id"]
    other = {"X-Tenant-Id": "1"}
    assert http.head(f"/admin-external/v1/operations/{operation_id}", headers=other).status_code == 404
    assert http.get(f"/admin-external/v1/operations/{operation_id}", headers=other).status_code == 404
    atr = http.get(f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply", headers=other)
    assert atr.status_code == 404


def test_unknown_operation_is_404(http: TestClient) -> None:
    assert (
        http.head("/admin-external/v1/operations/aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", headers=TENANT).status_code
        == 404
    )
    assert http.head("/admin-external/v1/operations/..%2F..%2Fetc", headers=TENANT).status_code == 404


def test_atr_is_404_until_the_operation_completes(http: TestClient, tmp_path: Path) -> None:
    operation_id = post_sip(http, tmp_path).headers["X-Request-Id"]
    url = f"/ingest-external/v1/ingests/{operation_id}/archivetransferreply"
    early = http.get(url, headers=TENANT)
    assert early.status_code == 404
    assert (early.json()["httpCode"], early.json()["code"]) == (404, "040102")
    http.head(f"/admin-external/v1/operations/{operation_id}", headers=TENANT)  # the one RUNNING answer
    late = http.get(url, headers=TENANT)
    assert late.status_code == 200
    assert late.headers["content-type"] == "application/octet-stream"
    assert late.content.startswith(b"<?xml")


def test_client_retries_the_atr_until_it_exists(client: VitamClient, tmp_path: Path) -> None:
    operation_id = client.ingest(build_sip(tmp_path))
    with pytest.raises(VitamError) as caught:  # nobody polled: the operation never completes
        client.archive_transfer_reply(operation_id, attempts=2)
    assert (caught.value.http_code, caught.value.vitam_code) == (404, "040102")


def test_units_need_a_known_access_contract(http: TestClient, make_client: Callable[..., VitamClient]) -> None:
    for headers in (TENANT, {**TENANT, "X-Access-Contract-Id": "AC-999999"}):
        answer = http.request("GET", "/access-external/v1/units", json=UNITS_DSL, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["code"] == "000700"
    with pytest.raises(VitamError) as caught:
        make_client(access_contract="AC-999999").units_by_operation("aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert (caught.value.http_code, caught.value.vitam_code) == (401, "000700")


def test_units_dsl_without_projection_is_400(http: TestClient) -> None:
    headers = {**TENANT, "X-Access-Contract-Id": "AC-000001"}
    answer = http.request("GET", "/access-external/v1/units", json={"$query": []}, headers=headers)
    assert answer.status_code == 400
    error = VitamError.from_response(answer)
    assert (error.http_code, error.vitam_code) == (400, "000601")
    assert "$projection" in error.message


def test_units_with_method_override_and_projection(client: VitamClient, http: TestClient, tmp_path: Path) -> None:
    operation_id = client.ingest(build_sip(tmp_path))
    client.wait_for_operation(operation_id, sleep=lambda _: None)
    dsl = {
        "$roots": [],
        "$query": [{"$eq": {"#opi": operation_id}}],
        "$filter": {"$limit": 1},
        "$projection": {"$fields": {"#id": 1, "DescriptionLevel": 1}},
    }
    headers = {**TENANT, "X-Access-Contract-Id": "AC-000001", "X-Http-Method-Override": "GET"}
    answer = http.post("/access-external/v1/units", json=dsl, headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert body["$hits"] == {"total": 2, "offset": 0, "limit": 1, "size": 1}
    assert set(body["$results"][0]) == {"#id", "DescriptionLevel"}


def test_unsupported_queries_say_so(http: TestClient) -> None:
    headers = {**TENANT, "X-Access-Contract-Id": "AC-000001"}
    dsl = {"$query": [{"$match": {"Title": "notes"}}], "$projection": {}}
    answer = http.request("GET", "/access-external/v1/units", json=dsl, headers=headers)
    assert answer.status_code == 501
