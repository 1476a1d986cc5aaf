"""A batch whose local copy is purged (``versement purge``, [retention]) stays consultable: the
browser reads the person's pieces and the datasets back from the VITAM sandbox over HTTPS
(access-external: the unit by its key within the batch's ingest, its Items' objects), audits
each read, hides what the role may not see, and says in French when VITAM cannot be reached."""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from browser import create_app
from browser.persons import PersonIndex
from browser.vitam import VitamReader
from extractors.files import sha256_file
from tests.browser.conftest import FAST_HASHER, HOSTILE, PASSWORDS, ROLES, SECRET_ADDRESS, STUDENT_SPEC, login
from versement.config import BrowserConfig, ConfigError, load
from versement.ledger import Dataset, Ledger, State, trail
from versement.ledger.accounts import Accounts
from versement.ledger.models import Sip
from versement.packaging import (
    dictionary_key,
    group_key,
    person_file_key,
    protected_item_key,
    session_key,
    table_key,
)
from versement.retention import PurgeError, purge
from vitam_client import RetryPolicy, VitamClient, VitamEndpoint
from vitam_sandbox import DEMO_REFERENTIALS, SandboxConfig, load_referentials, make_tls_material, serve
from vitam_sandbox import create_app as sandbox_app

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
STUDENT = 100002
READERS: list[VitamReader] = []
REGISTRATION_SPEC = {
    "label": "Inscriptions administratives",
    "record_type": "registration_register",
    "key": ["COD_IND", "COD_ANU"],
    "person_key": "COD_IND",
    "person_kind": "student",
    "columns": {
        "COD_IND": {"label": "Code individu", "tags": ["person_identifier"]},
        "COD_ANU": {"label": "Année", "tags": []},
        "COD_ETP": {"label": "Étape", "tags": []},
    },
}


def students() -> pa.Table:
    ids = [100001, STUDENT, 100003]
    return pa.table(
        {
            "COD_IND": pa.array(ids, pa.int64()),
            "COD_ETU": pa.array(["21000001", "21000002", "21000003"]),
            "LIB_NOM_PAT_IND": pa.array(["MARTIN", "LEFÈVRE", HOSTILE]),
            "LIB_PR1_IND": pa.array(["Zoé", "Hélène", "Noël"]),
            "DATE_NAI_IND": pa.array(["2001-03-05", "2002-04-06", "2003-05-07"]),
            "ADR_IND": pa.array(["1 rue A", SECRET_ADDRESS, "3 rue C"]),
        }
    )


def registrations() -> pa.Table:
    return pa.table(
        {
            "COD_IND": pa.array([100001, STUDENT, STUDENT, 100003], pa.int64()),
            "COD_ANU": pa.array(["2023", "2022", "2023", "2023"]),
            "COD_ETP": pa.array(["L1", "L2 « Œuvre »", "L3, droit", "M1"]),
        }
    )


RESULT_SPEC = {
    "label": "Résultats aux étapes",
    "record_type": "jury_results",
    "key": ["COD_IND", "COD_ETP", "COD_VRS_VET", "COD_SES"],
    "person_key": "COD_IND",
    "person_kind": "student",
    "columns": {
        "COD_IND": {"label": "Code individu", "tags": ["person_identifier"]},
        "COD_ETP": {"label": "Étape", "tags": []},
        "COD_VRS_VET": {"label": "Version", "tags": []},
        "COD_SES": {"label": "Session", "tags": []},
        "NOT_VET": {"label": "Note", "tags": []},
    },
}
RESULT_COLUMNS = ["COD_IND", "COD_ETP", "COD_VRS_VET", "COD_SES", "NOT_VET"]


def results() -> pa.Table:
    """Jury results in the extraction's order, which is not packaging's order of groups and
    sessions: a reader by row locator would pick another student's rows."""
    return pa.table(
        {
            "COD_IND": pa.array([100003, 100001, 100001, 100001, 100003], pa.int64()),
            "COD_ETP": pa.array(["L1", "L2 « Œuvre »", "L1", "L1", "L1"]),
            "COD_VRS_VET": pa.array(["1", "2", "1", "1", "1"]),
            "COD_SES": pa.array(["2", None, "1", "2", "1"]),
            "NOT_VET": pa.array(["8,5", "12", 'dix "et" demi', "14", "9"]),
        }
    )


