"""The ledger: batches, datasets and the audit chain, behind one small API.

Every state change goes through ``Ledger.transition``: in one database transaction it locks the
batch and the audit head, checks the life cycle, applies the changes and appends the chained
audit event. An illegal transition raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from versement.ledger import anchor as anchor_log
from versement.ledger import trail
from versement.ledger.audit import GENESIS, ChainCheck, canonical, event_hash, verify_chain
from versement.ledger.consistency import ROW_FORMAT, dataset_record, mismatches, quality_digest, replay
from versement.ledger.models import AuditEvent, AuditHead, Batch, Dataset, Sip
from versement.ledger.sips import SIP_UPDATABLE, sip_key, sip_record
from versement.ledger.states import ARCHIVED, CLOSED, State, check_action, check_transition
from versement.secrets import LEDGER

if TYPE_CHECKING:
    from versement.config import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
ANCHORED_SINCE = "0002"  # the first revision whose ledgers keep an anchor log
_DATASET_UPDATABLE = frozenset({"quality", "quality_success"})
# Events a stage records when it fails and leaves the batch where it was (details: ``error``).
STAGE_FAILURES = ("extract.failed", "validate.error", "package.failed")


# Loaded with every batch: callers read them after the session has closed.
def _loaded() -> list[Any]:
    """A batch's rows loaded with it. Built on use: building loader options configures every
    SQLAlchemy mapper of the process (Airflow's too, importing its models), which a DAG file
    importing the ledger's types must not pay."""
    return [selectinload(Batch.datasets), selectinload(Batch.sips)]


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
        # A file database keeps enough connections for the browser's worker threads (40 by
        # default): a connection opened past the pool is closed again after one request.
        pool = {"pool_size": 20, "max_overflow": 40} if parsed.database not in (None, "", ":memory:") else {}
        engine = create_engine(parsed, connect_args={"timeout": 30}, **pool)
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN so two writers never both read the same chain head."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        # Write-ahead log: readers see the last commit while a writer appends, instead of
        # waiting for it (the browser reads on every request while consultations are recorded).
        if engine.url.database not in (None, "", ":memory:"):
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A read (Ledger.reading) takes no write lock, so readers never queue behind each other.
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


_READ_ONLY = "versement_read_only"


class Ledger:
    """``anchor``: the anchor log file (see ledger.anchor), written after every committed event
    and compared by ``verify``; None (tests, tools) keeps no anchor log."""

    def __init__(self, url: str, *, password: str | None = None, anchor: Path | None = None) -> None:
        self.engine = make_engine(url, password)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
        self.anchor = anchor

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (idempotent)."""
        # Alembic is imported here, not with the module: DAG files import the ledger's types and
        # must load fast (tests/versement/test_dag_hygiene.py).
        from alembic import command
        from alembic.config import Config
        from alembic.migration import MigrationContext

        self._check_reachable()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if before is not None and before < ANCHORED_SINCE:
            self._anchor_existing_head()

    def _anchor_existing_head(self) -> None:
        """A ledger older than the anchor log gets its current head as first anchor: the chain
        up to the upgrade is then anchored as it stood, and every later event after it."""
        if self.anchor is None or self.anchor.exists():
            return
        with self._sessions() as session:
            head = session.get(AuditHead, 1)
            if head is not None and head.count:
                anchor_log.append(self.anchor, head.count, head.last_hash, now())

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
        anchors: list[tuple[int, str, str]] = []
        with self._sessions() as session, session.begin():
            session.info["anchors"] = anchors
            yield session
        # Only once committed: a rolled-back event must not be anchored. The last event of the
        # transaction is enough (its hash vouches for every event before it): a group of
        # consultations recorded together costs one anchor line, not one flush each.
        if self.anchor is not None:
            for count, head, at in anchors[-1:]:
                anchor_log.append(self.anchor, count, head, at)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it takes no write lock (see make_engine)."""
        with self._readers() as session:
            yield session

    # -- reading -----------------------------------------------------------------------------

    def batch(self, batch_id: int) -> Batch:
        with self._readers() as session:
            found = session.get(Batch, batch_id, options=_loaded())
            if found is None:
                raise LedgerError(f"aucun lot {batch_id} dans le registre")
            return found

    def batches(self) -> list[Batch]:
        with self._readers() as session:
            query = select(Batch).options(*_loaded()).order_by(Batch.id)
            return list(session.scalars(query))

    def live_batch(self, source: str, scope: str) -> Batch | None:
        with self._readers() as session:
            query = select(Batch).where(Batch.active_key == f"{source}/{scope}")
            found = session.scalars(query.options(*_loaded())).first()
            return found

    def fingerprint(self) -> str:
        """Eight hex digits that tell this ledger from any other: the start of its first event's hash.

        MessageIdentifiers carry it, because batch numbers restart in every ledger (a test
        deployment, a ledger rebuilt after a loss) while VITAM's tenant is shared and never forgets:
        two SIPs from two ledgers must not answer to one identifier, or the logbook look-up that
        makes the transfer exactly-once could follow the other ledger's ingest. Empty ledgers have
        no fingerprint yet (a batch is created, as an event, before anything is packaged)."""
        with self._readers() as session:
            first = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id).limit(1)).first()
        if first is None:
            raise LedgerError("the ledger holds no event yet: it has no fingerprint")
        return first[:8].upper()

    def events(self, batch_id: int | None = None) -> list[AuditEvent]:
        with self._readers() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if batch_id is not None:
                query = query.where(AuditEvent.batch_id == batch_id)
            return list(session.scalars(query))

    def open_failures(self) -> dict[int, AuditEvent]:
        """Each batch's last stage failure (``STAGE_FAILURES``) that no state change has followed:
        what stopped the batch where it stands, for ``versement status``."""
        with self._readers() as session:
            query = (
                select(AuditEvent)
                .where(
                    AuditEvent.batch_id.is_not(None),
                    AuditEvent.action.in_(STAGE_FAILURES) | AuditEvent.to_state.is_not(None),
                )
                .order_by(AuditEvent.id)
            )
            last = {found.batch_id: found for found in session.scalars(query)}
        return {
            batch_id: found
            for batch_id, found in last.items()
            if batch_id is not None and found.action in STAGE_FAILURES
        }

    # -- writing -----------------------------------------------------------------------------

    def create_batch(
        self,
        source: str,
        scope: str,
        actor: str,
        *,
        scope_detail: Mapping[str, Any] | None = None,
        spec: Mapping[str, Any] | None = None,
        supersedes: int | None = None,
        reason: str | None = None,
    ) -> Batch:
        """A new batch for a scope (``scope`` is its label, ``scope_detail`` what it is, ``spec`` the
        specification extracted with). A scope already archived (accepted or verified by VITAM) gets
        a new batch only on purpose: ``supersedes`` names the archived batch and ``reason`` says
        why (a correction); both batches' trails record it."""
        with self.session() as session:
            key = f"{source}/{scope}"
            old = self._superseded(session, key, supersedes, reason) if supersedes is not None else None
            live = session.scalars(select(Batch).where(Batch.active_key == key)).first()
            if live is not None and live is not old:
                if live.state in ARCHIVED:
                    raise LedgerError(
                        f"{key} est déjà archivé par le lot {live.id} ({live.state}) ; un nouveau lot pour ce "
                        f"périmètre doit le dire : --supersede {live.id} --reason MOTIF (une correction)"
                    )
                raise LedgerError(f"un lot est déjà en cours pour {key} (lot {live.id}, {live.state})")
            if old is not None:
                old.active_key = None
                session.flush()  # frees the scope before the new batch takes it
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
                supersedes=supersedes,
            )
            session.add(batch)
            session.flush()
            details: dict[str, Any] = {
                "source": source,
                "scope": scope,
                "row_format": ROW_FORMAT,
                "row": {"scope_detail": batch.scope_detail, "spec": batch.spec},
            }
            if old is not None:
                details.update(supersedes=old.id, reason=reason)
            self._append(session, batch.id, actor, "batch.created", None, State.NEW, details)
            if old is not None:
                old.superseded_by = batch.id
                old.updated_at = now()
                self._append(
                    session,
                    old.id,
                    actor,
                    "batch.superseded",
                    None,
                    None,
                    {
                        "superseded_by": batch.id,
                        "reason": reason,
                        "row": {"active_key": None, "superseded_by": batch.id},
                    },
                )
            return batch

    @staticmethod
    def _superseded(session: Session, key: str, supersedes: int, reason: str | None) -> Batch:
        if not (reason or "").strip():
            raise LedgerError(f"remplacer le lot {supersedes} demande un motif, gardé au journal d'audit (--reason)")
        old = session.get(Batch, supersedes, with_for_update=True)
        if old is None:
            raise LedgerError(f"aucun lot {supersedes} dans le registre")
        if f"{old.source}/{old.scope}" != key:
            raise LedgerError(f"le lot {supersedes} porte sur {old.source}/{old.scope}, pas sur {key}")
        if old.superseded_by is not None:
            raise LedgerError(f"le lot {supersedes} a déjà été remplacé par le lot {old.superseded_by}")
        if old.state not in ARCHIVED:
            raise LedgerError(
                f"le lot {supersedes} est {old.state} ; seul un lot accepté ou vérifié par VITAM peut être remplacé "
                "(un lot en cours est plutôt refusé ou mené à son terme)"
            )
        return old

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
        sips: list[Sip] | None = None,
        sip_updates: Mapping[tuple[int, int], Mapping[str, Any]] | None = None,
    ) -> Batch:
        """Move a batch to ``target`` and record why, in one transaction.

        ``dataset_updates`` (dataset name → fields, e.g. ``quality`` and ``quality_success``) are
        written in the same transaction, so a dataset's quality and the batch's state never
        disagree; an unknown dataset or field rolls everything back. ``sips`` are SIP rows added
        (a packaging attempt's parts), ``sip_updates`` ((attempt, part) → fields) changes to
        them (versement/ledger/sips.py); both are written in the event too.
        """
        with self.session() as session:
            # Datasets loaded with the batch: callers read them after the session has closed.
            batch = session.get(Batch, batch_id, with_for_update=True, options=_loaded())
            if batch is None:
                raise LedgerError(f"aucun lot {batch_id} dans le registre")
            current = State(batch.state)
            check_transition(batch_id, current, target)
            check_action(batch_id, current, target, action)
            recorded = dict(details or {})
            for name, value in (changes or {}).items():
                if not hasattr(Batch, name):
                    raise LedgerError(f"batch has no field {name!r}")
                setattr(batch, name, value)
            if changes:  # the event carries the row's new values: verify replays them
                recorded["row"] = dict(changes)
            for dataset in datasets or []:
                batch.datasets.append(dataset)
            if datasets:
                recorded["row_datasets"] = {d.name: dataset_record(d) for d in datasets}
            by_name = {d.name: d for d in batch.datasets}
            for name, fields in (dataset_updates or {}).items():
                if name not in by_name:
                    raise LedgerError(f"batch {batch_id} has no dataset {name!r}")
                for field_name, value in fields.items():
                    if field_name not in _DATASET_UPDATABLE:
                        raise LedgerError(f"dataset field {field_name!r} cannot be updated by a transition")
                    setattr(by_name[name], field_name, value)
                row = by_name[name]  # the event vouches for the result by its digest: verify replays it
                recorded.setdefault("row_quality", {})[name] = {
                    "success": row.quality_success,
                    "quality_sha256": quality_digest(row.quality),
                }
            self._apply_sips(batch, sips, sip_updates, recorded)
            batch.state = target
            batch.updated_at = now()
            if target in CLOSED:
                batch.active_key = None
            self._append(session, batch_id, actor, action, current, target, recorded)
            return batch

    @staticmethod
    def _apply_sips(
        batch: Batch,
        sips: list[Sip] | None,
        updates: Mapping[tuple[int, int], Mapping[str, Any]] | None,
        recorded: dict[str, Any],
    ) -> None:
        known = {(sip.attempt, sip.part) for sip in batch.sips}
        for sip in sips or []:
            if (sip.attempt, sip.part) in known:
                raise LedgerError(
                    f"lot {batch.id} : la partie {sip.part} de la tentative {sip.attempt} a déjà un SIP au registre"
                )
            known.add((sip.attempt, sip.part))
            batch.sips.append(sip)
        if sips:
            recorded["row_sips"] = {sip_key(s.attempt, s.part): sip_record(s) for s in sips}
        by_key = {(sip.attempt, sip.part): sip for sip in batch.sips}
        for (attempt, part), fields in (updates or {}).items():
            row = by_key.get((attempt, part))
            if row is None:
                raise LedgerError(f"lot {batch.id} : aucun SIP partie {part} de la tentative {attempt} au registre")
            for name, value in fields.items():
                if name not in SIP_UPDATABLE:
                    raise LedgerError(f"le champ {name!r} d'un SIP ne peut pas être modifié par une transition")
                setattr(row, name, value)
            recorded.setdefault("row_sip_updates", {})[sip_key(attempt, part)] = dict(fields)

    def update(
        self,
        batch_id: int,
        *,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        sip_updates: Mapping[tuple[int, int], Mapping[str, Any]] | None = None,
        sip_expect: Mapping[tuple[int, int], Mapping[str, Any]] | None = None,
    ) -> Batch:
        """A change of batch columns or SIP rows that does not change the batch's state (one part
        of a split batch submitted, answered...), with its audit event, in one transaction.

        ``sip_expect``: values the SIP rows must still hold, checked under the batch's lock (two
        transfers of one batch never both record a part's intent); otherwise nothing is written.
        """
        with self.session() as session:
            batch = session.get(Batch, batch_id, with_for_update=True, options=_loaded())
            if batch is None:
                raise LedgerError(f"aucun lot {batch_id} dans le registre")
            rows = {(sip.attempt, sip.part): sip for sip in batch.sips}
            for (attempt, part), fields in (sip_expect or {}).items():
                row = rows.get((attempt, part))
                for name, value in fields.items():
                    if row is None or getattr(row, name) != value:
                        raise LedgerError(
                            f"lot {batch_id} : le SIP partie {part} de la tentative {attempt} a changé entre-temps "
                            f"({name} vaut {getattr(row, name, None)!r}, attendu {value!r}) : une autre exécution "
                            "est en cours sur ce lot"
                        )
            recorded = dict(details or {})
            for name, value in (changes or {}).items():
                if name in ("state", "active_key") or not hasattr(Batch, name):
                    raise LedgerError(f"le champ {name!r} d'un lot ne peut pas être modifié sans transition")
                setattr(batch, name, value)
            if changes:
                recorded["row"] = dict(changes)
            self._apply_sips(batch, None, sip_updates, recorded)
            batch.updated_at = now()
            self._append(session, batch_id, actor, action, None, None, recorded)
            return batch

    def record(self, batch_id: int | None, *, actor: str, action: str, details: Mapping[str, Any]) -> None:
        """An audit event that changes no state (a consultation, a skipped check, a retry...)."""
        with self.session() as session:
            self._append(session, batch_id, actor, action, None, None, dict(details))

    def record_many(self, events: Sequence[tuple[int | None, str, str, Mapping[str, Any]]]) -> None:
        """Several events that change no state, as (batch, actor, action, details), appended in one
        transaction: one commit for many consultations (the browser's group commit)."""
        with self.session() as session:
            for batch_id, actor, action, details in events:
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
        session.info.setdefault("anchors", []).append((row.id, row.hash, row.at))

    # -- auditing ----------------------------------------------------------------------------

    def verify(self) -> ChainCheck:
        """The chain, every row against its events, and the chain against the anchor log."""
        with self._readers() as session:
            head = session.get(AuditHead, 1)
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            chain = verify_chain(events, head.last_hash if head else None, head.count if head else None)
            problems = list(chain.problems)
            expected = replay(events)
            batches = session.scalars(select(Batch).options(*_loaded()).order_by(Batch.id)).all()
            for batch in batches:
                problems.extend(mismatches(batch, expected.get(batch.id)))
                known = expected.get(batch.id)
                if batch.sip_path and known is not None and known.full:  # the copy VITAM keeps
                    problems.extend(trail.check(batch, events, parts=_parts(batch)))
            for missing in sorted(set(expected) - {batch.id for batch in batches}):
                problems.append(
                    f"lot {missing} : des événements du journal d'audit mais aucune ligne (la ligne a été supprimée)"
                )
            if self.anchor is not None:
                problems.extend(anchor_log.check(self.anchor, [event.hash for event in events]))
            return ChainCheck(
                ok=not problems,
                events=chain.events,
                problems=tuple(problems),
                anchor=None if self.anchor is None else str(self.anchor),
            )


def _parts(batch: Batch) -> list[tuple[str, str]]:
    """The SIP files of the batch's current attempt (part 1 alone for batches without SIP rows)."""
    attempt = max((sip.attempt for sip in batch.sips), default=0)
    parts = [(sip.path, sip.sha256) for sip in sorted(batch.sips, key=lambda s: s.part) if sip.attempt == attempt]
    return parts or [(str(batch.sip_path), str(batch.sip_sha256))]


def open_ledger(settings: Settings) -> Ledger:
    """The deployment's ledger, migrated to the latest schema."""
    anchor = settings.staging / anchor_log.FILENAME
    ledger = Ledger(settings.ledger_url, password=settings.secret(LEDGER), anchor=anchor)
    ledger.migrate()
    return ledger
