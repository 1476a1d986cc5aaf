"""The quality stage's results, in a form the ledger can store as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

# Failing examples kept per expectation in the ledger's summary.
EXAMPLES_KEPT = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """One check on one dataset; ``column`` is None for table-level or multi-column checks.

    ``severity`` is great-expectations' (``critical`` blocks the batch, ``warning`` and ``info``
    do not). ``examples`` are the first failing rows (their key and the values checked);
    ``personal`` says they hold personal data, shown only to authorised roles.
    """

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    details: Mapping[str, Any]
    severity: str = "critical"
    origin: str = "default"
    examples: tuple[Mapping[str, Any], ...] = ()
    personal: bool = False

    @property
    def blocking_failure(self) -> bool:
        return not self.success and self.severity == "critical"

    @property
    def warning(self) -> bool:
        return not self.success and self.severity != "critical"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "severity": self.severity,
            "origin": self.origin,
            "unexpected_count": self.unexpected_count,
            "details": jsonable(self.details),
            "examples": jsonable(list(self.examples[:EXAMPLES_KEPT])),
            "personal": self.personal,
        }


@dataclass(frozen=True)
class QualityReport:
    """Every check run on one dataset; ``success`` unless a blocking (critical) check failed."""

    dataset: str
    success: bool
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]
    engine: str  # e.g. "duckdb 2.0.1"
    suite_files: tuple[tuple[str, str], ...] = ()  # (path, sha256)
    disabled: tuple[Mapping[str, Any], ...] = ()

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking_failure]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.warning]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary, stored in the ledger with the dataset."""
        return {
            "dataset": self.dataset,
            "success": self.success,
            "rows": self.rows,
            "engine": self.engine,
            "expectations": len(self.outcomes),
            "passed": sum(1 for o in self.outcomes if o.success),
            "failed": len(self.failed),
            "warnings": len(self.warnings),
            "suite_files": [{"path": p, "sha256": s} for p, s in self.suite_files],
            "disabled": jsonable(list(self.disabled)),
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
        }


def jsonable(value: Any) -> Any:
    """``value`` with everything JSON cannot hold turned into text (or None for NaN/NaT)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if _is_missing(value):  # pandas NaT (a datetime!) and other "not a value" markers
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def _is_missing(value: Any) -> bool:
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # values whose comparison is not a plain boolean
        return False