def grouped_units(
    dataset: str,
    rows: list[dict[str, Any]],
    files: dict[str, bytes],
    groups: list[str],
    *,
    dictionary: bool = True,
    scope: str = "2023-2024",
) -> str:
    """A grouped dataset as packaging lays it out: its dictionary Item (in the first SIP only),
    then a SubGrp per stage version holding a CSV Item per session, keyed by packaging's own helpers."""
    import csv
    import io

    table = table_key("apogee", dataset, scope)
    if dictionary:
        files[f"content/{dataset}.dictionnaire.csv"] = b"nom,libelle\r\nCOD_IND,Code individu\r\n"
        uri = f"content/{dataset}.dictionnaire.csv"
        groups.append(binary(f"GD{dataset}", uri, files[uri], "text/csv", "x-fmt/18"))
    units = [item(f"D{dataset}", dictionary_key(table), f"GD{dataset}")] if dictionary else []
    cuts: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}
    for row in sorted(rows, key=lambda r: (r["COD_ETP"], r["COD_VRS_VET"], r["COD_SES"] or "")):
        cuts.setdefault((row["COD_ETP"], row["COD_VRS_VET"]), {}).setdefault(row["COD_SES"], []).append(row)
    for g, (by, sessions) in enumerate(cuts.items()):
        in_group = group_key(table, list(by))
        children = []
        for n, (session, lines) in enumerate(sessions.items()):
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(lines[0]), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(lines)
            uri = f"content/{dataset}.{g:05d}{n}.csv"
            files[uri] = out.getvalue().encode("utf-8")
            groups.append(binary(f"GS{dataset}{g}{n}", uri, files[uri], "text/csv", "x-fmt/18"))
            children.append(item(f"S{dataset}{g}{n}", session_key(in_group, session), f"GS{dataset}{g}{n}"))
        units.append(
            f"""<ArchiveUnit id="SG{dataset}{g}"><Content><DescriptionLevel>SubGrp</DescriptionLevel>
            <Title>Étape {by[0]}</Title><OriginatingAgencyArchiveUnitIdentifier>{in_group}
            </OriginatingAgencyArchiveUnitIdentifier></Content>{"".join(children)}</ArchiveUnit>"""
        )
    return "".join(units)


def record_group(inner: str, scope: str = "2023-2024") -> str:
    """The Series' year as packaging makes it for grouped datasets (repeated, same key, in each SIP)."""
    return f"""<ArchiveUnit id="RG"><Content><DescriptionLevel>RecordGrp</DescriptionLevel><Title>Résultats</Title>
        <OriginatingAgencyArchiveUnitIdentifier>apogee:resultats:{scope}</OriginatingAgencyArchiveUnitIdentifier>
        </Content>{inner}</ArchiveUnit>"""


