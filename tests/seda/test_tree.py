"""write_package: the tree API streamed into SIPs that pass both schemas, split when too big."""

from __future__ import annotations

import hashlib
import re
import tracemalloc
import zipfile
from datetime import UTC, date, datetime

import pytest
from lxml import etree

from seda import Management, Rule, validate_sip
from seda.errors import UnitError
from seda.rules import load_rules
from seda.tree import CSV, DataObject, Keyword, Limits, Unit
from seda.writer import write_package
from tests.seda.tree_helpers import RULES_CSV, header, manifest_of, person, tree

V = "fr:gouv:culture:archivesdefrance:seda:v{}"


def ns(version: str) -> dict[str, str]:
    return {"s": V.format(version)}


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_person_files_pass_both_schemas_and_every_check(tmp_path, seda_schemas, version):
    result = write_package(header(version), tree(5), tmp_path)

    (sip,) = result.sips
    report = validate_sip(sip.path, seda_schemas, version=version, rules=load_rules(RULES_CSV))
    assert report.issues == ()
    assert {f"seda-{version}", f"vitam-{version}", "references", "digest", "tree", "rules"} <= set(report.checks_run)
    assert report.checks_skipped == ()
    document = validate_sip(sip.path, seda_schemas, version=version, rules=load_rules(RULES_CSV), streamed=False)
    assert document.issues == ()
    assert (sip.unit_count, sip.object_count) == (2 + 5 * 3, 10)
    assert sip.message_identifier == "UNIV-APOGEE-2023-000007"
    assert sip.path.name == "UNIV-APOGEE-2023-000007.zip"
    assert sip.sha256 == hashlib.sha256(sip.path.read_bytes()).hexdigest()
    assert sip.manifest_sha512 == hashlib.sha512(manifest_of(sip.path)).hexdigest()


def test_tree_levels_keys_keywords_and_rule_overrides(tmp_path):
    (sip,) = write_package(header(), tree(2), tmp_path).sips
    root = etree.fromstring(manifest_of(sip.path))
    n = ns("2.1")

    fonds = root.find("s:DataObjectPackage/s:DescriptiveMetadata/s:ArchiveUnit", n)
    assert fonds.findtext("s:Content/s:DescriptionLevel", namespaces=n) == "Fonds"
    series = fonds.find("s:ArchiveUnit", n)
    files = series.findall("s:ArchiveUnit", n)
    assert [f.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=n) for f in files] == [
        "apogee:etudiant:1",
        "apogee:etudiant:2",
    ]
    first = files[0]
    assert first.findtext("s:Content/s:Keyword/s:KeywordContent", namespaces=n) == "Étudiant n°1"
    assert first.findtext("s:Content/s:Keyword/s:KeywordType", namespaces=n) == "persname"
    assert [first.findtext(f"s:Content/s:{d}", namespaces=n) for d in ("StartDate", "EndDate")] == [
        "2019-09-01",
        "2024-08-31",
    ]
    # Series rules are inherited; the File declares the same rules again with its own start.
    appraisal = first.find("s:Management/s:AppraisalRule", n)
    assert [etree.QName(c).localname for c in appraisal] == ["Rule", "StartDate", "FinalAction"]
    assert series.findtext("s:Management/s:AccessRule/s:Rule", namespaces=n) == "ACC-00016"
    items = first.findall("s:ArchiveUnit", n)
    assert [i.findtext("s:Content/s:DescriptionLevel", namespaces=n) for i in items] == ["Item", "Item"]
    assert all(i.find("s:Management", n) is None for i in items)  # they inherit


