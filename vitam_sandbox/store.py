"""Where the sandbox keeps what it archived: one SQLite database (in memory by default, or
``<folder>/sandbox.sqlite`` so that a restarted sandbox still answers), with

    operations     state of each ingest operation and its poll counter
    blobs          the ATR of each operation, and its manifest (OK/WARNING only)
    units          archive units as access-external returns them (``#id``, ``#opi``, ``#unitups``...)
    object_groups  object groups with their ``#qualifiers[].versions[]`` (SHA-512 and size)
    logbook        logbook operations with their events (``obIdIn`` = the SIP's MessageIdentifier)

SIPs being checked are spooled to ``<folder>/uploads`` (or the system's temporary folder) and
deleted once checked. The binary objects of an accepted ingest are kept, as VITAM's storage
offers keep them, one file per object GUID in ``<folder>/offer/<tenant>/`` (or a temporary
folder removed on close), for the object download of access-external.

An operation still being checked when the sandbox stopped is found FATAL
on restart, as a VITAM workflow interrupted by a crash waits for an operator.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from vitam_sandbox.guid import looks_like_guid

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (operation_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
                                  PRIMARY KEY (operation_id, name));
CREATE TABLE IF NOT EXISTS units (id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, opi TEXT NOT NULL,
                                  record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS units_opi ON units (tenant, opi);
CREATE TABLE IF NOT EXISTS object_groups (id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, opi TEXT NOT NULL,
                                          record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logbook (id TEXT PRIMARY KEY, tenant INTEGER NOT NULL, record TEXT NOT NULL);
"""


@dataclass
class Operation:
    id: str
    tenant: int
    context_id: str  # logbook process type: INGEST, or INGEST_TEST for BLANK_TEST
    status: str  # the final status (OK | WARNING | KO | FATAL) once checked, else STARTED
    polls_left: int  # status answers still to give as RUNNING once checked
    created: str
    message_identifier: str | None = None
    processing: bool = True  # the controls are still running
    stuck: bool = False  # fault injection: RUNNING for ever
    purge_completed: bool = False  # fault injection: gone from /operations once completed

    @property
    def fatal(self) -> bool:
        return self.status == "FATAL" and not self.processing

    @property
    def completed(self) -> bool:
        return not self.processing and not self.stuck and not self.fatal and self.polls_left <= 0

    @property
    def state(self) -> str:
        if self.fatal:
            return "PAUSE"  # VITAM pauses a FATAL workflow until an operator acts
        return "COMPLETED" if self.completed else "RUNNING"

    @property
    def current_status(self) -> str:
        if self.fatal:
            return "FATAL"
        return self.status if self.completed else "STARTED"

    @property
    def stored(self) -> bool:
        """Archives were taken in charge: units can be read back."""
        return self.context_id == "INGEST" and self.status in ("OK", "WARNING")


