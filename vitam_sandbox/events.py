"""Logbook events and the blocking refusal that stops an ingest workflow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from vitam_sandbox.labels import event_label, outcome_message


def event_time() -> str:
    """VITAM writes event times without an offset, to the millisecond."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def message_time() -> str:
    """Message dates (ATR Date, GrantDate) carry a Z, as in VITAM's replies."""
    return event_time() + "Z"


@dataclass(frozen=True)
class Event:
    code: str  # EventTypeCode, e.g. "CHECK_HEADER.CHECK_AGENT"
    outcome: str  # OK | WARNING | KO | FATAL
    detail: str  # OutcomeDetail, e.g. "CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO"
    date: str
    technical: str | None = None  # goes into EventDetailData as evDetTechData

    @property
    def label(self) -> str:
        return event_label(self.code)

    @property
    def message(self) -> str:
        return outcome_message(self.detail, self.code, self.outcome)

    @property
    def detail_data(self) -> str | None:
        if self.technical is None:
            return None
        return json.dumps({"evDetTechData": self.technical}, ensure_ascii=False)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "outcome": self.outcome,
            "detail": self.detail,
            "date": self.date,
            "technical": self.technical,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Event:
        return cls(
            code=str(data["code"]),
            outcome=str(data["outcome"]),
            detail=str(data["detail"]),
            date=str(data["date"]),
            technical=data.get("technical"),
        )


def chain(
    step: str,
    code: str,
    detail: str,
    *,
    outcome: str = "KO",
    parent: str | None = None,
    technical: str | None = None,
) -> list[Event]:
    """The events a failed (or warned) action leaves: its step, its parent action, itself.

    Mirrors VITAM's KO ATRs, which list e.g. STP_INGEST_CONTROL_SIP, CHECK_HEADER and
    CHECK_HEADER.CHECK_AGENT for an unknown agency.
    """
    now = event_time()
    events = [Event(step, outcome, f"{step}.{outcome}", now)]
    if parent is not None:
        events.append(Event(parent, outcome, f"{parent}.{outcome}", now))
    if code != step:
        events.append(Event(code, outcome, detail, now, technical))
    return events


@dataclass(frozen=True)
class Lifecycle:
    """An event of one unit or object group's lifecycle, which the ATR lists under that unit
    (``Management/LogBook``) or group (``LogBook``, with the object's ``DataObjectReferenceId``).
    VITAM prefixes these codes with ``LFC.`` (vitam-api.md §9.4, seda.md §2.2)."""

    target: str  # the manifest id of the unit or object group
    event: Event
    object_id: str | None = None  # the object of the group the event is about


def lifecycle(target: str, action: str, subcode: str | None, outcome: str, object_id: str | None = None) -> Lifecycle:
    code = f"LFC.{action}"
    detail = f"{code}.{subcode}.{outcome}" if subcode else f"{code}.{outcome}"
    return Lifecycle(target, Event(code, outcome, detail, event_time()), object_id)


class Refusal(Exception):
    """A blocking KO: the workflow skips to its finalisation (vitam-api.md §5.2)."""

    def __init__(
        self,
        step: str,
        code: str,
        detail: str,
        *,
        parent: str | None = None,
        technical: str | None = None,
        lifecycles: list[Lifecycle] | None = None,
    ) -> None:
        super().__init__(detail)
        self.events = chain(step, code, detail, parent=parent, technical=technical)
        self.lifecycles = lifecycles or []
