"""End to end through VitamClient and the sandbox (in process): the OK path, every KO reason,
WARNING, dry runs, and the ATR against the official schema."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.vitam_client.conftest import no_sleep
from tests.vitam_client.sips import CONTENT, MANIFEST_21, MESSAGE_IDENTIFIER, build_sip, manifest_sha512
from vitam_client import ArchiveTransferReply, VitamClient, VitamError, parse_atr

SEDA_21 = "fr:gouv:culture:archivesdefrance:seda:v2.1"


class LocalW3C(etree.Resolver):
    """The SEDA schemas import the W3C xml.xsd/xlink.xsd by URL; serve the local copies."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        name = {"http://www.w3.org/2001/xml.xsd": "xml.xsd", "http://www.w3.org/1999/xlink.xsd": "xlink.xsd"}
        return self.resolve_filename(str(self.folder / name[url]), context) if url in name else None


@functools.cache
def official_schema(main: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalW3C(main.parent))
    return etree.XMLSchema(etree.parse(str(main), parser))


def assert_valid(atr: bytes, schemas: Path, version: str) -> None:
    schema = official_schema(schemas / version / f"seda-{version}-main.xsd")
    document = etree.fromstring(atr)
    assert schema.validate(document), schema.error_log


def finish(client: VitamClient, operation_id: str) -> ArchiveTransferReply:
    status = client.wait_for_operation(operation_id, sleep=no_sleep)
    assert status.state == "COMPLETED"
    return parse_atr(client.archive_transfer_reply(operation_id))


def ingest(client: VitamClient, sip: Path, **options: Any) -> tuple[str, ArchiveTransferReply]:
    operation_id = client.ingest(sip, **options)
    return operation_id, finish(client, operation_id)


# -- the OK path ---------------------------------------------------------------------------------


def test_full_ok_path(client: VitamClient, tmp_path: Path, seda_schemas: Path) -> None:
    sip = build_sip(tmp_path)
    operation_id = client.ingest(sip, manifest_sha512=manifest_sha512())
    assert operation_id.startswith("aeeaaa") and len(operation_id) == 36

    first = client.operation_status(operation_id)
    assert (first.state, first.status, first.finished) == ("RUNNING", "STARTED", False)
    second = client.operation_status(operation_id)
    assert (second.state, second.status, second.finished) == ("COMPLETED", "OK", True)

    raw = client.archive_transfer_reply(operation_id)
    atr = parse_atr(raw)
    assert atr.reply_code == "OK" and atr.accepted and not atr.is_test
    assert atr.seda_version == "2.1"
    assert atr.operation_id == operation_id
    assert atr.message_request_identifier == MESSAGE_IDENTIFIER
    assert atr.archival_agreement == "IC-000001"
    assert atr.grant_date is not None
    assert atr.events == ()
    assert set(atr.units) == {"AU1", "AU2"}
    assert set(atr.objects) == {"BDO1"}
    assert all(value.startswith("aeaqaa") for value in atr.units.values())
    assert atr.objects["BDO1"].startswith("aeaaaa")
    assert_valid(raw, seda_schemas, "2.1")

    units = client.units_by_operation(operation_id)
    assert {unit["#id"] for unit in units} == set(atr.units.values())
    by_id = {unit["#id"]: unit for unit in units}
    assert by_id[atr.units["AU2"]]["Title"] == "Relevé de notes"
    assert by_id[atr.units["AU2"]]["#opi"] == operation_id
    assert by_id[atr.units["AU2"]]["#object"].startswith("aebaaa")
    assert "#object" not in by_id[atr.units["AU1"]]


def test_the_atr_keeps_the_group_and_version_of_each_object(client: VitamClient, tmp_path: Path) -> None:
    operation_id, _ = ingest(client, build_sip(tmp_path))
    root = etree.fromstring(client.archive_transfer_reply(operation_id))
    ns = {"s": SEDA_21}
    binary = root.find("s:DataObjectPackage/s:DataObjectGroup[@id='GOT1']/s:BinaryDataObject", ns)
    assert binary is not None and binary.get("id") == "BDO1"
    assert binary.findtext("s:DataObjectGroupSystemId", namespaces=ns).startswith("aebaaa")
    assert binary.findtext("s:DataObjectVersion", namespaces=ns) == "BinaryMaster_1"


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_each_seda_version_is_answered_in_its_own_namespace(
    client: VitamClient, tmp_path: Path, seda_schemas: Path, version: str
) -> None:
    manifest = (seda_schemas / "examples" / f"synthetic-typical-{version}.xml").read_bytes()
    _, atr = ingest(client, build_sip(tmp_path, manifest=manifest))
    assert (atr.reply_code, atr.seda_version) == ("OK", version)
    assert atr.message_request_identifier == "SIP-0001"
    assert set(atr.units) == {"AU1", "AU2"}