def test_every_object_is_fully_described(tmp_path):
    (sip,) = write_package(header(), tree(3), tmp_path).sips
    root = etree.fromstring(manifest_of(sip.path))
    n = ns("2.1")

    objects = root.findall(".//s:BinaryDataObject", n)
    assert len(objects) == 6
    with zipfile.ZipFile(sip.path) as archive:
        for obj in objects:
            uri = obj.findtext("s:Uri", namespaces=n)
            assert re.fullmatch(r"content/BDO[0-9]+\.(json|xml)", uri)
            data = archive.read(uri)
            digest = obj.find("s:MessageDigest", n)
            assert digest.get("algorithm") == "SHA-512" and digest.text == hashlib.sha512(data).hexdigest()
            assert obj.findtext("s:Size", namespaces=n) == str(len(data))
            puid = obj.findtext("s:FormatIdentification/s:FormatId", namespaces=n)
            assert puid == {"json": "fmt/817", "xml": "fmt/101"}[uri.rsplit(".", 1)[1]]
            assert obj.findtext("s:FileInfo/s:Filename", namespaces=n) in ("identite.json", "inscriptions.xml")


def test_nasty_text_is_escaped_replaced_and_reported(tmp_path, seda_schemas):
    nasty = "O'Brien & <Zoé>\x07\x1b\r\nfin"
    unit = person(42, nasty)

    result = write_package(header(), Unit("Fonds", "Fonds", children=[unit]), tmp_path)

    (sip,) = result.sips
    assert validate_sip(sip.path, seda_schemas).issues == ()
    root = etree.fromstring(manifest_of(sip.path))
    n = ns("2.1")
    title = root.findtext(".//s:ArchiveUnit/s:ArchiveUnit/s:Content/s:Title", namespaces=n)
    assert title == "Dossier de O'Brien & <Zoé>\ufffd\ufffd\r\nfin"  # CR kept (written as &#13;)
    fields = {(w.unit, w.field) for w in result.warnings}
    assert ("apogee:etudiant:42", "Title") in fields and ("apogee:etudiant:42", "Keyword") in fields
    assert all("U+0007" in w.problem and "U+001B" in w.problem for w in result.warnings)


def test_same_input_gives_the_same_manifest_apart_from_date_and_identifier(tmp_path):
    first = write_package(header(), tree(4), tmp_path / "a").sips[0]
    other = header(message_identifier="UNIV-X-2", date=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    second = write_package(other, tree(4), tmp_path / "b").sips[0]
    again = write_package(header(), tree(4), tmp_path / "c").sips[0]

    def blank(manifest: bytes) -> bytes:
        manifest = re.sub(rb"<Date>[^<]*</Date>", b"<Date/>", manifest)
        return re.sub(rb"<MessageIdentifier>[^<]*</MessageIdentifier>", b"<MessageIdentifier/>", manifest)

    assert blank(manifest_of(first.path)) == blank(manifest_of(second.path))
    assert first.path.read_bytes() == again.path.read_bytes()


def test_a_batch_over_the_limits_becomes_self_contained_sips(tmp_path, seda_schemas):
    # Fonds + Series + 10 persons x (File + 2 Items + 2 objects) = 52 units and objects.
    result = write_package(header(), tree(10), tmp_path, limits=Limits(max_items=20))

    assert [s.message_identifier for s in result.sips] == [f"UNIV-APOGEE-2023-000007-{i:03d}" for i in (1, 2, 3, 4)]
    n = ns("2.1")
    seen = []
    for sip in result.sips:
        assert sip.unit_count + sip.object_count <= 20
        assert validate_sip(sip.path, seda_schemas).issues == ()
        assert sip.sha256 == hashlib.sha256(sip.path.read_bytes()).hexdigest()
        root = etree.fromstring(manifest_of(sip.path))
        assert root.findtext("s:Comment", namespaces=n).endswith(f"partie {result.sips.index(sip) + 1}")
        fonds = root.find("s:DataObjectPackage/s:DescriptiveMetadata/s:ArchiveUnit", n)
        series = fonds.find("s:ArchiveUnit", n)
        keys = [u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=n) for u in (fonds, series)]
        assert keys == ["apogee:fonds", "apogee:serie:dossiers-etudiants"]
        assert series.findtext("s:Management/s:AppraisalRule/s:Rule", namespaces=n) == "APP-00002"
        for file in series.findall("s:ArchiveUnit", n):
            assert len(file.findall("s:ArchiveUnit", n)) == 2  # a person's file is never cut
            seen.append(file.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=n))
    assert seen == [f"apogee:etudiant:{i}" for i in range(1, 11)]
    assert (result.units, result.objects) == (sum(s.unit_count for s in result.sips), 20)


