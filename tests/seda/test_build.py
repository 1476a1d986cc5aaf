"""build_sip: structure, validity against both schema sets, digests, determinism, atomicity."""

from __future__ import annotations

import hashlib
import tracemalloc
import zipfile
from dataclasses import replace
from datetime import UTC, datetime

import pytest

import seda.writer
from seda import SipError, build_sip, validate_sip
from seda.archive import zip_time
from seda.plan import URI_SEGMENT, safe_extension
from tests.seda.helpers import SOURCES, make_request, parse, payload, read_manifest

NS = "{fr:gouv:culture:archivesdefrance:seda:v2.1}"


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_sip_is_valid_against_official_and_vitam_schemas(tmp_path, seda_schemas, version):
    result = build_sip(make_request(tmp_path / "src", version), tmp_path / "sip.zip")

    report = validate_sip(result.path, seda_schemas, version=version)

    assert report.issues == ()
    assert report.version == version
    assert {f"seda-{version}", f"vitam-{version}", "references", "container", "digest"} <= set(report.checks_run)
    assert report.checks_skipped == ()
    root = parse(read_manifest(result.path))
    assert root.tag == f"{{fr:gouv:culture:archivesdefrance:seda:v{version}}}ArchiveTransfer"


def test_result_describes_the_zip(tmp_path):
    result = build_sip(make_request(tmp_path / "src"), tmp_path / "out" / "sip.zip")

    assert result.path == tmp_path / "out" / "sip.zip"
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.manifest_sha512 == hashlib.sha512(read_manifest(result.path)).hexdigest()
    assert (result.unit_count, result.object_count) == (6, 3)  # fonds + 2 series + 3 items
    with zipfile.ZipFile(result.path) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(["manifest.xml", *result.objects])
        for uri, sha512 in result.objects.items():
            assert hashlib.sha512(archive.read(uri)).hexdigest() == sha512


def test_manifest_digests_and_sizes_match_the_source_files(tmp_path):
    request = make_request(tmp_path / "src")
    result = build_sip(request, tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    objects = root.findall(f".//{NS}BinaryDataObject")
    assert len(objects) == len(SOURCES)
    for obj in objects:
        filename = obj.findtext(f"{NS}FileInfo/{NS}Filename")
        source = (tmp_path / "src" / filename).read_bytes()
        digest = obj.find(f"{NS}MessageDigest")
        assert digest.get("algorithm") == "SHA-512"
        assert digest.text == hashlib.sha512(source).hexdigest()
        assert obj.findtext(f"{NS}Size") == str(len(source))
        assert result.objects[obj.findtext(f"{NS}Uri")] == digest.text


def test_units_form_fonds_series_item_and_reference_their_group(tmp_path):
    result = build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    fonds = root.find(f"{NS}DataObjectPackage/{NS}DescriptiveMetadata/{NS}ArchiveUnit")
    levels = [
        [unit.findtext(f"{NS}Content/{NS}DescriptionLevel") for unit in fonds.iterfind(f".{path}")]
        for path in ("", f"/{NS}ArchiveUnit", f"/{NS}ArchiveUnit/{NS}ArchiveUnit")
    ]
    assert levels == [["Fonds"], ["Series", "Series"], ["Item", "Item", "Item"]]
    groups = {g.get("id") for g in root.iterfind(f".//{NS}DataObjectGroup")}
    references = [r.text for r in root.iterfind(f".//{NS}DataObjectReference/{NS}DataObjectGroupReferenceId")]
    assert sorted(references) == sorted(groups) and len(groups) == 3
    for unit in root.iter(f"{NS}ArchiveUnit"):
        assert unit.findtext(f"{NS}Content/{NS}Title")


def test_rules_are_written_in_xsd_order(tmp_path):
    result = build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    appraisal = root.find(f".//{NS}ArchiveUnit/{NS}Management/{NS}AppraisalRule")
    assert [child.tag.removeprefix(NS) for child in appraisal] == ["Rule", "StartDate", "FinalAction"]
    assert [c.text for c in appraisal] == ["APP-00001", "2024-01-01", "Destroy"]
    access = root.find(f".//{NS}Management/{NS}AccessRule")
    assert [(c.tag.removeprefix(NS), c.text) for c in access] == [("Rule", "ACC-00016"), ("StartDate", "2023-07-01")]
    metadata = root.find(f"{NS}DataObjectPackage/{NS}ManagementMetadata")
    assert [c.tag.removeprefix(NS) for c in metadata] == [
        "LegalStatus",
        "OriginatingAgencyIdentifier",
        "SubmissionAgencyIdentifier",
        "AccessRule",
    ]


def test_final_action_is_only_written_with_an_appraisal_rule(tmp_path):
    result = build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    assert len(root.findall(f".//{NS}FinalAction")) == len(root.findall(f".//{NS}AppraisalRule")) == 1


def test_builds_are_byte_identical(tmp_path):
    request = make_request(tmp_path / "src")
    first = build_sip(request, tmp_path / "a" / "sip.zip")
    # Changing file times must not matter: only the request date goes into the zip.
    for source in (tmp_path / "src").iterdir():
        source.touch()
    second = build_sip(request, tmp_path / "b" / "other-name.zip")

    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.manifest_sha512 == second.manifest_sha512


def test_zip_entries_carry_the_request_date(tmp_path):
    request = make_request(tmp_path / "src", date=datetime(2031, 7, 14, 9, 5, 30, tzinfo=UTC))
    result = build_sip(request, tmp_path / "sip.zip")

    with zipfile.ZipFile(result.path) as archive:
        stamps = {info.date_time for info in archive.infolist()}
        methods = {info.compress_type for info in archive.infolist()}
    assert stamps == {(2031, 7, 14, 9, 5, 30)}
    assert methods == {zipfile.ZIP_DEFLATED}


def test_zip_time_clamps_dates_zip_cannot_hold():
    assert zip_time(datetime(1970, 1, 1)) == (1980, 1, 1, 0, 0, 0)
    assert zip_time(datetime(2024, 1, 1, 12, 0, tzinfo=UTC)) == (2024, 1, 1, 12, 0, 0)


def test_different_content_gives_a_different_sip(tmp_path):
    request = make_request(tmp_path / "src")
    first = build_sip(request, tmp_path / "a.zip")
    (tmp_path / "src" / "diplômes.csv").write_text("diplôme;année\nDUT;2024\n", encoding="utf-8")
    second = build_sip(request, tmp_path / "b.zip")

    assert first.sha256 != second.sha256
    assert first.objects != second.objects


def test_accented_filename_with_spaces_gives_a_safe_uri(tmp_path):
    source = tmp_path / "Relevé de notes (été 2023).Çsv"
    source.write_text("a;b\n", encoding="utf-8")
    request = make_request(tmp_path / "src")
    request = replace(request, series=[replace(request.series[0], payloads=[payload(source, "Relevé")])])

    result = build_sip(request, tmp_path / "sip.zip")

    (uri,) = result.objects
    assert uri == "content/BDO1.csv"
    assert all(URI_SEGMENT.match(segment) for segment in uri.split("/"))
    root = parse(read_manifest(result.path))
    assert root.findtext(f".//{NS}Filename") == "Relevé de notes (été 2023).Çsv"


@pytest.mark.parametrize(
    ("filename", "extension"),
    [
        ("a.csv", ".csv"),
        ("A.PDF", ".pdf"),
        ("archive.tar.gz", ".gz"),
        ("sans extension", ""),
        ("données.é", ".e"),
        ("bizarre.c s/v", ""),  # a slash cuts the name: only "v" would be the suffix of "c s/v"
        ("point final.", ""),
        ("emoji.😀", ""),
    ],
)
def test_safe_extension(filename, extension):
    assert safe_extension(filename) == extension


def test_ids_are_unique(tmp_path):
    result = build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids)) == 6 + 3 + 3


