"""Fault injection, for tests: what the sandbox does wrong, and how many times.

Armed either when the app is built (``SandboxConfig(faults=Faults(...))``) or, on a sandbox
started with the test endpoint, by ``PUT /sandbox-test/v1/faults`` (admin tenant only) with the
same fields as JSON. Each counter is consumed as its fault fires, so a test arms exactly the
misbehaviours it wants:

* ``http_errors``: answer ``status`` (500 or 503) ``times`` times to the requests whose method
  and path match, before doing anything else; an ingest's body is read first, and nothing is
  created (a 500 before the operation exists);
* ``drop_after_upload``: the next N ingests are received whole and their operation is created
  and processed, but the connection is cut instead of sending the 202 (the client never learns
  the operation id; only the logbook's ``obIdIn`` tells it the SIP arrived);
* ``stuck``: the next N ingests stay RUNNING whatever the number of polls (past any timeout);
* ``slow_header``: the next N ingests wait ``header_delay_seconds`` before their controls run, as a
  busy VITAM: meanwhile their logbook's ``obIdIn`` is still their own id (nobody can tell which SIP
  they are);
* ``fatal``: the next N ingests stop in PAUSE + FATAL, as VITAM waiting for an operator; no ATR;
* ``force_ko`` / ``force_warning``: the next N ingests end KO (storage offers unavailable, as
  ``STORAGE_AVAILABILITY_CHECK.STORAGE_OFFER_KO_UNAVAILABLE.KO``) or WARNING whatever the SIP;
* ``purge_completed``: completed operations vanish from ``/operations/{id}`` (404), as after
  VITAM's ``vitamCleanPeriod``, while the logbook, the ATR and the units keep them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

COUNTERS = ("drop_after_upload", "stuck", "slow_header", "fatal", "force_ko", "force_warning")


@dataclass
class HttpFault:
    status: int  # 500 or 503
    times: int = 1
    method: str | None = None  # None: any method
    path: str = ""  # matches when the request path ends with it ("" matches every path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and path.rstrip("/").endswith(self.path)


@dataclass
class Faults:
    http_errors: list[HttpFault] = field(default_factory=list)
    drop_after_upload: int = 0
    stuck: int = 0
    slow_header: int = 0
    header_delay_seconds: float = 4.0
    fatal: int = 0
    force_ko: int = 0
    force_warning: int = 0
    purge_completed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, name: str) -> bool:
        """Consume one occurrence of the counter ``name``; False when none is left."""
        with self._lock:
            left = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True

    def take_http_error(self, method: str, path: str) -> int | None:
        with self._lock:
            for fault in self.http_errors:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault.status
            return None

    def update(self, data: Any) -> None:
        """Arm faults from the test endpoint's JSON; raise ValueError on anything unexpected."""
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(data) - {*COUNTERS, "http_errors", "purge_completed", "header_delay_seconds"}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        errors = [_http_fault(item) for item in data.get("http_errors", [])]
        for name in COUNTERS:
            if name in data and (not isinstance(data[name], int) or isinstance(data[name], bool) or data[name] < 0):
                raise ValueError(f"{name} must be a non-negative integer")
        delay = data.get("header_delay_seconds", 0.0)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 600:
            raise ValueError("header_delay_seconds must be a number of seconds between 0 and 600")
        if not isinstance(data.get("purge_completed", False), bool):
            raise ValueError("purge_completed must be a boolean")
        with self._lock:
            self.http_errors.extend(errors)
            for name in COUNTERS:
                if name in data:
                    setattr(self, name, data[name])
            if "purge_completed" in data:
                self.purge_completed = data["purge_completed"]
            if "header_delay_seconds" in data:
                self.header_delay_seconds = float(delay)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_errors": [vars(fault).copy() for fault in self.http_errors if fault.times > 0],
                **{name: getattr(self, name) for name in COUNTERS},
                "purge_completed": self.purge_completed,
                "header_delay_seconds": self.header_delay_seconds,
            }


def _http_fault(item: Any) -> HttpFault:
    if not isinstance(item, dict) or set(item) - {"status", "times", "method", "path"}:
        raise ValueError("each http_errors item is {status, times, method, path}")
    status, times = item.get("status"), item.get("times", 1)
    if status not in (500, 503):
        raise ValueError("http_errors status must be 500 or 503")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("http_errors times must be a positive integer")
    return HttpFault(status, times, item.get("method"), str(item.get("path", "")))
