"""The complete client against the sandbox, in process (httpx transport) and over HTTPS with
mutual TLS: ingest, status, ATR, logbook by id and by MessageIdentifier, units, one unit,
object groups, referentials."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.vitam_client.conftest import endpoint, no_sleep
from tests.vitam_client.sips import CONTENT, MANIFEST_21, MESSAGE_IDENTIFIER, build_sip
from tests.vitam_client.test_client import scripted
from vitam_client import (
    LogbookOperation,
    VitamClient,
    VitamConfigurationError,
    VitamNotFound,
    VitamTransportError,
    VitamUnauthorized,
    parse_atr,
)
from vitam_sandbox import SandboxConfig, create_app, make_tls_material, serve


def finished(client: VitamClient, sip: Path, **options: str) -> str:
    operation_id = client.ingest(sip, **options)
    client.wait_for_completion(operation_id)
    return operation_id


def test_logbook_by_id_and_by_message_identifier(client: VitamClient, tmp_path: Path) -> None:
    first = finished(client, build_sip(tmp_path, name="a.zip"))
    second = finished(client, build_sip(tmp_path, name="b.zip"))
    logbook = client.logbook_operation(first)
    assert (logbook.operation_id, logbook.type_proc, logbook.message_identifier) == (
        first,
        "INGEST",
        MESSAGE_IDENTIFIER,
    )
    assert logbook.outcome == "OK"
    assert logbook.final_event is not None and logbook.final_event.detail == "PROCESS_SIP_UNITARY.OK"
    found = client.ingests_of_message(MESSAGE_IDENTIFIER)
    assert [op.operation_id for op in found] == [second, first]  # newest first
    assert client.ingests_of_message("SIP-NEVER-SENT") == []


def test_a_running_operation_shows_no_final_event(make_client: Callable[..., VitamClient], tmp_path: Path) -> None:
    client = make_client()
    operation_id = client.ingest(build_sip(tmp_path))  # polls_before_completion = 1: not done yet
    running = client.logbook_operation(operation_id)
    assert running.outcome == "STARTED" and running.status().state == "RUNNING"


def test_the_logbook_of_a_refusal_says_why(client: VitamClient, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace("<Rule>APP-00001</Rule>", "<Rule>APP-99999</Rule>")
    operation_id = finished(client, build_sip(tmp_path, manifest=manifest))
    logbook = client.logbook_operation(operation_id)
    assert logbook.outcome == "KO"
    assert logbook.message_identifier == MESSAGE_IDENTIFIER  # CHECK_HEADER had run
    assert "UNITS_RULES_COMPUTE.UNKNOWN.KO" in [e.detail for e in logbook.failures()]


def test_a_sip_refused_before_its_header_is_read_keeps_the_operation_id_as_obidin(
    client: VitamClient, tmp_path: Path
) -> None:
    operation_id = finished(client, build_sip(tmp_path, manifest_name="bordereau.xml"))
    assert client.logbook_operation(operation_id).message_identifier == operation_id
    assert client.ingests_of_message(MESSAGE_IDENTIFIER) == []


def test_units_one_unit_and_object_groups(client: VitamClient, tmp_path: Path) -> None:
    operation_id = finished(client, build_sip(tmp_path))
    atr = parse_atr(client.archive_transfer_reply(operation_id))
    units = client.units_by_operation(operation_id)
    assert {u["#id"] for u in units} == set(atr.units.values())
    with_object = next(u for u in units if "#object" in u)
    unit = client.unit(with_object["#id"])
    assert unit["#opi"] == operation_id and unit["Title"] == "Relevé de notes"
    group = client.object_group_of_unit(unit["#id"])
    assert group.id == unit["#object"]
    (version,) = group.versions
    assert version.id == atr.objects["BDO1"]
    assert (version.algorithm, version.digest, version.size) == ("SHA-512", hashlib.sha512(CONTENT).hexdigest(), 1)
    assert version.version == "BinaryMaster_1"
    with pytest.raises(VitamNotFound):
        client.unit("aeaqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")


def test_units_of_another_tenant_are_not_visible(make_client: Callable[..., VitamClient], tmp_path: Path) -> None:
    operation_id = finished(make_client(), build_sip(tmp_path))
    unit_id = make_client().units_by_operation(operation_id)[0]["#id"]
    with pytest.raises(VitamNotFound):
        make_client(tenant=1).unit(unit_id)
    with pytest.raises(VitamNotFound):
        make_client(tenant=1).logbook_operation(operation_id)


def test_access_needs_a_known_contract(make_client: Callable[..., VitamClient], tmp_path: Path) -> None:
    with pytest.raises(VitamUnauthorized) as caught:
        make_client(access_contract="AC-INCONNU").ingests_of_message(MESSAGE_IDENTIFIER)
    assert caught.value.vitam_code == "000700"
    with pytest.raises(VitamConfigurationError):
        make_client(access_contract=None).logbook_operation("aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")


def test_referentials(client: VitamClient) -> None:
    rules = {r["RuleId"]: r["RuleType"] for r in client.rules()}
    assert rules["APP-00001"] == "AppraisalRule" and rules["HOL-00001"] == "HoldRule"
    assert client.rules("ACC-00016")[0]["RuleType"] == "AccessRule"
    assert [c["Identifier"] for c in client.ingest_contracts()] == ["IC-000001"]
    assert "UNIV-DEMO" in {a["Identifier"] for a in client.agencies()}
    with pytest.raises(VitamNotFound):
        client.agencies("NULLE-PART")


def test_polling_falls_back_to_the_logbook_once_the_operation_is_purged() -> None:
    purged = httpx.Response(404)
    logbook = httpx.Response(
        200,
        json={
            "$results": [
                {
                    "evIdProc": "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "evTypeProc": "INGEST",
                    "obIdIn": MESSAGE_IDENTIFIER,
                    "events": [{"evType": "PROCESS_SIP_UNITARY", "outcome": "WARNING"}],
                }
            ]
        },
    )
    handler, seen = scripted(purged, logbook)
    client = VitamClient(endpoint(), transport=httpx.MockTransport(handler), sleep=no_sleep)
    status = client.wait_for_operation("aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert (status.state, status.status) == ("COMPLETED", "WARNING")
    assert [r.url.path for r in seen] == [
        "/admin-external/v1/operations/aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "/access-external/v1/logbookoperations/aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]
    assert seen[1].headers["X-Access-Contract-Id"] == "AC-000001"


def test_a_fatal_logbook_operation_needs_an_operator() -> None:
    data = {"evIdProc": "op", "events": [{"evType": "PROCESS_SIP_UNITARY", "outcome": "FATAL"}]}
    assert LogbookOperation.from_json(data).status().needs_operator


def test_everything_over_https_with_client_certificates(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls", require_client_cert=True)
    with (
        serve(create_app(sandbox_config), tls=tls) as base_url,
        VitamClient(endpoint(base_url, verify=str(tls.ca_path), client_cert=tls.client_cert), sleep=no_sleep) as client,
    ):
        operation_id = finished(client, build_sip(tmp_path))
        atr = parse_atr(client.archive_transfer_reply(operation_id))
        assert atr.reply_code == "OK"
        assert client.ingests_of_message(MESSAGE_IDENTIFIER)[0].operation_id == operation_id
        unit_id = atr.units["AU2"]
        assert client.object_group_of_unit(unit_id).versions[0].size == 1
        assert client.rules("APP-00001")
        assert client.status() == {"ingest-external": True, "admin-external": True, "access-external": True}
    with (
        serve(create_app(sandbox_config), tls=tls) as base_url,
        VitamClient(endpoint(base_url, verify=str(tls.ca_path)), sleep=no_sleep) as anonymous,
        pytest.raises(VitamTransportError),  # no client certificate: the handshake fails
    ):
        anonymous.status()
