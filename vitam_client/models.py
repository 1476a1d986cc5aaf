"""What the client reads back from VITAM, as typed values: operation status, logbook
operations (vitam-api.md §5.5) and object groups (§7.1).

The parsers accept VITAM's JSON as documented and tolerate extra or missing fields; anything
that is not the expected shape raises :class:`VitamProtocolError` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vitam_client.errors import VitamProtocolError

# Increasing severity (vitam-api.md §5.2, StatusCode.java).
STATUS_ORDER = ("UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL")
INGEST_PROCESSES = ("PROCESS_SIP_UNITARY", "PROCESS_SIP_UNITARY_TEST")


def status_rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else -1


@dataclass(frozen=True)
class OperationStatus:
    """The state of an asynchronous operation, from HEAD /operations/{id} (or the logbook)."""

    operation_id: str
    state: str  # PAUSE | RUNNING | COMPLETED
    status: str  # UNKNOWN | STARTED | ALREADY_EXECUTED | OK | WARNING | KO | FATAL

    @property
    def finished(self) -> bool:
        """Nothing more will happen without someone acting (vitam-api.md §5.2)."""
        if self.state == "COMPLETED":
            return True
        return self.state == "PAUSE" and status_rank(self.status) >= status_rank("STARTED")

    @property
    def needs_operator(self) -> bool:
        """A technical error paused the workflow; no ATR exists until an operator acts."""
        return self.state == "PAUSE" and self.status == "FATAL"


@dataclass(frozen=True)
class LogbookEvent:
    type: str  # evType, e.g. CHECK_DIGEST
    outcome: str | None  # STARTED | OK | WARNING | KO | FATAL
    detail: str | None  # outDetail, e.g. CHECK_DIGEST.KO
    message: str | None  # outMessg (French, from VITAM)
    date: str | None
    detail_data: str | None  # evDetData (a JSON string)


@dataclass(frozen=True)
class LogbookOperation:
    """One logbook operation: the durable record of an ingest, kept after processing forgets it."""

    operation_id: str  # evIdProc
    type_proc: str | None  # INGEST, INGEST_TEST...
    message_identifier: str | None  # obIdIn: the SIP's MessageIdentifier once CHECK_HEADER ran
    started: str | None
    events: tuple[LogbookEvent, ...]

    @property
    def final_event(self) -> LogbookEvent | None:
        """The last PROCESS_SIP_UNITARY event carries the final outcome (§5.5)."""
        closing = [e for e in self.events if e.type in INGEST_PROCESSES and e.outcome != "STARTED"]
        return closing[-1] if closing else None

    @property
    def header_read(self) -> bool:
        """CHECK_HEADER has run: ``obIdIn`` is the SIP's MessageIdentifier, no longer the operation id."""
        return bool(self.message_identifier) and self.message_identifier != self.operation_id

    @property
    def unread_in_flight(self) -> bool:
        """Running (or paused on FATAL) without its header read yet: it may be any SIP, ours included."""
        return not self.header_read and self.outcome in ("STARTED", "FATAL")

    @property
    def outcome(self) -> str:
        """OK, WARNING, KO or FATAL once finished; STARTED while it runs."""
        final = self.final_event
        return final.outcome if final is not None and final.outcome else "STARTED"

    def status(self) -> OperationStatus:
        """The status as the operations API would give it, for a purged operation."""
        outcome = self.outcome
        if outcome == "FATAL":
            return OperationStatus(self.operation_id, "PAUSE", "FATAL")
        if outcome in ("OK", "WARNING", "KO"):
            return OperationStatus(self.operation_id, "COMPLETED", outcome)
        return OperationStatus(self.operation_id, "RUNNING", "STARTED")

    def failures(self) -> list[LogbookEvent]:
        """The KO and FATAL events, first one first: the first says why."""
        return [e for e in self.events if e.outcome in ("KO", "FATAL") and e.type not in INGEST_PROCESSES]

    @classmethod
    def from_json(cls, data: Any) -> LogbookOperation:
        if not isinstance(data, dict):
            raise VitamProtocolError("a logbook operation is not a JSON object")
        operation_id = data.get("evIdProc") or data.get("#id") or data.get("evId")
        if not isinstance(operation_id, str) or not operation_id:
            raise VitamProtocolError("a logbook operation has no evIdProc")
        top = _event(data)
        raw_events = data.get("events") or []
        if not isinstance(raw_events, list):
            raise VitamProtocolError(f"logbook operation {operation_id}: events is not a list")
        return cls(
            operation_id=operation_id,
            type_proc=_text(data.get("evTypeProc")),
            message_identifier=_text(data.get("obIdIn")),
            started=top.date,
            events=tuple(_event(e) for e in raw_events if isinstance(e, dict)),
        )


def _event(data: dict[str, Any]) -> LogbookEvent:
    return LogbookEvent(
        type=str(data.get("evType") or ""),
        outcome=_text(data.get("outcome")),
        detail=_text(data.get("outDetail")),
        message=_text(data.get("outMessg")),
        date=_text(data.get("evDateTime")),
        detail_data=_text(data.get("evDetData")),
    )


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object in an object group (``#qualifiers[].versions[]``)."""

    id: str  # VITAM object GUID (the ATR's DataObjectSystemId)
    version: str | None  # DataObjectVersion, e.g. BinaryMaster_1
    digest: str | None  # MessageDigest as VITAM computed it
    algorithm: str | None
    size: int | None
    uri: str | None


@dataclass(frozen=True)
class ObjectGroup:
    id: str
    versions: tuple[ObjectVersion, ...]

    @classmethod
    def from_json(cls, data: Any) -> ObjectGroup:
        if not isinstance(data, dict) or not isinstance(data.get("#id"), str):
            raise VitamProtocolError("an object group is not a JSON object with an #id")
        versions: list[ObjectVersion] = []
        qualifiers = data.get("#qualifiers") or []
        if not isinstance(qualifiers, list):
            raise VitamProtocolError(f"object group {data['#id']}: #qualifiers is not a list")
        for qualifier in qualifiers:
            for item in (qualifier or {}).get("versions") or [] if isinstance(qualifier, dict) else []:
                if not isinstance(item, dict) or not isinstance(item.get("#id"), str):
                    raise VitamProtocolError(f"object group {data['#id']}: a version has no #id")
                size = item.get("Size")
                versions.append(
                    ObjectVersion(
                        id=item["#id"],
                        version=_text(item.get("DataObjectVersion")),
                        digest=_text(item.get("MessageDigest")),
                        algorithm=_text(item.get("Algorithm")),
                        size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                        uri=_text(item.get("Uri")),
                    )
                )
        return cls(id=data["#id"], versions=tuple(versions))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
