"""A ledger holding batches at every stage the browser shows, with real Parquet, SIP and ATR files.

The batches are built through the ledger's own transitions (the extraction is being rebuilt
elsewhere); the files are real: Parquet written by pyarrow, a zipped SIP holding manifest.xml,
an ATR in VITAM's shape.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from browser import create_app
from extractors.files import sha256_file
from versement.config import BrowserConfig
from versement.ledger import Dataset, Ledger, State, trail
from versement.ledger.accounts import Accounts

PASSWORDS = {
    "auditeur": "mot-de-passe-auditeur",
    "archiviste": "mot-de-passe-archiviste",
    "admin": "mot-de-passe-admin!",
}
ROLES = {"auditeur": "auditor", "archiviste": "archivist", "admin": "admin"}
# Cheap argon2 parameters for the tests only (the product uses argon2-cffi's defaults).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HOSTILE = '<script>alert("x")</script><b>gras</b>'
SECRET_ADDRESS = "12 rue du Secret Postal"
REASON = "Périmètre incomplet <img src=x onerror=alert(1)> : manque 2022"

FAILED_QUALITY = {
    "outcomes": [
        {"expectation": "reconcile_with_source", "column": None, "success": True, "unexpected_count": None},
        {
            "expectation": "expect_column_values_to_not_be_null",
            "column": "NO_INDIVIDU",
            "success": False,
            "unexpected_count": 1,
        },
        {
            "expectation": "expect_compound_columns_to_be_unique",
            "column": None,
            "success": False,
            "unexpected_count": 2,
            "details": {"kwargs": {"column_list": ["NO_INDIVIDU", "D_DEB"]}},
        },
    ]
}

STUDENT_SPEC = {
    "label": "Individus (étudiants)",
    "description": "Identité des étudiants inscrits",
    "record_type": "student_file",
    "key": ["COD_IND"],
    "person_key": "COD_IND",
    "person_kind": "student",
    "columns": {
        "COD_IND": {"label": "Code individu", "tags": ["person_identifier"]},
        "COD_ETU": {"label": "Numéro étudiant", "tags": ["student_number"]},
        "LIB_NOM_PAT_IND": {"label": "Nom de naissance", "tags": ["name"]},
        "LIB_PR1_IND": {"label": "Prénom", "tags": ["first_name"]},
        "DATE_NAI_IND": {"label": "Date de naissance", "tags": ["birth_date"]},
        "ADR_IND": {"label": "Adresse postale", "tags": ["postal_address"]},
    },
}

ATR = """<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <MessageIdentifier>ATR-1</MessageIdentifier><ReplyCode>OK</ReplyCode>
  <MessageRequestIdentifier>UNIV-DEMO-APOGEE-2023-2024-000001</MessageRequestIdentifier>
</ArchiveTransferReply>
"""
MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <DataObjectPackage>
    <DataObjectGroup id="GRP_TRAIL">
      <BinaryDataObject id="BDO_TRAIL"><Uri>content/journal-audit-lot-000001.json</Uri>
        <FileInfo><Filename>journal-audit-lot-000001.json</Filename></FileInfo></BinaryDataObject>
    </DataObjectGroup>
    <DataObjectGroup id="GRP_INDIVIDUS">
      <BinaryDataObject id="BDO_INDIVIDUS"><Uri>content/individus.csv</Uri>
        <FileInfo><Filename>individus.csv</Filename></FileInfo></BinaryDataObject>
    </DataObjectGroup>
    <DescriptiveMetadata>
      <ArchiveUnit id="ID_SERIE">
        <Management>
          <AppraisalRule><Rule>APP-00001</Rule><StartDate>2024-08-31</StartDate><FinalAction>Keep</FinalAction></AppraisalRule>
        </Management>
        <Content><DescriptionLevel>Series</DescriptionLevel><Title>Apogée — scolarité 2023-2024</Title>
          <StartDate>2023-09-01</StartDate><EndDate>2024-08-31</EndDate></Content>
        <ArchiveUnit id="ID_INDIVIDUS">
          <Management><AccessRule><Rule>ACC-00016</Rule><StartDate>2024-08-31</StartDate></AccessRule></Management>
          <Content><DescriptionLevel>File</DescriptionLevel>
            <Title>Individus &lt;script&gt;x&lt;/script&gt;</Title></Content>
          <DataObjectReference><DataObjectGroupReferenceId>GRP_INDIVIDUS</DataObjectGroupReferenceId></DataObjectReference>
        </ArchiveUnit>
      </ArchiveUnit>
    </DescriptiveMetadata>
  </DataObjectPackage>
</ArchiveTransfer>
"""


