"""The outcome of validating a manifest or a SIP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# A broken manifest with thousands of units would otherwise flood the report.
MAX_ISSUES_PER_CHECK = 100


@dataclass(frozen=True)
class Issue:
    check: str  # "seda-2.1" | "vitam-2.1" | "references" | "container" | "digest" | "version" | "xml"
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "line": self.line}


@dataclass(frozen=True)
class ValidationReport:
    version: str | None
    issues: tuple[Issue, ...]
    checks_run: tuple[str, ...]
    checks_skipped: tuple[str, ...]  # e.g. "seda-2.1 (schemas folder not configured)"

    @property
    def valid(self) -> bool:
        """No issue found. Skipped checks do not make a report invalid: read checks_skipped."""
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "valid": self.valid,
            "issues": [issue.to_dict() for issue in self.issues],
            "checks_run": list(self.checks_run),
            "checks_skipped": list(self.checks_skipped),
        }


@dataclass
class ReportBuilder:
    """Collects issues and check names while a validation runs."""

    issues: list[Issue] = field(default_factory=list)
    run: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def ran(self, check: str) -> None:
        if check not in self.run:
            self.run.append(check)

    def skip(self, check: str, reason: str) -> None:
        self.skipped.append(f"{check} ({reason})")

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def extend(self, check: str, issues: Iterable[Issue]) -> None:
        """Record that `check` ran; keep at most MAX_ISSUES_PER_CHECK issues of each kind."""
        self.ran(check)
        kept: Counter[str] = Counter(issue.check for issue in self.issues)
        dropped: Counter[str] = Counter()
        for issue in issues:
            if kept[issue.check] < MAX_ISSUES_PER_CHECK:
                self.issues.append(issue)
                kept[issue.check] += 1
            else:
                dropped[issue.check] += 1
        for name, count in sorted(dropped.items()):
            self.issues.append(Issue(name, f"{count} more issues of this check not listed"))

    def build(self, version: str | None) -> ValidationReport:
        return ValidationReport(
            version=version,
            issues=tuple(self.issues),
            checks_run=tuple(self.run),
            checks_skipped=tuple(self.skipped),
        )
