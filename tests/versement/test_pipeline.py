"""The whole path on real components: SQLite or PostgreSQL source and ledger, great-expectations,
official SEDA schemas, the VITAM sandbox over HTTPS."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from extractors import generate
from tests.versement.conftest import DEMO_YEAR_SCOPE, demo_settings
from versement.demo import prepare_sources, run_demo
from versement.ledger import Ledger, State, open_ledger
from versement.pipeline import (
    DigestMismatch,
    StageError,
    approve,
    endpoint,
    reject,
    run_extract,
    run_package,
    run_transfer,
    run_validate,
    with_sandbox_urls,
)
from versement.quality import override
from vitam_client import VitamClient

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
    batch = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    assert batch.state == State.EXTRACTED
    assert [d.name for d in batch.datasets] == [d.name for d in settings.source("apogee").datasets]
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


def test_two_ledgers_sending_batch_one_to_one_vitam_never_share_a_message_identifier(
    tmp_path, seda_schemas, vitam_sandbox
):
    """A test deployment beside production, or a ledger rebuilt after a loss, numbers its batches
    from 1 again while VITAM's tenant keeps every ingest: each ledger's fingerprint keeps their
    MessageIdentifiers apart, so each finds exactly its own ingest in VITAM's logbook."""
    sent = []
    for name in ("production", "essai"):
        settings = demo_settings(tmp_path / name, seda_schemas, vitam_sandbox)
        ledger = open_ledger(settings)
        batch_id = to_awaiting_approval(settings, ledger)
        approve(ledger, batch_id, approver="Camille Lefèvre", sha256=ledger.batch(batch_id).sip_sha256)
        batch = run_transfer(settings, ledger, batch_id, actor="test")
        assert batch.id == 1 and batch.state == State.VERIFIED
        identifier = str(batch.message_identifier)
        assert identifier.endswith(f"-000001-{ledger.fingerprint()}")
        with VitamClient(endpoint(settings)) as vitam:
            assert [op.operation_id for op in vitam.ingests_of_message(identifier)] == [batch.vitam_operation_id]
        sent.append(identifier)
    assert sent[0] != sent[1]


@pytest.mark.postgres
def test_end_to_end_on_postgresql(tmp_path, seda_schemas, vitam_sandbox, postgres_url):
    generate("apogee", postgres_url, years=(2021, 2022, 2023))  # the same rows as the SQLite demo source
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
    with pytest.raises(DigestMismatch, match="l'archiviste a validé"):
        run_transfer(settings, ledger, batch_id, actor="test")
    after = ledger.batch(batch_id)
    assert after.state == State.APPROVED and after.vitam_operation_id is None
    (refusal,) = [e for e in ledger.events(batch_id) if e.action == "transfer.refused"]
    details = json.loads(refusal.details)
    assert details["expected_sha256"] == after.approved_sha256 != details["found_sha256"]
    check = ledger.verify()  # the chain is intact, and the edited SIP on disk is reported
    assert [p for p in check.problems if "SHA-256" in p and str(sip) in p] == list(check.problems)
    assert len(check.problems) == 1


