"""The batch page's quality section: failures apart from warnings, the override, the examples.

Failing examples marked ``personal`` by the quality stage (their row is about a person) are shown
only to the roles that may read the datasets themselves; an example that shows a column of a
sensitive class (NIR, address, bank details, health) only to ``browser.sensitive_roles`` as well.
Everyone else sees how many examples were withheld.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from browser.security import User
from browser.texts import describe_check
from extractors.specs import SENSITIVE_CLASSES


@dataclass(frozen=True)
class Check:
    text: str  # what failed, on which column, how many rows (French)
    severity: str
    examples: tuple[Mapping[str, Any], ...]
    withheld: int  # examples not shown to this user (personal data)


@dataclass(frozen=True)
class DatasetQuality:
    name: str
    label: str
    failures: tuple[Check, ...]
    warnings: tuple[Check, ...]
    override: Mapping[str, Any] | None


def sensitive_columns(spec: Mapping[str, Any] | None) -> frozenset[str]:
    columns = (spec or {}).get("columns") or {}
    return frozenset(n for n, c in columns.items() if set(c.get("tags") or ()) & set(SENSITIVE_CLASSES))


def batch_quality(datasets: Sequence[Any], user: User, sensitive_roles: Sequence[str]) -> list[DatasetQuality]:
    """Every dataset's failed checks, as this user may see them."""
    may_personal = user.may("dataset")
    may_sensitive = may_personal and user.role in sensitive_roles
    out = []
    for dataset in datasets:
        quality = dataset.quality or {}
        sensitive = sensitive_columns(dataset.spec)
        failures: list[Check] = []
        warnings: list[Check] = []
        for outcome in quality.get("outcomes") or ():
            if outcome.get("success"):
                continue
            examples = list(outcome.get("examples") or ())
            shown_columns = {c for e in examples for c in (e.get("values") or {}) | (e.get("key") or {})}
            allowed = not outcome.get("personal") or may_personal
            if shown_columns & sensitive and not may_sensitive:
                allowed = False
            severity = str(outcome.get("severity") or "critical")
            check = Check(
                describe_check(outcome),
                severity,
                tuple(examples) if allowed else (),
                0 if allowed else len(examples),
            )
            (failures if severity == "critical" else warnings).append(check)
        override = quality.get("override")
        if failures or warnings or override:
            label = str((dataset.spec or {}).get("label") or dataset.name)
            out.append(DatasetQuality(dataset.name, label, tuple(failures), tuple(warnings), override))
    return out