def json_document(person: int, rows: dict[str, list[dict[str, Any]]]) -> bytes:
    import json

    body = {
        "dossier": f"apogee:etudiant:{person}",
        "piece": "Identité",
        "jeux_de_donnees": {name: {"libelle": name, "lignes": lines} for name, lines in rows.items()},
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def binary(group: str, uri: str, content: bytes, mime: str, puid: str) -> str:
    return f"""<DataObjectGroup id="{group}"><BinaryDataObject id="B{group}">
      <DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>{uri}</Uri>
      <MessageDigest algorithm="SHA-512">{hashlib.sha512(content).hexdigest()}</MessageDigest>
      <Size>{len(content)}</Size><FormatIdentification><MimeType>{mime}</MimeType><FormatId>{puid}</FormatId>
      </FormatIdentification><FileInfo><Filename>{uri.rsplit("/", 1)[-1]}</Filename></FileInfo>
      </BinaryDataObject></DataObjectGroup>"""


def item(unit: str, key: str, group: str) -> str:
    return f"""<ArchiveUnit id="{unit}"><Content><DescriptionLevel>Item</DescriptionLevel><Title>{key}</Title>
      <OriginatingAgencyArchiveUnitIdentifier>{key}</OriginatingAgencyArchiveUnitIdentifier></Content>
      <DataObjectReference><DataObjectGroupReferenceId>{group}</DataObjectGroupReferenceId></DataObjectReference>
      </ArchiveUnit>"""


def write_sip(path: Path, message: str, groups: list[str], units: list[str], files: dict[str, bytes]) -> None:
    """The manifest (the objects, then the units under the batch's Series) and its files, zipped."""
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <Date>2026-12-01T12:00:00</Date><MessageIdentifier>{message}</MessageIdentifier>
  <ArchivalAgreement>IC-000001</ArchivalAgreement>
  <CodeListVersions><ReplyCodeListVersion>ReplyCodeListVersion0</ReplyCodeListVersion>
  <MessageDigestAlgorithmCodeListVersion>MessageDigestAlgorithmCodeListVersion0</MessageDigestAlgorithmCodeListVersion>
  <FileFormatCodeListVersion>FileFormatCodeListVersion0</FileFormatCodeListVersion></CodeListVersions>
  <DataObjectPackage>{"".join(groups)}
    <DescriptiveMetadata><ArchiveUnit id="ROOT"><Management>
      <AppraisalRule><Rule>APP-00001</Rule><StartDate>2024-08-31</StartDate><FinalAction>Keep</FinalAction></AppraisalRule>
      <AccessRule><Rule>ACC-00001</Rule><StartDate>2024-08-31</StartDate></AccessRule></Management>
      <Content><DescriptionLevel>Series</DescriptionLevel><Title>Apogée 2023-2024</Title></Content>
      {"".join(units)}</ArchiveUnit></DescriptiveMetadata>
    <ManagementMetadata><OriginatingAgencyIdentifier>UNIV-DEMO</OriginatingAgencyIdentifier>
      <SubmissionAgencyIdentifier>UNIV-DEMO</SubmissionAgencyIdentifier></ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>CINES</Identifier></ArchivalAgency>
  <TransferringAgency><Identifier>UNIV-DEMO</Identifier></TransferringAgency>
</ArchiveTransfer>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.xml", manifest)
        for name, content in files.items():
            archive.writestr(name, content)


def build_sip(path: Path, trail_document: bytes, trail_name: str) -> None:
    """A SIP as packaging lays it out: a File per student (an Item of JSON per piece, the
    sensitive columns in a restricted Item), the registrations table as a CSV Item, the trail."""
    files: dict[str, bytes] = {f"content/{trail_name}": trail_document}
    groups, units = [], []
    table = registrations()
    csv = "COD_IND,COD_ANU,COD_ETP\r\n" + "".join(
        f'{r["COD_IND"]},{r["COD_ANU"]},"{r["COD_ETP"]}"\r\n'
        if "," in r["COD_ETP"]
        else f"{r['COD_IND']},{r['COD_ANU']},{r['COD_ETP']}\r\n"
        for r in table.to_pylist()
    )
    files["content/inscriptions.csv"] = csv.encode("utf-8")
    groups.append(binary("GT", "content/inscriptions.csv", files["content/inscriptions.csv"], "text/csv", "x-fmt/18"))
    groups.append(binary("GJ", f"content/{trail_name}", trail_document, "application/json", "fmt/817"))
    for n, row in enumerate(students().to_pylist()):
        person = row["COD_IND"]
        ordinary = {k: v for k, v in row.items() if k != "ADR_IND"}
        files[f"content/{person}-identite.json"] = json_document(person, {"individus": [ordinary]})
        files[f"content/{person}-protegees.json"] = json_document(
            person, {"individus": [{"COD_IND": person, "ADR_IND": row["ADR_IND"]}]}
        )
        for suffix, name in (("I", "identite"), ("P", "protegees")):
            uri = f"content/{person}-{name}.json"
            groups.append(binary(f"G{suffix}{n}", uri, files[uri], "application/json", "fmt/817"))
        key = person_file_key("apogee", "student", str(person))
        units.append(
            f"""<ArchiveUnit id="F{n}"><Content><DescriptionLevel>File</DescriptionLevel><Title>Dossier {person}</Title>
            <OriginatingAgencyArchiveUnitIdentifier>{key}</OriginatingAgencyArchiveUnitIdentifier></Content>
            {item(f"I{n}", f"{key}:identite", f"GI{n}")}{item(f"P{n}", protected_item_key(key), f"GP{n}")}
            </ArchiveUnit>"""
        )
    units.append(item("T", table_key("apogee", "inscriptions", "2023-2024"), "GT"))
    # Two grouped datasets side by side in one RecordGrp; one session of the second lost a column.
    broken = [{k: v for k, v in r.items() if k != "NOT_VET" or r["COD_SES"] != "2"} for r in results().to_pylist()]
    units.append(
        record_group(
            grouped_units("resultats_etapes", results().to_pylist(), files, groups)
            + grouped_units("resultats_diplomes", broken, files, groups)
        )
    )
    units.append(item("J", "apogee:journal:1:json", "GJ"))
    write_sip(path, "UNIV-DEMO-APOGEE-2023-2024-000001", groups, units, files)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, seda_schemas):
    folder = tmp_path_factory.mktemp("sandbox")
    config = SandboxConfig(
        tenants=frozenset({0}), referentials=load_referentials(DEMO_REFERENTIALS), schema_dir=seda_schemas
    )
    tls = make_tls_material(folder / "tls")
    with serve(sandbox_app(config), tls=tls) as base:
        yield base, tls.ca_path


def vitam_endpoint(base: str, ca: Path) -> VitamEndpoint:
    return VitamEndpoint(
        ingest_url=f"{base}/ingest-external/v1",
        admin_url=f"{base}/admin-external/v1",
        access_url=f"{base}/access-external/v1",
        tenant=0,
        access_contract="AC-000001",
        verify=str(ca),
        timeout=30,
    )


