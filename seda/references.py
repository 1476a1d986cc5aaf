"""Checks xml ids and the references between them, which libxml2 does not do for IDREFs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from seda.report import Issue

CHECK = "references"
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

# Elements whose text is an IDREF, with the kinds of element they may point to (None: any).
# Kinds are local names; "DataObjectGroupId" is the SEDA 2.0-style group id held as text.
_REF_ELEMENTS: dict[str, frozenset[str] | None] = {
    "ArchiveUnitRefId": frozenset({"ArchiveUnit"}),
    "DataObjectGroupReferenceId": frozenset({"DataObjectGroup", "DataObjectGroupId"}),
    "DataObjectReferenceId": frozenset({"BinaryDataObject", "PhysicalDataObject"}),
    "SignedObjectId": None,
    "SignedDocumentReferenceId": None,
}
_ID_ELEMENTS = frozenset({"DataObjectGroupId"})


@dataclass(frozen=True)
class Declared:
    kind: str
    line: int | None


@dataclass(frozen=True)
class _Reference:
    name: str  # element (or element@attribute) holding the reference
    value: str
    kinds: frozenset[str] | None
    line: int | None


def check_references(root: Any) -> list[Issue]:
    """Every id unique, every reference pointing to an existing id of the right kind."""
    ns = etree.QName(root).namespace
    declared: dict[str, Declared] = {}
    issues: list[Issue] = []
    references: list[_Reference] = []
    for element in root.iter(etree.Element):
        for value, kind in _ids_of(element, ns):
            first = declared.get(value)
            if first is not None:
                issues.append(
                    Issue(CHECK, f"id {value!r} is declared twice (first at line {first.line})", element.sourceline)
                )
            else:
                declared[value] = Declared(kind, element.sourceline)
        references.extend(_references_of(element, ns))
    for ref in references:
        problem = _resolve(ref, declared)
        if problem is not None:
            issues.append(problem)
    return issues


def _ids_of(element: Any, ns: str | None) -> Iterator[tuple[str, str]]:
    qname = etree.QName(element)
    xml_id = element.get(_XML_ID)
    if xml_id is not None:
        yield xml_id.strip(), qname.localname
    if qname.namespace != ns:
        return  # foreign elements (e.g. an XMLDSig signature) have their own id semantics
    if element.get("id") is not None:
        yield element.get("id").strip(), qname.localname
    if qname.localname in _ID_ELEMENTS:
        yield (element.text or "").strip(), qname.localname


def _references_of(element: Any, ns: str | None) -> Iterator[_Reference]:
    qname = etree.QName(element)
    if qname.namespace != ns:
        return
    name = qname.localname
    if name in _REF_ELEMENTS:
        yield _Reference(name, (element.text or "").strip(), _REF_ELEMENTS[name], element.sourceline)
    if name == "Relationship" and element.get("target") is not None:
        yield _Reference(f"{name}@target", element.get("target").strip(), None, element.sourceline)


def _resolve(ref: _Reference, declared: Mapping[str, Declared]) -> Issue | None:
    if not ref.value:
        return Issue(CHECK, f"{ref.name} is empty", ref.line)
    target = declared.get(ref.value)
    if target is None:
        return Issue(CHECK, f"{ref.name} {ref.value!r} does not match any id in the manifest", ref.line)
    if ref.kinds is not None and target.kind not in ref.kinds:
        expected = " or ".join(sorted(ref.kinds))
        return Issue(
            CHECK,
            f"{ref.name} {ref.value!r} points to a {target.kind} (line {target.line}), expected a {expected}",
            ref.line,
        )
    return None


# The same rules, element by element, for the streamed path (seda.stream_validation).
declared_ids = _ids_of
references_in = _references_of
reference_issue = _resolve
