"""validate_manifest and detect_version: schemas, references, versions, malformed input, skips."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from seda import SUPPORTED_VERSIONS, SchemaError, SipError, build_sip, detect_version, validate_manifest
from tests.seda.helpers import line_of, make_request, read_manifest

V21 = "fr:gouv:culture:archivesdefrance:seda:v2.1"


@pytest.fixture
def manifest(tmp_path) -> str:
    """The manifest of a freshly built, valid 2.1 SIP, as text."""
    return read_manifest(build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip").path).decode()


def _examples(seda_schemas: Path) -> list[Path]:
    found = sorted((seda_schemas / "examples").glob("*.xml"))
    assert len(found) == 6, "expected the minimal and typical examples for three versions"
    return found


def test_examples_are_valid_against_both_schema_sets(seda_schemas):
    for example in _examples(seda_schemas):
        version = example.stem.rsplit("-", 1)[1]
        report = validate_manifest(example, seda_schemas, version=version)
        assert report.issues == (), example.name
        assert report.version == version
        assert {f"seda-{version}", f"vitam-{version}", "references"} <= set(report.checks_run)
        assert report.checks_skipped == ()


def test_bytes_and_path_give_the_same_report(seda_schemas, tmp_path, manifest):
    path = tmp_path / "manifest.xml"
    path.write_text(manifest, encoding="utf-8")

    assert validate_manifest(path, seda_schemas) == validate_manifest(manifest.encode(), seda_schemas)


def test_detect_version_reads_the_root_namespace(manifest):
    assert detect_version(manifest.encode()) == "2.1"
    for version in SUPPORTED_VERSIONS:
        assert detect_version(manifest.replace(V21, V21[:-3] + version).encode()) == version


def test_detect_version_refuses_seda_2_0(manifest):
    old = manifest.replace(V21, "fr:gouv:culture:archivesdefrance:seda:v2.0").encode()

    with pytest.raises(SipError, match=re.escape("fr:gouv:culture:archivesdefrance:seda:v2.0")):
        detect_version(old)


def test_detect_version_refuses_non_xml():
    with pytest.raises(SipError, match="not well-formed"):
        detect_version(b"PK\x03\x04 not xml")


def test_unsupported_namespace_is_a_version_issue(seda_schemas, manifest):
    old = manifest.replace(V21, "fr:gouv:culture:archivesdefrance:seda:v2.0").encode()

    report = validate_manifest(old, seda_schemas)

    assert not report.valid
    assert report.version is None
    assert [i.check for i in report.issues] == ["version"]
    assert "seda:v2.0" in report.issues[0].message and report.issues[0].line == 2
    assert not any(check.startswith(("seda-", "vitam-")) for check in report.checks_run)


def test_expected_version_differs_from_the_namespace(seda_schemas, manifest):
    report = validate_manifest(manifest.encode(), seda_schemas, version="2.3")

    assert [(i.check, i.line) for i in report.issues] == [("version", 2)]
    assert "2.1" in report.issues[0].message and "2.3" in report.issues[0].message
    assert report.version == "2.1"


def test_not_well_formed_xml_is_an_issue_with_a_line(seda_schemas):
    broken = f'<?xml version="1.0"?>\n<ArchiveTransfer xmlns="{V21}">\n  <Comment>x</Comentaire>\n</ArchiveTransfer>\n'

    report = validate_manifest(broken.encode(), seda_schemas)

    assert not report.valid
    assert [(i.check, i.line) for i in report.issues] == [("xml", 3)]
    assert report.version is None


def test_element_out_of_order_is_reported_with_its_line(seda_schemas, manifest):
    lines = manifest.splitlines()
    at = line_of(manifest, "<DataObjectVersion>") - 1
    lines.insert(at + 1, lines.pop(at))  # now after <Uri>: the XSD wants it before
    moved = "\n".join(lines)
    expected_line = line_of(moved, "<DataObjectVersion>")

    report = validate_manifest(moved.encode(), seda_schemas)

    by_check = {issue.check: issue for issue in report.issues}
    assert set(by_check) == {"seda-2.1", "vitam-2.1"}
    assert by_check["seda-2.1"].line == expected_line
    assert by_check["vitam-2.1"].line == expected_line
    assert "DataObjectVersion" in by_check["seda-2.1"].message
    assert "{" not in by_check["seda-2.1"].message  # namespaces stripped for readability


def test_dangling_idref_is_a_references_issue(seda_schemas, manifest):
    edited = manifest.replace("<DataObjectGroupReferenceId>GOT2<", "<DataObjectGroupReferenceId>GOT9<")
    assert edited != manifest

    report = validate_manifest(edited.encode(), seda_schemas)

    references = [i for i in report.issues if i.check == "references"]
    assert len(references) == 1
    assert "GOT9" in references[0].message
    assert references[0].line == line_of(edited, "GOT9<")
    # lxml alone does not see it: the official check passes.
    assert not [i for i in report.issues if i.check == "seda-2.1"]


def test_reference_to_the_wrong_kind_of_element(seda_schemas, manifest):
    edited = manifest.replace("<DataObjectGroupReferenceId>GOT2<", "<DataObjectGroupReferenceId>AU1<")

    report = validate_manifest(edited.encode(), seda_schemas, vitam=False)

    (issue,) = [i for i in report.issues if i.check == "references"]
    assert "ArchiveUnit" in issue.message and "DataObjectGroup" in issue.message


def test_duplicate_id_is_a_references_issue(manifest):
    edited = manifest.replace('<ArchiveUnit id="AU3">', '<ArchiveUnit id="AU2">')

    report = validate_manifest(edited.encode(), None)

    first, second = [n for n, text in enumerate(edited.splitlines(), start=1) if 'id="AU2"' in text]
    (issue,) = [i for i in report.issues if i.check == "references"]
    assert "'AU2'" in issue.message and f"line {first}" in issue.message
    assert issue.line == second


def test_no_schema_folder_skips_loudly(manifest, caplog):
    with caplog.at_level(logging.WARNING, logger="versement.seda"):
        report = validate_manifest(manifest.encode(), None)

    assert report.valid  # skipping is not a failure ...
    assert report.checks_skipped == (
        "seda-2.1 (schemas folder not configured)",
        "vitam-2.1 (schemas folder not configured)",
    )  # ... but it is recorded
    assert "references" in report.checks_run
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "versement.seda"]
    assert len(warnings) == 2 and all("SKIPPED" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("layout", ["empty", "other-version-only", "mistyped"])
def test_a_schema_folder_without_the_schemas_is_an_error_naming_it(manifest, tmp_path, layout):
    folder = tmp_path / "schemas"
    if layout == "other-version-only":
        (folder / "2.2").mkdir(parents=True)
    elif layout == "empty":
        folder.mkdir()
    # "mistyped": the folder does not exist at all

    with pytest.raises(SchemaError) as raised:
        validate_manifest(manifest.encode(), folder)

    message = str(raised.value)
    assert f"the schemas folder {folder} does not hold the SEDA 2.1 schemas" in message
    assert str(folder / "2.1" / "seda-2.1-main.xsd") in message and "--no-schemas" in message


def test_references_run_without_schemas(manifest):
    edited = manifest.replace("<DataObjectGroupReferenceId>GOT1<", "<DataObjectGroupReferenceId>NOPE<")

    report = validate_manifest(edited.encode(), None)

    assert [i.check for i in report.issues] == ["references"]


def test_vitam_check_can_be_disabled(seda_schemas, manifest, caplog):
    with caplog.at_level(logging.WARNING, logger="versement.seda"):
        report = validate_manifest(manifest.encode(), seda_schemas, vitam=False)

    assert report.valid
    assert "seda-2.1" in report.checks_run and "vitam-2.1" not in report.checks_run
    assert report.checks_skipped == ("vitam-2.1 (disabled by the caller)",)


def test_vitam_schema_catches_what_lxml_accepts(seda_schemas):
    """An IDREF to nothing passes libxml2 but not xmlschema: proof the VITAM check really ran."""
    example = (seda_schemas / "examples" / "synthetic-typical-2.2.xml").read_text(encoding="utf-8")
    edited = example.replace(">GOT1</DataObjectGroupReferenceId>", ">GOT7</DataObjectGroupReferenceId>")

    report = validate_manifest(edited.encode(), seda_schemas)

    assert {i.check for i in report.issues} == {"references", "vitam-2.2"}


def test_report_is_json_serialisable(seda_schemas, manifest):
    zero_size = re.sub(r"<Size>\d+</Size>", "<Size>0</Size>", manifest, count=1)
    report = validate_manifest(zero_size.encode(), seda_schemas)

    data = json.loads(json.dumps(report.to_dict()))
    assert data["valid"] is False
    assert data["version"] == "2.1"
    assert {issue["check"] for issue in data["issues"]} == {"seda-2.1", "vitam-2.1"}
    assert all(isinstance(issue["line"], int) for issue in data["issues"])
    assert "seda-2.1" in data["checks_run"] and data["checks_skipped"] == []


def test_root_must_be_an_archive_transfer(seda_schemas):
    reply = f'<ArchiveTransferReply xmlns="{V21}"/>'

    report = validate_manifest(reply.encode(), None)

    assert any("ArchiveTransfer" in i.message and i.check == "version" for i in report.issues)