@pytest.fixture(scope="module")
def archived(tmp_path_factory, sandbox):
    """A verified Apogée batch ingested by the sandbox, indexed, then purged by ``purge``."""
    base, ca = sandbox
    tmp_path = tmp_path_factory.mktemp("archived")
    staging = tmp_path / "staging"
    data = staging / "batches" / "1" / "data"
    data.mkdir(parents=True)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(ledger_url, anchor=staging / "ledger-anchor.jsonl")
    ledger.migrate()
    datasets = []
    for name, table, spec in (
        ("individus", students(), STUDENT_SPEC),
        ("inscriptions", registrations(), REGISTRATION_SPEC),
        ("resultats_etapes", results(), RESULT_SPEC),
        ("resultats_diplomes", results(), RESULT_SPEC),
    ):
        path = data / f"{name}.parquet"
        pq.write_table(table, path)
        (data / f"{name}.manifest.json").write_text("{}", encoding="utf-8")
        columns = [[f.name, str(f.type)] for f in table.schema]
        datasets.append(
            Dataset(
                name=name,
                source_table=name.upper(),
                path=str(path),
                rows=table.num_rows,
                source_count=table.num_rows,
                sha256=sha256_file(path),
                columns=columns,
                query="SELECT 1",
                spec=spec,
            )
        )
    batch = ledger.create_batch("apogee", "2023-2024", "extraction")
    ledger.transition(batch.id, State.EXTRACTED, actor="extraction", action="extract", datasets=datasets)
    ledger.transition(batch.id, State.VALIDATED, actor="extraction", action="validate")
    sip = staging / "batches" / "1" / "UNIV-DEMO-APOGEE-2023-2024-000001.zip"
    build_sip(sip, trail.document(ledger.batch(batch.id), ledger.events(batch.id)), trail.filename(batch.id))
    with VitamClient(vitam_endpoint(base, ca), sleep=lambda s: time.sleep(0.05)) as client:
        operation = client.ingest(sip)
        assert client.wait_for_completion(operation).status in ("OK", "WARNING")
    digest = sha256_file(sip)
    with zipfile.ZipFile(sip) as archive:
        manifest_sha512 = hashlib.sha512(archive.read("manifest.xml")).hexdigest()
    ledger.transition(
        batch.id,
        State.PACKAGED,
        actor="extraction",
        action="package",
        changes={
            "message_identifier": "UNIV-DEMO-APOGEE-2023-2024-000001",
            "sip_path": str(sip),
            "sip_sha256": digest,
            "manifest_sha512": manifest_sha512,
        },
    )
    ledger.transition(batch.id, State.AWAITING_APPROVAL, actor="extraction", action="approval.requested")
    ledger.transition(batch.id, State.APPROVED, actor="Camille", action="approve", changes={"approved_sha256": digest})
    ledger.transition(batch.id, State.SUBMITTING, actor="extraction", action="transfer.submitting")
    ledger.transition(
        batch.id,
        State.SUBMITTED,
        actor="extraction",
        action="transfer.submitted",
        changes={"vitam_operation_id": operation},
    )
    ledger.transition(batch.id, State.ACCEPTED, actor="extraction", action="transfer.reply")
    ledger.transition(batch.id, State.VERIFIED, actor="extraction", action="transfer.verified")
    accounts = Accounts(ledger, FAST_HASHER)
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLES[name], password, actor="tests")
    index = PersonIndex(staging / "person-index.sqlite", ledger)
    index.refresh()
    assert ledger.verify().ok, ledger.verify().problems
    settings = load(
        DEMO,
        environ={
            "VERSEMENT__PATHS__STAGING": str(staging),
            "VERSEMENT__LEDGER__URL": ledger_url,
            "VERSEMENT__RETENTION__PURGE_LOCAL_AFTER_DAYS": "30",
        },
    )
    assert purge(settings, ledger, actor="tests") == []  # verified today: kept for 30 days
    done = purge(settings, ledger, actor="tests", now=datetime.now(UTC) + timedelta(days=31))
    assert [d.batch_id for d in done] == [batch.id]
    assert not any(Path(p).exists() for p in done[0].files) and not sip.exists()
    assert {Path(p).name for p in done[0].files} >= {"individus.parquet", "inscriptions.manifest.json", sip.name}
    yield ledger, index, operation, vitam_endpoint(base, ca)
    for reader in READERS:  # no keep-alive connection left for the sandbox to wait for
        reader.close()
    ledger.close()


def browser(ledger: Ledger, index: PersonIndex, endpoint: VitamEndpoint | None) -> TestClient:
    # As python -m browser builds it: one quick retry, not the transfer's backoff.
    retry = RetryPolicy(attempts=2, first_delay=0.1, max_delay=0.1)
    reader = VitamReader(lambda: VitamClient(endpoint, retry=retry)) if endpoint else None
    if reader is not None:
        READERS.append(reader)
    app = create_app(
        ledger,
        BrowserConfig(),
        secret_key="tests-only-secret",
        accounts=Accounts(ledger, FAST_HASHER),
        person_index=index,
        vitam=reader,
    )
    return TestClient(app)


def pieces(html: str) -> dict[str, str]:
    found = re.findall(r'<section class="piece" data-dataset="([^"]+)".*?</section>', html, re.S)
    bodies = re.findall(r'<section class="piece".*?</section>', html, re.S)
    return dict(zip(found, bodies, strict=True))


def vitam_reads(ledger: Ledger) -> list[dict[str, Any]]:
    import json

    return [{**json.loads(e.details), "actor": e.actor} for e in ledger.events(1) if e.action == "consult.vitam"]


