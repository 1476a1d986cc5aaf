"""The ledger on SQLite and PostgreSQL: life cycle, audit chain, migrations."""

from __future__ import annotations

import itertools

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from versement.ledger import IllegalTransition, Ledger, LedgerError, State
from versement.ledger.models import Base
from versement.ledger.states import TRANSITIONS

# The happy path through the life cycle, used to bring a batch to any state.
PATH_TO = {
    State.NEW: [],
    State.EXTRACTED: [State.EXTRACTED],
    State.VALIDATED: [State.EXTRACTED, State.VALIDATED],
    State.QUALITY_FAILED: [State.EXTRACTED, State.QUALITY_FAILED],
    State.PACKAGED: [State.EXTRACTED, State.VALIDATED, State.PACKAGED],
    State.AWAITING_APPROVAL: [
        State.EXTRACTED,
        State.VALIDATED,
        State.PACKAGED,
        State.AWAITING_APPROVAL,
    ],
}
PATH_TO[State.APPROVED] = [*PATH_TO[State.AWAITING_APPROVAL], State.APPROVED]
PATH_TO[State.REJECTED] = [*PATH_TO[State.AWAITING_APPROVAL], State.REJECTED]
PATH_TO[State.SUBMITTING] = [*PATH_TO[State.APPROVED], State.SUBMITTING]
PATH_TO[State.SUBMITTED] = [*PATH_TO[State.SUBMITTING], State.SUBMITTED]
PATH_TO[State.ACCEPTED] = [*PATH_TO[State.SUBMITTED], State.ACCEPTED]
PATH_TO[State.REFUSED] = [*PATH_TO[State.SUBMITTED], State.REFUSED]
PATH_TO[State.VERIFIED] = [*PATH_TO[State.ACCEPTED], State.VERIFIED]
PATH_TO[State.VERIFICATION_FAILED] = [*PATH_TO[State.ACCEPTED], State.VERIFICATION_FAILED]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    instance = Ledger(url)
    instance.migrate()
    yield instance
    instance.close()


def bring_to(ledger: Ledger, state: State, scope: str = "2023-2024") -> int:
    batch = ledger.create_batch("apogee", scope, "test")
    for step in PATH_TO[state]:
        ledger.transition(batch.id, step, actor="test", action=f"to-{step}")
    return batch.id


def test_every_state_is_reachable_by_the_documented_path():
    assert set(PATH_TO) == set(State)


ILLEGAL = [(a, b) for a, b in itertools.product(State, State) if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_transition_is_refused_and_changes_nothing(tmp_path, current, target):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.migrate()
    batch_id = bring_to(ledger, current)
    events_before = len(ledger.events())
    with pytest.raises(IllegalTransition) as caught:
        ledger.transition(batch_id, target, actor="test", action="illegal", changes={"approved_by": "intrus"})
    assert caught.value.current == current and caught.value.target == target
    after = ledger.batch(batch_id)
    assert after.state == current
    assert after.approved_by is None
    assert len(ledger.events()) == events_before
    assert ledger.verify().ok


def test_legal_transitions_write_chained_events(ledger):
    batch_id = bring_to(ledger, State.ACCEPTED)
    events = ledger.events(batch_id)
    assert [e.to_state for e in events] == [State.NEW, *PATH_TO[State.ACCEPTED]]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    check = ledger.verify()
    assert check.ok and check.events == len(events)


def test_one_live_batch_per_scope_until_it_is_closed(ledger):
    batch_id = bring_to(ledger, State.AWAITING_APPROVAL)
    with pytest.raises(LedgerError, match="live batch already exists"):
        ledger.create_batch("apogee", "2023-2024", "test")
    ledger.transition(batch_id, State.REJECTED, actor="archiviste", action="reject")
    again = ledger.create_batch("apogee", "2023-2024", "test")
    assert again.id != batch_id
    assert ledger.live_batch("apogee", "2023-2024").id == again.id


def test_unknown_batch_and_unknown_field_are_refused(ledger):
    with pytest.raises(LedgerError, match="no batch 999"):
        ledger.transition(999, State.EXTRACTED, actor="t", action="x")
    batch_id = bring_to(ledger, State.NEW)
    with pytest.raises(LedgerError, match="no field 'colour'"):
        ledger.transition(batch_id, State.EXTRACTED, actor="t", action="x", changes={"colour": "blue"})
    assert ledger.batch(batch_id).state == State.NEW


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_event SET actor = 'quelqu''un d''autre' WHERE id = 3",
        'UPDATE audit_event SET details = \'{"comment":"édité"}\' WHERE id = 2',
        "DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)",
        "DELETE FROM audit_event WHERE id = 2",
        "UPDATE batch SET state = 'approved' WHERE id = 1",
    ],
    ids=["actor-edited", "details-edited", "tail-deleted", "middle-deleted", "state-edited"],
)
def test_a_hand_edited_history_is_detected(ledger, tamper):
    bring_to(ledger, State.PACKAGED)
    assert ledger.verify().ok
    with ledger.engine.begin() as connection:
        connection.execute(text(tamper))
    check = ledger.verify()
    assert not check.ok
    assert check.problems


def test_record_appends_to_the_same_chain(ledger):
    batch_id = bring_to(ledger, State.EXTRACTED)
    ledger.record(
        batch_id,
        actor="auditeur",
        action="consultation",
        details={"page": "lot", "note": "accentué ✓"},
    )
    events = ledger.events()
    assert events[-1].action == "consultation" and events[-1].to_state is None
    assert "accentué ✓" in events[-1].details
    assert ledger.verify().ok


def test_migrations_produce_exactly_the_models(ledger):
    with ledger.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(ledger):
    bring_to(ledger, State.EXTRACTED)
    ledger.migrate()
    assert ledger.verify().ok


def test_a_ledger_password_is_used_on_a_server_and_ignored_by_sqlite(tmp_path):
    sqlite = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", password="inutile")
    sqlite.migrate()
    assert sqlite.create_batch("apogee", "2023-2024", "test").id == 1
    assert sqlite.engine.url.password is None
    sqlite.close()
    server = Ledger("postgresql+psycopg://versement@db.invalid/versement", password="s3cret")
    assert server.engine.url.password == "s3cret"
    assert "s3cret" not in repr(server.engine.url)
    server.close()
