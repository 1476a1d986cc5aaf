"""Checks on the ArchiveUnit tree that no schema makes: titles, rules against the referential,
and cycles through ``ArchiveUnitRefId``.

VITAM refuses a unit without DescriptionLevel or Title (its unit JSON schema), a rule id its
referential does not hold or that belongs to another category, and a unit graph with a cycle.
The schemas say nothing of these (Title is optional in SEDA 2.1+), so they are checked here.

The checker is incremental: ``seda.stream_validation`` feeds it while it streams a manifest,
and the document path (``seda.validation``) walks a parsed tree with ``check_tree``; both give
the same issues. Units are named by their xml id, their key
(``OriginatingAgencyArchiveUnitIdentifier``) and their title when they have them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from seda.report import Issue
from seda.rules import RulesReferential

TREE = "tree"
RULES = "rules"

RULE_CATEGORIES = frozenset(
    {
        "StorageRule",
        "AppraisalRule",
        "AccessRule",
        "DisseminationRule",
        "ReuseRule",
        "ClassificationRule",
        "HoldRule",
    }
)


@dataclass
class _Open:
    unit_id: str
    line: int | None
    rules: list[tuple[str, str, int | None]] = field(default_factory=list)  # category, id, line


class UnitChecker:
    """Feed it units as they open and close; ``issues()`` at the end."""

    def __init__(self, rules: RulesReferential | None) -> None:
        self.referential = rules
        self.stack: list[_Open] = []
        self.parent: dict[str, str | None] = {}  # unit id -> enclosing unit id
        self.links: list[tuple[str, str, int | None]] = []  # (unit holding the stub, target, line)
        self.found: list[Issue] = []
        self.package_rules: list[tuple[str, str, int | None]] = []

    # -- events ---------------------------------------------------------------------------

    def open_unit(self, unit_id: str, line: int | None) -> None:
        self.parent[unit_id] = self.stack[-1].unit_id if self.stack else None
        self.stack.append(_Open(unit_id, line))

    def close_unit(self) -> None:
        top = self.stack.pop()
        if top.rules:  # a unit without Content (a stub): report its rules by id alone
            self._rule_issues(top, f"unit {top.unit_id!r}")

    def rule(self, category: str, rule_id: str, line: int | None) -> None:
        entry = (category, rule_id, line)
        if self.stack:
            self.stack[-1].rules.append(entry)
        else:
            self.package_rules.append(entry)

    def content(self, content: Any, ns: str | None) -> None:
        """The end of a unit's Content: its level, title and key are known."""
        top = self.stack[-1] if self.stack else None
        unit_id = top.unit_id if top else "?"
        q = f"{{{ns}}}" if ns else ""
        key = ""
        level = ""
        titles: list[str] = []
        for child in content:  # direct children only: cheaper than three path searches
            tag = child.tag
            if tag == f"{q}Title":
                titles.append((child.text or "").strip())
            elif tag == f"{q}DescriptionLevel":
                level = (child.text or "").strip()
            elif tag == f"{q}OriginatingAgencyArchiveUnitIdentifier" and not key:
                key = (child.text or "").strip()
        label = f"unit {unit_id!r}" + (f" (key {key!r})" if key else "")
        if any(titles):
            label += f" «{next(t for t in titles if t)[:80]}»"
        if not any(titles):
            what = "an empty Title" if titles else "no Title"
            self.found.append(
                Issue(TREE, f"{label} has {what}; VITAM requires a title on every unit", content.sourceline)
            )
        if not level:
            self.found.append(Issue(TREE, f"{label} has no DescriptionLevel; VITAM requires one", content.sourceline))
        if top is not None:
            self._rule_issues(top, label)
            top.rules.clear()

    def unit_reference(self, target: str, line: int | None) -> None:
        if self.stack:
            holder = self.parent.get(self.stack[-1].unit_id)
            self.links.append((holder or self.stack[-1].unit_id, target, line))

    # -- results --------------------------------------------------------------------------

    def issues(self) -> list[Issue]:
        for category, rule_id, line in self.package_rules:
            problem = self._problem(category, rule_id)
            if problem is not None:
                self.found.append(Issue(RULES, f"ManagementMetadata {category}: {problem}", line))
        self.found.extend(self._cycles())
        return self.found

    def _rule_issues(self, unit: _Open, label: str) -> None:
        for category, rule_id, line in unit.rules:
            problem = self._problem(category, rule_id)
            if problem is not None:
                self.found.append(Issue(RULES, f"{label} {category}: {problem}", line))

    def _problem(self, category: str, rule_id: str) -> str | None:
        if self.referential is None:
            return None
        return self.referential.problem(rule_id, category)

    def _cycles(self) -> Iterator[Issue]:
        """A stub ``ArchiveUnitRefId`` makes its target a child of the unit holding the stub;
        a cycle exists when the target is that unit or one of its ancestors."""
        if not self.links:
            return
        children: dict[str, list[str]] = {}
        for holder, target, _ in self.links:
            children.setdefault(holder, []).append(target)
        reported: set[str] = set()
        for holder, target, line in self.links:
            path = self._reaches(target, holder, children)
            if path is not None and target not in reported:
                reported.add(target)
                yield Issue(TREE, f"the unit tree has a cycle: {' → '.join(path)}", line)

    def _reaches(self, start: str, goal: str, links: dict[str, list[str]]) -> list[str] | None:
        """Path from `start` down to `goal` through nesting and references, if any."""
        # Walk the reversed graph up from `goal`: nesting parents, and holders of references.
        seen: set[str] = set()
        todo: list[tuple[str, list[str]]] = [(goal, [goal])]
        while todo:
            node, path = todo.pop()
            if node == start:
                return [*reversed(path), start]
            if node in seen:
                continue
            seen.add(node)
            up = self.parent.get(node)
            if up is not None:
                todo.append((up, [*path, up]))
            for holder, targets in links.items():
                if node in targets:
                    todo.append((holder, [*path, holder]))
        return None


def check_tree(root: Any, rules: RulesReferential | None) -> list[Issue]:
    """The same checks on a parsed manifest (the document path)."""
    ns = etree.QName(root).namespace
    checker = UnitChecker(rules)
    descriptive = root.find(f"{{{ns}}}DataObjectPackage/{{{ns}}}DescriptiveMetadata")
    if descriptive is not None:
        for unit in descriptive.iterfind(f"{{{ns}}}ArchiveUnit"):
            _walk(unit, checker, ns)
    metadata = root.find(f"{{{ns}}}DataObjectPackage/{{{ns}}}ManagementMetadata")
    if metadata is not None:
        for block in metadata:
            _rules_of(block, checker, ns)
    return checker.issues()


def _walk(unit: Any, checker: UnitChecker, ns: str | None) -> None:
    checker.open_unit((unit.get("id") or "").strip(), unit.sourceline)
    for child in unit:
        name = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if name == "Management":
            for block in child:
                _rules_of(block, checker, ns)
        elif name == "Content":
            checker.content(child, ns)
        elif name == "ArchiveUnitRefId":
            checker.unit_reference((child.text or "").strip(), child.sourceline)
        elif name == "ArchiveUnit":
            _walk(child, checker, ns)
    checker.close_unit()


def _rules_of(block: Any, checker: UnitChecker, ns: str | None) -> None:
    if not isinstance(block.tag, str):
        return
    qname = etree.QName(block)
    if qname.namespace != ns or qname.localname not in RULE_CATEGORIES:
        return
    for rule in block.iterfind(f"{{{ns}}}Rule"):
        checker.rule(qname.localname, (rule.text or "").strip(), rule.sourceline)