def test_a_purged_persons_file_is_read_back_from_vitam_and_audited(archived):
    ledger, index, operation, endpoint = archived
    before = len(vitam_reads(ledger))
    auditor = browser(ledger, index, endpoint)
    login(auditor, "auditeur")
    page = auditor.get(f"/personnes/apogee-{STUDENT}")
    assert page.status_code == 200
    found = pieces(page.text)
    assert set(found) == {"individus", "inscriptions"}
    identity = found["individus"]
    assert "data-from-vitam" in identity and operation in identity and "Hélène" in identity
    assert SECRET_ADDRESS not in page.text and "1 colonne(s) de données sensibles masquée(s)" in identity
    registration = found["inscriptions"]
    assert "data-from-vitam" in registration and "L2 « Œuvre »" in registration and "L3, droit" in registration
    assert "M1" not in registration  # another student's row of the same table
    events = vitam_reads(ledger)[before:]
    read = {e["dataset"]: e for e in events}
    assert len(events) == 2 and set(read) == {"individus", "inscriptions"}
    assert read["individus"]["operation"] == operation and read["individus"]["rows"] == 1
    assert read["inscriptions"]["rows"] == 2 and all(e["actor"] == "auditeur" for e in events)
    # The restricted Item is not even downloaded for a role that may not see it.
    assert len(read["individus"]["units"]) == 2  # the File and its ordinary Item
    archivist = browser(ledger, index, endpoint)
    login(archivist, "archiviste")
    shown = pieces(archivist.get(f"/personnes/apogee-{STUDENT}").text)["individus"]
    assert SECRET_ADDRESS in shown and "masquée" not in shown
    export = archivist.get(f"/personnes/apogee-{STUDENT}/dossier.csv")
    assert export.status_code == 200 and SECRET_ADDRESS in export.content.decode("utf-8-sig")
    assert ledger.verify().ok, ledger.verify().problems  # the purge is in the trail; the missing SIP is not tampering


def test_markup_read_back_from_vitam_is_shown_as_text(archived):
    ledger, index, _operation, endpoint = archived
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    page = client.get("/personnes/apogee-100003")
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text


def test_a_purged_table_is_explored_from_vitam(archived):
    ledger, index, operation, endpoint = archived
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    before = len(vitam_reads(ledger))
    page = client.get(
        "/lots/1/jeux/inscriptions", params={"colonne": "COD_ETP", "operateur": "contient", "valeur": "œuvre"}
    )
    assert page.status_code == 200 and "data-from-vitam" in page.text
    assert "L2 « Œuvre »" in page.text and "M1" not in page.text
    export = client.get("/lots/1/jeux/inscriptions/export.csv")
    assert export.status_code == 200 and "L3, droit" in export.content.decode("utf-8-sig")
    downloads = vitam_reads(ledger)[before:]
    assert len(downloads) == 1 and downloads[0]["dataset"] == "inscriptions"  # once, then from the cache
    # A dataset packaged only inside the person files has no table Item in VITAM: said so.
    missing = client.get("/lots/1/jeux/individus")
    assert missing.status_code == 200 and "introuvable dans VITAM" in missing.text and operation in missing.text


def test_a_purged_grouped_dataset_is_read_back_from_its_group_items(archived):
    ledger, index, operation, endpoint = archived
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    before = len(vitam_reads(ledger))
    page = client.get("/lots/1/jeux/resultats_etapes")
    assert page.status_code == 200 and "data-from-vitam" in page.text and operation in page.text
    export = client.get("/lots/1/jeux/resultats_etapes/export.csv")
    assert export.status_code == 200
    import csv
    import io

    exported = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert exported[0] == RESULT_COLUMNS
    expected = sorted(
        tuple("" if v is None else str(v) for v in (r[c] for c in RESULT_COLUMNS)) for r in results().to_pylist()
    )
    assert sorted(tuple(row) for row in exported[1:]) == expected  # every session of every group, nothing else
    downloads = vitam_reads(ledger)[before:]
    assert len(downloads) == 1 and downloads[0]["dataset"] == "resultats_etapes"
    assert len(downloads[0]["units"]) == 3  # L1 v1 sessions 1 and 2, L2 v2 without session; not the dictionary
    consults = [e for e in ledger.events(1) if e.action == "export.dataset"]
    assert len(json.loads(consults[-1].details)["vitam_units"]) == 3
    # A person's piece from the group Items: their rows by person key, not the extraction's row locator.
    piece = pieces(client.get("/personnes/apogee-100001").text)["resultats_etapes"]
    assert "data-from-vitam" in piece and "L2 « Œuvre »" in piece and "dix &#34;et&#34; demi" in piece
    assert ">9<" not in piece and "8,5" not in piece  # 100003's results
    # Session files that do not share their columns: said in French, nothing half cached.
    broken = client.get("/lots/1/jeux/resultats_diplomes")
    assert broken.status_code == 200 and "pièce de VITAM incohérente" in broken.text
    assert client.get("/lots/1/jeux/resultats_diplomes/export.csv").status_code == 503


