"""The ledger's SIP rows through its API alone: added and changed only with their events."""

from __future__ import annotations

import pytest

from versement.ledger import Ledger, LedgerError, State
from versement.ledger.models import Sip


def part(number: int, attempt: int = 1) -> Sip:
    return Sip(
        attempt=attempt,
        part=number,
        message_identifier=f"UNIV-APOGEE-2023-2024-000001-{number:03d}",
        path=f"/staging/part-{number}.zip",
        sha256=f"{number}" * 64,
        manifest_sha512="c" * 128,
        units=3,
        objects=1,
        bytes=100,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    instance = Ledger(url)
    instance.migrate()
    yield instance
    instance.close()


def packaged(ledger: Ledger) -> int:
    batch = ledger.create_batch("apogee", "2023-2024", "test")
    for state in (State.EXTRACTED, State.VALIDATED):
        ledger.transition(batch.id, state, actor="t", action=f"to-{state}")
    ledger.transition(batch.id, State.PACKAGED, actor="t", action="package", sips=[part(1), part(2)])
    return batch.id


def test_rows_added_and_updated_through_events_replay_clean(ledger: Ledger) -> None:
    batch_id = packaged(ledger)
    ledger.update(batch_id, actor="t", action="note", sip_updates={(1, 2): {"status": "submitting"}})
    batch = ledger.batch(batch_id)
    assert [(s.part, s.status) for s in batch.sips] == [(1, None), (2, "submitting")]
    assert batch.state == State.PACKAGED
    assert ledger.verify().ok


def test_what_the_ledger_refuses_writes_nothing(ledger: Ledger) -> None:
    batch_id = packaged(ledger)
    events = len(ledger.events())
    with pytest.raises(LedgerError, match="la partie 2 de la tentative 1 a déjà un SIP au registre"):
        ledger.transition(batch_id, State.AWAITING_APPROVAL, actor="t", action="x", sips=[part(2)])
    with pytest.raises(LedgerError, match="aucun SIP partie 9 de la tentative 1 au registre"):
        ledger.update(batch_id, actor="t", action="x", sip_updates={(1, 9): {"status": "submitted"}})
    with pytest.raises(LedgerError, match="le champ 'sha256' d'un SIP ne peut pas être modifié"):
        ledger.update(batch_id, actor="t", action="x", sip_updates={(1, 1): {"sha256": "0" * 64}})
    with pytest.raises(LedgerError, match="le champ 'state' d'un lot ne peut pas être modifié sans transition"):
        ledger.update(batch_id, actor="t", action="x", changes={"state": "verified"})
    # Two transfers of one batch: the second finds the part's intent already recorded.
    ledger.update(batch_id, actor="a", action="transfer.submitting", sip_updates={(1, 2): {"status": "submitting"}})
    with pytest.raises(LedgerError, match=r"a changé entre-temps .* une autre exécution est en cours"):
        ledger.update(
            batch_id,
            actor="b",
            action="transfer.submitting",
            sip_updates={(1, 2): {"status": "submitting"}},
            sip_expect={(1, 2): {"status": None}},
        )
    assert len(ledger.events()) == events + 1
    batch = ledger.batch(batch_id)
    assert batch.state == State.PACKAGED and [s.sha256 for s in batch.sips] == ["1" * 64, "2" * 64]
    assert ledger.verify().ok