def students_table(rows: int = 120) -> pa.Table:
    names = ["LEFÈVRE", "Œuvray", "D'Artagnan", HOSTILE, "Müller", "Ñúñez"]
    return pa.table(
        {
            "COD_IND": pa.array(range(1, rows + 1), pa.int64()),
            "COD_ETU": pa.array([f"E{n:07d}" if n % 10 else None for n in range(1, rows + 1)], pa.string()),
            "LIB_NOM_PAT_IND": pa.array([names[n % len(names)] for n in range(rows)], pa.string()),
            "LIB_PR1_IND": pa.array(["=1+2" if n == 5 else f"Prénom{n}" for n in range(rows)], pa.string()),
            "DATE_NAI_IND": pa.array([f"2000-01-{(n % 28) + 1:02d}" for n in range(rows)], pa.string()),
            "ADR_IND": pa.array([SECRET_ADDRESS] * rows, pa.string()),
            'COL"; DROP': pa.array(["odd name"] * rows, pa.string()),
        }
    )


QUALITY_REPORT = (
    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Contrôle qualité du lot n° 1</title>'
    "<style>body{color:#222}</style></head><body><h1>Contrôle qualité du lot n° 1</h1>"
    '<p><span class="ok">conforme</span></p></body></html>'
)


def build_ledger(folder: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    ledger.migrate()
    staging = folder / "staging"
    staging.mkdir()

    # 1: an Apogée batch followed all the way to VITAM's ATR.
    parquet = staging / "individus.parquet"
    pq.write_table(students_table(), parquet)
    accepted = ledger.create_batch("apogee", "2023-2024", "extraction")
    students = Dataset(
        name="individus",
        source_table="INDIVIDU",
        path=str(parquet),
        rows=120,
        source_count=120,
        sha256="a" * 64,
        columns=[["COD_IND", "int64"]],
        query="SELECT * FROM INDIVIDU",
        spec=STUDENT_SPEC,
    )
    ledger.transition(
        accepted.id,
        State.EXTRACTED,
        actor="extraction",
        action="extract",
        datasets=[students],
        changes={"snapshot_marker": "sqlite:2026-12-01T09:00:00"},
    )
    report = staging / "quality" / "rapport-qualite.html"  # as versement.quality writes it
    report.parent.mkdir()
    report.write_text(QUALITY_REPORT, encoding="utf-8")
    ledger.transition(
        accepted.id,
        State.VALIDATED,
        actor="extraction",
        action="validate",
        dataset_updates={"individus": {"quality": {"outcomes": [], "success": True}, "quality_success": True}},
        details={"report": {"path": str(report), "sha256": sha256_file(report)}},
    )
    sip = staging / "UNIV-DEMO-APOGEE-2023-2024-000001.zip"
    with zipfile.ZipFile(sip, "w") as archive:
        archive.writestr("manifest.xml", MANIFEST)
        archive.writestr("content/individus.csv", "COD_IND\n1\n")
        # The batch's trail up to packaging travels inside its SIP, as run_package puts it.
        trail_document = trail.document(ledger.batch(accepted.id), ledger.events(accepted.id))
        archive.writestr(f"content/{trail.filename(accepted.id)}", trail_document)
    sip_sha256 = sha256_file(sip)  # audit verify re-reads every packaged SIP
    ledger.transition(
        accepted.id,
        State.PACKAGED,
        actor="extraction",
        action="package",
        details={"sip": sip.name, "sha256": sip_sha256},
        changes={
            "message_identifier": "UNIV-DEMO-APOGEE-2023-2024-000001",
            "sip_path": str(sip),
            "sip_sha256": sip_sha256,
            "manifest_sha512": "c" * 128,
            "sip_validation": {
                "version": "2.1",
                "valid": True,
                "issues": [],
                "checks_run": ["seda-2.1", "vitam-2.1"],
                "checks_skipped": [],
            },
        },
    )
    ledger.transition(accepted.id, State.AWAITING_APPROVAL, actor="extraction", action="approval.requested")
    ledger.transition(
        accepted.id,
        State.APPROVED,
        actor="Camille Archiviste",
        action="approve",
        details={"sip_sha256": sip_sha256, "comment": "Conforme au tableau de gestion"},
        changes={
            "approved_by": "Camille Archiviste",
            "approved_at": "2026-12-01T09:10:00+00:00",
            "approved_sha256": sip_sha256,
        },
    )
    ledger.transition(accepted.id, State.SUBMITTING, actor="extraction", action="transfer.submitting")
    ledger.transition(
        accepted.id,
        State.SUBMITTED,
        actor="extraction",
        action="transfer.submitted",
        details={"operation_id": "aeeaaaaaagh23tjvabz5gamgjd7hmjaaaaaq"},
        changes={"vitam_operation_id": "aeeaaaaaagh23tjvabz5gamgjd7hmjaaaaaq"},
    )
    atr = staging / "atr.xml"
    atr.write_text(ATR, encoding="utf-8")
    ledger.transition(
        accepted.id,
        State.ACCEPTED,
        actor="extraction",
        action="transfer.reply",
        details={"reply_code": "OK"},
        changes={
            "atr_path": str(atr),
            "atr_reply_code": "OK",
            "atr": {
                "reply_code": "OK",
                "operation_id": "aeeaaaaaagh23tjvabz5gamgjd7hmjaaaaaq",
                "grant_date": "2026-12-01T09:12:00",
                "units": {"ID_SERIE": "aeaqaaaaaahgausqab7boamgjd7hnbqaaaba"},
                "objects": {},
                "events": [
                    {
                        "code": "CHECK_SEDA",
                        "outcome": "OK",
                        "detail": None,
                        "message": "Succès du contrôle de conformité du bordereau",
                    }
                ],
            },
        },
    )

    # 2: a Harpège batch the archivist rejected, with a reason holding markup.
    rejected = ledger.create_batch("harpege", "2022-2023", "extraction")
    for state in (State.EXTRACTED, State.VALIDATED, State.PACKAGED, State.AWAITING_APPROVAL):
        ledger.transition(rejected.id, state, actor="extraction", action=str(state))
    ledger.transition(
        rejected.id, State.REJECTED, actor="Camille Archiviste", action="reject", details={"reason": REASON}
    )

    # 3: awaiting approval. 4: failed quality checks.
    waiting = ledger.create_batch("apogee", "2022-2023", "démo")
    for state in (State.EXTRACTED, State.VALIDATED, State.PACKAGED, State.AWAITING_APPROVAL):
        ledger.transition(waiting.id, state, actor="démo", action=str(state), changes={"sip_sha256": "d" * 64})
    failed = ledger.create_batch("harpege", "2021-2022", "démo")
    agents = Dataset(
        name="agents",
        source_table="INDIVIDU",
        path=str(staging / "absent.parquet"),
        rows=3,
        source_count=3,
        sha256="0" * 64,
        columns=[["NO_INDIVIDU", "int64"]],
        query='SELECT * FROM "INDIVIDU"',
    )
    ledger.transition(failed.id, State.EXTRACTED, actor="démo", action="extract", datasets=[agents])
    ledger.transition(
        failed.id,
        State.QUALITY_FAILED,
        actor="démo",
        action="validate",
        dataset_updates={"agents": {"quality": FAILED_QUALITY, "quality_success": False}},
    )

    accounts = Accounts(ledger, FAST_HASHER)
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLES[name], password, actor="tests")
    return ledger


@pytest.fixture
def ledger(tmp_path):
    instance = build_ledger(tmp_path)
    yield instance
    instance.close()


@pytest.fixture
def app(ledger):
    return create_app(ledger, BrowserConfig(), secret_key="tests-only-secret", accounts=Accounts(ledger, FAST_HASHER))


@pytest.fixture
def anonymous(app):
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str | None = None):
    form = client.get("/connexion")
    return client.post(
        "/connexion",
        data={
            "nom": name,
            "mot_de_passe": PASSWORDS[name] if password is None else password,
            "csrf": csrf_of(form.text),
        },
    )


@pytest.fixture
def as_role(app):
    """A signed-in client for a role: as_role("auditor")."""

    def make(role: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        name = {v: k for k, v in ROLES.items()}[role]
        assert login(client, name).status_code == 303
        return client

    return make