def test_a_grouped_dataset_split_over_two_sips_is_read_from_both(archived, tmp_path):
    """Packaging splits a big batch into self-contained SIPs, each repeating the Series' year and
    the SubGrps it continues: the sessions of one group may be in two ingests."""
    ledger, index, _operation, endpoint = archived
    rows = results().to_pylist()
    first = [r for r in rows if r["COD_ETP"] == "L1" and r["COD_SES"] == "1"]
    second = [r for r in rows if r not in first]
    parts, ops = [], []
    for number, part_rows in enumerate((first, second), start=1):
        files: dict[str, bytes] = {}
        groups: list[str] = []
        inner = grouped_units("resultats_etapes", part_rows, files, groups, dictionary=number == 1, scope="2022-2023")
        path = tmp_path / f"part-{number}.zip"
        message = f"UNIV-DEMO-APOGEE-2022-2023-000002-{number:03d}"
        write_sip(path, message, groups, [record_group(inner, "2022-2023")], files)
        with VitamClient(endpoint, sleep=lambda s: time.sleep(0.05)) as client:
            ops.append(client.ingest(path))
            assert client.wait_for_completion(ops[-1]).status in ("OK", "WARNING")
        digest = sha256_file(path)
        parts.append(
            Sip(
                attempt=1,
                part=number,
                message_identifier=message,
                path=str(path),
                sha256=digest,
                manifest_sha512="0" * 128,
                units=3,
                objects=2,
                bytes=path.stat().st_size,
                approved_sha256=digest,
            )
        )
    batch = ledger.create_batch("apogee", "2022-2023", "extraction")
    dataset = Dataset(
        name="resultats_etapes",
        source_table="RESULTATS_ETAPES",
        path=str(tmp_path / "purged" / "resultats_etapes.parquet"),  # the local copy is gone
        rows=len(rows),
        source_count=len(rows),
        sha256="e" * 64,
        columns=[[f.name, str(f.type)] for f in results().schema],
        query="SELECT 1",
        spec=RESULT_SPEC,
    )
    ledger.transition(batch.id, State.EXTRACTED, actor="extraction", action="extract", datasets=[dataset])
    ledger.transition(batch.id, State.VALIDATED, actor="extraction", action="validate")
    ledger.transition(batch.id, State.PACKAGED, actor="extraction", action="package", sips=parts)
    ledger.transition(batch.id, State.AWAITING_APPROVAL, actor="extraction", action="approval.requested")
    ledger.transition(batch.id, State.APPROVED, actor="Camille", action="approve")
    ledger.transition(batch.id, State.SUBMITTING, actor="extraction", action="transfer.submitting")
    ledger.transition(
        batch.id,
        State.SUBMITTED,
        actor="extraction",
        action="transfer.submitted",
        changes={"vitam_operation_id": ops[0]},
        sip_updates={(1, n): {"vitam_operation_id": op, "status": "submitted"} for n, op in enumerate(ops, start=1)},
    )
    ledger.transition(batch.id, State.ACCEPTED, actor="extraction", action="transfer.reply")
    ledger.transition(batch.id, State.VERIFIED, actor="extraction", action="transfer.verified")
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    page = client.get(f"/lots/{batch.id}/jeux/resultats_etapes")
    assert page.status_code == 200 and "data-from-vitam" in page.text
    assert ops[0] in page.text and ops[1] in page.text
    export = client.get(f"/lots/{batch.id}/jeux/resultats_etapes/export.csv")
    assert export.status_code == 200
    import csv
    import io

    exported = sorted(tuple(r) for r in list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))[1:])
    assert exported == sorted(tuple("" if r[c] is None else str(r[c]) for c in RESULT_COLUMNS) for r in rows)
    (read,) = [json.loads(e.details) for e in ledger.events(batch.id) if e.action == "consult.vitam"]
    assert len(read["units"]) == 3 and read["operation"] == f"{ops[0]}, {ops[1]}"


def test_a_purged_batch_page_reads_its_manifest_from_vitam(archived):
    """The SIP is purged: the batch page's unit tree (rules with their start dates) and the
    manifest download come from the manifest VITAM stored at ingest, read once and audited."""
    ledger, index, operation, endpoint = archived
    assert not Path(ledger.batch(1).sip_path).exists()
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    before = len(vitam_reads(ledger))
    page = client.get("/lots/1")
    assert page.status_code == 200
    tree = page.text.split('id="bordereau"', 1)[1].split("Jeux de données", 1)[0]
    assert "data-from-vitam" in tree and operation in tree and "pas lisible" not in tree
    assert "Apogée 2023-2024" in tree and "Dossier 100002" in tree and "Résultats" in tree
    assert "APP-00001" in tree and "à compter du 2024-08-31" in tree and "sort final : conserver" in tree
    assert "ACC-00001" in tree
    assert 'href="/lots/1/manifest.xml"' in page.text and "data-manifest-from-vitam" in page.text
    download = client.get("/lots/1/manifest.xml")
    assert download.status_code == 200
    assert hashlib.sha512(download.content).hexdigest() == ledger.batch(1).manifest_sha512
    assert b"<MessageIdentifier>UNIV-DEMO-APOGEE-2023-2024-000001</MessageIdentifier>" in download.content
    assert client.get("/lots/1").status_code == 200  # again: from the cache, not from VITAM
    reads = vitam_reads(ledger)[before:]
    assert len(reads) == 1 and reads[0]["manifest"] is True and reads[0]["operation"] == operation
    assert reads[0]["actor"] == "auditeur" and reads[0]["bytes"] == len(download.content)
    events = [(e.action, json.loads(e.details)) for e in ledger.events(1)]
    consulted = [d for a, d in events if a == "consult.batch"][-2:]
    assert all(d["manifest_from_vitam"] == operation for d in consulted)
    assert [d for a, d in events if a == "download.manifest"][-1]["from_vitam"] == operation
    journal = browser(ledger, index, endpoint)
    login(journal, "admin")
    assert "bordereau du SIP (manifest.xml)" in journal.get("/journal", params={"type": "consultations"}).text


