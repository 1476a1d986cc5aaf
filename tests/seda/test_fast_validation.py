"""The streamed validation path gives the same verdicts as the document path, on a corpus of
valid and invalid SIPs; the derived VITAM schema never accepts what VITAM's schema refuses."""

from __future__ import annotations

import hashlib
import re
import resource
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from seda import schemas, validate_sip
from seda.derived import derived_vitam_schema
from seda.references import check_references
from seda.rules import load_rules
from seda.writer import write_package
from tests.seda.helpers import rewrite_zip
from tests.seda.tree_helpers import RULES_CSV, header, manifest_of, tree

Edit = Callable[[bytes], bytes]


def _sub(pattern: bytes, replacement: bytes, count: int = 1) -> Edit:
    return lambda manifest: re.sub(pattern, replacement, manifest, count=count)


def _first_title_removed(manifest: bytes) -> bytes:
    return re.sub(rb"<Title>[^<]*</Title>\n", b"", manifest, count=1)


def _cycle(manifest: bytes) -> bytes:
    # A stub under the first person's first Item pointing back to the Fonds (AU1).
    return manifest.replace(
        b"</Content>\n<DataObjectReference>",
        b'</Content>\n<ArchiveUnit id="STUB1">\n<ArchiveUnitRefId>AU1</ArchiveUnitRefId>\n</ArchiveUnit>\n'
        b"<DataObjectReference>",
        1,
    )


def _digest_changed(manifest: bytes) -> bytes:
    return re.sub(rb'(<MessageDigest algorithm="SHA-512">)[0-9a-f]', rb"\g<1>0", manifest, count=1).replace(
        b'SHA-512">00', b'SHA-512">01', 1
    )


CORPUS: dict[str, Edit | None] = {
    "valid": None,
    "missing title": _first_title_removed,
    "empty title": _sub(rb"<Title>[^<]*</Title>", b"<Title>  </Title>"),
    "unknown rule": _sub(rb"<Rule>APP-00002</Rule>", b"<Rule>APP-99999</Rule>"),
    "rule of the wrong category": _sub(rb"<Rule>APP-00002</Rule>", b"<Rule>ACC-00016</Rule>"),
    "wrong element order": _sub(
        rb"<DescriptionLevel>(\w+)</DescriptionLevel>\n(<Title>[^<]*</Title>)",
        rb"\2\n<DescriptionLevel>\1</DescriptionLevel>",
    ),
    "element order VITAM tolerates": _sub(
        rb"(<Title>[^<]*</Title>)\n(<OriginatingAgencyArchiveUnitIdentifier>[^<]*</OriginatingAgencyArchiveUnitIdentifier>)",
        rb"\2\n\1",
    ),
    "forbidden element": _sub(rb"</Content>", b"<Commentaire>libre</Commentaire>\n</Content>"),
    "foreign element": _sub(rb"</Content>", b'<x:Note xmlns:x="urn:example:ext">libre</x:Note>\n</Content>'),
    "VITAM-only UpdateOperation": _sub(
        rb"</AccessRule>\n</Management>",
        b"</AccessRule>\n<UpdateOperation><SystemId>aeaqaaaaaa</SystemId></UpdateOperation>\n</Management>",
    ),
    "bad date": _sub(rb"<StartDate>2019-09-01</StartDate>", b"<StartDate>2019-13-45</StartDate>"),
    "bad rule start date": _sub(
        rb"<StartDate>2024-08-31</StartDate>\n<FinalAction>", b"<StartDate>31/08/2024</StartDate>\n<FinalAction>"
    ),
    "bad final action": _sub(rb"<FinalAction>Destroy</FinalAction>", b"<FinalAction>Detruire</FinalAction>"),
    "dangling reference": _sub(rb"<DataObjectGroupReferenceId>GOT1<", b"<DataObjectGroupReferenceId>GOT999<"),
    "duplicate id": _sub(rb'<ArchiveUnit id="AU3">', b'<ArchiveUnit id="AU2">'),
    "cycle": _cycle,
    "wrong digest": _digest_changed,
    "wrong size": _sub(rb"<Size>(\d)", rb"<Size>9\1"),
    "missing level": _sub(rb"<DescriptionLevel>Item</DescriptionLevel>\n", b""),
    "unsupported namespace": _sub(rb"seda:v2\.1", b"seda:v9.9"),
}


@pytest.fixture(scope="module")
def good_sip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    return write_package(header(), tree(4), folder).sips[0].path


def _variant(good: Path, name: str, edit: Edit | None, folder: Path) -> Path:
    if edit is None:
        return good
    manifest = manifest_of(good)
    changed = edit(manifest)
    assert changed != manifest, f"corpus case {name!r} did not change the manifest"
    return rewrite_zip(
        good, folder / f"{hashlib.sha1(name.encode()).hexdigest()[:8]}.zip", replace={"manifest.xml": changed}
    )


def _verdicts(report) -> dict[str, bool]:
    failing = {issue.check for issue in report.issues}
    return {check: check not in failing for check in report.checks_run}


