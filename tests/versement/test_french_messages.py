"""Every CLI message about a batch is in French for the archivist: the main failure paths are run
through the command line and each line they print is checked for English sentences."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.versement.conftest import demo_environ
from versement.cli import main
from versement.ledger import State

# Words that mark an English sentence (with their spaces: identifiers such as `approved`,
# `awaiting_approval` or a path under `batches/` do not match).
ENGLISH = (
    " is ",
    " the ",
    " only ",
    " batch ",
    " not ",
    " cannot ",
    " has ",
    " was ",
    " and ",
    " of ",
    " part ",
    "error:",
)


def english_in(text: str) -> list[str]:
    """The lines of ``text`` holding an English word, paths and digests left out of the check."""
    found = []
    for line in text.splitlines():
        words = " ".join(word for word in line.split() if "/" not in word)  # file paths are named verbatim
        padded = f" {words.lower()} "
        if any(marker in padded for marker in ENGLISH):
            found.append(line)
    return found


def test_the_english_detector_sees_an_english_sentence():
    assert english_in("versement: error: batch 3 is packaged; only a validated batch can be packaged")
    assert english_in("TAMPERED: event 6: content does not match its hash (the row was edited)")
    assert not english_in("versement : erreur : lot 3 : état packaged (empaqueté) ; seul un lot contrôlé")
    assert not english_in("lot 1 : le SIP /tmp/the batch/x.zip a l'empreinte SHA-256 ab12")


def test_a_stage_package_error_reaches_the_archivist_introduced_in_french():
    from extractors.errors import ExtractionError
    from versement.messages import archivist_text
    from vitam_client.errors import VitamTransportError

    assert archivist_text(VitamTransportError("connection refused")) == (
        "l'échange avec VITAM a échoué (VitamTransportError) : connection refused"
    )
    assert archivist_text(ExtractionError("dataset individus: column nom, row 3")).startswith(
        "l'extraction a échoué (ExtractionError) : dataset individus"
    )
    assert archivist_text(ValueError("x")) == "erreur inattendue (ValueError) : x"


@pytest.fixture
def cli(packaged, vitam_sandbox, tmp_path, seda_schemas, monkeypatch):
    """A packaged batch of the embedded default, the CLI pointed at it and at a running sandbox."""
    for name, value in demo_environ(tmp_path, seda_schemas, vitam_sandbox).items():
        monkeypatch.setenv(name, value)
    settings, ledger, batch = packaged
    return settings, ledger, batch


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_main_failure_paths_speak_french(cli, capsys):
    settings, ledger, batch = cli
    lot = str(batch.id)
    said: list[str] = []

    def expect(code: int, *argv: str, naming: tuple[str, ...] = ()) -> str:
        got, text = run(capsys, *argv)
        assert got == code, (argv, text)
        for name in naming:  # the message still names the problem
            assert name in text, (argv, name, text)
        said.append(text)
        return text

    # Approving without the digest, or without a name; packaging, transferring, verifying,
    # trying, withdrawing and overriding in the wrong state; an unknown batch; a bad scope.
    expect(1, "approve", lot, "--by", "Camille Archiviste", naming=("--sha256", f"lot {lot}"))
    expect(1, "approve", lot, "--by", " ", "--sha256", batch.sip_sha256, naming=("--by",))
    expect(1, "approve", lot, "--by", "Camille", "--sha256", "0" * 64, naming=("0" * 64, batch.sip_sha256))
    expect(1, "package", lot, naming=("awaiting_approval", "validated"))
    expect(1, "validate", lot, naming=(f"lot {lot}",))
    expect(1, "transfer", lot, naming=("awaiting_approval", "approved"))
    expect(1, "verify", lot, naming=("awaiting_approval", "accepted"))
    expect(1, "withdraw", lot, "--by", "Camille", "--reason", "erreur", naming=("awaiting_approval",))
    expect(1, "override", lot, "--by", "Camille", "--reason", "motif", naming=(f"lot {lot}",))
    expect(1, "reject", lot, "--by", "Camille", "--reason", " ", naming=("--reason",))
    expect(2, "approve", "999", "--by", "Camille", "--sha256", "0" * 64, naming=("999",))
    expect(2, "transfer", "999", naming=("999",))
    expect(2, "extract", "apogee", "--year", "1850", naming=("1850",))
    expect(2, "extract", "apogee", "--years", "2023-2019", naming=("2023-2019",))
    expect(2, "extract", "apogee", naming=("--year",))
    expect(2, "extract", "apogee", "--year", "2023", naming=(f"lot {lot}",))  # its scope is taken
    expect(0, "status", naming=(batch.sip_sha256,))

    # A SIP changed after approval is not sent, and audit verify names it; so is a row edited.
    expect(0, "approve", lot, "--by", "Camille Archiviste", "--sha256", batch.sip_sha256)
    expect(1, "reject", lot, "--by", "Camille", "--reason", "motif", naming=("approved", "rejected"))
    sip = Path(batch.sip_path)
    with sip.open("ab") as stream:
        stream.write(b"\0")
    expect(1, "transfer", lot, naming=(batch.sip_sha256,))
    expect(1, "transfer", lot, "--dry-run", naming=(batch.sip_sha256,))
    assert ledger.batch(batch.id).state == State.APPROVED
    with sqlite3.connect(re.sub("^sqlite:///", "", settings.ledger_url)) as raw:
        raw.execute("UPDATE batch SET approved_by = 'Quelqu''un'")
        raw.execute("UPDATE audit_event SET actor = 'autre' WHERE id = 2")
    text = expect(1, "audit", "verify", naming=("approved_by", "événement 2", str(sip)))
    assert text.count("ALTÉRATION : ") >= 3 and "journal d'audit ALTÉRÉ" in text

    for text in said:
        assert "versement: error" not in text and "Traceback" not in text
        assert english_in(text) == [], text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["approve", "1", "--sha256", "ab"], "versement approve : erreur : arguments obligatoires manquants : --by"),
        (["approve", "un", "--by", "Camille"], "argument LOT : un nombre entier est attendu, pas 'un'"),
        (["extract", "apogee", "--year", "2023", "--all"], "argument --all : incompatible avec l'argument --year"),
        (["audit", "check"], "argument action : choix invalide 'check' (possibles : 'verify')"),
        (["status", "--tout"], "versement : erreur : arguments inconnus : --tout"),
    ],
    ids=["missing-option", "not-a-number", "exclusive", "bad-choice", "unknown"],
)
def test_a_command_line_mistake_is_explained_in_french(capsys, argv, expected):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("usage : versement")
    assert english_in(err.split("\n", 1)[1].split("erreur :", 1)[1]) == []


def test_the_help_of_a_batch_command_is_french(capsys):
    with pytest.raises(SystemExit):
        main(["approve", "--help"])
    text = capsys.readouterr().out
    assert "afficher cette aide et quitter" in text and "le numéro du lot" in text
    assert english_in(text) == [] and "show this help" not in text


def test_audit_verify_against_vitam_is_opt_in_and_french(cli, capsys):
    settings, _, batch = cli
    lot = str(batch.id)
    assert run(capsys, "approve", lot, "--by", "Camille Archiviste", "--sha256", batch.sip_sha256)[0] == 0
    code, text = run(capsys, "transfer", lot)
    assert code == 0 and f"Lot {lot} : vérifié dans VITAM" in text, text
    code, text = run(capsys, "audit", "verify")
    assert code == 0 and "VITAM" not in text  # without --vitam, VITAM is not asked
    code, text = run(capsys, "audit", "verify", "--vitam")
    assert code == 0 and "journal des opérations de VITAM conforme" in text and "journal d'audit intègre" in text
    assert english_in(text) == [], text

    with sqlite3.connect(re.sub("^sqlite:///", "", settings.ledger_url)) as raw:
        raw.execute("UPDATE batch SET atr_reply_code = 'KO'")
    code, text = run(capsys, "audit", "verify", "--vitam")
    assert code == 1
    assert f"ALTÉRATION : lot {lot} : le journal des opérations de VITAM indique OK pour l'opération" in text
    assert "le registre a enregistré KO" in text and english_in(text) == [], text


@pytest.fixture
def split_batch(tmp_path, seda_schemas, monkeypatch):
    """A batch packaged as several SIPs (one per series), the CLI pointed at its ledger."""
    from seda import Limits
    from tests.versement.conftest import DEMO_YEAR_SCOPE
    from tests.versement.test_transfer import make_world
    from versement.demo import prepare_sources
    from versement.pipeline import run_extract, run_package, run_validate

    for world in make_world(tmp_path, seda_schemas):
        for name, value in world.environ.items():
            monkeypatch.setenv(name, value)
        prepare_sources(world.settings)
        batch = run_extract(world.settings, world.ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
        run_validate(world.settings, world.ledger, batch.id, actor="test")
        batch = run_package(world.settings, world.ledger, batch.id, actor="test", limits=Limits(max_items=150))
        assert batch.state == State.AWAITING_APPROVAL and len(batch.sips) > 1
        yield world, batch.id


def test_the_failure_paths_of_a_split_batch_speak_french(split_batch, capsys):
    from versement.ledger.sips import current_sips

    world, batch_id = split_batch
    lot = str(batch_id)
    parts = current_sips(world.ledger.batch(batch_id))
    digests = [argument for sip in parts for argument in ("--sha256", sip.sha256)]
    said: list[str] = []

    def expect(code: int, *argv: str, naming: tuple[str, ...] = ()) -> str:
        got, text = run(capsys, *argv)
        assert got == code, (argv, text)
        for name in naming:
            assert name in text, (argv, name, text)
        said.append(text)
        return text

    # Approving a split batch: a part's digest missing, a digest of no part, one given twice.
    by = ("--by", "Camille Archiviste")
    expect(1, "approve", lot, *by, *digests[:-2], naming=(f"lot {lot}", f"partie {parts[-1].part}", "manquent"))
    expect(1, "approve", lot, *by, *digests[:-2], "--sha256", "0" * 64, naming=("0" * 64, "aucun des"))
    expect(1, "approve", lot, *by, *digests, "--sha256", parts[0].sha256, naming=("une seule fois",))
    # Re-packaging refused: the SIP is intact; no reason given.
    expect(1, "repackage", lot, *by, "--reason", "essai", naming=(f"lot {lot}", "son SIP est intact"))
    expect(1, "repackage", lot, *by, "--reason", " ", naming=("--reason",))
    expect(0, "status", naming=(f"lot {lot} : tentative 1 (en cours)", parts[1].sha256))

    # A part changed on disk is not approved; once re-packaged, the old attempt stays.
    last = Path(parts[-1].path)
    last.write_bytes(last.read_bytes() + b"\0")
    expect(1, "approve", lot, *by, *digests, naming=(f"partie {parts[-1].part}", "a changé"))
    expect(0, "repackage", lot, *by, "--reason", "SIP modifié", naming=(f"versement package {lot}",))
    expect(0, "status", naming=(f"lot {lot} : tentative 1 (close)",))

    # A SIP row edited alone, another deleted: audit verify names the part and the attempt.
    with sqlite3.connect(re.sub("^sqlite:///", "", world.settings.ledger_url)) as raw:
        raw.execute("UPDATE sip SET units = 7 WHERE part = 2")
        raw.execute("DELETE FROM sip WHERE part = 3")
    expect(1, "audit", "verify", naming=("SIP partie 2 de la tentative 1, units vaut 7", "partie 3 de la tentative 1"))

    for text in said:
        assert "versement: error" not in text and "Traceback" not in text
        assert english_in(text) == [], text