def test_a_rejected_batch_frees_its_scope(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    batch_id = to_awaiting_approval(settings, ledger)
    with pytest.raises(StageError, match="reason"):
        reject(ledger, batch_id, approver="Camille", reason="  ")
    reject(ledger, batch_id, approver="Camille", reason="Règles de communicabilité à revoir")
    assert ledger.batch(batch_id).state == State.REJECTED
    with pytest.raises(StageError, match=r"seul un lot validé par l'archiviste \(approved\)"):
        run_transfer(settings, ledger, batch_id, actor="test")
    again = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    assert again.id != batch_id and again.state == State.EXTRACTED


def test_a_second_extraction_of_a_live_scope_is_refused(tmp_path, seda_schemas, vitam_sandbox):
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    first = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    with pytest.raises(Exception, match="apogee 2023-2024 est déjà en cours"):
        run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    assert len(ledger.batches()) == 1 and ledger.batch(first.id).state == State.EXTRACTED


def test_the_demo_twice_sends_nothing_twice(tmp_path, seda_schemas, capsys):
    # The demo starts its own sandbox (vitam.sandbox = true), as `make demo` does.
    settings = demo_settings(tmp_path, seda_schemas, ("https://unused.invalid", Path("unused")))
    settings = replace(settings, vitam=replace(settings.vitam, sandbox=True))
    assert run_demo(settings, serve=False) == 0
    first = capsys.readouterr().out
    assert "vérifié dans VITAM" in first
    ledger = open_ledger(settings)
    batches = ledger.batches()
    assert sorted(b.source for b in batches) == ["apogee", "harpege"]  # one batch per tool
    assert all(b.state == State.VERIFIED for b in batches)
    # The demo's SIPs come from the shipped profiles: a File per student or agent, as many as packaged.
    ns = {"s": "fr:gouv:culture:archivesdefrance:seda:v2.1"}
    for batch in batches:
        (package,) = [e for e in ledger.events(batch.id) if e.action == "package"]
        details = json.loads(package.details)
        assert details["profile"]["file"].endswith(f"profiles/{batch.source}.toml")
        with zipfile.ZipFile(str(batch.sip_path)) as sip:
            manifest = etree.fromstring(sip.read("manifest.xml"))
        kind = {"apogee": "etudiant", "harpege": "agent"}[batch.source]
        files = [
            u
            for u in manifest.iterfind(".//s:ArchiveUnit", ns)
            if u.findtext("s:Content/s:DescriptionLevel", namespaces=ns) == "File"
            and f"{batch.source}:{kind}:"
            in (u.findtext("s:Content/s:OriginatingAgencyArchiveUnitIdentifier", namespaces=ns) or "")
        ]
        assert len(files) == details["persons"] > 10
    # Only the demo's browser accounts are renewed (events without a batch); no batch changes.
    events = len([e for e in ledger.events() if e.batch_id is not None])
    assert run_demo(settings, serve=False) == 0
    again = capsys.readouterr().err
    for batch in batches:
        assert f"lot {batch.id} déjà traité (vérifié dans VITAM) : rien à refaire" in again
        assert ledger.batch(batch.id).vitam_operation_id == batch.vitam_operation_id
    assert [b.id for b in ledger.batches()] == [b.id for b in batches]
    assert len([e for e in ledger.events() if e.batch_id is not None]) == events


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


def test_a_nasty_source_fails_quality_then_travels_whole_under_an_override(tmp_path, seda_schemas, vitam_sandbox):
    """Duplicate and NULL keys stop the batch at the quality gate; an archivist's written override
    lets it go on, and mojibake and control characters reach the archive exactly as they were."""
    source = tmp_path / "apogee.sqlite"
    generate("apogee", f"sqlite:///{source}", years=(2021, 2022, 2023), nasty=True)
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox, VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false")
    ledger = open_ledger(settings)
    batch = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    batch = run_validate(settings, ledger, batch.id, actor="test")
    assert batch.state == State.QUALITY_FAILED
    failed = {d.name for d in ledger.batch(batch.id).datasets if d.quality_success is False}
    assert {"inscriptions_administratives", "dispenses"} <= failed  # a duplicate key, a NULL key
    with pytest.raises(StageError):
        run_package(settings, ledger, batch.id, actor="test")
    assert ledger.live_batch("apogee", "2023-2024") is None  # a failed batch frees its scope

    override(ledger, batch.id, by="Camille Archiviste", reason="Doublons connus de la source, signalés au SI")
    (lifted,) = [e for e in ledger.events(batch.id) if e.action == "quality.override"]
    assert "Doublons connus" in lifted.details
    batch = run_package(settings, ledger, batch.id, actor="test")
    approve(ledger, batch.id, approver="Camille", sha256=batch.sip_sha256)
    run_transfer(settings, ledger, batch.id, actor="test")
    assert ledger.batch(batch.id).state == State.VERIFIED
    assert ledger.verify().ok

    with zipfile.ZipFile(str(ledger.batch(batch.id).sip_path)) as sip:
        texts = [sip.read(n).decode("utf-8") for n in sip.namelist() if n.endswith(".csv")]
    everything = "\n".join(texts)
    assert "HÃ©loÃ¯se" in everything  # double-encoded Latin-1, kept as the source holds it
    assert "MARTIN\x0bDUPONT" in everything and "Zoé\x01" in everything  # control characters XML forbids
