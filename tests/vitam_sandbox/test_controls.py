"""Each ingest control of vitam-api.md §9.4/§10.1 the sandbox runs, with one crafted SIP each,
asserting VITAM's outcome detail codes; the good SIP passes; hostile and huge inputs are refused
cleanly. Raw HTTP in process (Starlette's TestClient), no vitam_client."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from starlette.exceptions import StarletteDeprecationWarning

from tests.vitam_client.sips import CONTENT_SHA512, MANIFEST_21, build_sip
from tests.vitam_sandbox.helpers import (
    ACCESS,
    ACCESS_HEADERS,
    details,
    ingest,
    reply_code,
    tar_sip,
    technical,
)
from vitam_sandbox import DEMO_REFERENTIALS, SandboxConfig, create_app, load_referentials

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PACKAGE = "CHECK_DATAOBJECTPACKAGE"


def zipped(tmp_path: Path, manifest: str | bytes = MANIFEST_21, **options: Any) -> bytes:
    return build_sip(tmp_path, manifest=manifest, **options).read_bytes()


@pytest.fixture
def custom(sandbox_config: SandboxConfig, tmp_path: Path) -> Iterator[Any]:
    """Build a sandbox on a copy of the demo referentials, with the contract changed."""
    opened: list[TestClient] = []

    def make(contract: dict[str, Any] | None = None, formats: str | None = None) -> TestClient:
        folder = tmp_path / f"referentials-{len(opened)}"
        shutil.copytree(DEMO_REFERENTIALS, folder)
        contracts = json.loads((folder / "ingest_contracts.json").read_text(encoding="utf-8"))
        contracts[0].update(contract or {})
        (folder / "ingest_contracts.json").write_text(json.dumps(contracts), encoding="utf-8")
        if formats is not None:
            (folder / "formats.xml").write_text(formats, encoding="utf-8")
        config = replace(sandbox_config, referentials=load_referentials(folder))
        client = TestClient(create_app(config))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


# -- containers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2"])
def test_tar_containers_are_accepted(http: Any, mode: str) -> None:
    operation_id, atr = ingest(http, tar_sip(MANIFEST_21, mode=mode))
    assert reply_code(atr) == "OK", details(atr)
    units = http.request(
        "GET",
        f"{ACCESS}/units",
        json={"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}},
        headers=ACCESS_HEADERS,
    ).json()
    assert units["$hits"]["total"] == 2


def test_the_container_type_comes_from_the_content_not_the_name(http: Any, tmp_path: Path) -> None:
    _, atr = ingest(http, b"PK but not really a zip, only text named .zip")
    assert reply_code(atr) == "KO" and "CHECK_CONTAINER.KO" in details(atr)
    _, atr = ingest(http, b"\x00" * 1024)  # neither zip nor tar: no ustar magic
    assert "CHECK_CONTAINER.KO" in details(atr)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(gzip.compress(b"gzip, but no tar inside"), id="gzip-without-tar"),
        pytest.param(bz2.compress(b"bzip2, but no tar inside"), id="bzip2-without-tar"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 40, id="broken-zip"),
    ],
)
def test_a_container_that_cannot_be_unpacked_fails_the_reception(http: Any, data: bytes) -> None:
    _, atr = ingest(http, data)
    assert details(atr)[0] == "STP_UPLOAD_SIP.KO" and "UPLOAD_SIP.KO" in details(atr)


@pytest.mark.parametrize("name", ["content/../../evil.txt", "/etc/passwd", "content/a\x01b.txt", "content/a:b.txt"])
def test_unsafe_file_names_fail_the_reception(http: Any, tmp_path: Path, name: str) -> None:
    _, atr = ingest(http, zipped(tmp_path, files={"content/BDO1.txt": b"x", name: b"y"}))
    assert "STP_UPLOAD_SIP.KO" in details(atr)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_links_in_a_tar_fail_the_reception(http: Any) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = MANIFEST_21.encode()
        info = tarfile.TarInfo("manifest.xml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("content/BDO1.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    _, atr = ingest(http, buffer.getvalue())
    assert "STP_UPLOAD_SIP.KO" in details(atr) and "link" in technical(atr)


# -- header and contract -------------------------------------------------------------------------


def test_an_inactive_contract(custom: Any, tmp_path: Path) -> None:
    _, atr = ingest(custom({"Status": "INACTIVE"}), zipped(tmp_path))
    assert "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_INACTIVE.KO" in details(atr)


def test_an_archival_profile_the_contract_does_not_list(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace(
        "<ManagementMetadata>", "<ManagementMetadata><ArchivalProfile>PR-999</ArchivalProfile>"
    )
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "CHECK_HEADER.CHECK_IC_AP_RELATION.DIFF.KO" in details(atr)


# -- the unit tree -------------------------------------------------------------------------------

STUB_TO_AU1 = '<ArchiveUnit id="AU1REF"><ArchiveUnitRefId>AU1</ArchiveUnitRefId></ArchiveUnit>'


def test_a_cycle_in_the_unit_tree(http: Any, tmp_path: Path) -> None:
    # AU2 (a child of AU1) points back to AU1.
    manifest = MANIFEST_21.replace("</DataObjectReference>", f"</DataObjectReference>{STUB_TO_AU1}")
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_LOOP.KO" in details(atr)
    assert "AU1 -> AU2 -> AU1" in technical(atr)


def test_a_unit_referencing_itself(http: Any, tmp_path: Path) -> None:
    stub = '<ArchiveUnit id="AU2SELF"><ArchiveUnitRefId>AU2</ArchiveUnitRefId></ArchiveUnit>'
    manifest = MANIFEST_21.replace("</DataObjectReference>", f"</DataObjectReference>{stub}")
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_LOOP.KO" in details(atr)


def test_a_flat_tree_with_several_parents_is_no_cycle(http: Any, tmp_path: Path) -> None:
    # AU3 declared at the top level, listed under both AU1 and AU2: a DAG, accepted.
    au3 = (
        '<ArchiveUnit id="AU3"><Content><DescriptionLevel>Item</DescriptionLevel>'
        "<Title>Annexe partagée</Title></Content></ArchiveUnit>"
    )
    manifest = (
        MANIFEST_21.replace(
            "</DataObjectReference>",
            '</DataObjectReference><ArchiveUnit id="R2"><ArchiveUnitRefId>AU3</ArchiveUnitRefId></ArchiveUnit>',
        )
        .replace(
            '        <ArchiveUnit id="AU2">',
            '        <ArchiveUnit id="R1"><ArchiveUnitRefId>AU3</ArchiveUnitRefId></ArchiveUnit>\n'
            '        <ArchiveUnit id="AU2">',
        )
        .replace("    </DescriptiveMetadata>", f"      {au3}\n    </DescriptiveMetadata>")
    )
    operation_id, atr = ingest(http, zipped(tmp_path, manifest))
    assert reply_code(atr) == "OK", details(atr)
    units = {u["Title"]: u for u in _units(http, operation_id)}
    ids = {title: unit["#id"] for title, unit in units.items()}
    shared = units["Annexe partagée"]
    assert set(shared["#unitups"]) == {ids["Dossiers étudiants 2023"], ids["Relevé de notes"]}
    assert set(shared["#allunitups"]) == {ids["Dossiers étudiants 2023"], ids["Relevé de notes"]}


def _attaching(system_id: str) -> str:
    """A SIP whose AU1 stands for an archived unit (UpdateOperation/SystemId); AU2 is new under it."""
    return MANIFEST_21.replace(
        "        </Management>\n        <Content>",
        f"          <UpdateOperation><SystemId>{system_id}</SystemId></UpdateOperation>\n"
        "        </Management>\n        <Content>",
        1,
    )


def _units(http: Any, operation_id: str) -> list[dict[str, Any]]:
    answer = http.request(
        "GET",
        f"{ACCESS}/units",
        json={"$query": [{"$eq": {"#opi": operation_id}}], "$projection": {}},
        headers=ACCESS_HEADERS,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["$results"])


def test_an_attachment_to_an_archived_unit(http: Any, tmp_path: Path) -> None:
    first, atr = ingest(http, zipped(tmp_path))
    existing = {u["Title"]: u["#id"] for u in _units(http, first)}["Dossiers étudiants 2023"]
    second, atr = ingest(http, zipped(tmp_path, _attaching(existing), name="attach.zip"))
    assert reply_code(atr) == "OK", details(atr)
    created = _units(http, second)
    assert [u["Title"] for u in created] == ["Relevé de notes"]  # the stand-in creates nothing
    assert created[0]["#unitups"] == [existing] and created[0]["#allunitups"] == [existing]
    system_ids = {u.get("id"): u.findtext("{*}Content/{*}SystemId") for u in atr.iter("{*}ArchiveUnit")}
    assert system_ids["AU1"] == existing
    # Under a unit that has a parent itself: the new unit inherits the whole ancestry.
    first_units = {u["Title"]: u["#id"] for u in _units(http, first)}
    third, atr = ingest(http, zipped(tmp_path, _attaching(first_units["Relevé de notes"]), name="deep.zip"))
    assert reply_code(atr) == "OK", details(atr)
    (deep,) = _units(http, third)
    assert deep["#unitups"] == [first_units["Relevé de notes"]]
    assert deep["#allunitups"] == [first_units["Relevé de notes"], existing]


def test_an_attachment_to_a_unit_the_sandbox_does_not_hold(http: Any, tmp_path: Path) -> None:
    _, atr = ingest(http, zipped(tmp_path, _attaching("aeaqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO" in details(atr)


def test_attachments_a_contract_forbids(custom: Any, tmp_path: Path) -> None:
    sandbox = custom({"CheckParentLink": "UNAUTHORIZED"})
    first, _ = ingest(sandbox, zipped(tmp_path))
    existing = _units(sandbox, first)[0]["#id"]
    _, atr = ingest(sandbox, zipped(tmp_path, _attaching(existing), name="attach.zip"))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO" in details(atr)
    assert "UNAUTHORIZED" in technical(atr)


def test_an_attachment_a_contract_requires(custom: Any, tmp_path: Path) -> None:
    _, atr = ingest(custom({"CheckParentLink": "REQUIRED"}), zipped(tmp_path))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO" in details(atr)


def test_attachments_outside_the_contracts_check_parent_ids(custom: Any, tmp_path: Path) -> None:
    sandbox = custom({"CheckParentId": ["aeaqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"]})
    first, _ = ingest(sandbox, zipped(tmp_path))
    existing = _units(sandbox, first)[0]["#id"]
    _, atr = ingest(sandbox, zipped(tmp_path, _attaching(existing), name="attach.zip"))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO" in details(atr)
    assert "CheckParentId" in technical(atr)


def test_a_link_parent_that_is_not_archived(custom: Any, tmp_path: Path) -> None:
    _, atr = ingest(custom({"LinkParentId": "aeaqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"}), zipped(tmp_path))
    assert f"{PACKAGE}.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO" in details(atr)


def test_an_orphan_object_group(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace(
        "<DataObjectReference>\n            <DataObjectGroupReferenceId>GOT1</DataObjectGroupReferenceId>\n"
        "          </DataObjectReference>",
        "",
    )
    assert manifest != MANIFEST_21
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert f"{PACKAGE}.CHECK_CONSISTENCY.CHECK_CONSISTENCY_ORPHAN_OBJECT.KO" in details(atr)


# -- format identification (FIDO) ----------------------------------------------------------------

RANDOM = bytes(range(256)) * 7 + b"\x8f\x01\xfe"


def _with_object(
    content: bytes, uri: str, puid: str = "x-fmt/111", mime: str = "text/plain"
) -> tuple[str, dict[str, bytes]]:
    manifest = (
        MANIFEST_21.replace(CONTENT_SHA512, hashlib.sha512(content).hexdigest())
        .replace("<Size>1</Size>", f"<Size>{len(content)}</Size>")
        .replace("content/BDO1.txt", uri)
        .replace("<FormatId>x-fmt/111</FormatId>", f"<FormatId>{puid}</FormatId>")
        .replace("<MimeType>text/plain</MimeType>", f"<MimeType>{mime}</MimeType>")
    )
    return manifest, {uri: content}


def test_a_declared_format_that_differs_is_a_warning_and_the_identified_one_is_kept(http: Any, tmp_path: Path) -> None:
    manifest, files = _with_object(b"x", "content/BDO1.txt", puid="fmt/18", mime="application/pdf")
    operation_id, atr = ingest(http, zipped(tmp_path, manifest, files=files))
    assert reply_code(atr) == "WARNING"
    assert "OG_OBJECTS_FORMAT_CHECK.WARNING" in details(atr) and "identified x-fmt/111" in technical(atr)
    unit = next(u for u in _units(http, operation_id) if "#object" in u)
    group = http.request(
        "GET", f"{ACCESS}/units/{unit['#id']}/objects", json={"$projection": {}}, headers=ACCESS_HEADERS
    )
    version = group.json()["$results"][0]["#qualifiers"][0]["versions"][0]
    assert version["FormatIdentification"]["FormatId"] == "x-fmt/111"


def test_an_unidentified_format_is_refused(http: Any, tmp_path: Path) -> None:
    manifest, files = _with_object(RANDOM, "content/BDO1.qqqzz")
    _, atr = ingest(http, zipped(tmp_path, manifest, files=files))
    assert "OG_OBJECTS_FORMAT_CHECK.UNKNOWN.KO" in details(atr)


def test_an_unidentified_format_is_a_warning_when_the_contract_allows_it(custom: Any, tmp_path: Path) -> None:
    sandbox = custom({"FormatUnidentifiedAuthorized": True, "EveryFormatType": True})
    manifest, files = _with_object(RANDOM, "content/BDO1.qqqzz")
    _, atr = ingest(sandbox, zipped(tmp_path, manifest, files=files))
    assert reply_code(atr) == "WARNING" and "OG_OBJECTS_FORMAT_CHECK.UNKNOWN.WARNING" in details(atr)


def test_a_format_the_referential_does_not_chart(custom: Any, tmp_path: Path) -> None:
    droid = (
        '<FFSignatureFile xmlns="http://www.nationalarchives.gov.uk/pronom/SignatureFile" Version="1">'
        "<FileFormatCollection>"
        '<FileFormat ID="1" Name="Acrobat PDF 1.4" PUID="fmt/18" MIMEType="application/pdf"/>'
        "</FileFormatCollection></FFSignatureFile>"
    )
    _, atr = ingest(custom(formats=droid), zipped(tmp_path))
    assert "OG_OBJECTS_FORMAT_CHECK.UNCHARTED.KO" in details(atr) and "x-fmt/111" in technical(atr)


def test_a_format_the_contract_does_not_allow(custom: Any, tmp_path: Path) -> None:
    _, atr = ingest(custom({"EveryFormatType": False, "FormatType": ["fmt/18"]}), zipped(tmp_path))
    assert "OG_OBJECTS_FORMAT_CHECK.REJECTED_FORMAT.KO" in details(atr)


def test_a_format_the_contract_lists(custom: Any, tmp_path: Path) -> None:
    _, atr = ingest(custom({"EveryFormatType": False, "FormatType": ["x-fmt/111"]}), zipped(tmp_path))
    assert reply_code(atr) == "OK", details(atr)


# -- units and rules -----------------------------------------------------------------------------


def test_a_huge_title_is_refused(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace("Relevé de notes", "é" * 40000)
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "CHECK_UNIT_SCHEMA.INVALID_UNIT.KO" in details(atr) and "32000" in technical(atr)


def test_an_end_date_before_the_start_date(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace(
        "<Title>Relevé de notes</Title>",
        "<Title>Relevé de notes</Title><StartDate>2023-06-01</StartDate><EndDate>2022-01-01</EndDate>",
    )
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "CHECK_UNIT_SCHEMA.CONSISTENCY.KO" in details(atr)


@pytest.mark.parametrize(
    ("reference", "why"),
    [("APP-00001", "AppraisalRule"), ("ACC-99999", "unknown")],
    ids=["other-category", "unknown"],
)
def test_a_bad_ref_non_rule_id(http: Any, tmp_path: Path, reference: str, why: str) -> None:
    manifest = MANIFEST_21.replace(
        "<Rule>ACC-00001</Rule>\n            <StartDate>2023-01-01</StartDate>",
        f"<Rule>ACC-00001</Rule>\n            <StartDate>2023-01-01</StartDate>\n"
        f"            <RefNonRuleId>{reference}</RefNonRuleId>",
    )
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "UNITS_RULES_COMPUTE.REF_INCONSISTENCY.KO" in details(atr) and why in technical(atr)


def test_a_good_ref_non_rule_id_passes(http: Any, tmp_path: Path) -> None:
    manifest = MANIFEST_21.replace(
        "<Rule>ACC-00001</Rule>\n            <StartDate>2023-01-01</StartDate>",
        "<Rule>ACC-00001</Rule>\n            <StartDate>2023-01-01</StartDate>\n"
        "            <RefNonRuleId>ACC-00016</RefNonRuleId>",
    )
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert reply_code(atr) == "OK", details(atr)


def test_rules_in_the_package_defaults_are_checked_too(http: Any, tmp_path: Path) -> None:
    defaults = "<AccessRule><Rule>APP-00002</Rule></AccessRule></ManagementMetadata>"
    manifest = MANIFEST_21.replace("</ManagementMetadata>", defaults)
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "UNITS_RULES_COMPUTE.CONSISTENCY.KO" in details(atr) and "ManagementMetadata" in technical(atr)


# -- hostile XML ---------------------------------------------------------------------------------

DOCTYPE = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ArchiveTransfer [<!ENTITY boom "BOOM">]>\n'
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>\n"
)


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param(
            MANIFEST_21.replace('<?xml version="1.0" encoding="UTF-8"?>\n', DOCTYPE).replace(
                "Relevé de notes", "&boom;"
            ),
            id="internal-entity",
        ),
        pytest.param(
            MANIFEST_21.replace('<?xml version="1.0" encoding="UTF-8"?>\n', LAUGHS).replace(
                "Relevé de notes", "&lol9;"
            ),
            id="billion-laughs",
        ),
        pytest.param(
            MANIFEST_21.replace(
                '<?xml version="1.0" encoding="UTF-8"?>\n',
                '<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "file:///etc/passwd">\n',
            ),
            id="external-dtd",
        ),
        pytest.param(MANIFEST_21.replace("Relevé de notes", "Relevé&#1;de notes"), id="control-character"),
        pytest.param(MANIFEST_21.replace("Relevé de notes", "Relevé\x0bde notes"), id="raw-control-character"),
    ],
)
def test_hostile_xml_is_not_read(http: Any, tmp_path: Path, manifest: str) -> None:
    _, atr = ingest(http, zipped(tmp_path, manifest))
    assert "CHECK_SEDA.NOT_XML_FILE.KO" in details(atr)
    assert "BOOM" not in technical(atr) and "root:" not in technical(atr)


def test_accents_and_quotes_travel_unchanged(http: Any, tmp_path: Path) -> None:
    title = "Élèves « étrangers » & co — 100 % <validé>"
    manifest = MANIFEST_21.replace(
        "Relevé de notes", title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    operation_id, atr = ingest(http, zipped(tmp_path, manifest))
    assert reply_code(atr) == "OK", details(atr)
    assert title in [u["Title"] for u in _units(http, operation_id)]


def test_a_zip_of_a_good_sip_passes_every_control(http: Any, tmp_path: Path) -> None:
    operation_id, atr = ingest(http, zipped(tmp_path))
    assert reply_code(atr) == "OK" and details(atr) == []
    logbook = http.request(
        "GET", f"{ACCESS}/logbookoperations/{operation_id}", json={"$projection": {}}, headers=ACCESS_HEADERS
    )
    events = [e["outDetail"] for e in logbook.json()["$results"][0]["events"]]
    for passed in (
        "CHECK_CONTAINER.OK",
        "MANIFEST_FILE_NAME_CHECK.OK",
        "STP_UPLOAD_SIP.OK",
        "CHECK_SEDA.OK",
        "CHECK_HEADER.OK",
        f"{PACKAGE}.CHECK_MANIFEST.OK",
        "CHECK_DIGEST.OK",
        "OG_OBJECTS_FORMAT_CHECK.OK",
        "UNITS_RULES_COMPUTE.OK",
        "STP_INGEST_FINALISATION.OK",
    ):
        assert passed in events
    assert events[-1] == "PROCESS_SIP_UNITARY.OK"
    assert zipfile.is_zipfile(build_sip(tmp_path))


# -- lifecycle events in the ATR -----------------------------------------------------------------


def lifecycles(atr: Any) -> dict[str, list[tuple[str, str | None]]]:
    """LogBook events by unit or group id: (OutcomeDetail, DataObjectReferenceId)."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for owner in [*atr.iter("{*}DataObjectGroup"), *atr.iter("{*}ArchiveUnit")]:
        for event in owner.iterfind(".//{*}LogBook/{*}Event"):
            detail = str(event.findtext("{*}OutcomeDetail"))
            found.setdefault(owner.get("id"), []).append((detail, event.findtext("{*}DataObjectReferenceId")))
    return found


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"files": {"content/BDO1.txt": b"y"}}, {"GOT1": [("LFC.CHECK_DIGEST.INVALID.KO", "BDO1")]}, id="digest"
        ),
        pytest.param(
            {"manifest": MANIFEST_21.replace("<Size>1</Size>", "<Size>2</Size>")},
            {"GOT1": [("LFC.CHECK_OBJECT_SIZE.WARNING", "BDO1")]},
            id="size",
        ),
        pytest.param(
            {"manifest": MANIFEST_21.replace("<FormatId>x-fmt/111</FormatId>", "<FormatId>fmt/18</FormatId>")},
            {"GOT1": [("LFC.OG_OBJECTS_FORMAT_CHECK.WARNING", "BDO1")]},
            id="format",
        ),
        pytest.param(
            {"manifest": MANIFEST_21.replace("ACC-00001", "ACC-99999")},
            {"AU1": [("LFC.UNITS_RULES_COMPUTE.UNKNOWN.KO", None)]},
            id="rule",
        ),
        pytest.param(
            {"manifest": MANIFEST_21.replace("<Title>Relevé de notes</Title>", "<Title> </Title>")},
            {"AU2": [("LFC.CHECK_UNIT_SCHEMA.INVALID_UNIT.KO", None)]},
            id="unit",
        ),
    ],
)
def test_the_atr_names_the_unit_or_object_at_fault(
    http: Any, tmp_path: Path, seda_schemas: Path, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    from tests.vitam_sandbox.test_ingest import assert_valid

    manifest = options.pop("manifest", MANIFEST_21)
    _, atr = ingest(http, zipped(tmp_path, manifest, **options))
    assert lifecycles(atr) == expected
    assert_valid(etree.tostring(atr), seda_schemas, "2.1")
