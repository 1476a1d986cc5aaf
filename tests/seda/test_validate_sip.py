"""validate_sip: zip layout, Uris, digests and sizes; damaged input reported, never raised."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from seda import build_sip, validate_sip
from seda.report import MAX_ISSUES_PER_CHECK
from tests.seda.helpers import make_request, payload, read_manifest, rewrite_zip


@pytest.fixture
def sip(tmp_path) -> Path:
    return build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip").path


def _checks(report) -> set[str]:
    return {issue.check for issue in report.issues}


def test_built_sip_is_valid_without_schemas(sip):
    report = validate_sip(sip, None)

    assert report.valid
    assert {"container", "digest", "references"} <= set(report.checks_run)


def test_one_changed_content_byte_is_a_digest_issue(sip, tmp_path):
    with zipfile.ZipFile(sip) as archive:
        data = bytearray(archive.read("content/BDO2.csv"))
    data[3] ^= 0x01  # same size, different bytes
    tampered = rewrite_zip(sip, tmp_path / "tampered.zip", replace={"content/BDO2.csv": bytes(data)})

    report = validate_sip(tampered, None)

    assert _checks(report) == {"digest"}
    (issue,) = report.issues
    assert "content/BDO2.csv" in issue.message and "SHA-512" in issue.message
    assert issue.line is not None


def test_a_changed_size_is_reported_too(sip, tmp_path):
    with zipfile.ZipFile(sip) as archive:
        data = archive.read("content/BDO1.csv") + b"\n"
    tampered = rewrite_zip(sip, tmp_path / "longer.zip", replace={"content/BDO1.csv": data})

    report = validate_sip(tampered, None)

    messages = [i.message for i in report.issues if i.check == "digest"]
    assert len(messages) == 2
    assert any("Size" in m for m in messages)


def test_missing_uri_target_is_a_container_issue(sip, tmp_path):
    broken = rewrite_zip(sip, tmp_path / "missing.zip", replace={"content/BDO3.csv": None})

    report = validate_sip(broken, None)

    assert _checks(report) == {"container"}
    assert "content/BDO3.csv" in report.issues[0].message and "does not exist" in report.issues[0].message


@pytest.mark.parametrize(
    "extra",
    ["content/unreferenced.csv", "Content/BDO1.csv", "notes.txt", "other/file.csv", "SIP_manifest.xml"],
)
def test_unexpected_entries_are_container_issues(sip, tmp_path, extra):
    broken = rewrite_zip(sip, tmp_path / "extra.zip", add={extra: b"x"})

    report = validate_sip(broken, None)

    assert _checks(report) == {"container"}
    assert any(extra in issue.message or "manifests" in issue.message for issue in report.issues)


def test_prefixed_manifest_name_is_accepted(sip, tmp_path):
    renamed = rewrite_zip(
        sip, tmp_path / "renamed.zip", replace={"manifest.xml": None}, add={"SIP-001_manifest.xml": read_manifest(sip)}
    )

    assert validate_sip(renamed, None).issues == ()


def test_missing_manifest(sip, tmp_path):
    report = validate_sip(rewrite_zip(sip, tmp_path / "empty.zip", replace={"manifest.xml": None}), None)

    assert _checks(report) == {"container"}
    assert "no manifest" in report.issues[0].message


def test_unsafe_uri_in_a_hand_made_manifest(sip, tmp_path):
    manifest = read_manifest(sip).replace(b"content/BDO1.csv", "content/é t.csv".encode())
    with zipfile.ZipFile(sip) as archive:
        data = archive.read("content/BDO1.csv")
    broken = rewrite_zip(
        sip,
        tmp_path / "uri.zip",
        replace={"manifest.xml": manifest, "content/BDO1.csv": None},
        add={"content/é t.csv": data},
    )

    report = validate_sip(broken, None)

    assert _checks(report) == {"container"}
    assert "é t.csv" in report.issues[0].message


def test_not_a_zip(tmp_path):
    fake = tmp_path / "sip.zip"
    fake.write_text("ceci n'est pas un zip", encoding="utf-8")

    report = validate_sip(fake, None)

    assert not report.valid
    assert _checks(report) == {"container"}
    assert report.version is None


def test_missing_file_is_an_issue_not_an_exception(tmp_path):
    report = validate_sip(tmp_path / "absent.zip", None)

    assert _checks(report) == {"container"}


def test_truncated_zip(sip, tmp_path):
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(sip.read_bytes()[: sip.stat().st_size // 2])

    report = validate_sip(truncated, None)

    assert _checks(report) == {"container"}


def test_corrupted_stored_bytes_are_a_container_issue(sip, tmp_path):
    """Flip one byte of an entry's compressed data in place: the zip CRC check fails."""
    with zipfile.ZipFile(sip) as archive:
        info = archive.getinfo("content/BDO1.csv")
    raw = bytearray(sip.read_bytes())
    # Local file header: 30 fixed bytes, then the name and the extra field, then the data.
    name_length = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_length = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_length + extra_length + 2] ^= 0xFF
    corrupted = tmp_path / "corrupted.zip"
    corrupted.write_bytes(bytes(raw))

    report = validate_sip(corrupted, None)

    assert not report.valid
    assert "container" in _checks(report)
    assert any("content/BDO1.csv" in issue.message for issue in report.issues)


def test_not_well_formed_manifest_inside_a_sip(sip, tmp_path):
    broken = rewrite_zip(sip, tmp_path / "xml.zip", replace={"manifest.xml": b"<ArchiveTransfer>\n<Comment>\n"})

    report = validate_sip(broken, None)

    assert [i.check for i in report.issues] == ["xml"]
    assert report.issues[0].line is not None


def test_schema_issues_surface_through_validate_sip(sip, tmp_path, seda_schemas):
    manifest = read_manifest(sip).replace(b"<LegalStatus>Public Archive<", b"<LegalStatus>Archives publiques<")
    broken = rewrite_zip(sip, tmp_path / "schema.zip", replace={"manifest.xml": manifest})

    report = validate_sip(broken, seda_schemas)

    assert _checks(report) == {"seda-2.1", "vitam-2.1"}
    assert all(issue.line is not None for issue in report.issues)
    assert all("Public Archive" in issue.message for issue in report.issues)


def test_issues_are_capped_per_check(tmp_path):
    request = make_request(tmp_path / "src")
    source = tmp_path / "src" / "diplômes.csv"
    many = [payload(source, f"Copie {n}") for n in range(105)]
    request = replace(request, series=[replace(request.series[0], payloads=many)])
    sip = build_sip(request, tmp_path / "many.zip").path
    with zipfile.ZipFile(sip) as archive:
        changed = {name: b"tampered" for name in archive.namelist() if name.startswith("content/")}

    report = validate_sip(rewrite_zip(sip, tmp_path / "tampered.zip", replace=changed), None)

    digest = [i for i in report.issues if i.check == "digest"]
    assert len(digest) == MAX_ISSUES_PER_CHECK + 1
    assert digest[-1].message == f"{105 * 2 - MAX_ISSUES_PER_CHECK} more issues of this check not listed"