def test_ok_atr_of_each_version_validates(client: VitamClient, tmp_path: Path, seda_schemas: Path) -> None:
    for version in ("2.2", "2.3"):
        manifest = (seda_schemas / "examples" / f"synthetic-typical-{version}.xml").read_bytes()
        operation_id, _ = ingest(client, build_sip(tmp_path, manifest=manifest, name=f"{version}.zip"))
        assert_valid(client.archive_transfer_reply(operation_id), seda_schemas, version)


def test_the_manifest_can_be_downloaded_after_an_ok_ingest(client: VitamClient, tmp_path: Path, http: Any) -> None:
    operation_id, _ = ingest(client, build_sip(tmp_path))
    answer = http.get(f"/ingest-external/v1/ingests/{operation_id}/manifests", headers={"X-Tenant-Id": "0"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.content == MANIFEST_21.encode()


# -- every KO reason -----------------------------------------------------------------------------

OTHER_DIGEST = hashlib.sha512(b"y").hexdigest()
SIP_KO_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "not a zip": ({"raw": b"%PDF-1.4 not a container"}, "CHECK_CONTAINER.KO"),
    "manifest badly named": ({"manifest_name": "bordereau.xml"}, "MANIFEST_FILE_NAME_CHECK.KO"),
    "manifest with a forbidden prefix": ({"manifest_name": "$_manifest.xml"}, "MANIFEST_FILE_NAME_CHECK.KO"),
    "two manifests": (
        {"files": {"content/BDO1.txt": CONTENT, "other_manifest.xml": b"<x/>"}},
        "CHECK_SEDA.CONTAINER_FORMAT.FILE.KO",
    ),
    "a second folder": (
        {"files": {"content/BDO1.txt": CONTENT, "annexes/readme.txt": b"x"}},
        "CHECK_SEDA.CONTAINER_FORMAT.DIRECTORY.KO",
    ),
    "not XML": ({"manifest": b"<ArchiveTransfer><unclosed>"}, "CHECK_SEDA.NOT_XML_FILE.KO"),
    "SEDA 2.0": ({"manifest": MANIFEST_21.replace("seda:v2.1", "seda:v2.0")}, "CHECK_SEDA.UNSUPPORTED_SEDA_VERSION.KO"),
    "invalid against the XSD": (
        {"manifest": MANIFEST_21.replace("<Date>2024-01-01T12:00:00</Date>", "<Date>hier</Date>")},
        "CHECK_SEDA.NOT_XSD_VALID.KO",
    ),
    "no ingest contract": (
        {"manifest": MANIFEST_21.replace("<ArchivalAgreement>IC-000001</ArchivalAgreement>", "")},
        "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST.KO",
    ),
    "unknown ingest contract": (
        {"manifest": MANIFEST_21.replace("IC-000001", "IC-999999")},
        "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN.KO",
    ),
    "unknown originating agency": (
        {"manifest": MANIFEST_21.replace("<OriginatingAgencyIdentifier>UNIV-DEMO", "<OriginatingAgencyIdentifier>X")},
        "CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO",
    ),
    "no originating agency": (
        {"manifest": MANIFEST_21.replace("<OriginatingAgencyIdentifier>UNIV-DEMO</OriginatingAgencyIdentifier>", "")},
        "CHECK_HEADER.CHECK_AGENT.EMPTY_REQUIRED_FIELD.KO",
    ),
    "a file not declared": (
        {"files": {"content/BDO1.txt": CONTENT, "content/extra.txt": b"?"}},
        "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_INFERIOR_BDO.KO",
    ),
    "a declared file missing": (
        {"files": {}},
        "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_SUPERIOR_BDO.KO",
    ),
    "a Uri pointing elsewhere": (
        {"files": {"content/other.txt": CONTENT}},
        "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.INVALID_URI.KO",
    ),
    "an unsupported digest algorithm": (
        {"manifest": MANIFEST_21.replace('algorithm="SHA-512"', 'algorithm="SHA-3"')},
        "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_DATAOBJECT_VERSION.INVALIDE_ALGO.KO",
    ),
    "a wrong digest": ({"files": {"content/BDO1.txt": b"y"}}, "CHECK_DIGEST.KO"),
    "a unit without title": (
        {"manifest": MANIFEST_21.replace("<Title>Relevé de notes</Title>", "")},
        "CHECK_UNIT_SCHEMA.INVALID_UNIT.KO",
    ),
    "a unit without description level": (
        {"manifest": MANIFEST_21.replace("<DescriptionLevel>Item</DescriptionLevel>", "")},
        "CHECK_UNIT_SCHEMA.INVALID_UNIT.KO",
    ),
    "an unknown rule": (
        {"manifest": MANIFEST_21.replace("<Rule>APP-00001</Rule>", "<Rule>APP-99999</Rule>")},
        "UNITS_RULES_COMPUTE.UNKNOWN.KO",
    ),
    "a rule of another category": (
        {"manifest": MANIFEST_21.replace("<Rule>APP-00001</Rule>", "<Rule>ACC-00016</Rule>")},
        "UNITS_RULES_COMPUTE.CONSISTENCY.KO",
    ),
}


@pytest.mark.parametrize(("case", "expected"), SIP_KO_CASES.values(), ids=SIP_KO_CASES.keys())
def test_each_refusal_reason(
    make_client: Callable[..., VitamClient], tmp_path: Path, case: dict[str, Any], expected: str
) -> None:
    client = make_client()
    if "raw" in case:
        sip = tmp_path / "sip.zip"
        sip.write_bytes(case["raw"])
    else:
        sip = build_sip(tmp_path, **case)
    operation_id, atr = ingest(client, sip)
    assert atr.reply_code == "KO"
    assert not atr.accepted
    details = [event.detail for event in atr.events]
    assert expected in details, details
    assert all(event.outcome == "KO" for event in atr.events)
    assert all(event.type and event.message and event.date for event in atr.events)
    assert client.units_by_operation(operation_id) == []


def test_a_refusal_names_the_step_the_action_and_the_reason(client: VitamClient, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace("<OriginatingAgencyIdentifier>UNIV-DEMO", "<OriginatingAgencyIdentifier>X")
    _, atr = ingest(client, build_sip(tmp_path, manifest=manifest))
    assert [(e.type_code, e.detail) for e in atr.events] == [
        ("STP_INGEST_CONTROL_SIP", "STP_INGEST_CONTROL_SIP.KO"),
        ("CHECK_HEADER", "CHECK_HEADER.KO"),
        ("CHECK_HEADER.CHECK_AGENT", "CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO"),
    ]
    assert atr.events[2].type == "Vérification de la présence et du contrôle des services agents"
    assert "inconnus" in (atr.events[2].message or "")
    # As in VITAM's KO replies, the SIP's header is not echoed before the package is extracted.
    assert atr.message_request_identifier is None
    assert atr.archival_agreement is None


def test_a_refused_manifest_digest(client: VitamClient, tmp_path: Path) -> None:
    _, atr = ingest(client, build_sip(tmp_path), manifest_sha512=OTHER_DIGEST)
    assert atr.reply_code == "KO"
    assert "MANIFEST_DIGEST_CHECK.KO" in [event.detail for event in atr.events]


def test_a_late_refusal_still_maps_the_units(client: VitamClient, tmp_path: Path, http: Any) -> None:
    """Past CHECK_DATAOBJECTPACKAGE, VITAM has given identifiers, and the KO reply lists them."""
    operation_id, atr = ingest(client, build_sip(tmp_path, files={"content/BDO1.txt": b"y"}))
    assert set(atr.units) == {"AU1", "AU2"}
    assert atr.message_request_identifier == MESSAGE_IDENTIFIER
    assert atr.archival_agreement == "IC-000001"
    answer = http.get(f"/ingest-external/v1/ingests/{operation_id}/manifests", headers={"X-Tenant-Id": "0"})
    assert answer.status_code == 404  # manifests are kept for OK and WARNING only


def test_late_refusal_and_warning_replies_validate(client: VitamClient, tmp_path: Path, seda_schemas: Path) -> None:
    wrong_digest = build_sip(tmp_path, files={"content/BDO1.txt": b"y"}, name="ko.zip")
    wrong_size = build_sip(tmp_path, manifest=MANIFEST_21.replace("<Size>1</Size>", "<Size>7</Size>"), name="w.zip")
    for sip in (wrong_digest, wrong_size):
        operation_id, _ = ingest(client, sip)
        assert_valid(client.archive_transfer_reply(operation_id), seda_schemas, "2.1")


def test_an_early_refusal_has_no_identifiers(client: VitamClient, tmp_path: Path) -> None:
    _, atr = ingest(client, build_sip(tmp_path, manifest=MANIFEST_21.replace("IC-000001", "IC-999999")))
    assert atr.units == {} and atr.objects == {}
    assert atr.message_request_identifier is None


def test_replies_to_unreadable_sips_default_to_seda_22(client: VitamClient, tmp_path: Path) -> None:
    for name, manifest in (("v20.zip", MANIFEST_21.replace("seda:v2.1", "seda:v2.0")), ("bad.zip", "<x")):
        _, atr = ingest(client, build_sip(tmp_path, manifest=manifest, name=name))
        assert (atr.reply_code, atr.seda_version) == ("KO", "2.2")


# -- WARNING and dry runs ------------------------------------------------------------------------


def test_a_wrong_size_is_a_warning_and_the_archives_are_kept(client: VitamClient, tmp_path: Path) -> None:
    operation_id, atr = ingest(
        client, build_sip(tmp_path, manifest=MANIFEST_21.replace("<Size>1</Size>", "<Size>7</Size>"))
    )
    assert atr.reply_code == "WARNING" and atr.accepted
    assert "CHECK_OBJECT_SIZE.WARNING" in [event.detail for event in atr.events]
    assert {unit["#id"] for unit in client.units_by_operation(operation_id)} == set(atr.units.values())


def test_blank_test_ok(client: VitamClient, tmp_path: Path, http: Any) -> None:
    operation_id, atr = ingest(client, build_sip(tmp_path), context_id="BLANK_TEST")
    assert atr.reply_code == "Test OK"
    assert atr.is_test and not atr.accepted
    assert atr.grant_date is None
    assert atr.message_request_identifier == MESSAGE_IDENTIFIER
    head = http.head(f"/admin-external/v1/operations/{operation_id}", headers={"X-Tenant-Id": "0"})
    assert head.headers["X-Context-Id"] == "INGEST_TEST"
    assert client.units_by_operation(operation_id) == []  # nothing stored


def test_blank_test_ko(client: VitamClient, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace("<Rule>APP-00001</Rule>", "<Rule>APP-99999</Rule>")
    _, atr = ingest(client, build_sip(tmp_path, manifest=manifest), context_id="BLANK_TEST")
    assert atr.reply_code == "Test KO"
    assert atr.grant_date is None
    assert "UNITS_RULES_COMPUTE.UNKNOWN.KO" in [event.detail for event in atr.events]


def test_a_sip_without_objects_ends_in_warning(client: VitamClient, tmp_path: Path) -> None:
    group = MANIFEST_21[MANIFEST_21.index("<DataObjectGroup ") : MANIFEST_21.index("<DescriptiveMetadata>")]
    reference = MANIFEST_21[MANIFEST_21.index("<DataObjectReference>") : MANIFEST_21.index("</ArchiveUnit>")]
    manifest = MANIFEST_21.replace(group, "").replace(reference, "")
    operation_id, atr = ingest(client, build_sip(tmp_path, manifest=manifest, files={}))
    assert atr.reply_code == "WARNING" and atr.accepted
    assert [event.detail for event in atr.events] == ["STP_OG_CHECK_AND_TRANSFORME.WARNING"]
    assert len(client.units_by_operation(operation_id)) == 2


def test_an_unknown_workflow_is_refused_with_an_atr(client: VitamClient, tmp_path: Path) -> None:
    with pytest.raises(VitamError) as caught:
        client.ingest(build_sip(tmp_path), context_id="NO_SUCH_WORKFLOW")
    error = caught.value
    assert error.http_code == 503
    assert error.request_id is not None and error.request_id.startswith("aeeaaa")
    assert error.atr is not None
    atr = parse_atr(error.atr)
    assert atr.reply_code == "KO"
    assert [event.detail for event in atr.events] == ["STP_UPLOAD_SIP.KO"]
    assert "STP_UPLOAD_SIP.KO" in str(error)
