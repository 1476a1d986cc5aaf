"""Packaging profiles on the shipped Apogée and Harpège specifications: the tree of sources.md §4.2,
rule start dates from the records, one File per person, both schemas, FIDO on every object."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from lxml import etree

from extractors import generate
from extractors.scope import Scope
from profiles import ProfileError, load_profile, load_profile_file
from seda import Limits, load_rules, validate_sip
from tests.versement.conftest import DEMO_YEAR_SCOPE, NO_SANDBOX, demo_settings
from versement.ledger import open_ledger, trail
from versement.packaging import (
    PackagingError,
    build_package,
    dictionary_key,
    group_key,
    is_group_key,
    is_session_key,
    session_key,
    start_reasons,
    table_key,
)
from versement.pipeline import run_extract

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config" / "rules.csv"
PERIOD = Scope.period(date(2021, 1, 1), date(2023, 12, 31))
NS = {"s": "fr:gouv:culture:archivesdefrance:seda:v2.1"}


def _extracted(tmp: Path, seda_schemas: Path, tool: str, scope: Scope, *, nasty: bool = False, edit=None, **env):
    source = tmp / f"{tool}.sqlite"
    generate(tool, f"sqlite:///{source}", years=(2021, 2022, 2023), nasty=nasty)
    if edit is not None:
        with sqlite3.connect(source) as con:
            edit(con)
    settings = demo_settings(
        tmp, seda_schemas, NO_SANDBOX, **{f"VERSEMENT__SOURCES__{tool.upper()}__SYNTHETIC": "false"}, **env
    )
    ledger = open_ledger(settings)
    batch = run_extract(settings, ledger, tool, scope, actor="test")
    trail_path = tmp / "trail.json"
    trail_path.write_bytes(trail.document(batch, ledger.events(batch.id)))
    return settings, ledger, batch, trail_path


@pytest.fixture(scope="module")
def apogee(tmp_path_factory, seda_schemas):
    tmp = tmp_path_factory.mktemp("apogee")
    settings, ledger, batch, trail_path = _extracted(tmp, seda_schemas, "apogee", DEMO_YEAR_SCOPE)
    yield settings, ledger.batch(batch.id), trail_path, tmp
    ledger.close()


def _nullify_birth(con: sqlite3.Connection) -> None:
    (agent,) = con.execute("SELECT min(NO_INDIVIDU) FROM INDIVIDU").fetchone()
    con.execute("UPDATE INDIVIDU SET D_NAISSANCE = NULL WHERE NO_INDIVIDU = ?", (agent,))


@pytest.fixture(scope="module")
def harpege(tmp_path_factory, seda_schemas):
    tmp = tmp_path_factory.mktemp("harpege")
    settings, ledger, batch, trail_path = _extracted(tmp, seda_schemas, "harpege", PERIOD, edit=_nullify_birth)
    yield settings, ledger.batch(batch.id), trail_path, tmp
    ledger.close()


def manifest_of(sip: Path) -> etree._Element:
    with zipfile.ZipFile(sip) as archive:
        return etree.fromstring(archive.read("manifest.xml"))


def ns(version: str) -> dict[str, str]:
    return {"s": f"fr:gouv:culture:archivesdefrance:seda:v{version}"}


def units(root: etree._Element, level: str, version: str = "2.1") -> list[etree._Element]:
    return [
        u
        for u in root.iterfind(".//s:ArchiveUnit", ns(version))
        if u.findtext("s:Content/s:DescriptionLevel", namespaces=ns(version)) == level
    ]


def by_key(root: etree._Element, key: str, version: str = "2.1") -> etree._Element:
    (unit,) = [
        u
        for u in root.iterfind(".//s:ArchiveUnit", ns(version))
        if u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=ns(version)) == key
    ]
    return unit


def rule_start(unit: etree._Element, category: str, version: str = "2.1") -> str | None:
    block = unit.find(f"s:Management/s:{category}", ns(version))
    assert block is not None, f"no {category} on {unit.get('id')}"
    return block.findtext("s:StartDate", namespaces=ns(version))


_CATEGORY_FR = {"AppraisalRule": "DUA", "AccessRule": "communicabilité", "StorageRule": "DUC"}


def description(unit: etree._Element, version: str = "2.1") -> str:
    return unit.findtext("s:Content/s:Description", namespaces=ns(version)) or ""


_REASON = re.compile(
    r"Règles? (?P<rules>[\w-]+ \([^)]+\)(?:(?:, | et )[\w-]+ \([^)]+\))*)"
    r" : date de départ (?P<start>\d{4}-\d\d-\d\d), (?P<why>.*?)\.(?= Règle|$)"
)


def start_sentences(text: str) -> dict[str, list[str]]:
    """The start dates a Description explains, by rule as « ID (label) »: a sentence names one
    rule, or several that share their date and reason (« Règles A (DUA) et B (communicabilité) »)."""
    found: dict[str, list[str]] = {}
    for match in _REASON.finditer(text):
        for rule in re.split(r", | et ", match["rules"]):
            found.setdefault(rule, []).append(match["start"])
    return found


def assert_every_start_is_explained(root: etree._Element, version: str = "2.1") -> int:
    """Each rule with its own StartDate has its sentence in its unit's Description (once), and a
    rule without one has none (no reason for a date the manifest does not give). Returns how many."""
    explained = 0
    for unit in root.iterfind(".//s:ArchiveUnit", ns(version)):
        text = description(unit, version)
        said = start_sentences(text)
        for category, label in _CATEGORY_FR.items():
            block = unit.find(f"s:Management/s:{category}", ns(version))
            if block is None:
                continue
            rule = block.findtext("s:Rule", namespaces=ns(version))
            start = block.findtext("s:StartDate", namespaces=ns(version))
            if start is None:
                assert f"{rule} ({label})" not in said, (unit.get("id"), text)
            else:
                assert said.get(f"{rule} ({label})") == [start], (unit.get("id"), category, text)
                explained += 1
        # The same date for the same reason is said once, naming every rule it starts.
        sentences = [(m["start"], m["why"]) for m in _REASON.finditer(text)]
        assert len(sentences) == len(set(sentences)), (unit.get("id"), text)
    return explained


def test_rules_starting_on_the_same_day_for_the_same_reason_share_one_sentence():
    year = "le 31 août suivant la dernière année universitaire (2023-2024, inscriptions.COD_ANU)"
    day = date(2024, 8, 31)
    assert start_reasons([("AppraisalRule", "APP-00002", day, year), ("AccessRule", "ACC-00003", day, year)]) == (
        f"Règles APP-00002 (DUA) et ACC-00003 (communicabilité) : date de départ 2024-08-31, {year}."
    )
    three = start_reasons(
        [("AppraisalRule", "APP-1", day, year), ("AccessRule", "ACC-1", day, year), ("StorageRule", "STO-1", day, year)]
    )
    assert three == f"Règles APP-1 (DUA), ACC-1 (communicabilité) et STO-1 (DUC) : date de départ 2024-08-31, {year}."
    # Another day, or the same day for another reason (another column), keeps its own sentence.
    other = "la date la plus récente des enregistrements (inscriptions.DAT_CRE_IAE)"
    mixed = start_reasons(
        [
            ("AppraisalRule", "APP-1", day, year),
            ("AccessRule", "ACC-1", day, other),
            ("StorageRule", "STO-1", date(2024, 9, 1), year),
        ]
    )
    assert mixed == (
        f"Règle APP-1 (DUA) : date de départ 2024-08-31, {year}. "
        f"Règle ACC-1 (communicabilité) : date de départ 2024-08-31, {other}. "
        f"Règle STO-1 (DUC) : date de départ 2024-09-01, {year}."
    )
    assert start_sentences(mixed) == {
        "APP-1 (DUA)": ["2024-08-31"],
        "ACC-1 (communicabilité)": ["2024-08-31"],
        "STO-1 (DUC)": ["2024-09-01"],
    }
    assert start_reasons([]) is None


@pytest.mark.parametrize("tool", ["apogee", "harpege"])
@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_every_profile_gives_sips_both_schemas_and_the_rules_accept(tool, version, request, seda_schemas, tmp_path):
    settings, batch, trail_path, _ = request.getfixturevalue(tool)
    packaged = build_package(
        replace(settings, seda_version=version), batch, tmp_path, f"T-{tool}-{version}", trail_path
    )
    (sip,) = packaged.result.sips
    report = validate_sip(sip.path, seda_schemas, version=version, rules=load_rules(RULES))
    assert report.valid and not report.checks_skipped, report.issues[:5]
    root = manifest_of(sip.path)
    files = [
        u
        for u in units(root, "File", version)
        if ":etudiant:"
        in (u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=ns(version)) or "")
        or ":agent:" in (u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=ns(version)) or "")
    ]
    assert len(files) == packaged.persons > 0
    assert assert_every_start_is_explained(root, version) > len(files)  # the reasons validate in this version
    keys = [k.text for k in root.iterfind(".//s:OriginatingAgencyArchiveUnitIdentifier", ns(version))]
    assert len(keys) == len(set(keys))  # one record, one identifier: no two units share a key
    fonds = units(root, "Fonds", version)
    assert len(fonds) == 1
    series = [u.findtext("s:Content/s:Title", namespaces=ns(version)) for u in units(root, "Series", version)]
    expected = {
        "apogee": {
            "Référentiels et offre de formation",
            "Inscriptions administratives (registres annuels)",
            "Délibérations des jurys (procès-verbaux)",
            "Registres des diplômes délivrés",
            "Dossiers individuels des étudiants",
        },
        "harpege": {"Référentiels RH (structures, corps, grades, contrats)", "Dossiers de carrière des agents"},
    }[tool]
    assert expected <= set(series)
    assert f"Journal d'audit du lot {batch.id}" in series


def test_objects_declare_the_format_fido_finds(apogee, tmp_path):
    from vitam_sandbox.formats import identify

    settings, batch, trail_path, _ = apogee
    (sip,) = build_package(settings, batch, tmp_path / "sip", "T-FIDO", trail_path).result.sips
    root = manifest_of(sip.path)
    checked: list[str] = []
    with zipfile.ZipFile(sip.path) as archive:
        for obj in root.iterfind(".//s:BinaryDataObject", NS):
            uri = str(obj.findtext("s:Uri", namespaces=NS))
            declared = obj.findtext("s:FormatIdentification/s:FormatId", namespaces=NS)
            if uri.endswith(".json") and sum(u.endswith(".json") for u in checked) >= 40:
                continue  # FIDO takes a while per file: every table, the first 40 person documents
            target = tmp_path / "objects" / Path(uri).name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(archive.read(uri))
            found = identify(target, declared_puid=declared)
            assert found is not None and found.puid == declared, (uri, declared, found)
            checked.append(uri)
    assert any(u.endswith(".json") for u in checked) and any(u.endswith(".csv") for u in checked)


def test_student_file_and_jury_rule_starts_come_from_the_records(apogee, tmp_path):
    settings, batch, trail_path, tmp = apogee
    (sip,) = build_package(settings, batch, tmp_path, "T-DATES", trail_path).result.sips
    root = manifest_of(sip.path)
    # A student, checked by hand in the source: their last registration year is 2023, so the file's
    # DUA and communicability start on 31 August 2024; their restricted piece from their birth date.
    with sqlite3.connect(tmp / "apogee.sqlite") as con:
        cod_ind, year, birth = con.execute(
            "SELECT iae.COD_IND, max(iae.COD_ANU), ind.DATE_NAI_IND FROM INS_ADM_ETP iae JOIN INDIVIDU ind "
            "ON ind.COD_IND = iae.COD_IND WHERE iae.COD_ANU = '2023' AND iae.ETA_IAE = 'E' "
            "GROUP BY iae.COD_IND ORDER BY iae.COD_IND LIMIT 1"
        ).fetchone()
        (jury,) = con.execute(
            "SELECT max(d) FROM (SELECT max(DAT_AVC_VET) AS d FROM GRP_RESULTAT_VET WHERE COD_ANU = '2023' "
            "UNION ALL SELECT max(DAT_AVC_VDI) FROM GRP_RESULTAT_VDI WHERE COD_ANU = '2023')"
        ).fetchone()
    student = by_key(root, f"apogee:etudiant:{cod_ind}")
    assert rule_start(student, "AppraisalRule") == rule_start(student, "AccessRule") == f"{int(year) + 1}-08-31"
    assert student.findtext("s:Management/s:AppraisalRule/s:Rule", namespaces=NS) == "APP-00002"
    assert student.findtext("s:Management/s:AppraisalRule/s:FinalAction", namespaces=NS) == "Destroy"
    assert student.findtext("s:Content/s:Keyword/s:KeywordType", namespaces=NS) == "persname"
    assert "INE" in student.findtext("s:Content/s:Title", namespaces=NS)
    items = [u.findtext("s:Content/s:Title", namespaces=NS) for u in student.iterfind("s:ArchiveUnit", NS)]
    assert any(t.startswith("Identité") for t in items) and any(t.startswith("Inscriptions") for t in items)
    assert birth  # the synthetic source has one
    # The jury minutes: 50 years from the most recent deliberation of the year.
    minutes = by_key(root, "apogee:deliberations:2023-2024")
    assert rule_start(minutes, "AccessRule") == str(jury)[:10]
    assert minutes.findtext("s:Management/s:AccessRule/s:Rule", namespaces=NS) == "ACC-00017"
    # Registers start at the end of the academic year.
    register = by_key(root, "apogee:inscriptions:2023-2024")
    assert rule_start(register, "AccessRule") == "2024-08-31"


def test_an_agent_starts_from_birth_and_latest_act_and_a_missing_birth_is_reported(harpege, tmp_path):
    settings, batch, trail_path, tmp = harpege
    packaged = build_package(settings, batch, tmp_path, "T-AGENT", trail_path)
    root = manifest_of(packaged.result.sips[0].path)
    with sqlite3.connect(tmp / "harpege.sqlite") as con:
        (missing,) = con.execute("SELECT min(NO_INDIVIDU) FROM INDIVIDU").fetchone()
        agent, birth = con.execute(
            "SELECT NO_INDIVIDU, D_NAISSANCE FROM INDIVIDU WHERE D_NAISSANCE IS NOT NULL ORDER BY NO_INDIVIDU LIMIT 1"
        ).fetchone()
    # The latest act, computed here from the extracted Parquet files with pyarrow alone.
    acts: list[str] = []
    profile = load_profile("harpege")
    (columns,) = [s.access.start.columns for s in profile.series if s.name == "dossiers_agents" and s.access]
    for dataset in batch.datasets:
        table = pq.read_table(dataset.path)
        if "NO_DOSSIER_PERS" not in table.column_names:
            continue
        for row in table.to_pylist():
            if str(row["NO_DOSSIER_PERS"]) == str(agent):
                acts.extend(str(row[c])[:10] for c in columns if c in row and row[c] is not None)
    acts = [a for a in acts if "1900-01-02" <= a <= "2023-12-31"]  # no placeholder, nothing after the period
    file = by_key(root, f"harpege:agent:{agent}")
    assert rule_start(file, "AppraisalRule") == str(birth)[:10]
    assert file.findtext("s:Management/s:AppraisalRule/s:Rule", namespaces=NS) == "APP-00001"
    assert acts and rule_start(file, "AccessRule") == max(acts)
    agents = [
        f
        for f in units(root, "File")
        if "harpege:agent:" in str(f.findtext(".//s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS))
    ]
    starts = [rule_start(f, "AccessRule") for f in agents]
    assert len(agents) > 100 and all(
        s is None or s <= "2023-12-31" for s in starts
    )  # neither 9999-12-31 nor a planned end
    # The agent without a birth date: no StartDate made up, the archivist is told.
    lost = by_key(root, f"harpege:agent:{missing}")
    assert rule_start(lost, "AppraisalRule") is None
    reported = [m for m in packaged.missing_starts if m.unit == f"harpege:agent:{missing}"]
    assert [m.category for m in reported] == ["AppraisalRule"]
    assert reported[0].reason.startswith("date de naissance absente")
    assert any(f"harpege:agent:{missing}" in line for line in packaged.approval_lines())
    assert packaged.details()["start_dates_missing_count"] >= 1


def test_sensitive_columns_go_to_a_restricted_item(tmp_path, seda_schemas):
    settings, ledger, batch, trail_path = _extracted(
        tmp_path, seda_schemas, "harpege", PERIOD, VERSEMENT__SOURCES__HARPEGE__INCLUDE_SENSITIVE='["nir"]'
    )
    packaged = build_package(settings, ledger.batch(batch.id), tmp_path / "sip", "T-NIR", trail_path)
    (sip,) = packaged.result.sips
    assert validate_sip(sip.path, seda_schemas, rules=load_rules(RULES)).valid
    root = manifest_of(sip.path)
    restricted = [
        u
        for u in units(root, "Item")
        if (u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS) or "").endswith(
            ":donnees_protegees"
        )
    ]
    assert restricted
    assert restricted[0].findtext("s:Management/s:AccessRule/s:Rule", namespaces=NS) == "ACC-00009"
    # The restricted piece says its access rule starts from the birth date, after its own description.
    born = rule_start(restricted[0], "AccessRule")
    assert born and re.fullmatch(
        rf"Pièce restreinte : .*\. Règle ACC-00009 \(communicabilité\) : date de départ {born}, "
        r"la date de naissance \(\w+\.D_NAISSANCE\)\.",
        description(restricted[0]),
    ), description(restricted[0])
    assert_every_start_is_explained(root)
    with zipfile.ZipFile(sip.path) as archive:
        documents = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".json")}
    with_nir = [n for n, text in documents.items() if '"NO_INSEE"' in text]
    assert with_nir and all('"protégées' in documents[n] or "protégées" in documents[n] for n in with_nir)
    # The Series' dictionary lists the NIR and says which piece holds it.
    (identity,) = [d.name for d in batch.datasets if d.name == "agents_identite"]
    item = by_key(root, f"harpege:dossiers_agents:dictionnaire:{identity}")
    ref = item.findtext("s:DataObjectReference/s:DataObjectGroupReferenceId", namespaces=NS)
    (uri,) = [
        g.findtext("s:BinaryDataObject/s:Uri", namespaces=NS)
        for g in root.iterfind(".//s:DataObjectGroup", NS)
        if g.get("id") == ref
    ]
    with zipfile.ZipFile(sip.path) as archive:
        (nir,) = [line for line in archive.read(uri).decode().split("\r\n") if line.startswith("NO_INSEE,")]
    assert nir.endswith('dans la pièce restreinte « Données protégées (NIR, adresses, coordonnées bancaires) »"'), nir
    ledger.close()


@pytest.mark.parametrize("tool", ["apogee", "harpege"])
def test_every_dataset_of_the_person_documents_has_its_dictionary_in_the_series(tool, request, tmp_path):
    settings, batch, trail_path, _ = request.getfixturevalue(tool)
    (sip,) = build_package(settings, batch, tmp_path, f"T-DICT-{tool}", trail_path).result.sips
    root = manifest_of(sip.path)
    uris = {
        g.get("id"): g.findtext("s:BinaryDataObject/s:Uri", namespaces=NS)
        for g in root.iterfind(".//s:DataObjectGroup", NS)
    }
    profile = load_profile(tool)
    (spec,) = [s for s in profile.series if s.layout == "persons"]
    series = by_key(root, f"{tool}:{spec.name}")
    with zipfile.ZipFile(sip.path) as archive:
        documents = [
            json.loads(archive.read(uris[ref]))
            for ref in (
                u.findtext("s:DataObjectReference/s:DataObjectGroupReferenceId", namespaces=NS)
                for f in series.iter(f"{{{NS['s']}}}ArchiveUnit")
                if f.findtext("s:Content/s:DescriptionLevel", namespaces=NS) == "File"
                for u in f.iterfind("s:ArchiveUnit", NS)
            )
            if ref is not None
        ]
        in_documents: dict[str, set[str]] = {}
        for document in documents:
            for name, part in document["jeux_de_donnees"].items():
                in_documents.setdefault(name, set()).update(c for row in part["lignes"] for c in row)
        assert len(in_documents) >= 3
        for name, columns in in_documents.items():
            # Each dataset a person's documents hold is described by an Item of the Series itself.
            item = by_key(root, f"{tool}:{spec.name}:dictionnaire:{name}")
            assert item.getparent() is series
            assert item.findtext("s:Content/s:Title", namespaces=NS).startswith("Dictionnaire des données : ")
            ref = item.findtext("s:DataObjectReference/s:DataObjectGroupReferenceId", namespaces=NS)
            lines = archive.read(uris[ref]).decode("utf-8").split("\r\n")
            assert lines[0] == "colonne,libellé,type,unité ou liste de codes,signification"
            described = {line.split(",", 1)[0] for line in lines[1:] if line}
            assert columns <= described, (name, columns - described)
    # Dictionaries come ahead of the Files, so that a split package carries them in its first SIP.
    children = list(series.iterfind("s:ArchiveUnit", NS))
    levels = [u.findtext("s:Content/s:DescriptionLevel", namespaces=NS) for u in children]
    head = levels.index("File")
    assert head >= len(in_documents) and set(levels[:head]) == {"Item"} and "Item" not in levels[head:]
    dictionaries = [u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS) for u in children]
    assert all(k.startswith(f"{tool}:{spec.name}:dictionnaire:") for k in dictionaries[:head])


def test_nasty_values_give_valid_xml(tmp_path, seda_schemas):
    settings, ledger, batch, trail_path = _extracted(tmp_path, seda_schemas, "apogee", DEMO_YEAR_SCOPE, nasty=True)
    packaged = build_package(settings, ledger.batch(batch.id), tmp_path / "sip", "T-NASTY", trail_path)
    (sip,) = packaged.result.sips
    report = validate_sip(sip.path, seda_schemas, rules=load_rules(RULES))
    assert report.valid, report.issues[:5]
    assert packaged.result.warnings  # control characters replaced in titles, and said so
    # The archivist reads, in the approval request, the rule applied and each unit and field it changed.
    lines = packaged.approval_lines()
    (head,) = [i for i, line in enumerate(lines) if "texte(s) du bordereau signalé(s)" in line]
    assert "remplacé par U+FFFD" in lines[head] and lines[head].startswith(f"⚠ {len(packaged.result.warnings)} ")
    replaced = [line for line in lines[head + 1 :] if line.startswith("    – apogee:etudiant:")]
    assert replaced and all(
        line.endswith(" : 2 caractère(s) interdit(s) en XML 1.0 (U+0001, U+000B) remplacé(s) par U+FFFD")
        for line in replaced
    ), replaced
    assert any(" (Title) : " in line for line in replaced) and any(" (Keyword) : " in line for line in replaced)
    with zipfile.ZipFile(sip.path) as archive:
        documents = [json.loads(archive.read(n)) for n in archive.namelist() if n.endswith(".json")]
    everything = json.dumps(documents, ensure_ascii=False)
    assert "HÃ©loÃ¯se" in everything  # double-encoded Latin-1 kept as the source holds it
    assert "MARTIN\\u000bDUPONT" in everything  # a control character, escaped in JSON
    ledger.close()


def test_the_same_batch_packaged_twice_gives_the_same_manifest(apogee, tmp_path):
    settings, batch, trail_path, _ = apogee
    first = build_package(settings, batch, tmp_path / "one", "T-ONE", trail_path).result.sips[0]
    second = build_package(settings, batch, tmp_path / "two", "T-TWO", trail_path).result.sips[0]

    def normalised(sip: Path) -> bytes:
        with zipfile.ZipFile(sip) as archive:
            text = archive.read("manifest.xml")
        text = re.sub(rb"<Date>[^<]*</Date>", b"", text)
        return re.sub(rb"<MessageIdentifier>[^<]*</MessageIdentifier>", b"", text)

    assert normalised(first.path) == normalised(second.path)


def test_a_misspelt_profile_key_is_refused_with_the_closest_key(tmp_path):
    shipped = load_profile("apogee").path.read_text(encoding="utf-8")
    (tmp_path / "apogee.toml").write_text(
        shipped.replace('file_title = "Registre', 'file_tilte = "Registre'), encoding="utf-8"
    )
    with pytest.raises(ProfileError) as caught:
        load_profile("apogee", tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "apogee.toml") in message and "file_tilte" in message and "'file_title'" in message
    (tmp_path / "apogee.toml").write_text(
        shipped.replace('start = "scope_end"', 'start = "scope_ends"', 1), encoding="utf-8"
    )
    with pytest.raises(ProfileError, match="did you mean 'scope_end'"):
        load_profile_file(tmp_path / "apogee.toml")


def test_an_institution_profile_with_an_unknown_rule_is_refused(apogee, tmp_path):
    settings, batch, trail_path, _ = apogee
    shipped = load_profile("apogee").path.read_text(encoding="utf-8")
    folder = tmp_path / "profils"
    folder.mkdir()
    (folder / "apogee.toml").write_text(shipped.replace('"APP-00002"', '"APP-09999"'), encoding="utf-8")
    with pytest.raises(PackagingError, match=r"APP-09999.*not in the rules referential"):
        build_package(replace(settings, seda_profiles=folder), batch, tmp_path / "sip", "T-RULE", trail_path)


def test_without_a_rules_referential_nothing_is_packaged_and_the_ledger_says_why(tmp_path, seda_schemas):
    from versement.ledger import State
    from versement.pipeline import StageError, run_package, run_validate

    settings, ledger, batch, _ = _extracted(tmp_path, seda_schemas, "harpege", PERIOD, VERSEMENT__SEDA__RULES="")
    assert settings.seda_rules is None
    run_validate(settings, ledger, batch.id, actor="test")
    with pytest.raises(StageError, match=r"lot \d+ : empaquetage impossible : .*seda\.rules"):
        run_package(settings, ledger, batch.id, actor="test")
    assert ledger.batch(batch.id).state == State.VALIDATED
    failed = ledger.events(batch.id)[-1]
    assert failed.action == "package.failed" and "seda.rules" in failed.details
    assert not list((tmp_path / "staging").rglob("*.zip"))
    ledger.close()


@pytest.mark.parametrize("version", ["2.1", "2.3"])
def test_a_storage_rule_configured_in_a_profile_is_written_checked_and_explained(
    harpege, seda_schemas, tmp_path, version
):
    settings, batch, trail_path, tmp = harpege
    shipped = load_profile("harpege").path.read_text(encoding="utf-8")
    series_access = 'access = { rule = "ACC-00001", start = "scope_end" }\n\n[[series]]\nname = "dossiers_agents"'
    persons_access = 'sensitive = "separate"\n'
    assert series_access in shipped and shipped.count(persons_access) == 1
    institution = shipped.replace(
        series_access,
        series_access.replace(
            "\n\n", '\nstorage = { rule = "STO-00002", final_action = "Copy", start = "scope_end" }\n\n', 1
        ),
    ).replace(
        persons_access,
        'storage = { rule = "STO-00001", final_action = "Copy", start = "birth_date" }\n' + persons_access,
    )
    folder = tmp_path / "profils"
    folder.mkdir()
    (folder / "harpege.toml").write_text(institution, encoding="utf-8")
    configured = replace(settings, seda_profiles=folder, seda_version=version)
    packaged = build_package(configured, batch, tmp_path / "sip", f"T-STORAGE-{version}", trail_path)
    (sip,) = packaged.result.sips
    report = validate_sip(sip.path, seda_schemas, version=version, rules=load_rules(RULES))
    assert report.valid and "rules" in report.checks_run, report.issues[:5]
    root = manifest_of(sip.path)
    n = ns(version)
    references = by_key(root, "harpege:referentiels_rh", version)
    assert references.findtext("s:Management/s:StorageRule/s:Rule", namespaces=n) == "STO-00002"
    assert references.findtext("s:Management/s:StorageRule/s:FinalAction", namespaces=n) == "Copy"
    assert rule_start(references, "StorageRule", version) == "2023-12-31"  # the end of the batch's period
    with sqlite3.connect(tmp / "harpege.sqlite") as con:
        agent, birth = con.execute(
            "SELECT NO_INDIVIDU, D_NAISSANCE FROM INDIVIDU WHERE D_NAISSANCE IS NOT NULL ORDER BY NO_INDIVIDU LIMIT 1"
        ).fetchone()
    file = by_key(root, f"harpege:agent:{agent}", version)
    assert file.findtext("s:Management/s:StorageRule/s:Rule", namespaces=n) == "STO-00001"
    assert rule_start(file, "StorageRule", version) == str(birth)[:10]
    # Both birth-date rules share one sentence, the storage rule named last.
    assert f"APP-00001 (DUA) et STO-00001 (DUC) : date de départ {str(birth)[:10]}" in description(file, version)
    assert_every_start_is_explained(root, version)
    # The agent without a birth date: no storage start made up either, and reported.
    (missing,) = {m.unit for m in packaged.missing_starts if m.category == "StorageRule"}
    assert rule_start(by_key(root, missing, version), "StorageRule", version) is None


def test_profiles_name_only_columns_and_datasets_of_their_specification():
    from extractors.specs import load_tool

    for tool in ("apogee", "harpege", "pegase"):
        spec = load_tool(tool)
        profile = load_profile(tool)
        names = set(spec.names())
        record_types = {d.record_type for d in spec.datasets}
        for series in profile.series:
            assert set(series.datasets) <= names, (tool, series.name)
            assert set(series.record_types) <= record_types, (tool, series.name)
        columns = {c for d in spec.datasets for c in d.columns} | {
            c.strip() for d in spec.datasets for c in re.findall(r"\b([A-Za-z_]+)\b", d.sql)
        }
        for _, _, rule in profile.rules():
            assert set(rule.start.columns) <= columns, (tool, rule)
        for series in profile.series:
            for group in series.groups:
                dataset = spec.dataset(group.dataset)
                assert dataset.record_type in series.record_types, (tool, group)
                assert {*group.by, *([group.session] if group.session else [])} <= set(dataset.columns) | {
                    c for c in re.findall(r"\b([A-Za-z_]+)\b", dataset.sql)
                }, (tool, group)
                if group.label:
                    assert group.label[0] in names, (tool, group)


def test_a_batch_over_the_sip_limits_becomes_several_valid_sips_all_recorded(tmp_path, seda_schemas):
    from versement.ledger import State
    from versement.ledger.sips import current_sips
    from versement.pipeline import run_package, run_validate

    settings, ledger, batch, _ = _extracted(tmp_path, seda_schemas, "harpege", PERIOD, VERSEMENT__SEDA__MAX_ITEMS="200")
    run_validate(settings, ledger, batch.id, actor="test")
    batch = run_package(settings, ledger, batch.id, actor="test")
    assert batch.state == State.AWAITING_APPROVAL
    parts = current_sips(batch)
    assert len(parts) >= 2
    assert sorted(p.name for p in (tmp_path / "staging").rglob("*.zip")) == sorted(Path(p.path).name for p in parts)
    for part in parts:
        assert part.units + part.objects <= 200
        report = validate_sip(Path(part.path), seda_schemas, version=settings.seda_version)
        assert report.valid, report.issues[:3]
    assert ledger.verify().ok
    ledger.close()


def test_rows_naming_no_person_are_kept_apart_and_reported(tmp_path, seda_schemas):
    import pyarrow as pa

    settings, ledger, batch, trail_path = _extracted(tmp_path, seda_schemas, "harpege", PERIOD)
    batch = ledger.batch(batch.id)
    (positions,) = [d for d in batch.datasets if d.name == "positions"]
    table = pq.read_table(positions.path)
    keys = table.column("NO_DOSSIER_PERS").to_pylist()
    keys[0] = None  # a position that names no agent (the source's constraint lost, say)
    index = table.column_names.index("NO_DOSSIER_PERS")
    table = table.set_column(index, table.schema.field(index), pa.array(keys, table.schema.field(index).type))
    pq.write_table(table, positions.path)
    packaged = build_package(settings, batch, tmp_path / "sip", "T-ORPHAN", trail_path)
    assert packaged.rows_without_person == {"positions": 1}
    assert any("positions : 1 ligne(s) sans identifiant" in line for line in packaged.approval_lines())
    root = manifest_of(packaged.result.sips[0].path)
    orphans = by_key(root, "harpege:positions:2021-01-01..2023-12-31:sans_personne")
    assert orphans.find("s:DataObjectReference", NS) is not None
    assert validate_sip(packaged.result.sips[0].path, seda_schemas, rules=load_rules(RULES)).valid
    ledger.close()


@pytest.fixture
def pegase(tmp_path, seda_schemas, postgres_url):
    """A small Pégase batch (40 learners, three years) extracted from a PostgreSQL DRE-like source."""
    generate("pegase", postgres_url, students=40, years=(2021, 2022, 2023))
    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX, VERSEMENT__SOURCES__PEGASE__URL=postgres_url)
    ledger = open_ledger(settings)
    batch = run_extract(settings, ledger, "pegase", DEMO_YEAR_SCOPE, actor="test")
    trail_path = tmp_path / "trail.json"
    trail_path.write_bytes(trail.document(batch, ledger.events(batch.id)))
    yield settings, ledger.batch(batch.id), trail_path
    ledger.close()


def test_the_pegase_profile_gives_valid_sips_with_its_tree(pegase, seda_schemas, tmp_path):
    settings, batch, trail_path = pegase
    paths = {d.name: Path(d.path) for d in batch.datasets}
    learners = pq.read_table(paths["apprenants"]).to_pylist()
    persons = {
        str(code)
        for name in ("apprenants", "inscriptions", "resultats", "diplomes")
        for code in pq.read_table(paths[name]).column("code_apprenant").to_pylist()
    }
    registered = pq.read_table(paths["inscriptions"]).to_pylist()
    diplomas = pq.read_table(paths["diplomes"]).to_pylist()
    assert learners and registered and diplomas
    for version in ("2.1", "2.2", "2.3"):
        packaged = build_package(
            replace(settings, seda_version=version), batch, tmp_path / version, f"T-PEGASE-{version}", trail_path
        )
        (sip,) = packaged.result.sips
        report = validate_sip(sip.path, seda_schemas, version=version, rules=load_rules(RULES))
        assert report.valid and not report.checks_skipped, report.issues[:5]
        assert {f"seda-{version}", f"vitam-{version}"} <= set(report.checks_run)  # both schemas
        root = manifest_of(sip.path)
        keys = [k.text for k in root.iterfind(".//s:OriginatingAgencyArchiveUnitIdentifier", ns(version))]
        assert len(keys) == len(set(keys))  # the dataset "diplomes" and the Series "diplomes" apart
        (fonds,) = units(root, "Fonds", version)
        assert "Pégase" in fonds.findtext("s:Content/s:Title", namespaces=ns(version))
        series = {u.findtext("s:Content/s:Title", namespaces=ns(version)): u for u in units(root, "Series", version)}
        assert {
            "Référentiels et offre de formation",
            "Inscriptions administratives (registres annuels)",
            "Notes et résultats des jurys",
            "Registres des diplômes délivrés",
            "Dossiers individuels des étudiants",
            f"Journal d'audit du lot {batch.id}",
        } == set(series)
        # One File per learner under the students' Series, keyed by code_apprenant, each with its slices.
        files = series["Dossiers individuels des étudiants"].findall(".//s:ArchiveUnit", ns(version))
        files = [f for f in files if f.findtext("s:Content/s:DescriptionLevel", namespaces=ns(version)) == "File"]
        file_keys = {
            f.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=ns(version)) for f in files
        }
        assert file_keys == {f"pegase:etudiant:{c}" for c in persons} and packaged.persons == len(persons)
        # A learner checked against the extracted rows: title, Items, rule starts (end of the last year).
        code = sorted(str(r["code_apprenant"]) for r in learners)[0]
        (row,) = [r for r in learners if str(r["code_apprenant"]) == code]
        file = by_key(root, f"pegase:etudiant:{code}", version)
        title = file.findtext("s:Content/s:Title", namespaces=ns(version))
        assert title.startswith(f"Dossier étudiant n° étudiant {code} / INE {row['ine_maitre']}")
        last_year = max(int(r["annee_universitaire"]) for r in registered if str(r["code_apprenant"]) == code)
        assert rule_start(file, "AppraisalRule", version) == rule_start(file, "AccessRule", version)
        assert rule_start(file, "AppraisalRule", version) == f"{last_year + 1}-08-31"
        items = [
            u.findtext("s:Content/s:Title", namespaces=ns(version)) for u in file.iterfind("s:ArchiveUnit", ns(version))
        ]
        assert items[0].startswith("Identité — ") and any(t.startswith("Inscriptions — ") for t in items)
        # The diploma register starts from the latest deliberation date of the year.
        register = by_key(root, "pegase:diplomes:2023-2024", version)
        latest = max(str(r["date_deliberation"])[:10] for r in diplomas)
        assert rule_start(register, "AccessRule", version) == latest
        assert register.findtext("s:Management/s:AccessRule/s:Rule", namespaces=ns(version)) == "ACC-00016"
        assert not packaged.missing_count


def _without_person(dataset, column: str) -> None:
    """The first row of `dataset` names no person (the source's constraint lost, say)."""
    import pyarrow as pa

    table = pq.read_table(dataset.path)
    keys = table.column(column).to_pylist()
    keys[0] = None
    index = table.column_names.index(column)
    table = table.set_column(index, table.schema.field(index), pa.array(keys, table.schema.field(index).type))
    pq.write_table(table, dataset.path)


def test_sensitive_omit_leaves_sensitive_columns_out_of_every_object(tmp_path, seda_schemas):
    settings, ledger, batch, trail_path = _extracted(
        tmp_path,
        seda_schemas,
        "harpege",
        PERIOD,
        VERSEMENT__SOURCES__HARPEGE__INCLUDE_SENSITIVE='["nir", "postal_address", "bank_details"]',
    )
    batch = ledger.batch(batch.id)
    (addresses,) = [d for d in batch.datasets if d.name == "agents_adresses"]
    _without_person(addresses, "NO_DOSSIER_PERS")  # an address of no agent: outside any File, still omitted
    folder = tmp_path / "profils"
    folder.mkdir()
    shipped = load_profile("harpege").path.read_text(encoding="utf-8")
    assert shipped.count('sensitive = "separate"') == 1
    (folder / "harpege.toml").write_text(shipped.replace('sensitive = "separate"', 'sensitive = "omit"'), "utf-8")
    # What must not leave: every value of a sensitive column long enough not to occur by chance and
    # found in no other column (a home town may also be a birthplace).
    sensitive: dict[str, set[str]] = {}
    ordinary: set[str] = set()
    ordinary_in: dict[str, list[set[str]]] = {}  # column name -> the columns of each dataset where it is ordinary
    for dataset in batch.datasets:
        columns = [
            c
            for c, spec in (dataset.spec or {}).get("columns", {}).items()
            if {"nir", "postal_address", "bank_details"} & set(spec.get("tags") or ())
        ]
        table = pq.read_table(dataset.path)
        for column in table.column_names:
            values = {str(v) for v in table.column(column).to_pylist() if v is not None}
            if column in columns:
                sensitive.setdefault(column, set()).update(v for v in values if len(v) >= 8)
            else:
                ordinary |= values
                ordinary_in.setdefault(column, []).append(set(table.column_names))
    sensitive = {column: values - ordinary for column, values in sensitive.items()}
    assert {"NO_INSEE", "NO_COMPTE", "NOM_VOIE"} <= {c for c, v in sensitive.items() if v}
    packaged = build_package(replace(settings, seda_profiles=folder), batch, tmp_path / "sip", "T-OMIT", trail_path)
    (sip,) = packaged.result.sips
    assert validate_sip(sip.path, seda_schemas, rules=load_rules(RULES)).valid
    assert packaged.rows_without_person.get("agents_adresses") == 1
    root = manifest_of(sip.path)
    keys = [k.text or "" for k in root.iterfind(".//s:OriginatingAgencyArchiveUnitIdentifier", NS)]
    assert not [k for k in keys if k.endswith(":donnees_protegees")]  # no restricted piece: nothing to put in one
    assert any(k.endswith("agents_adresses:2021-01-01..2023-12-31:sans_personne") for k in keys)
    with zipfile.ZipFile(sip.path) as archive:
        members = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    trail_text = trail_path.read_text(encoding="utf-8")
    assert len(members) > 100
    for name, text in members.items():
        for column, values in sensitive.items():
            leaked = [v for v in values if v in text]
            assert not leaked, (name, column, leaked[:3])
            if name != "manifest.xml" and text != trail_text:  # the trail names columns, holds no value
                header = text.split("\r\n", 1)[0]
                named = f'"{column}"' in text or f"{column}," in header
                # A name another dataset uses for an ordinary column (C_PAYS: an address's country, and
                # the key of the country table) may head that dataset's CSV, and no other.
                shown = {h.strip('"') for h in header.split(",")}
                assert not named or any(shown <= others for others in ordinary_in.get(column, ())), (name, column)
                # Nor does a data dictionary list it (the dictionaries of the person documents included),
                # unless it is also another dataset's ordinary column, whose dictionary lists it.
                if column not in ordinary_in:
                    assert not any(line.startswith(f"{column},") for line in text.split("\r\n")), (name, column)
    assert any(k.startswith("harpege:dossiers_agents:dictionnaire:") for k in keys)
    ledger.close()


def test_sensitive_columns_of_rows_naming_no_person_go_to_a_restricted_csv(tmp_path, seda_schemas):
    settings, ledger, batch, trail_path = _extracted(
        tmp_path, seda_schemas, "harpege", PERIOD, VERSEMENT__SOURCES__HARPEGE__INCLUDE_SENSITIVE='["postal_address"]'
    )
    batch = ledger.batch(batch.id)
    (addresses,) = [d for d in batch.datasets if d.name == "agents_adresses"]
    _without_person(addresses, "NO_DOSSIER_PERS")
    street = pq.read_table(addresses.path).column("NOM_VOIE").to_pylist()[0]
    packaged = build_package(settings, batch, tmp_path / "sip", "T-ORPHAN-ADDRESS", trail_path)
    (sip,) = packaged.result.sips
    assert validate_sip(sip.path, seda_schemas, rules=load_rules(RULES)).valid
    root = manifest_of(sip.path)
    key = "harpege:agents_adresses:2021-01-01..2023-12-31:sans_personne"
    ordinary, restricted = by_key(root, key), by_key(root, f"{key}:donnees_protegees")
    assert restricted.findtext("s:Management/s:AccessRule/s:Rule", namespaces=NS) == "ACC-00009"
    assert rule_start(restricted, "AccessRule") is None  # from a birth date no row gives: reported
    assert [m.unit for m in packaged.missing_starts if m.unit == f"{key}:donnees_protegees"]

    def csv_of(unit: etree._Element) -> str:
        ref = unit.findtext("s:DataObjectReference/s:DataObjectGroupReferenceId", namespaces=NS)
        (uri,) = [
            g.findtext("s:BinaryDataObject/s:Uri", namespaces=NS)
            for g in root.iterfind(".//s:DataObjectGroup", NS)
            if g.get("id") == ref
        ]
        with zipfile.ZipFile(sip.path) as archive:
            return archive.read(uri).decode("utf-8")

    header, row = csv_of(ordinary).split("\r\n")[:2]
    assert "NOM_VOIE" not in header and "D_CREATION" in header and street not in row
    header, row = csv_of(restricted).split("\r\n")[:2]
    assert header.startswith('"NO_DOSSIER_PERS","D_CREATION",') and "NOM_VOIE" in header and street in row
    ledger.close()


def test_the_configured_byte_limit_splits_the_package(harpege, seda_schemas, tmp_path):
    settings, batch, trail_path, tmp = harpege
    whole = build_package(settings, batch, tmp_path / "whole", "T-WHOLE", trail_path).result
    (sip,) = whole.sips
    limit = sip.payload_bytes // 3
    # The same deployment with seda.max_bytes set in its environment: no limits= passed.
    configured = demo_settings(
        tmp,
        seda_schemas,
        NO_SANDBOX,
        VERSEMENT__SOURCES__HARPEGE__SYNTHETIC="false",
        VERSEMENT__SEDA__MAX_BYTES=str(limit),
    )
    assert (configured.seda_max_bytes, configured.seda_max_items) == (limit, 100_000)
    parts = build_package(configured, batch, tmp_path / "split", "T-SPLIT", trail_path).result.sips
    assert len(parts) >= 3
    assert all(part.payload_bytes <= limit for part in parts)
    assert sum(part.object_count for part in parts) == sip.object_count
    for part in parts:
        assert validate_sip(part.path, seda_schemas, rules=load_rules(RULES)).valid


def test_jury_minutes_have_a_subgroup_per_stage_or_diploma_and_an_item_per_session(apogee, tmp_path):
    settings, batch, trail_path, _ = apogee
    (sip,) = build_package(settings, batch, tmp_path, "T-JURY", trail_path).result.sips
    root = manifest_of(sip.path)
    year = by_key(root, "apogee:deliberations:2023-2024")
    assert year.findtext("s:Content/s:DescriptionLevel", namespaces=NS) == "RecordGrp"
    paths = {d.name: d.path for d in batch.datasets}
    with zipfile.ZipFile(sip.path) as archive:
        contents = {n: archive.read(n).decode("utf-8") for n in archive.namelist()}
    uris = {
        g.get("id"): g.findtext("s:BinaryDataObject/s:Uri", namespaces=NS)
        for g in root.iterfind(".//s:DataObjectGroup", NS)
    }
    for dataset, by, date_column, reference, label_column, word in (
        ("resultats_etapes", ("COD_ETP", "COD_VRS_VET"), "DAT_AVC_VET", "ref_versions_etape", "LIB_WEB_VET", "Étape"),
        (
            "resultats_diplomes",
            ("COD_DIP", "COD_VRS_VDI"),
            "DAT_AVC_VDI",
            "ref_versions_diplome",
            "LIB_WEB_VDI",
            "Diplôme",
        ),
    ):
        rows = pq.read_table(paths[dataset]).to_pylist()
        labels = {tuple(str(r[c]) for c in by): r[label_column] for r in pq.read_table(paths[reference]).to_pylist()}
        expected: dict[tuple[str, ...], dict[str, list[dict]]] = {}
        for row in rows:
            expected.setdefault(tuple(str(row[c]) for c in by), {}).setdefault(str(row["COD_SES"]), []).append(row)
        assert len(expected) >= 2
        for group, sessions in expected.items():
            subgroup = by_key(root, ":".join(("apogee", "table", dataset, "2023-2024", *group)))
            table = table_key("apogee", dataset, "2023-2024")
            # The browser finds these units again in VITAM by these helpers (browser/vitam.py).
            assert group_key(table, list(group)) == subgroup.findtext(
                "s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS
            )
            assert is_group_key(table, group_key(table, list(group))) and not is_group_key(table, dictionary_key(table))
            assert by_key(root, dictionary_key(table)).getparent() is year
            assert subgroup.findtext("s:Content/s:DescriptionLevel", namespaces=NS) == "SubGrp"
            assert subgroup.getparent() is year
            title = subgroup.findtext("s:Content/s:Title", namespaces=NS)
            assert title == f"{word} {group[0]} version {group[1]} — {labels[group]}"
            for session, session_rows in sessions.items():
                item = by_key(root, ":".join(("apogee", "table", dataset, "2023-2024", *group, "session", session)))
                assert item.getparent() is subgroup
                in_group = group_key(table, list(group))
                assert by_key(root, session_key(in_group, session)) is item
                assert is_session_key(in_group, session_key(in_group, session))
                name = {"0": "session unique", "1": "première session", "2": "seconde session"}[session]
                assert f", {name} (fichier CSV, {len(session_rows)} lignes)" in item.findtext(
                    "s:Content/s:Title", namespaces=NS
                )
                # 50 years from this deliberation's own date, not the year's latest.
                days = [str(r[date_column])[:10] for r in session_rows if r[date_column] is not None]
                assert rule_start(item, "AccessRule") == (max(days) if days else None)
                if days:  # the reason names the session's own deliberation column
                    why = f"la date la plus récente des enregistrements ({dataset}.{date_column})"
                    said = [
                        m for m in _REASON.finditer(description(item)) if "ACC-00017 (communicabilité)" in m["rules"]
                    ]
                    assert [(m["start"], m["why"]) for m in said] == [(max(days), why)], description(item)
                assert item.findtext("s:Management/s:AccessRule/s:Rule", namespaces=NS) == "ACC-00017"
                ref = item.findtext("s:DataObjectReference/s:DataObjectGroupReferenceId", namespaces=NS)
                lines = contents[uris[ref]].split("\r\n")
                assert lines[0].startswith('"COD_IND","COD_ETU"') and len([x for x in lines[1:] if x]) == len(
                    session_rows
                )
    # The year keeps the dictionaries and the element detail, and no whole copy of the grouped tables.
    titles = [u.findtext("s:Content/s:Title", namespaces=NS) for u in year.iterfind("s:ArchiveUnit", NS)]
    assert any(t.startswith("Dictionnaire des données : Résultats des jurys d'étape") for t in titles)
    assert any(t.startswith("Résultats aux éléments pédagogiques — 2023-2024 (fichier CSV") for t in titles)
    assert not any(t.startswith("Résultats des jurys d'étape — 2023-2024") for t in titles)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ('by = ["COD_ETP", "COD_VRS_VET"]', "series.deliberations.groups[0].by: expected a non-empty list"),
        ('session = "COD_SES"\nsessions', "series.deliberations.groups[0].session: 'COD SES' is not a column"),
        ('title = "Étape {COD_ETP}', "placeholder {COD_ETAPE}"),
        ('label = "ref_versions_etape.LIB_WEB_VET"', "is not 'reference_dataset.COLUMN'"),
    ],
)
def test_a_bad_group_in_a_profile_is_named(tmp_path, edit, problem):
    shipped = load_profile("apogee").path.read_text(encoding="utf-8")
    broken = {
        'by = ["COD_ETP", "COD_VRS_VET"]': "by = []",
        'session = "COD_SES"\nsessions': 'session = "COD SES"\nsessions',
        'title = "Étape {COD_ETP}': 'title = "Étape {COD_ETAPE}',
        'label = "ref_versions_etape.LIB_WEB_VET"': 'label = "LIB_WEB_VET"',
    }[edit]
    assert edit in shipped
    (tmp_path / "apogee.toml").write_text(shipped.replace(edit, broken, 1), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile("apogee", tmp_path)
    assert problem in str(caught.value) and str(tmp_path / "apogee.toml") in str(caught.value)


def test_many_person_files_are_grouped_by_the_initial_of_the_name(harpege, seda_schemas, tmp_path):
    settings, batch, trail_path, _ = harpege
    shipped = load_profile("harpege").path.read_text(encoding="utf-8")
    assert "group_over = 1000" in shipped
    folder = tmp_path / "profils"
    folder.mkdir()
    (folder / "harpege.toml").write_text(shipped.replace("group_over = 1000", "group_over = 10"), encoding="utf-8")
    grouped = replace(settings, seda_profiles=folder)
    packaged = build_package(grouped, batch, tmp_path / "one", "T-GROUPS", trail_path)
    (sip,) = packaged.result.sips
    assert validate_sip(sip.path, seda_schemas, rules=load_rules(RULES)).valid
    root = manifest_of(sip.path)
    # Each agent's File under the SubGrp of the initial of their name, as the identity rows give it.
    (identity,) = [d for d in batch.datasets if d.name == "agents_identite"]
    initials = {}
    for row in pq.read_table(identity.path).to_pylist():
        name = (row.get("NOM_USUEL") or row.get("NOM_PATRONYMIQUE") or "").strip()
        letter = unicodedata.normalize("NFKD", name[:1].upper().replace("Œ", "O").replace("Æ", "A"))[:1]
        initials[str(row["NO_DOSSIER_PERS"])] = letter if letter and "A" <= letter <= "Z" else "autres"
    series = by_key(root, "harpege:dossiers_agents")
    groups = [  # beside the data dictionaries of the person documents (Items, ahead)
        u
        for u in series.iterfind("s:ArchiveUnit", NS)
        if u.findtext("s:Content/s:DescriptionLevel", namespaces=NS) == "SubGrp"
    ]
    letters = [g.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS) for g in groups]
    assert len(letters) >= 5 and letters == sorted(letters, key=lambda k: k.replace(":autres", ":~"))  # A..Z, others
    placed = 0
    for group in groups:
        assert group.findtext("s:Content/s:DescriptionLevel", namespaces=NS) == "SubGrp"
        letter = group.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS).rsplit(":", 1)[1]
        title = group.findtext("s:Content/s:Title", namespaces=NS)
        assert title == (
            f"Noms commençant par {letter}" if letter != "autres" else "Autres initiales et noms non renseignés"
        )
        for file in group.iterfind("s:ArchiveUnit", NS):
            agent = file.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS).rsplit(":", 1)[1]
            assert initials.get(agent, "autres") == letter, (agent, letter)
            placed += 1
    assert placed == packaged.persons == len(units(root, "File")) - 1  # the reference tables' File
    assert len({g.get("id") for g in groups}) == len(groups) == len(set(letters))
    # Split over several SIPs, a SubGrp is opened again in the next one: every SIP valid, no File lost.
    parts = build_package(
        grouped, batch, tmp_path / "split", "T-GROUPS-SPLIT", trail_path, limits=Limits(max_items=150)
    )
    assert len(parts.result.sips) >= 2
    seen = 0
    for part in parts.result.sips:
        assert validate_sip(part.path, seda_schemas, rules=load_rules(RULES)).valid
        seen += len(
            [
                f
                for f in units(manifest_of(part.path), "File")
                if ":agent:" in (f.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=NS) or "")
            ]
        )
    assert seen == packaged.persons


