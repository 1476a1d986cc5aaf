"""Each kind of tampering, as `versement audit verify` reports it: exit 1 and what was found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from versement.cli import main
from versement.ledger import Dataset, Ledger, State

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
OPERATION = "aeeaaaaaaghbgaoeaacxqambxkaa4aaaaaaq"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VERSEMENT__LEDGER__URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("VERSEMENT__PATHS__STAGING", str(tmp_path / "staging"))
    monkeypatch.setenv("VERSEMENT_CONFIG", str(DEMO))
    return tmp_path


def anchor_of(folder: Path) -> Path:
    return folder / "staging" / "ledger-anchor.jsonl"


def accepted_batch(ledger: Ledger) -> int:
    """A batch taken to `accepted` through the ledger API, with the rows each stage sets."""
    batch = ledger.create_batch("apogee", "2023-2024", "test")
    dataset = Dataset(
        name="individus",
        source_table="INDIVIDU",
        path="/staging/individus.parquet",
        rows=120,
        source_count=120,
        sha256="a" * 64,
        columns=[["COD_IND", "NUMBER"]],
        query="SELECT …",
    )
    ledger.transition(batch.id, State.EXTRACTED, actor="t", action="extract", datasets=[dataset])
    ledger.transition(
        batch.id,
        State.VALIDATED,
        actor="t",
        action="validate",
        dataset_updates={"individus": {"quality": {"success": True, "outcomes": []}, "quality_success": True}},
    )
    ledger.transition(batch.id, State.PACKAGED, actor="t", action="package", changes={"sip_sha256": "b" * 64})
    ledger.transition(batch.id, State.AWAITING_APPROVAL, actor="t", action="approval.requested")
    ledger.transition(
        batch.id,
        State.APPROVED,
        actor="os:camille",
        action="approve",
        changes={"approved_by": "Camille Archiviste", "approved_sha256": "b" * 64, "approver_identity": "os:camille"},
    )
    ledger.transition(batch.id, State.SUBMITTING, actor="t", action="transfer.submitting")
    ledger.transition(
        batch.id, State.SUBMITTED, actor="t", action="transfer.submitted", changes={"vitam_operation_id": OPERATION}
    )
    ledger.transition(batch.id, State.ACCEPTED, actor="t", action="transfer.reply", changes={"atr_reply_code": "OK"})
    return batch.id


@pytest.fixture
def ledger(isolated):
    instance = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}", anchor=anchor_of(isolated))
    instance.migrate()
    accepted_batch(instance)
    yield instance
    instance.close()


def verify(capsys) -> tuple[int, list[str]]:
    code = main(["audit", "verify"])
    captured = capsys.readouterr()
    problems = [
        line.removeprefix("ALTÉRATION : ") for line in captured.err.splitlines() if line.startswith("ALTÉRATION")
    ]
    return code, problems


def test_an_untouched_ledger_verifies(ledger, capsys):
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "journal d'audit intègre : 9 événements" in out and str(anchor_of(Path(ledger.anchor).parents[1])) in out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            "UPDATE batch SET approved_by = 'Quelqu''un d''autre'",
            'lot 1 : approved_by vaut "Quelqu\'un d\'autre" dans la ligne mais "Camille Archiviste" dans son '
            "journal d'audit",
        ),
        ("UPDATE batch SET approved_sha256 = NULL", "lot 1 : approved_sha256 vaut null dans la ligne"),
        ("UPDATE batch SET vitam_operation_id = 'autre'", 'vitam_operation_id vaut "autre" dans la ligne'),
        ("UPDATE batch SET atr_reply_code = 'KO'", 'atr_reply_code vaut "KO" dans la ligne mais "OK"'),
        ("UPDATE batch SET sip_sha256 = 'c'", 'sip_sha256 vaut "c" dans la ligne'),
        ("UPDATE batch SET state = 'verified'", 'state vaut "verified" dans la ligne mais "accepted"'),
        (
            "UPDATE dataset SET rows = 999",
            "jeu de données individus, rows vaut 999 dans la ligne mais 120 dans son journal d'audit",
        ),
        ("UPDATE dataset SET sha256 = 'f'", "jeu de données individus, sha256"),
        (
            "UPDATE dataset SET quality_success = 0",
            "jeu de données individus, quality_success vaut false dans la ligne",
        ),
        ("DELETE FROM dataset", "le jeu de données individus de son journal d'audit n'a pas de ligne"),
    ],
    ids=[
        "approver",
        "approved-digest",
        "operation",
        "atr-code",
        "sip-digest",
        "state",
        "dataset-rows",
        "dataset-digest",
        "quality",
        "dataset-deleted",
    ],
)
def test_a_row_edited_alone_is_reported(ledger, capsys, edit, expected):
    with ledger.engine.begin() as connection:
        connection.execute(text(edit))
    code, problems = verify(capsys)
    assert code == 1
    (problem,) = [p for p in problems if expected in p]
    assert "hors du registre" in problem
    assert all("ancr" not in problem for problem in problems)  # the chain itself is intact


def test_a_deleted_tail_with_the_head_rewritten_is_caught_by_the_anchor_log(ledger, capsys):
    # VITAM's acceptance made to vanish: the last event deleted, the head row and the batch set back.
    with ledger.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = 9"))
        previous = connection.execute(text("SELECT hash FROM audit_event WHERE id = 8")).scalar_one()
        connection.execute(text("UPDATE audit_head SET last_hash = :h, count = 8"), {"h": previous})
        connection.execute(text("UPDATE batch SET state = 'submitted', atr_reply_code = NULL"))
    code, problems = verify(capsys)
    assert code == 1
    (problem,) = problems  # chain and rows agree: only the anchor log knows
    assert "journal d'ancrage ligne 9 : l'événement 9" in problem
    assert (
        "le registre ne contient plus que 8 événements : des événements ont été supprimés et la tête de chaîne "
        "réécrite" in problem
    )


def test_an_edited_anchor_is_reported(ledger, capsys):
    path = anchor_of(Path(ledger.anchor).parents[1])
    lines = path.read_text(encoding="utf-8").splitlines()
    forged = json.loads(lines[4])
    forged["head"] = "0" * 64
    lines[4] = json.dumps(forged)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, problems = verify(capsys)
    assert code == 1
    (problem,) = problems
    assert problem.startswith("journal d'ancrage ligne 5 : l'événement 5 avait l'empreinte 000000000000…")
    assert "le journal d'ancrage a été modifié, ou le registre réécrit à partir de cet événement" in problem


def test_a_cut_or_deleted_anchor_log_is_reported(ledger, capsys):
    path = anchor_of(Path(ledger.anchor).parents[1])
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:7]) + "\n", encoding="utf-8")
    code, problems = verify(capsys)
    assert code == 1 and problems == [
        f"les événements 8 à 9 du registre ne figurent dans aucune ligne du journal d'ancrage {path} "
        "(le journal a été tronqué, ou ces événements écrits sans lui)"
    ]
    path.write_text("pas du JSON\n", encoding="utf-8")
    code, problems = verify(capsys)
    assert code == 1 and any("ligne 1 : pas une ligne d'ancrage" in p for p in problems)
    path.unlink()
    code, problems = verify(capsys)
    assert code == 1 and any("est absent alors que le registre contient 9 événements" in p for p in problems)


def test_an_edited_event_is_reported(ledger, capsys):
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'quelqu''un' WHERE id = 6"))
    code, problems = verify(capsys)
    assert code == 1
    assert "événement 6 : le contenu ne correspond plus à son empreinte (la ligne a été modifiée)" in problems


def test_an_event_rewritten_with_its_hash_recomputed_still_breaks_the_next_link(ledger, capsys):
    from versement.ledger.audit import event_hash

    (event,) = [e for e in ledger.events() if e.id == 6]
    forged = event_hash(
        event_id=6,
        batch_id=event.batch_id,
        at=event.at,
        actor="quelqu'un",
        action=event.action,
        from_state=event.from_state,
        to_state=event.to_state,
        details=event.details,
        prev_hash=event.prev_hash,
    )
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'quelqu''un', hash = :h WHERE id = 6"), {"h": forged})
    code, problems = verify(capsys)
    assert code == 1
    assert any("événement 7 : lien vers l'empreinte précédente rompu" in p for p in problems)
    assert any("journal d'ancrage ligne 6 : l'événement 6" in p for p in problems)


def test_under_airflow_each_anchor_goes_to_the_task_log(isolated, monkeypatch, caplog):
    import logging

    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "versement_demo")
    instance = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}", anchor=anchor_of(isolated))
    instance.migrate()
    with caplog.at_level(logging.INFO, logger="versement.ledger.anchor"):
        batch = instance.create_batch("apogee", "2023-2024", "airflow")
    (event,) = instance.events(batch.id)
    anchored = [r.getMessage() for r in caplog.records if r.name == "versement.ledger.anchor"]
    assert anchored == [f"ledger anchor: 1 events, head {event.hash}"]
    instance.close()


def test_an_anchor_that_cannot_be_written_is_an_error_and_then_a_finding(isolated, capsys):
    from versement.ledger.anchor import AnchorError

    blocker = isolated / "not-a-folder"
    blocker.write_text("")
    instance = Ledger(f"sqlite:///{isolated / 'ledger.sqlite'}", anchor=blocker / "ledger-anchor.jsonl")
    instance.migrate()
    with pytest.raises(
        AnchorError, match="l'événement 1 est enregistré dans le registre, mais son ancrage n'a pas pu être écrit"
    ):
        instance.create_batch("apogee", "2023-2024", "test")
    assert len(instance.events()) == 1  # the event stands; the gap is what verify reports
    assert any("est absent alors que le registre contient 1 événements" in p for p in instance.verify().problems)
    instance.close()


def test_an_event_whose_details_are_no_longer_json_is_reported_not_crashed_on(ledger, capsys):
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET details = 'pas du JSON', to_state = 'inconnu' WHERE id = 2"))
    code, problems = verify(capsys)
    assert code == 1
    assert "événement 2 : le contenu ne correspond plus à son empreinte (la ligne a été modifiée)" in problems
