"""Where the sandbox keeps operations, replies, manifests and units.

In memory by default; with a folder, every record is a file written atomically, so that a
sandbox restarted on the same folder still answers for earlier operations:

    <folder>/operations/<operation id>/operation.json   state and poll counter
    <folder>/operations/<operation id>/atr.xml           the ArchiveTransferReply
    <folder>/operations/<operation id>/manifest.xml      only for OK/WARNING
    <folder>/operations/<operation id>/units.json        only for stored (not test) ingests
    <folder>/uploads/                                    SIPs while they are being checked
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vitam_sandbox.guid import looks_like_guid

_ATR = "atr.xml"
_MANIFEST = "manifest.xml"
_UNITS = "units.json"
_RECORD = "operation.json"


@dataclass
class Operation:
    id: str
    tenant: int
    context_id: str  # logbook process type: INGEST, or INGEST_TEST for BLANK_TEST
    status: str  # the final status: OK | WARNING | KO
    polls_left: int  # status answers still to give as RUNNING
    created: str
    message_identifier: str | None = None

    @property
    def completed(self) -> bool:
        return self.polls_left <= 0

    @property
    def state(self) -> str:
        return "COMPLETED" if self.completed else "RUNNING"

    @property
    def current_status(self) -> str:
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
        self._operations: dict[str, Operation] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        if folder is not None:
            (folder / "operations").mkdir(parents=True, exist_ok=True)
            (folder / "uploads").mkdir(parents=True, exist_ok=True)

    def upload_folder(self) -> Path | None:
        """Where to spool incoming SIPs (None: the system's temporary folder)."""
        return self._folder / "uploads" if self._folder else None

    def add(
        self,
        operation: Operation,
        *,
        atr: bytes,
        manifest: bytes | None,
        units: list[dict[str, Any]],
    ) -> None:
        with self._lock:
            self._put_blob(operation.id, _ATR, atr)
            if manifest is not None:
                self._put_blob(operation.id, _MANIFEST, manifest)
            self._put_blob(operation.id, _UNITS, json.dumps(units).encode())
            self._save(operation)  # last: an operation is visible only once complete

    def get(self, operation_id: str, tenant: int) -> Operation | None:
        """The operation, or None when it does not exist on this tenant."""
        with self._lock:
            return self._find(operation_id, tenant)

    def poll(self, operation_id: str, tenant: int) -> Operation | None:
        """A status request: answers the current state, then counts down towards COMPLETED."""
        with self._lock:
            operation = self._find(operation_id, tenant)
            if operation is None or operation.completed:
                return operation
            answered = replace(operation)
            operation.polls_left -= 1
            self._save(operation)
            return answered

    def atr(self, operation: Operation) -> bytes | None:
        return self._blob(operation.id, _ATR)

    def manifest(self, operation: Operation) -> bytes | None:
        return self._blob(operation.id, _MANIFEST)

    def units(self, operation: Operation) -> list[dict[str, Any]]:
        data = self._blob(operation.id, _UNITS)
        return list(json.loads(data)) if data else []

    # -- internals ---------------------------------------------------------------------------

    def _find(self, operation_id: str, tenant: int) -> Operation | None:
        if not looks_like_guid(operation_id):  # also keeps path tricks out of the folder
            return None
        operation = self._operations.get(operation_id) or self._load(operation_id)
        return operation if operation is not None and operation.tenant == tenant else None

    def _save(self, operation: Operation) -> None:
        self._operations[operation.id] = operation
        if self._folder is not None:
            _write_atomically(self._path(operation.id, _RECORD), json.dumps(asdict(operation)))

    def _load(self, operation_id: str) -> Operation | None:
        if self._folder is None:
            return None
        path = self._path(operation_id, _RECORD)
        if not path.is_file():
            return None
        operation = Operation(**json.loads(path.read_text(encoding="utf-8")))
        self._operations[operation_id] = operation
        return operation

    def _put_blob(self, operation_id: str, name: str, data: bytes) -> None:
        if self._folder is None:
            self._blobs[(operation_id, name)] = data
        else:
            _write_atomically(self._path(operation_id, name), data)

    def _blob(self, operation_id: str, name: str) -> bytes | None:
        if self._folder is None:
            return self._blobs.get((operation_id, name))
        path = self._path(operation_id, name)
        return path.read_bytes() if path.is_file() else None

    def _path(self, operation_id: str, name: str) -> Path:
        assert self._folder is not None
        return self._folder / "operations" / operation_id / name


def _write_atomically(path: Path, data: str | bytes) -> None:
    """Write to a temporary name, then rename: a crash never leaves half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(raw)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