def test_bytes_limit_splits_too(tmp_path):
    result = write_package(header(), tree(6), tmp_path, limits=Limits(max_bytes=400))
    assert len(result.sips) > 1
    assert all(sip.payload_bytes <= 400 for sip in result.sips)


def test_a_person_file_bigger_than_a_sip_is_refused_by_key_and_nothing_is_left(tmp_path):
    with pytest.raises(UnitError) as caught:
        write_package(header(), tree(3), tmp_path / "out", limits=Limits(max_items=4))

    assert caught.value.unit == "apogee:etudiant:1"
    assert list((tmp_path / "out").iterdir()) == []


def test_an_empty_title_is_refused_naming_the_unit(tmp_path):
    bad = Unit("Item", " \t", key="apogee:etudiant:9:identite", object=DataObject("a.csv", CSV, data=b"a\r\n"))
    root = Unit("Fonds", "Fonds", children=[Unit("File", "Dossier", key="apogee:etudiant:9", children=[bad])])

    with pytest.raises(UnitError, match=r"apogee:etudiant:9:identite.*Title"):
        write_package(header(), root, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_empty_object_is_refused(tmp_path):
    root = Unit("Fonds", "Fonds", children=[Unit("Item", "Vide", key="k", object=DataObject("a.csv", CSV, data=b""))])
    with pytest.raises(UnitError, match="empty"):
        write_package(header(), root, tmp_path)


def test_memory_does_not_grow_with_the_number_of_units(tmp_path):
    def peak(count: int) -> int:
        tracemalloc.start()
        try:
            write_package(header(), tree(count), tmp_path / str(count))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1500), peak(6000)  # both past the 1 MiB read chunk of the spools
    assert large < small + 512 * 1024, (small, large)


def test_keywords_and_dates_are_optional_and_checked(tmp_path):
    unit = Unit("Item", "Pièce", start_date=date(2024, 1, 2), end_date=date(2023, 1, 1), keywords=[Keyword("x")])
    with pytest.raises(UnitError, match="after EndDate"):
        write_package(header(), Unit("Fonds", "F", children=[unit]), tmp_path)


@pytest.mark.parametrize("version", ["2.1", "2.3"])
def test_storage_rule_is_written_first_and_checked(tmp_path, seda_schemas, version):
    storage = Management(
        storage=Rule("STO-00001", date(2024, 1, 1)),
        storage_final_action="RestrictAccess",
        appraisal=Rule("APP-00003"),
        access=Rule("ACC-00017", date(2024, 6, 30)),
    )
    root = Unit("Fonds", "Fonds", key="f", management=storage, children=[person(1)])
    (sip,) = write_package(header(version), root, tmp_path).sips

    assert validate_sip(sip.path, seda_schemas, rules=load_rules(RULES_CSV)).issues == ()
    tree_root = etree.fromstring(manifest_of(sip.path))
    blocks = tree_root.find(".//s:ArchiveUnit/s:Management", ns(version))
    assert [etree.QName(b).localname for b in blocks] == ["StorageRule", "AppraisalRule", "AccessRule"]
    assert blocks[0].findtext("s:FinalAction", namespaces=ns(version)) == "RestrictAccess"
    assert blocks[1].findtext("s:FinalAction", namespaces=ns(version)) == "Keep"

    wrong = Unit("Fonds", "Fonds", key="f", management=Management(storage=Rule("APP-00003")), children=[person(1)])
    (bad,) = write_package(header(version), wrong, tmp_path / "bad").sips
    (issue,) = validate_sip(bad.path, seda_schemas, rules=load_rules(RULES_CSV)).issues
    assert issue.check == "rules" and "StorageRule" in issue.message and "'f'" in issue.message
