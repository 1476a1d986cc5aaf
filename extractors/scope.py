"""What one batch covers: an academic year (Apogée), a period (Harpège), or everything.

The scope is given once, per batch, on the command line or by the DAG, and recorded in the
ledger with the batch. Every later stage reads it back from the batch (labels, rule dates, the
approval request), never from the current configuration, so nothing can make them disagree.
The scope reaches SQL only as bound parameters (``:academic_year``, ``:period_start``,
``:period_end``), never pasted into the statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

ScopeKind = Literal["academic_year", "period", "all"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("academic_year", "period", "all")

# Apogée's COD_ANU is VARCHAR2(4) holding the starting year; plausible bounds for a university.
FIRST_YEAR = 1960
LAST_YEAR = 2100


class ScopeError(ValueError):
    """A scope that cannot be read or makes no sense (``2023-2021``, ``year 1850``)."""


@dataclass(frozen=True, order=True)
class Scope:
    """One batch's scope. Build it with :meth:`academic_year`, :meth:`period` or :meth:`everything`."""

    kind: ScopeKind
    start: date | None = None
    end: date | None = None
    year: int | None = None

    @classmethod
    def academic_year(cls, year: int) -> Scope:
        if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
            raise ScopeError(f"{year!r} n'est pas une année universitaire plausible ({FIRST_YEAR}–{LAST_YEAR})")
        return cls("academic_year", date(year, 9, 1), date(year + 1, 8, 31), year)

    @classmethod
    def period(cls, start: date, end: date) -> Scope:
        if end < start:
            raise ScopeError(f"la période finit ({end}) avant de commencer ({start})")
        return cls("period", start, end)

    @classmethod
    def everything(cls) -> Scope:
        return cls("all")

    @classmethod
    def parse(cls, kind: ScopeKind, text: str) -> Scope:
        """Read a scope as typed: ``2023`` for a year; ``2000-01-01..2023-12-31`` or ``2023`` for a period."""
        text = text.strip()
        if kind == "all":
            return cls.everything()
        if kind == "academic_year":
            if not re.fullmatch(r"\d{4}", text):
                raise ScopeError(
                    f"{text!r} n'est pas une année universitaire (attendu : sa première année, par exemple 2023)"
                )
            return cls.academic_year(int(text))
        if re.fullmatch(r"\d{4}", text):
            return cls.period(date(int(text), 1, 1), date(int(text), 12, 31))
        start, sep, end = text.partition("..")
        try:
            if not sep:
                raise ValueError
            return cls.period(date.fromisoformat(start.strip()), date.fromisoformat(end.strip()))
        except ValueError:
            raise ScopeError(
                f"{text!r} n'est pas une période (attendu : AAAA-MM-JJ..AAAA-MM-JJ ou une année civile)"
            ) from None

    @property
    def label(self) -> str:
        """How archivists name it: ``2023-2024``, ``2000-01-01..2023-12-31``, ``all``."""
        if self.kind == "academic_year":
            assert self.year is not None
            return f"{self.year}-{self.year + 1}"
        if self.kind == "period":
            return f"{self.start}..{self.end}"
        return "all"

    @property
    def label_fr(self) -> str:
        if self.kind == "academic_year":
            return f"année universitaire {self.label}"
        if self.kind == "period":
            return f"du {self.start:%d/%m/%Y} au {self.end:%d/%m/%Y}"
        return "toutes les données"

    def parameters(self) -> dict[str, Any]:
        """The bound parameters a dataset's SQL may use."""
        if self.kind == "academic_year":
            return {"academic_year": str(self.year)}
        if self.kind == "period":
            return {"period_start": self.start, "period_end": self.end}
        return {}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.year is not None:
            data["year"] = self.year
        if self.start is not None and self.end is not None:
            data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        kind = data.get("kind")
        if kind == "academic_year":
            return cls.academic_year(int(data["year"]))
        if kind == "period":
            return cls.period(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]))
        if kind == "all":
            return cls.everything()
        raise ScopeError(f"unknown scope kind {kind!r}")
