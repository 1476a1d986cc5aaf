"""access-external and the logbook answer for what the sandbox archived, across restarts:
units by #opi, one unit, the object group of a unit (SHA-512, size), logbook operations by id
and by obIdIn; ATRs of each SEDA version."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from starlette.exceptions import StarletteDeprecationWarning

from tests.vitam_client.sips import CONTENT, MANIFEST_21, MESSAGE_IDENTIFIER, build_sip
from tests.vitam_sandbox.helpers import ACCESS, ACCESS_HEADERS, details, ingest, reply_code
from tests.vitam_sandbox.test_ingest import assert_valid
from vitam_sandbox import SandboxConfig, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def get(http: Any, path: str, dsl: dict[str, Any] | None = None, /, **headers: str) -> Any:
    return http.request(
        "GET",
        f"{ACCESS}{path}",
        json=dsl if dsl is not None else {"$projection": {}},
        headers={**ACCESS_HEADERS, **headers},
    )


def by_obidin(message_identifier: str) -> dict[str, Any]:
    return {
        "$query": {"$and": [{"$eq": {"obIdIn": message_identifier}}, {"$eq": {"evTypeProc": "INGEST"}}]},
        "$filter": {"$orderby": {"evDateTime": -1}},
        "$projection": {},
    }


def test_what_an_ingest_archived_reads_back_and_survives_a_restart(
    sandbox_config: SandboxConfig, tmp_path: Path
) -> None:
    config = replace(sandbox_config, storage_dir=tmp_path / "storage")
    with TestClient(create_app(config)) as http:
        operation_id, atr = ingest(http, build_sip(tmp_path).read_bytes(), **{"X-Application-Id": "tests"})
        assert reply_code(atr) == "OK"
    with TestClient(create_app(config)) as http:  # a restarted sandbox
        units = get(http, "/units", {"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}}).json()
        assert units["$hits"] == {"total": 2, "offset": 0, "limit": 10000, "size": 2}
        assert units["$context"]["$query"] == [{"$eq": {"#opi": operation_id}}]
        system_ids = {u.get("id"): u.findtext("{*}Content/{*}SystemId") for u in atr.iter("{*}ArchiveUnit")}
        assert {u["#id"] for u in units["$results"]} == set(system_ids.values())
        item = get(http, f"/units/{system_ids['AU2']}").json()["$results"][0]
        assert item["Title"] == "Relevé de notes" and item["#opi"] == operation_id
        assert item["#unitups"] == [system_ids["AU1"]]
        assert item["#management"] == {}
        parent = get(http, f"/units/{system_ids['AU1']}").json()["$results"][0]
        assert parent["#management"]["AppraisalRule"]["Rules"] == [{"Rule": "APP-00001"}]

        group = get(http, f"/units/{system_ids['AU2']}/objects").json()["$results"][0]
        version = group["#qualifiers"][0]["versions"][0]
        assert group["#qualifiers"][0]["qualifier"] == "BinaryMaster"
        assert version["DataObjectVersion"] == "BinaryMaster_1"
        assert (version["MessageDigest"], version["Algorithm"], version["Size"]) == (
            hashlib.sha512(CONTENT).hexdigest(),
            "SHA-512",
            len(CONTENT),
        )
        atr_objects = {o.get("id"): o.findtext("{*}DataObjectSystemId") for o in atr.iter("{*}BinaryDataObject")}
        assert version["#id"] == atr_objects["BDO1"]
        assert get(http, f"/units/{system_ids['AU1']}/objects").status_code == 404  # AU1 has no object

        found = get(http, "/logbookoperations", by_obidin(MESSAGE_IDENTIFIER)).json()
        assert [r["evIdProc"] for r in found["$results"]] == [operation_id]
        logbook = get(http, f"/logbookoperations/{operation_id}").json()["$results"][0]
        assert (logbook["evType"], logbook["evTypeProc"], logbook["outcome"]) == (
            "PROCESS_SIP_UNITARY",
            "INGEST",
            "STARTED",
        )
        assert logbook["obIdIn"] == MESSAGE_IDENTIFIER and logbook["evIdAppSession"] == "tests"
        assert logbook["events"][-1]["outDetail"] == "PROCESS_SIP_UNITARY.OK"
        by_proc = get(http, "/logbookoperations", {"$query": {"$eq": {"evIdProc": operation_id}}, "$projection": {}})
        assert by_proc.json()["$hits"]["total"] == 1


def test_a_ko_ingest_is_in_the_logbook_with_its_reason_and_archives_nothing(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace("ACC-00001", "ACC-99999")
    operation_id, atr = ingest(http, build_sip(tmp_path, manifest=manifest).read_bytes())
    assert reply_code(atr) == "KO"
    logbook = get(http, f"/logbookoperations/{operation_id}").json()["$results"][0]
    failed = [e for e in logbook["events"] if e["outcome"] == "KO"]
    assert failed[0]["evType"] == "STP_UNIT_CHECK_AND_PROCESS"
    assert "UNITS_RULES_COMPUTE.UNKNOWN.KO" in [e["outDetail"] for e in failed]
    assert logbook["events"][-1]["outDetail"] == "PROCESS_SIP_UNITARY.KO"
    units = get(http, "/units", {"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}}).json()
    assert units["$hits"]["total"] == 0


def test_obidin_is_the_operation_id_until_the_header_was_read(http: Any) -> None:
    operation_id, _ = ingest(http, b"not a container at all")
    logbook = get(http, f"/logbookoperations/{operation_id}").json()["$results"][0]
    assert logbook["obIdIn"] == operation_id


def test_access_needs_an_active_access_contract_and_a_valid_query(http: Any) -> None:
    assert get(http, "/units", **{"X-Access-Contract-Id": "AC-UNKNOWN"}).status_code == 401
    assert get(http, "/units", {"$query": []}).status_code == 400  # no $projection
    assert get(http, "/units", {"$query": [{"$wildcard": {"Title": "x*"}}], "$projection": {}}).status_code == 501
    assert get(http, "/logbookoperations", {"$query": {"$bogus": {}}}).status_code == 400
    answer = http.request("GET", f"{ACCESS}/units", content=b"{not json", headers=ACCESS_HEADERS)
    assert answer.status_code == 500
    assert get(http, "/units/aeaqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").status_code == 404


def test_post_with_method_override(http: Any, tmp_path: Path) -> None:
    operation_id, _ = ingest(http, build_sip(tmp_path).read_bytes())
    dsl = {"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {"$fields": {"#id": 1}}}
    answer = http.post(f"{ACCESS}/units", json=dsl, headers={**ACCESS_HEADERS, "X-Http-Method-Override": "GET"})
    assert answer.status_code == 200 and all(set(u) == {"#id"} for u in answer.json()["$results"])
    assert http.post(f"{ACCESS}/units", json=dsl, headers=ACCESS_HEADERS).status_code == 405


def test_another_tenant_sees_nothing(http: Any, tmp_path: Path) -> None:
    operation_id, _ = ingest(http, build_sip(tmp_path).read_bytes())
    other = get(
        http, "/units", {"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}}, **{"X-Tenant-Id": "1"}
    )
    assert other.json()["$hits"]["total"] == 0
    assert get(http, f"/logbookoperations/{operation_id}", **{"X-Tenant-Id": "1"}).status_code == 404


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_the_atr_is_in_the_sips_seda_version(http: Any, tmp_path: Path, seda_schemas: Path, version: str) -> None:
    manifest = MANIFEST_21.replace("seda:v2.1", f"seda:v{version}")
    _, atr = ingest(http, build_sip(tmp_path, manifest=manifest).read_bytes())
    assert reply_code(atr) == "OK", details(atr)
    assert etree.QName(atr).namespace == f"fr:gouv:culture:archivesdefrance:seda:v{version}"
    assert_valid(etree.tostring(atr), seda_schemas, version)


def test_referentials_on_admin_external(http: Any) -> None:
    rules = http.request(
        "GET",
        "/admin-external/v1/rules",
        json={"$query": {"$eq": {"RuleType": "HoldRule"}}, "$projection": {}},
        headers={"X-Tenant-Id": "0"},
    )
    assert {r["RuleId"] for r in rules.json()["$results"]} == {"HOL-00001", "HOL-00002", "HOL-00003"}
    contract = http.get("/admin-external/v1/ingestcontracts/IC-000001", headers={"X-Tenant-Id": "0"})
    assert contract.json()["$results"][0]["Status"] == "ACTIVE"
    assert http.get("/admin-external/v1/agencies/NOPE", headers={"X-Tenant-Id": "0"}).status_code == 404


def test_a_defect_in_the_controls_leaves_the_operation_fatal(
    http: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a sandbox defect")

    monkeypatch.setattr("vitam_sandbox.app.run_ingest", broken)
    answer = http.post(
        "/ingest-external/v1/ingests",
        content=build_sip(tmp_path).read_bytes(),
        headers={
            "X-Tenant-Id": "0",
            "X-Context-Id": "DEFAULT_WORKFLOW",
            "X-Action": "RESUME",
            "Content-Type": "application/octet-stream",
        },
    )
    status = http.head(f"/admin-external/v1/operations/{answer.headers['X-Request-Id']}", headers={"X-Tenant-Id": "0"})
    assert (status.headers["X-Global-Execution-State"], status.headers["X-Global-Execution-Status"]) == (
        "PAUSE",
        "FATAL",
    )
