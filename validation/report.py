"""The quality stage's results, in a form the ledger can store as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ExpectationOutcome:
    """One check on one dataset; ``column`` is None for table-level or multi-column checks."""

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "details": jsonable(self.details),
        }


@dataclass(frozen=True)
class QualityReport:
    """Every check run on one dataset; ``success`` only if all of them passed."""

    dataset: str
    success: bool
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]
    engine: str  # e.g. "great_expectations 1.24.1"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, stored in the ledger."""
        return {
            "dataset": self.dataset,
            "success": self.success,
            "rows": self.rows,
            "engine": self.engine,
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