def purged_copy(ledger: Ledger, scope: str, operation: str, manifest_sha512: str | None) -> int:
    """Another verified batch whose SIP is gone, said ingested by ``operation``."""
    batch = ledger.create_batch("apogee", scope, "extraction")
    ledger.transition(batch.id, State.EXTRACTED, actor="extraction", action="extract", datasets=[])
    ledger.transition(batch.id, State.VALIDATED, actor="extraction", action="validate")
    changes = {"message_identifier": f"UNIV-DEMO-{batch.id}", "sip_path": f"/nonexistent/{batch.id}.zip"}
    if manifest_sha512:
        changes["manifest_sha512"] = manifest_sha512
    ledger.transition(batch.id, State.PACKAGED, actor="extraction", action="package", changes=changes)
    ledger.transition(batch.id, State.AWAITING_APPROVAL, actor="extraction", action="approval.requested")
    ledger.transition(batch.id, State.APPROVED, actor="Camille", action="approve")
    ledger.transition(batch.id, State.SUBMITTING, actor="extraction", action="transfer.submitting")
    ledger.transition(
        batch.id,
        State.SUBMITTED,
        actor="extraction",
        action="transfer.submitted",
        changes={"vitam_operation_id": operation},
    )
    ledger.transition(batch.id, State.ACCEPTED, actor="extraction", action="transfer.reply")
    ledger.transition(batch.id, State.VERIFIED, actor="extraction", action="transfer.verified")
    return batch.id


def test_a_manifest_vitam_does_not_hold_or_that_differs_is_said_in_french(archived, monkeypatch):
    ledger, index, operation, endpoint = archived
    client = browser(ledger, index, endpoint)
    login(client, "auditeur")
    before = len(vitam_reads(ledger))
    unknown = purged_copy(ledger, "2020-2021", "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None)
    page = client.get(f"/lots/{unknown}")
    assert page.status_code == 200 and "bordereau introuvable dans VITAM" in page.text
    assert "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" in page.text
    assert client.get(f"/lots/{unknown}/manifest.xml").status_code == 503
    # VITAM's copy is not the manifest packaging recorded: refused, never shown as the batch's.
    other = purged_copy(ledger, "2021-2022", operation, "ab" * 64)
    page = client.get(f"/lots/{other}")
    assert page.status_code == 200 and "différent de celui du SIP" in page.text
    assert "Dossier 100002" not in page.text
    refused = client.get(f"/lots/{other}/manifest.xml")
    assert refused.status_code == 503 and "différent de celui du SIP" in refused.text
    # A manifest larger than the browser reads is refused while it streams in, not held whole.
    from browser import vitam as reading

    monkeypatch.setattr(reading, "MAX_MANIFEST_BYTES", 1000)
    large = purged_copy(ledger, "2019-2020", operation, None)
    page = client.get(f"/lots/{large}")
    assert page.status_code == 200 and "bordereau de VITAM trop volumineux (plus de 1000 octets)" in page.text
    assert vitam_reads(ledger)[before:] == []  # nothing was shown from VITAM


def test_vitam_unreachable_is_said_in_french(archived):
    ledger, index, _operation, endpoint = archived
    from dataclasses import replace

    dead = replace(
        endpoint,
        access_url="https://127.0.0.1:9/access-external/v1",
        ingest_url="https://127.0.0.1:9/ingest-external/v1",
        timeout=5,
    )
    client = browser(ledger, index, dead)
    login(client, "auditeur")
    before = len(vitam_reads(ledger))
    page = client.get(f"/personnes/apogee-{STUDENT}")
    assert page.status_code == 200 and page.text.count("VITAM injoignable") == 2
    explorer = client.get("/lots/1/jeux/inscriptions")
    assert explorer.status_code == 200 and "VITAM injoignable" in explorer.text
    assert client.get("/lots/1/jeux/inscriptions/export.csv").status_code == 503
    batch_page = client.get("/lots/1")
    assert batch_page.status_code == 200 and "Bordereau non disponible" in batch_page.text
    assert "VITAM injoignable" in batch_page.text.split('id="bordereau"', 1)[1]
    manifest = client.get("/lots/1/manifest.xml")
    assert manifest.status_code == 503 and "VITAM injoignable" in manifest.text
    assert len(vitam_reads(ledger)) == before
    # Without VITAM configured the piece says where it is.
    plain = browser(ledger, index, None)
    login(plain, "auditeur")
    assert "lecture depuis VITAM non configurée" in plain.get(f"/personnes/apogee-{STUDENT}").text


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "36501"])
def test_the_retention_setting_is_checked(value):
    with pytest.raises(ConfigError, match=r"retention\.purge_local_after_days"):
        load(DEMO, environ={"VERSEMENT__RETENTION__PURGE_LOCAL_AFTER_DAYS": value})
    with pytest.raises(ConfigError, match="did you mean 'purge_local_after_days'"):
        load(DEMO, environ={"VERSEMENT__RETENTION__PURGE_AFTER_DAYS": "3"})


