"""The institution's VITAM management-rules referential, read from VITAM's own CSV format.

VITAM refuses a SIP that cites a rule its tenant does not know (``UNITS_RULES_COMPUTE.UNKNOWN``)
or a rule of another category (``UNITS_RULES_COMPUTE.CONSISTENCY``, e.g. an ACC- id in an
AppraisalRule). The same CSV the institution imports into VITAM
(``RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement``, see
``shared/reference/vitam-api.md`` §8.1) is read here so that both are caught before the SIP
leaves. The file is read strictly, as VITAM's import does: exact header, known RuleType,
duration and measurement together, no duplicate RuleId; errors name the file, line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from seda.errors import SipError

HEADER = ("RuleId", "RuleType", "RuleValue", "RuleDescription", "RuleDuration", "RuleMeasurement")
RULE_TYPES = (
    "AppraisalRule",
    "AccessRule",
    "StorageRule",
    "DisseminationRule",
    "ClassificationRule",
    "ReuseRule",
    "HoldRule",
)
MEASUREMENTS = ("YEAR", "MONTH", "DAY", "SECOND")
UNLIMITED = "unlimited"
_MAX_DURATION = {"YEAR": 999, "MONTH": 11_988, "DAY": 359_640, "SECOND": None}


class RulesFileError(SipError):
    """The referential file itself is unusable: names the file, the line and the column."""

    def __init__(self, path: Path, line: int | None, column: str | None, problem: str) -> None:
        where = f"{path}" + (f":{line}" if line else "") + (f": {column}" if column else "")
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True)
class RuleDefinition:
    rule_id: str
    rule_type: str
    value: str
    description: str
    duration: str  # an integer, "unlimited", or "" (HoldRule only)
    measurement: str  # YEAR | MONTH | DAY | SECOND, or "" (HoldRule only)


@dataclass(frozen=True)
class RulesReferential:
    path: Path
    rules: Mapping[str, RuleDefinition]

    def problem(self, rule_id: str, category: str) -> str | None:
        """Why `rule_id` cannot be used in a `category` block (e.g. "AppraisalRule"), or None."""
        rule = self.rules.get(rule_id)
        if rule is None:
            return f"rule {rule_id!r} is not in the rules referential {self.path.name}"
        if rule.rule_type != category:
            return f"rule {rule_id!r} is of type {rule.rule_type} in {self.path.name}, not {category}"
        return None


def load_rules(path: Path) -> RulesReferential:
    """Read a VITAM rules referential CSV (UTF-8, comma-separated, header row)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RulesFileError(path, None, None, f"cannot read the rules referential: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RulesFileError(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise RulesFileError(path, 1, None, f"the header must be exactly {','.join(HEADER)}, found {header!r}")
    rules: dict[str, RuleDefinition] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            raise RulesFileError(path, line, None, f"{len(row)} columns, expected {len(HEADER)}")
        rule = _rule(path, line, [cell.strip() for cell in row])
        if rule.rule_id in rules:
            raise RulesFileError(path, line, "RuleId", f"{rule.rule_id!r} is defined twice")
        rules[rule.rule_id] = rule
    if not rules:
        raise RulesFileError(path, None, None, "the rules referential holds no rule")
    return RulesReferential(path, rules)


def _rule(path: Path, line: int, cells: list[str]) -> RuleDefinition:
    rule_id, rule_type, value, description, duration, measurement = cells
    for column, cell in (("RuleId", rule_id), ("RuleType", rule_type), ("RuleValue", value)):
        if not cell:
            raise RulesFileError(path, line, column, "a value is required")
    if rule_type not in RULE_TYPES:
        raise RulesFileError(path, line, "RuleType", f"{rule_type!r} is not one of {', '.join(RULE_TYPES)}")
    measurement = measurement.upper()
    if (duration == "") != (measurement == ""):
        raise RulesFileError(path, line, "RuleDuration", "RuleDuration and RuleMeasurement go together")
    if duration == "" and rule_type != "HoldRule":
        raise RulesFileError(path, line, "RuleDuration", f"a {rule_type} needs a duration and a measurement")
    if measurement and measurement not in MEASUREMENTS:
        raise RulesFileError(path, line, "RuleMeasurement", f"{measurement!r} is not one of {', '.join(MEASUREMENTS)}")
    if duration and duration.lower() != UNLIMITED:
        if not duration.isdigit():
            raise RulesFileError(path, line, "RuleDuration", f"{duration!r} is not a whole number or 'unlimited'")
        limit = _MAX_DURATION[measurement]
        if limit is not None and int(duration) > limit:
            raise RulesFileError(path, line, "RuleDuration", f"{duration} {measurement} is over VITAM's limit {limit}")
    return RuleDefinition(rule_id, rule_type, value, description, duration, measurement)