def _explained_sip(fixture, seda_schemas, folder: Path) -> etree._Element:
    """The batch's one SIP, checked against both schemas and the rules, with every start explained."""
    settings, batch, trail_path, _ = fixture
    (sip,) = build_package(settings, batch, folder, f"T-WHY-{folder.name}", trail_path).result.sips
    report = validate_sip(sip.path, seda_schemas, rules=load_rules(RULES))
    assert report.valid and not report.checks_skipped, report.issues[:5]
    root = manifest_of(sip.path)
    assert_every_start_is_explained(root)
    return root


def test_each_kind_of_start_date_is_explained_in_french_next_to_its_unit(apogee, harpege, seda_schemas, tmp_path):
    """Hand-checked: a student (last registration year), the registers (the batch's academic year),
    an agent (birth date and latest act); an agent whose birth date is missing gets no date and no
    reason. Both SIPs pass both schemas."""
    root = _explained_sip(apogee, seda_schemas, tmp_path / "apogee")
    batch, tmp = apogee[1], apogee[3]
    with sqlite3.connect(tmp / "apogee.sqlite") as con:
        (cod_ind,) = con.execute(
            "SELECT COD_IND FROM INS_ADM_ETP WHERE COD_ANU = '2023' AND ETA_IAE = 'E' ORDER BY COD_IND LIMIT 1"
        ).fetchone()
    student = by_key(root, f"apogee:etudiant:{cod_ind}")
    text = description(student)
    # Both rules start from the last academic year: one sentence names them both.
    found = re.fullmatch(
        r"Règles APP-00002 \(DUA\) et ACC-00016 \(communicabilité\) : date de départ 2024-08-31, le 31 août "
        r"suivant la dernière année universitaire \(2023-2024, (\w+)\.COD_ANU\)\.",
        text,
    )
    assert found, text
    # The dataset named holds that year for that student.
    (named,) = [d for d in batch.datasets if d.name == found.group(1)]
    years = {str(r["COD_ANU"]) for r in pq.read_table(named.path).to_pylist() if str(r["COD_IND"]) == str(cod_ind)}
    assert "2023" in years
    register = by_key(root, "apogee:inscriptions:2023-2024")
    assert description(register) == (
        "Règles APP-00003 (DUA) et ACC-00016 (communicabilité) : date de départ 2024-08-31, la fin de la période "
        "du lot (année universitaire 2023-2024)."
    )

    root = _explained_sip(harpege, seda_schemas, tmp_path / "harpege")
    batch, tmp = harpege[1], harpege[3]
    with sqlite3.connect(tmp / "harpege.sqlite") as con:
        (missing,) = con.execute("SELECT min(NO_INDIVIDU) FROM INDIVIDU").fetchone()
        agent, birth = con.execute(
            "SELECT NO_INDIVIDU, D_NAISSANCE FROM INDIVIDU WHERE D_NAISSANCE IS NOT NULL ORDER BY NO_INDIVIDU LIMIT 1"
        ).fetchone()
    file = by_key(root, f"harpege:agent:{agent}")
    text = description(file)
    assert re.search(
        rf"Règle APP-00001 \(DUA\) : date de départ {str(birth)[:10]}, la date de naissance \(\w+\.D_NAISSANCE\)\.",
        text,
    ), text
    act = re.search(
        r"Règle ACC-00016 \(communicabilité\) : date de départ (\d{4}-\d\d-\d\d), la date la plus récente des "
        r"enregistrements \((\w+)\.(\w+)\)\.",
        text,
    )
    assert act and act.group(1) == rule_start(file, "AccessRule"), text
    (named,) = [d for d in batch.datasets if d.name == act.group(2)]
    values = {
        str(r[act.group(3)])[:10]
        for r in pq.read_table(named.path).to_pylist()
        if str(r["NO_DOSSIER_PERS"]) == str(agent)
    }
    assert act.group(1) in values  # the column named holds the date for that agent
    lost = by_key(root, f"harpege:agent:{missing}")
    assert rule_start(lost, "AppraisalRule") is None
    assert "Règle APP-00001" not in description(lost)