def test_empty_payload_file_is_refused_before_writing(tmp_path):
    request = make_request(tmp_path / "src")
    (tmp_path / "src" / "diplômes.csv").write_bytes(b"")
    out = tmp_path / "sip.zip"

    with pytest.raises(SipError) as caught:
        build_sip(request, out)

    message = str(caught.value)
    assert "series[1].payloads[0].source" in message
    assert "diplômes.csv" in message and "empty" in message
    assert not out.exists() and not out.with_name("sip.zip.partial").exists()


def test_missing_payload_file_is_named(tmp_path):
    request = make_request(tmp_path / "src")
    (tmp_path / "src" / "résultats été.CSV").unlink()

    with pytest.raises(SipError, match=r"series\[0\]\.payloads\[1\]\.source"):
        build_sip(request, tmp_path / "sip.zip")


def test_failure_while_writing_leaves_no_partial_and_keeps_the_previous_sip(tmp_path, monkeypatch):
    out = tmp_path / "sip.zip"
    out.write_bytes(b"previous SIP")

    def broken_manifest(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(seda.writer, "_manifest_head", broken_manifest)
    with pytest.raises(OSError, match="disk full"):
        build_sip(make_request(tmp_path / "src"), out)

    assert out.read_bytes() == b"previous SIP"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sip.zip", "src"]


def test_memory_stays_flat_for_a_large_payload(tmp_path):
    big = tmp_path / "big.csv"
    block = hashlib.sha512(b"seed").hexdigest().encode() * 256  # 32 KiB, poorly compressible text
    with big.open("wb") as handle:
        for _ in range(512):  # 16 MiB
            handle.write(block)
    request = make_request(tmp_path / "src")
    request = replace(request, series=[replace(request.series[0], payloads=[payload(big, "Gros fichier")])])

    tracemalloc.start()
    try:
        result = build_sip(request, tmp_path / "sip.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 6 * 1024 * 1024, f"peak Python allocation {peak} bytes for a 16 MiB payload"
    assert result.objects["content/BDO1.csv"] == hashlib.sha512(big.read_bytes()).hexdigest()