def test_purge_without_retention_is_refused(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.migrate()
    settings = load(DEMO, environ={"VERSEMENT__PATHS__STAGING": str(tmp_path)})
    with pytest.raises(PurgeError, match=r"\[retention\] purge_local_after_days"):
        purge(settings, ledger, actor="tests")
    ledger.close()


def test_the_purge_command_speaks_french(tmp_path, monkeypatch, capsys):
    from versement.cli import main

    monkeypatch.setenv("VERSEMENT_CONFIG", str(DEMO))
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("VERSEMENT__PATHS__STAGING", str(tmp_path / "staging"))
    assert main(["purge"]) == 2
    assert "[retention] purge_local_after_days" in capsys.readouterr().err
    monkeypatch.setenv("VERSEMENT__RETENTION__PURGE_LOCAL_AFTER_DAYS", "0")
    assert main(["purge"]) == 0
    assert "aucun lot à purger" in capsys.readouterr().out


def test_a_rebuilt_person_index_keeps_the_purged_batches(archived):
    """Index, purge, rebuild: the purged batch's persons are still found, and their pieces read
    from VITAM; a batch that still has its files is indexed again from them."""
    ledger, index, operation, endpoint = archived
    staging = index.path.parent
    local = staging / "batches" / "local" / "data"
    local.mkdir(parents=True)
    path = local / "inscriptions_2024.parquet"
    pq.write_table(
        pa.table(
            {
                "COD_IND": pa.array([STUDENT], pa.int64()),
                "COD_ANU": pa.array(["2024"]),
                "COD_ETP": pa.array(["M2 local"]),
            }
        ),
        path,
    )
    batch = ledger.create_batch("apogee", "2024-2025", "extraction")
    dataset = Dataset(
        name="inscriptions_2024",
        source_table="INS_ADM_ETP",
        path=str(path),
        rows=1,
        source_count=1,
        sha256=sha256_file(path),
        columns=[["COD_IND", "int64"], ["COD_ANU", "string"], ["COD_ETP", "string"]],
        query="SELECT 1",
        spec=REGISTRATION_SPEC,
    )
    ledger.transition(batch.id, State.EXTRACTED, actor="extraction", action="extract", datasets=[dataset])
    index.refresh()
    before = index.counts()

    def shown() -> dict[str, str]:
        client = browser(ledger, index, endpoint)
        login(client, "auditeur")
        found = client.get("/personnes", params={"nom": "lefevre", "prenom": "helene"})
        assert f"/personnes/apogee-{STUDENT}" in found.text and "data-purged-unindexed" not in found.text
        return pieces(client.get(f"/personnes/apogee-{STUDENT}").text)

    assert index.rebuild() == 1  # the local dataset re-read; the purged ones kept
    assert index.counts() == before
    found = shown()
    assert (
        "data-from-vitam" in found["individus"] and "Hélène" in found["individus"] and operation in found["individus"]
    )
    assert "data-from-vitam" in found["inscriptions"] and "L3, droit" in found["inscriptions"]
    assert "data-from-vitam" not in found["inscriptions_2024"] and "M2 local" in found["inscriptions_2024"]
    reads = vitam_reads(ledger)[-2:]
    assert {r["dataset"] for r in reads} == {"individus", "inscriptions"}
    assert all(r["person"] == f"apogee-{STUDENT}" for r in reads)

    # A new index layout: a new file, the purged datasets' rows carried over from the old one.
    import sqlite3

    with sqlite3.connect(index.path) as old:
        old.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    old.close()
    assert index.refresh() == 1  # only the local dataset is read again
    assert index.counts() == before
    found = shown()
    assert (
        "Hélène" in found["individus"]
        and "L3, droit" in found["inscriptions"]
        and "M2 local" in found["inscriptions_2024"]
    )
    assert not index.path.with_name(index.path.name + ".previous").exists()

    # An index file lost after the purge cannot know the purged datasets: the search page says so.
    lost = PersonIndex(staging / "lost" / "person-index.sqlite", ledger)
    lost.refresh()
    assert lost.purged_unindexed == 4
    client = browser(ledger, lost, endpoint)
    login(client, "auditeur")
    page = client.get("/personnes", params={"nom": "lefevre"})
    assert "data-purged-unindexed" in page.text and "4 jeux de données purgés" in page.text


def test_a_purged_piece_still_links_to_its_unit_through_vitams_manifest(archived):
    """The unit of a purged batch's piece comes from the manifest VITAM stored, as for a kept SIP
    it comes from the SIP's own: the person's file still says where each piece is archived."""
    from browser.manifest import object_units, read_file

    ledger, index, _operation, endpoint = archived
    reader = VitamReader(lambda: VitamClient(endpoint, retry=RetryPolicy(attempts=2, first_delay=0.1, max_delay=0.1)))
    READERS.append(reader)
    chains = object_units(read_file(reader.manifest(ledger.batch(1))[0]))
    # A table's rows are in its CSV Item; identity rows in the person's own File (its documents).
    person_file = chains[f"{STUDENT}-identite.json"][1]
    expected = {"individus": person_file, "inscriptions": chains["inscriptions.csv"][0]}
    auditor = browser(ledger, index, endpoint)
    login(auditor, "auditeur")
    found = pieces(auditor.get(f"/personnes/apogee-{STUDENT}").text)
    for name, unit in expected.items():
        assert f"<code>{unit}</code>" in found[name], found[name]
        assert "pas encore empaquetée" not in found[name]
