"""The ledger: batches, datasets and the audit chain, behind one small API.

Every state change goes through ``Ledger.transition``: in one database transaction it locks the
batch and the audit head, checks the life cycle, applies the changes and appends the chained
audit event. An illegal transition raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from versement.ledger.audit import GENESIS, ChainCheck, canonical, event_hash, verify_chain
from versement.ledger.models import AuditEvent, AuditHead, Batch, Dataset
from versement.ledger.states import CLOSED, State, check_transition
from versement.secrets import LEDGER

if TYPE_CHECKING:
    from versement.config import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
_DATASET_UPDATABLE = frozenset({"quality", "quality_success"})


class LedgerError(Exception):
    """A ledger request that cannot be honoured (unknown batch, duplicate live batch...)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def make_engine(url: str, password: str | None = None) -> Engine:
    parsed = make_url(url)
    sqlite = parsed.drivername.startswith("sqlite")
    if password and not parsed.password and not sqlite:  # SQLite has no logins; ignore the secret
        parsed = parsed.set(password=password)
    if sqlite:
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger folder {folder}: {exc.strerror or exc}") from None
        engine = create_engine(parsed, connect_args={"timeout": 30})
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN so two writers never both read the same chain head."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Ledger:
    def __init__(self, url: str, *, password: str | None = None) -> None:
        self.engine = make_engine(url, password)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (idempotent)."""
        self._check_reachable()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _check_reachable(self) -> None:
        try:
            with self.engine.connect():
                pass
        except OperationalError as exc:
            # The driver's first line says why (refused, unknown database, authentication);
            # the URL is shown without its password.
            reason = str(exc.orig or exc).strip().splitlines()[0]
            shown = self.engine.url.render_as_string(hide_password=True)
            raise LedgerError(f"cannot open the ledger {shown}: {reason}") from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # -- reading -----------------------------------------------------------------------------

    def batch(self, batch_id: int) -> Batch:
        with self._sessions() as session:
            found = session.get(Batch, batch_id, options=[selectinload(Batch.datasets)])
            if found is None:
                raise LedgerError(f"no batch {batch_id} in the ledger")
            return found

    def batches(self) -> list[Batch]:
        with self._sessions() as session:
            query = select(Batch).options(selectinload(Batch.datasets)).order_by(Batch.id)
            return list(session.scalars(query))

    def live_batch(self, source: str, scope: str) -> Batch | None:
        with self._sessions() as session:
            query = select(Batch).where(Batch.active_key == f"{source}/{scope}")
            found = session.scalars(query.options(selectinload(Batch.datasets))).first()
            return found

    def events(self, batch_id: int | None = None) -> list[AuditEvent]:
        with self._sessions() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if batch_id is not None:
                query = query.where(AuditEvent.batch_id == batch_id)
            return list(session.scalars(query))

    # -- writing -----------------------------------------------------------------------------

    def create_batch(
        self,
        source: str,
        scope: str,
        actor: str,
        *,
        scope_detail: Mapping[str, Any] | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> Batch:
        """A new batch in ``new`` for ``source`` and ``scope`` (its label), or LedgerError if one is live."""
        with self.session() as session:
            key = f"{source}/{scope}"
            if session.scalars(select(Batch.id).where(Batch.active_key == key)).first() is not None:
                raise LedgerError(f"a live batch already exists for {key}")
            stamp = now()
            batch = Batch(
                source=source,
                scope=scope,
                active_key=key,
                state=State.NEW,
                created_at=stamp,
                updated_at=stamp,
                scope_detail=dict(scope_detail) if scope_detail is not None else None,
                spec=dict(spec) if spec is not None else None,
            )
            session.add(batch)
            session.flush()
            self._append(
                session,
                batch.id,
                actor,
                "batch.created",
                None,
                State.NEW,
                {
                    "source": source,
                    "scope": scope,
                    **({"scope_detail": dict(scope_detail)} if scope_detail is not None else {}),
                    **({"spec": dict(spec)} if spec is not None else {}),
                },
            )
            return batch

    def transition(
        self,
        batch_id: int,
        target: State,
        *,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        datasets: list[Dataset] | None = None,
        dataset_updates: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Batch:
        """Move a batch to ``target`` and record why, in one transaction.

        ``dataset_updates`` (dataset name → fields, e.g. ``quality`` and ``quality_success``) are
        written in the same transaction, so a dataset's quality and the batch's state never
        disagree; an unknown dataset or field rolls everything back.
        """
        with self.session() as session:
            # Datasets loaded with the batch: callers read them after the session has closed.
            batch = session.get(Batch, batch_id, with_for_update=True, options=[selectinload(Batch.datasets)])
            if batch is None:
                raise LedgerError(f"no batch {batch_id} in the ledger")
            current = State(batch.state)
            check_transition(batch_id, current, target)
            for name, value in (changes or {}).items():
                if not hasattr(Batch, name):
                    raise LedgerError(f"batch has no field {name!r}")
                setattr(batch, name, value)
            for dataset in datasets or []:
                batch.datasets.append(dataset)
            by_name = {d.name: d for d in batch.datasets}
            for name, fields in (dataset_updates or {}).items():
                if name not in by_name:
                    raise LedgerError(f"batch {batch_id} has no dataset {name!r}")
                for field_name, value in fields.items():
                    if field_name not in _DATASET_UPDATABLE:
                        raise LedgerError(f"dataset field {field_name!r} cannot be updated by a transition")
                    setattr(by_name[name], field_name, value)
            batch.state = target
            batch.updated_at = now()
            if target in CLOSED:
                batch.active_key = None
            self._append(session, batch_id, actor, action, current, target, dict(details or {}))
            return batch

    def record(self, batch_id: int | None, *, actor: str, action: str, details: Mapping[str, Any]) -> None:
        """An audit event that changes no state (a consultation, a skipped check, a retry...)."""
        with self.session() as session:
            self._append(session, batch_id, actor, action, None, None, dict(details))

    def _append(
        self,
        session: Session,
        batch_id: int | None,
        actor: str,
        action: str,
        from_state: str | None,
        to_state: str | None,
        details: dict[str, Any],
    ) -> None:
        head = session.get(AuditHead, 1, with_for_update=True)
        if head is None:
            head = AuditHead(id=1, last_hash=GENESIS, count=0)
            session.add(head)
        row = AuditEvent(
            batch_id=batch_id,
            at=now(),
            actor=actor,
            action=action,
            from_state=None if from_state is None else str(from_state),
            to_state=None if to_state is None else str(to_state),
            details=canonical(details),
            prev_hash=head.last_hash,
            hash="",
        )
        row.id = head.count + 1  # ids follow the chain, so a gap is visible too
        row.hash = event_hash(
            event_id=row.id,
            batch_id=row.batch_id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            from_state=row.from_state,
            to_state=row.to_state,
            details=row.details,
            prev_hash=row.prev_hash,
        )
        session.add(row)
        head.last_hash = row.hash
        head.count = row.id

    # -- auditing ----------------------------------------------------------------------------

    def verify(self) -> ChainCheck:
        with self._sessions() as session:
            head = session.get(AuditHead, 1)
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            chain = verify_chain(events, head.last_hash if head else None, head.count if head else None)
            problems = list(chain.problems) + self._state_mismatches(session)
            return ChainCheck(ok=not problems, events=chain.events, problems=tuple(problems))

    @staticmethod
    def _state_mismatches(session: Session) -> list[str]:
        """A batch whose state differs from its last recorded transition was edited by hand."""
        last: dict[int, str | None] = {}
        query = select(AuditEvent.batch_id, AuditEvent.to_state).where(AuditEvent.to_state.is_not(None))
        for batch_id, to_state in session.execute(query.order_by(AuditEvent.id)):
            if batch_id is not None:
                last[batch_id] = to_state
        problems = []
        for batch_id, state in session.execute(select(Batch.id, Batch.state)):
            if last.get(batch_id) != state:
                problems.append(
                    f"batch {batch_id}: state {state!r} is not the one its audit trail ends with "
                    f"({last.get(batch_id)!r})"
                )
        return problems


def open_ledger(settings: Settings) -> Ledger:
    """The deployment's ledger, migrated to the latest schema."""
    ledger = Ledger(settings.ledger_url, password=settings.secret(LEDGER))
    ledger.migrate()
    return ledger