class Store:
    """Thread-safe: the ingest checks run in worker threads, the routes on the event loop."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        if folder is not None:
            (folder / "uploads").mkdir(parents=True, exist_ok=True)
        target = str(folder / "sandbox.sqlite") if folder is not None else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if folder is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._offer = folder / "offer" if folder is not None else Path(tempfile.mkdtemp(prefix="vitam-sandbox-offer-"))
        # An in-memory sandbox's offer goes with it (closed, collected, or at the latest at exit).
        self._drop_offer = weakref.finalize(self, shutil.rmtree, self._offer, True) if folder is None else None
        self._fail_interrupted()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._drop_offer is not None:
            self._drop_offer()

    # -- the storage offer -------------------------------------------------------------------

    def put_object(self, tenant: int, object_id: str, source: IO[bytes]) -> None:
        """Keep an archived object's bytes (written whole, then renamed: never half an object)."""
        if not looks_like_guid(object_id):
            raise ValueError(f"not an object GUID: {object_id!r}")
        folder = self._offer / str(int(tenant))
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{object_id}.", delete=False) as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        os.replace(target.name, folder / object_id)

    def object_path(self, tenant: int, object_id: str) -> Path | None:
        """Where the offer keeps the object, or None (unknown GUID, nothing stored)."""
        if not looks_like_guid(object_id):
            return None
        path = self._offer / str(int(tenant)) / object_id
        return path if path.is_file() else None

    def upload_folder(self) -> Path | None:
        """Where to spool incoming SIPs (None: the system's temporary folder)."""
        return self._folder / "uploads" if self._folder else None

    # -- operations ------------------------------------------------------------------------

    def create(self, operation: Operation, logbook: dict[str, Any]) -> None:
        """The operation and its logbook exist from the moment the SIP is received (VITAM creates
        them before reading the body; here, once it is stored)."""
        with self._lock, self._transaction():
            self._save(operation)
            self._put("logbook", operation.id, operation.tenant, logbook)

    def finish(
        self,
        operation: Operation,
        *,
        atr: bytes | None,
        manifest: bytes | None,
        units: list[dict[str, Any]],
        groups: list[dict[str, Any]],
        logbook: dict[str, Any],
    ) -> None:
        """Everything the controls produced, in one transaction: never half an ingest."""
        with self._lock, self._transaction():
            for name, data in (("atr", atr), ("manifest", manifest)):
                if data is not None:
                    self._db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", (operation.id, name, data))
            for unit in units:
                self._db.execute(
                    "INSERT INTO units VALUES (?, ?, ?, ?)",
                    (unit["#id"], operation.tenant, operation.id, json.dumps(unit, ensure_ascii=False)),
                )
            for group in groups:
                self._db.execute(
                    "INSERT INTO object_groups VALUES (?, ?, ?, ?)",
                    (group["#id"], operation.tenant, operation.id, json.dumps(group, ensure_ascii=False)),
                )
            self._put("logbook", operation.id, operation.tenant, logbook)
            self._save(operation)

    def get(self, operation_id: str, tenant: int) -> Operation | None:
        """The operation, or None when it does not exist on this tenant."""
        with self._lock:
            return self._find(operation_id, tenant)

    def poll(self, operation_id: str, tenant: int) -> Operation | None:
        """A status request: answers the current state, then counts down towards COMPLETED.
        An operation purged from processing (fault injection) is not found any more."""
        with self._lock:
            operation = self._find(operation_id, tenant)
            if operation is None:
                return None
            if operation.completed and operation.purge_completed:
                return None
            if operation.processing or operation.completed or operation.stuck or operation.fatal:
                return operation
            answered = replace(operation)
            operation.polls_left -= 1
            self._save(operation)
            return answered

    def atr(self, operation: Operation) -> bytes | None:
        return self._blob(operation.id, "atr")

    def manifest(self, operation: Operation) -> bytes | None:
        return self._blob(operation.id, "manifest")

    # -- access ----------------------------------------------------------------------------

    def units(self, tenant: int, opi: str | None = None) -> Iterator[dict[str, Any]]:
        """Units of the tenant (of one operation when ``opi`` is given), in ingest order."""
        if opi is None:
            yield from self._records("SELECT record FROM units WHERE tenant = ? ORDER BY rowid", (tenant,))
        else:
            query = "SELECT record FROM units WHERE tenant = ? AND opi = ? ORDER BY rowid"
            yield from self._records(query, (tenant, opi))

    def unit(self, unit_id: str, tenant: int) -> dict[str, Any] | None:
        return self._one("units", unit_id, tenant)

    def object_group(self, group_id: str, tenant: int) -> dict[str, Any] | None:
        return self._one("object_groups", group_id, tenant)

    def object_groups(self, tenant: int) -> Iterator[dict[str, Any]]:
        yield from self._records("SELECT record FROM object_groups WHERE tenant = ? ORDER BY rowid", (tenant,))

    def logbook(self, operation_id: str, tenant: int) -> dict[str, Any] | None:
        return self._one("logbook", operation_id, tenant)

    def logbooks(self, tenant: int) -> Iterator[dict[str, Any]]:
        yield from self._records("SELECT record FROM logbook WHERE tenant = ? ORDER BY rowid", (tenant,))

    # -- internals ---------------------------------------------------------------------------

    def _fail_interrupted(self) -> None:
        with self._lock, self._transaction():
            rows = self._db.execute("SELECT record FROM operations").fetchall()
            for (record,) in rows:
                operation = Operation(**json.loads(record))
                if operation.processing:
                    self._save(replace(operation, processing=False, status="FATAL"))

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: object, *rest: object) -> None:
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Tx()

    def _find(self, operation_id: str, tenant: int) -> Operation | None:
        if not looks_like_guid(operation_id):
            return None
        row = self._db.execute(
            "SELECT record FROM operations WHERE id = ? AND tenant = ?", (operation_id, tenant)
        ).fetchone()
        return Operation(**json.loads(row[0])) if row else None

    def _save(self, operation: Operation) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO operations VALUES (?, ?, ?)",
            (operation.id, operation.tenant, json.dumps(asdict(operation))),
        )

    def _put(self, table: str, key: str, tenant: int, record: dict[str, Any]) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {table} (id, tenant, record) VALUES (?, ?, ?)",
            (key, tenant, json.dumps(record, ensure_ascii=False)),
        )

    def _one(self, table: str, key: str, tenant: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT record FROM {table} WHERE id = ? AND tenant = ?", (key, tenant)).fetchone()
        return json.loads(row[0]) if row else None

    def _records(self, query: str, parameters: tuple[Any, ...]) -> Iterator[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(query, parameters).fetchall()
        for (record,) in rows:
            yield json.loads(record)

    def _blob(self, operation_id: str, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM blobs WHERE operation_id = ? AND name = ?", (operation_id, name)
            ).fetchone()
        return bytes(row[0]) if row else None