@pytest.mark.parametrize("name", list(CORPUS))
def test_streamed_and_document_paths_agree(good_sip, tmp_path, seda_schemas, name):
    sip = _variant(good_sip, name, CORPUS[name], tmp_path)
    rules = load_rules(RULES_CSV)

    fast = validate_sip(sip, seda_schemas, rules=rules)
    full = validate_sip(sip, seda_schemas, rules=rules, streamed=False)

    assert fast.valid == full.valid
    assert _verdicts(fast) == _verdicts(full)
    assert sorted(i.to_dict().items() for i in fast.issues) == sorted(i.to_dict().items() for i in full.issues)
    assert fast.checks_skipped == full.checks_skipped
    if name == "valid":
        assert fast.valid
    elif name not in ("element order VITAM tolerates", "foreign element", "VITAM-only UpdateOperation"):
        assert not fast.valid, fast


EXPECTED_CHECKS = {
    "missing title": {"tree"},
    "empty title": {"tree"},
    "unknown rule": {"rules"},
    "rule of the wrong category": {"rules"},
    "wrong element order": {"seda-2.1", "vitam-2.1"},
    "forbidden element": {"seda-2.1"},
    "bad date": {"seda-2.1", "vitam-2.1"},
    "dangling reference": {"references"},
    "cycle": {"tree"},
    "wrong digest": {"digest"},
    "wrong size": {"digest"},
}


@pytest.mark.parametrize("name", list(EXPECTED_CHECKS))
def test_each_invalid_case_is_refused_by_the_check_that_owns_it(good_sip, tmp_path, seda_schemas, name):
    sip = _variant(good_sip, name, CORPUS[name], tmp_path)
    report = validate_sip(sip, seda_schemas, rules=load_rules(RULES_CSV))
    assert EXPECTED_CHECKS[name] <= {issue.check for issue in report.issues}, report.issues


def test_refusals_name_the_unit(good_sip, tmp_path, seda_schemas):
    sip = _variant(good_sip, "unknown rule", CORPUS["unknown rule"], tmp_path)
    (issue,) = validate_sip(sip, seda_schemas, rules=load_rules(RULES_CSV)).issues
    assert "unit 'AU2'" in issue.message and "apogee:serie:dossiers-etudiants" in issue.message
    assert "APP-99999" in issue.message and issue.line is not None

    sip = _variant(good_sip, "empty title", CORPUS["empty title"], tmp_path)
    (issue,) = validate_sip(sip, seda_schemas).issues
    assert "unit 'AU1'" in issue.message and "apogee:fonds" in issue.message


@pytest.mark.parametrize("name", list(CORPUS))
def test_derived_schema_accepts_only_what_vitams_schema_accepts(good_sip, tmp_path, seda_schemas, name):
    if name == "unsupported namespace":
        pytest.skip("no schema for that namespace")
    sip = _variant(good_sip, name, CORPUS[name], tmp_path)
    root = etree.fromstring(manifest_of(sip))
    main = schemas.vitam_path(seda_schemas, "2.1").resolve()

    derived_accepts = derived_vitam_schema(main).validate(root.getroottree())
    vitam_accepts = not list(schemas.vitam_schema(main).iter_errors(root.getroottree()))
    ids_sound = not check_references(root)  # libxml2 leaves ID/IDREF to the references check

    if derived_accepts and ids_sound:
        assert vitam_accepts, name
    if name in ("valid", "missing title", "empty title", "unknown rule", "cycle", "wrong digest", "foreign element"):
        assert derived_accepts, name  # the fast path decides alone on these


@pytest.mark.parametrize("version", ["2.2", "2.3"])
def test_derived_schema_of_every_version_accepts_the_examples(seda_schemas, version):
    main = schemas.vitam_path(seda_schemas, version).resolve()
    for example in sorted((seda_schemas / "examples").glob(f"*-{version}.xml")):
        assert derived_vitam_schema(main).validate(etree.parse(str(example))), example


def test_a_doctype_is_refused(good_sip, tmp_path, seda_schemas):
    manifest = manifest_of(good_sip).replace(
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ArchiveTransfer [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
    )
    sip = rewrite_zip(good_sip, tmp_path / "doctype.zip", replace={"manifest.xml": manifest})

    report = validate_sip(sip, seda_schemas)

    assert not report.valid
    assert {issue.check for issue in report.issues} == {"xml-safety"}  # refused before any schema check
    assert "declares a DTD" in report.issues[0].message and report.issues[0].line == 2
    assert any("external entity" in issue.message and "nothing was read" in issue.message for issue in report.issues)
    assert report.to_dict() == validate_sip(sip, seda_schemas, streamed=False).to_dict()  # both paths agree


def test_streamed_validation_memory_is_flat(tmp_path, seda_schemas):
    big = write_package(header(), tree(3000), tmp_path).sips[0].path
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = validate_sip(big, seda_schemas, rules=load_rules(RULES_CSV))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert report.valid, report.issues
    assert grown_kib < 40_000, f"validation of 15,000 units grew RSS by {grown_kib} KiB"
