"""The ledger on SQLite and PostgreSQL: life cycle, audit chain, migrations."""

from __future__ import annotations

import itertools
import json

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
    with pytest.raises(LedgerError, match="un lot est déjà en cours pour apogee/2023-2024"):
        ledger.create_batch("apogee", "2023-2024", "test")
    ledger.transition(batch_id, State.REJECTED, actor="archiviste", action="reject")
    again = ledger.create_batch("apogee", "2023-2024", "test")
    assert again.id != batch_id
    assert ledger.live_batch("apogee", "2023-2024").id == again.id


def test_unknown_batch_and_unknown_field_are_refused(ledger):
    with pytest.raises(LedgerError, match="aucun lot 999 dans le registre"):
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
    import versement.ledger.accounts  # noqa: F401  (the browser's accounts table is a ledger model too)

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


def test_rows_and_anchor_are_checked_on_both_databases(ledger, tmp_path):
    from tests.versement.test_tampering import accepted_batch

    ledger.anchor = tmp_path / "anchor.jsonl"
    batch_id = accepted_batch(ledger)
    assert ledger.verify().ok
    assert len(ledger.anchor.read_text(encoding="utf-8").splitlines()) == len(ledger.events())
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE batch SET approved_by = 'X', vitam_operation_id = NULL"))
    problems = ledger.verify().problems
    assert len(problems) == 2 and all(f"lot {batch_id} :" in p for p in problems)
    with ledger.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"))
        connection.execute(text("UPDATE audit_head SET count = count - 1"))
    assert any("des événements ont été supprimés" in p for p in ledger.verify().problems)


def test_a_rolled_back_event_is_not_anchored(ledger, tmp_path):
    ledger.anchor = tmp_path / "anchor.jsonl"
    batch_id = bring_to(ledger, State.NEW)
    with pytest.raises(IllegalTransition):
        ledger.transition(batch_id, State.APPROVED, actor="t", action="x")
    with pytest.raises(LedgerError):
        ledger.transition(batch_id, State.EXTRACTED, actor="t", action="x", changes={"colour": "bleu"})
    assert len(ledger.anchor.read_text(encoding="utf-8").splitlines()) == 1
    assert ledger.verify().ok


def test_a_ledger_made_before_the_row_records_migrates_and_verifies(tmp_path):
    """A 0001 ledger with a batch: upgraded in place, its old batch checked on its state only."""
    from alembic import command
    from alembic.config import Config

    from versement.ledger.store import MIGRATIONS

    old = Ledger(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with old.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batch (id, source, scope, active_key, state, created_at, updated_at, sip_path) "
                "VALUES (1, 'apogee', '2022-2023', 'apogee/2022-2023', 'new', 't', 't', '/ancien.zip')"
            )
        )
    from versement.ledger.audit import GENESIS, canonical, event_hash

    details = canonical({"source": "apogee", "scope": "2022-2023"})
    digest = event_hash(
        event_id=1,
        batch_id=1,
        at="t",
        actor="old",
        action="batch.created",
        from_state=None,
        to_state="new",
        details=details,
        prev_hash=GENESIS,
    )
    with old.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (id, batch_id, at, actor, action, from_state, to_state, details, "
                "prev_hash, hash) VALUES (1, 1, 't', 'old', 'batch.created', NULL, 'new', :d, :p, :h)"
            ),
            {"d": details, "p": GENESIS, "h": digest},
        )
        connection.execute(text("INSERT INTO audit_head (id, last_hash, count) VALUES (1, :h, 1)"), {"h": digest})
    old.anchor = tmp_path / "staging" / "ledger-anchor.jsonl"
    old.migrate()
    # The upgrade anchors the head as it stood: later events are anchored after it.
    assert json.loads(old.anchor.read_text(encoding="utf-8"))["head"] == digest
    assert old.verify().ok
    assert old.batch(1).approver_identity is None and old.batch(1).supersedes is None
    old.transition(1, State.EXTRACTED, actor="t", action="extract")
    old.migrate()  # already at head: nothing re-anchored
    assert len(old.anchor.read_text(encoding="utf-8").splitlines()) == 2
    assert old.verify().ok
    old.close()


@pytest.mark.parametrize("archived", [State.ACCEPTED, State.VERIFIED])
def test_an_archived_scope_is_superseded_only_on_purpose(ledger, archived):
    import json

    old = bring_to(ledger, archived)
    with pytest.raises(LedgerError, match=rf"déjà archivé par le lot {old} .*--supersede {old} --reason MOTIF"):
        ledger.create_batch("apogee", "2023-2024", "test")
    with pytest.raises(LedgerError, match="demande un motif"):
        ledger.create_batch("apogee", "2023-2024", "test", supersedes=old, reason="  ")
    with pytest.raises(LedgerError, match="pas sur apogee/2022-2023"):
        ledger.create_batch("apogee", "2022-2023", "test", supersedes=old, reason="correction")
    live = bring_to(ledger, State.VALIDATED, scope="2022-2023")
    with pytest.raises(LedgerError, match="seul un lot accepté ou vérifié par VITAM peut être remplacé"):
        ledger.create_batch("apogee", "2022-2023", "test", supersedes=live, reason="correction")

    reason = "Correction : dates de naissance erronées dans l'extraction précédente"
    new = ledger.create_batch("apogee", "2023-2024", "archiviste", supersedes=old, reason=reason)

    assert new.supersedes == old and new.state == State.NEW
    previous = ledger.batch(old)
    assert previous.superseded_by == new.id and previous.active_key is None and previous.state == archived
    created = json.loads(ledger.events(new.id)[0].details)
    assert created["supersedes"] == old and created["reason"] == reason
    superseded = ledger.events(old)[-1]
    assert superseded.action == "batch.superseded" and superseded.to_state is None
    assert json.loads(superseded.details)["superseded_by"] == new.id
    assert json.loads(superseded.details)["reason"] == reason
    assert ledger.verify().ok
    with pytest.raises(LedgerError, match=f"a déjà été remplacé par le lot {new.id}"):
        ledger.create_batch("apogee", "2023-2024", "test", supersedes=old, reason=reason)
    with ledger.engine.begin() as connection:  # the link cannot be edited away unseen
        connection.execute(text(f"UPDATE batch SET superseded_by = NULL WHERE id = {old}"))
    assert any("superseded_by vaut null dans la ligne" in p for p in ledger.verify().problems)


def test_each_ledger_has_its_own_fingerprint_kept_across_reopening(ledger, tmp_path):
    """Batch numbers restart in every ledger; the fingerprint in MessageIdentifiers tells them apart."""
    with pytest.raises(LedgerError, match="no event yet"):
        ledger.fingerprint()
    bring_to(ledger, State.NEW)
    fingerprint = ledger.fingerprint()
    assert len(fingerprint) == 8 and int(fingerprint, 16) >= 0 and fingerprint == fingerprint.upper()
    bring_to(ledger, State.EXTRACTED, scope="2022-2023")  # later events change nothing
    assert ledger.fingerprint() == fingerprint
    reopened = Ledger(str(ledger.engine.url.render_as_string(hide_password=False)))
    assert reopened.fingerprint() == fingerprint
    reopened.close()
    other = Ledger(f"sqlite:///{tmp_path / 'other.sqlite'}")
    other.migrate()
    bring_to(other, State.NEW)  # the same batch number, the same scope, another ledger
    assert other.fingerprint() != fingerprint
    other.close()
