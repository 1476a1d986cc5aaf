"""The whole path on real components: SQLite or PostgreSQL source and ledger, great-expectations,
official SEDA schemas, the VITAM sandbox over HTTPS."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from extractors import generate_apogee
from tests.versement.conftest import copy_source_to, demo_settings
from versement.demo import prepare_sources, run_demo
from versement.ledger import Ledger, State, open_ledger
from versement.pipeline import (
    DigestMismatch,
    StageError,
    approve,
    reject,
    run_extract,
    run_package,
    run_transfer,
    run_validate,
    with_sandbox_urls,
)

W3C = {"http://www.w3.org/2001/xml.xsd": "xml.xsd", "http://www.w3.org/1999/xlink.xsd": "xlink.xsd"}


class LocalW3C(etree.Resolver):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def resolve(self, url, pubid, context):
        name = W3C.get(url)
        return self.resolve_filename(str(self.folder / name), context) if name else None


def official_schema(seda_schemas: Path, version: str = "2.1") -> etree.XMLSchema:
    """The official SEDA schema, compiled here independently of the seda package."""
    folder = seda_schemas / version
    parser = etree.XMLParser()
    parser.resolvers.add(LocalW3C(folder))
    return etree.XMLSchema(etree.parse(str(folder / f"seda-{version}-main.xsd"), parser))


def to_awaiting_approval(settings, ledger: Ledger) -> int:
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", actor="test")
    assert batch.state == State.EXTRACTED and len(batch.datasets) == 3
    batch = run_validate(settings, ledger, batch.id, actor="test")
    assert batch.state == State.VALIDATED, [d.quality for d in ledger.batch(batch.id).datasets]
    batch = run_package(settings, ledger, batch.id, actor="test")
    assert batch.state == State.AWAITING_APPROVAL
    return batch.id


def check_accepted(settings, ledger: Ledger, batch_id: int, seda_schemas: Path) -> None:
    batch = ledger.batch(batch_id)
    assert batch.state == State.VERIFIED  # accepted, then read back from VITAM
    assert batch.atr_reply_code == "OK"
    atr = etree.parse(batch.atr_path)
    ns = {"s": "fr:gouv:culture:archivesdefrance:seda:v2.1"}
    assert atr.findtext("s:ReplyCode", namespaces=ns) == "OK"
    assert atr.findtext("s:MessageRequestIdentifier", namespaces=ns) == batch.message_identifier
    with zipfile.ZipFile(str(batch.sip_path)) as sip:
        manifest = etree.fromstring(sip.read("manifest.xml"))
    schema = official_schema(seda_schemas)
    assert schema.validate(manifest), schema.error_log
    assert ledger.verify().ok


def test_end_to_end_on_sqlite(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    batch_id = to_awaiting_approval(settings, ledger)
    batch = ledger.batch(batch_id)
    request = [e for e in ledger.events(batch_id) if e.action == "approval.requested"][-1]
    assert "Demande de validation du lot" in json.loads(request.details)["message"]

    with pytest.raises(DigestMismatch):
        approve(ledger, batch_id, approver="Camille", sha256="0" * 64)
    assert ledger.batch(batch_id).state == State.AWAITING_APPROVAL
    approve(ledger, batch_id, approver="Camille Lefèvre", sha256=batch.sip_sha256)
    run_transfer(settings, ledger, batch_id, actor="test")
    check_accepted(settings, ledger, batch_id, seda_schemas)


@pytest.mark.postgres
def test_end_to_end_on_postgresql(tmp_path, seda_schemas, vitam_sandbox, postgres_url):
    generated = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    prepare_sources(generated)
    copy_source_to(postgres_url, tmp_path / "apogee.sqlite")
    settings = demo_settings(
        tmp_path,
        seda_schemas,
        vitam_sandbox,
        VERSEMENT__LEDGER__URL=postgres_url,
        VERSEMENT__SOURCES__APOGEE__URL=postgres_url,
        VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false",
        VERSEMENT__PATHS__STAGING=str(tmp_path / "pg-staging"),
    )
    ledger = open_ledger(settings)
    batch_id = to_awaiting_approval(settings, ledger)
    batch = ledger.batch(batch_id)
    assert "REPEATABLE READ" in (batch.snapshot_marker or "")
    approve(ledger, batch_id, approver="Dominique Müller", sha256=batch.sip_sha256)
    run_transfer(settings, ledger, batch_id, actor="test")
    check_accepted(settings, ledger, batch_id, seda_schemas)


def test_a_sip_changed_after_approval_is_not_sent(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    batch_id = to_awaiting_approval(settings, ledger)
    approve(ledger, batch_id, approver="Camille", sha256=ledger.batch(batch_id).sip_sha256)
    sip = Path(str(ledger.batch(batch_id).sip_path))
    sip.write_bytes(sip.read_bytes() + b"\0")
    with pytest.raises(DigestMismatch, match="archivist approved"):
        run_transfer(settings, ledger, batch_id, actor="test")
    after = ledger.batch(batch_id)
    assert after.state == State.APPROVED and after.vitam_operation_id is None
    (refusal,) = [e for e in ledger.events(batch_id) if e.action == "transfer.refused"]
    details = json.loads(refusal.details)
    assert details["expected_sha256"] == after.approved_sha256 != details["found_sha256"]
    assert ledger.verify().ok


def test_a_rejected_batch_frees_its_scope(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    batch_id = to_awaiting_approval(settings, ledger)
    with pytest.raises(StageError, match="reason"):
        reject(ledger, batch_id, approver="Camille", reason="  ")
    reject(ledger, batch_id, approver="Camille", reason="Règles de communicabilité à revoir")
    assert ledger.batch(batch_id).state == State.REJECTED
    with pytest.raises(StageError, match="only an approved batch"):
        run_transfer(settings, ledger, batch_id, actor="test")
    again = run_extract(settings, ledger, "apogee", actor="test")
    assert again.id != batch_id and again.state == State.EXTRACTED


def test_a_second_extraction_of_a_live_scope_is_refused(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    first = run_extract(settings, ledger, "apogee", actor="test")
    with pytest.raises(Exception, match="already holds apogee 2023-2024"):
        run_extract(settings, ledger, "apogee", actor="test")
    assert len(ledger.batches()) == 1 and ledger.batch(first.id).state == State.EXTRACTED


def test_the_demo_twice_sends_nothing_twice(tmp_path, seda_schemas, capsys):
    # The demo starts its own sandbox (vitam.sandbox = true), as `make demo` does.
    settings = demo_settings(tmp_path, seda_schemas, ("https://unused.invalid", Path("unused")))
    settings = replace(settings, vitam=replace(settings.vitam, sandbox=True))
    assert run_demo(settings, serve=False) == 0
    first = capsys.readouterr().out
    assert "vérifié dans VITAM" in first
    ledger = open_ledger(settings)
    (batch,) = ledger.batches()
    events = len(ledger.events())
    assert run_demo(settings, serve=False) == 0
    assert f"lot {batch.id} déjà traité (vérifié dans VITAM) : rien à refaire" in capsys.readouterr().err
    assert [b.id for b in ledger.batches()] == [batch.id]
    assert ledger.batch(batch.id).vitam_operation_id == batch.vitam_operation_id
    assert len(ledger.events()) == events


def test_mutual_tls_takes_the_client_key_password_from_the_secrets(tmp_path, seda_schemas):
    from versement.demo import sandbox_config
    from vitam_sandbox import create_app, make_tls_material, serve

    passphrase = "Clé-privée-2026"
    tls = make_tls_material(tmp_path / "tls", require_client_cert=True, client_key_password=passphrase)
    assert tls.client_cert_path is not None and tls.client_key_path is not None
    settings = demo_settings(tmp_path, seda_schemas, ("https://unused.invalid", Path("unused")))
    with serve(create_app(sandbox_config(settings, tmp_path / "storage")), tls=tls) as base_url:
        settings = with_sandbox_urls(settings, base_url, str(tls.ca_path))
        vitam = replace(settings.vitam, client_cert=str(tls.client_cert_path), client_key=str(tls.client_key_path))
        settings = replace(settings, vitam=vitam, secrets=lambda name: None)
        ledger = open_ledger(settings)
        batch_id = to_awaiting_approval(settings, ledger)
        approve(ledger, batch_id, approver="Camille", sha256=ledger.batch(batch_id).sip_sha256)

        with pytest.raises(Exception, match="is encrypted and no key password was given"):
            run_transfer(settings, ledger, batch_id, actor="test")
        assert ledger.batch(batch_id).state == State.APPROVED
        assert ledger.batch(batch_id).vitam_operation_id is None

        settings = replace(settings, secrets={"vitam_key": passphrase}.get)
        run_transfer(settings, ledger, batch_id, actor="test")
        check_accepted(settings, ledger, batch_id, seda_schemas)
        trail = " ".join(f"{e.action} {e.details}" for e in ledger.events(batch_id))
        assert passphrase not in trail


def break_individu_key(sqlite_path: Path) -> None:
    """Drop INDIVIDU's primary key (declared types kept), then add a duplicate and a NULL key."""
    with sqlite3.connect(sqlite_path) as db:
        (ddl,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'INDIVIDU'").fetchone()
        loose = ddl.replace("INDIVIDU", "INDIVIDU_LOOSE", 1).replace("NOT NULL PRIMARY KEY", "")
        db.executescript(
            f"""{loose};
            INSERT INTO INDIVIDU_LOOSE SELECT * FROM INDIVIDU;
            DROP TABLE INDIVIDU;
            ALTER TABLE INDIVIDU_LOOSE RENAME TO INDIVIDU;
            INSERT INTO INDIVIDU SELECT * FROM INDIVIDU WHERE COD_IND = (SELECT min(COD_IND) FROM INDIVIDU);
            INSERT INTO INDIVIDU SELECT * FROM INDIVIDU WHERE COD_IND = (SELECT max(COD_IND) FROM INDIVIDU);
            UPDATE INDIVIDU SET COD_IND = NULL
              WHERE rowid = (SELECT max(rowid) FROM INDIVIDU);"""
        )


def test_a_duplicate_and_a_null_key_fail_the_quality_checks_and_stop_the_batch(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    break_individu_key(tmp_path / "apogee.sqlite")
    with sqlite3.connect(tmp_path / "apogee.sqlite") as db:
        (smallest,) = db.execute("SELECT min(COD_IND) FROM INDIVIDU").fetchone()
    batch = run_extract(settings, ledger, "apogee", actor="test")
    batch = run_validate(settings, ledger, batch.id, actor="test")
    assert batch.state == State.QUALITY_FAILED

    event = [e for e in ledger.events(batch.id) if e.action == "validate"][-1]
    summary = json.loads(event.details)["datasets"]
    assert summary["individus"]["success"] is False
    assert sorted(summary["individus"]["failed"]) == [
        "expect_column_values_to_be_unique(COD_IND)",
        "expect_column_values_to_not_be_null(COD_IND)",
    ]
    assert summary["inscriptions"]["success"] and summary["diplomes_obtenus"]["success"]

    individus = next(d for d in ledger.batch(batch.id).datasets if d.name == "individus")
    assert individus.quality is not None and individus.quality_success is False
    failed = {o["expectation"]: o for o in individus.quality["outcomes"] if not o["success"]}
    # Enough to find the rows again: how many, and which key values.
    assert failed["expect_column_values_to_not_be_null"]["unexpected_count"] == 1
    assert failed["expect_column_values_to_be_unique"]["unexpected_count"] == 2
    duplicates = failed["expect_column_values_to_be_unique"]["details"]["partial_unexpected_list"]
    assert int(smallest) in [int(v) for v in duplicates]

    with pytest.raises(StageError, match="only a validated batch can be packaged"):
        run_package(settings, ledger, batch.id, actor="test")
    assert ledger.verify().ok
    # A failed batch is closed: once the source is mended, a new batch can take the scope.
    assert ledger.live_batch("apogee", "2023-2024") is None


def test_nasty_source_stops_extraction_cleanly_then_travels_whole_once_mended(tmp_path, seda_schemas, vitam_sandbox):
    source = tmp_path / "apogee.sqlite"
    generate_apogee(source, nasty=True)  # mojibake, control characters, '0000-00-00', 38 digits...
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox, VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false")
    ledger = open_ledger(settings)

    with pytest.raises(Exception, match="dataset diplomes_obtenus, column DAT_OBT_VDI, row") as caught:
        run_extract(settings, ledger, "apogee", actor="test")
    assert "'0000-00-00'" in str(caught.value)
    (batch,) = ledger.batches()
    assert batch.state == State.NEW and batch.datasets == []
    failure = [e for e in ledger.events(batch.id) if e.action == "extract.failed"]
    assert len(failure) == 1 and "DAT_OBT_VDI" in json.loads(failure[0].details)["error"]
    data = tmp_path / "staging" / "batches" / f"{batch.id:06d}" / "data"
    # Datasets finished before the failure stay, each with its manifest, for the resumed run;
    # the failed one leaves nothing, and the ledger holds none of them.
    assert not (data / "diplomes_obtenus.parquet").exists() and not list(data.glob("*.partial"))
    assert sorted(p.stem for p in data.glob("*.parquet")) == sorted(
        p.name.removesuffix(".manifest.json") for p in data.glob("*.manifest.json")
    )

    with sqlite3.connect(source) as db:  # the DSI mends the source...
        db.execute("UPDATE RESULTAT_VDI SET DAT_OBT_VDI = NULL WHERE DAT_OBT_VDI = '0000-00-00'")
    batch_id = to_awaiting_approval(settings, ledger)  # ...and the same batch goes on
    assert batch_id == batch.id
    approve(ledger, batch_id, approver="Camille", sha256=ledger.batch(batch_id).sip_sha256)
    run_transfer(settings, ledger, batch_id, actor="test")
    check_accepted(settings, ledger, batch_id, seda_schemas)

    # Control characters XML forbids and Latin-1 leftovers reach the archive as they were.
    with zipfile.ZipFile(str(ledger.batch(batch_id).sip_path)) as sip:
        tables = [
            list(csv.DictReader(io.TextIOWrapper(sip.open(n), "utf-8", newline="")))
            for n in sip.namelist()
            if n.startswith("content/")
        ]
    (individus,) = [rows for rows in tables if rows and "LIB_PR1_IND" in rows[0]]
    people = {row["COD_IND"]: row for row in individus}
    assert people["100007"]["LIB_PR1_IND"] == "HÃ©loÃ¯se"
    assert people["100008"]["LIB_NOM_PAT_IND"] == "MARTIN\x0bDUPONT"
    assert people["100008"]["LIB_PR1_IND"] == "Zoé\x01"
    with sqlite3.connect(source) as db:  # 38-digit identifiers, digit for digit
        numbers = dict(db.execute("SELECT COD_IND, NUM_IDT_EXT_IND FROM INDIVIDU WHERE NUM_IDT_EXT_IND IS NOT NULL"))
    assert "99999999999999999999999999999999999999" in numbers.values()
    assert {int(k): v for k, v in numbers.items()} == {
        int(key): row["NUM_IDT_EXT_IND"] for key, row in people.items() if row["NUM_IDT_EXT_IND"]
    }
