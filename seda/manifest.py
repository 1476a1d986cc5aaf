"""Writes the ArchiveTransfer manifest incrementally with lxml's xmlfile.

Elements are streamed as they are produced, so the memory used does not grow with the number
of units. Element order follows the official XSD; every element written here exists with the
same shape in SEDA 2.1, 2.2 and 2.3, so only the namespace changes between versions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO, Any

from lxml import etree

from seda.archive import Stored
from seda.model import Management, Rule, SipRequest
from seda.plan import ObjectPlan, SipPlan, UnitPlan
from seda.versions import namespace

DIGEST_ALGORITHM = "SHA-512"
USAGE = "BinaryMaster_1"


class _Writer:
    """Thin layer over xmlfile: SEDA-qualified names and two-space indentation."""

    def __init__(self, xf: Any, ns: str) -> None:
        self._xf = xf
        self._ns = ns
        self._depth = 0

    def _indent(self) -> None:
        # Whitespace between elements is ignorable in SEDA's element-only content models.
        self._xf.write("\n" + "  " * self._depth)

    def _before_start_tag(self) -> None:
        # xmlfile refuses text outside the root; the declaration already ends with a newline.
        if self._depth:
            self._indent()

    @contextmanager
    def element(self, name: str, attrib: Mapping[str, str] | None = None, **extra: Any) -> Iterator[None]:
        self._before_start_tag()
        with self._xf.element(f"{{{self._ns}}}{name}", dict(attrib or {}), **extra):
            self._depth += 1
            yield
            self._depth -= 1
            self._indent()

    def leaf(self, name: str, text: str, attrib: Mapping[str, str] | None = None) -> None:
        self._before_start_tag()
        with self._xf.element(f"{{{self._ns}}}{name}", dict(attrib or {})):
            self._xf.write(text)

    def empty(self, name: str) -> None:
        self._before_start_tag()
        with self._xf.element(f"{{{self._ns}}}{name}"):
            pass

    def optional_leaf(self, name: str, text: str | None) -> None:
        if text:
            self.leaf(name, text)


def write_manifest(out: IO[bytes] | Any, plan: SipPlan, stored: Mapping[str, Stored]) -> None:
    """Write the manifest of `plan` to `out`; `stored` gives each object's digest and size."""
    request = plan.request
    ns = namespace(request.seda_version)
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        w = _Writer(xf, ns)
        with w.element("ArchiveTransfer", nsmap={None: ns}):
            _header(w, request)
            with w.element("DataObjectPackage"):
                for obj in plan.objects:
                    _object_group(w, obj, stored[obj.object_id])
                with w.element("DescriptiveMetadata"):
                    _unit(w, plan.root)
                _management_metadata(w, request)
            _agency(w, "ArchivalAgency", request.archival_agency)
            _agency(w, "TransferringAgency", request.transferring_agency)


def _header(w: _Writer, request: SipRequest) -> None:
    w.leaf("Comment", request.comment)
    w.leaf("Date", _datetime(request.date))
    w.leaf("MessageIdentifier", request.message_identifier)
    w.leaf("ArchivalAgreement", request.archival_agreement)
    # Mandatory in every version, but all its children are optional and VITAM ignores them.
    w.empty("CodeListVersions")


def _object_group(w: _Writer, obj: ObjectPlan, stored: Stored) -> None:
    payload = obj.payload
    with w.element("DataObjectGroup", {"id": obj.group_id}), w.element("BinaryDataObject", {"id": obj.object_id}):
        w.leaf("DataObjectVersion", USAGE)
        w.leaf("Uri", obj.uri)
        w.leaf("MessageDigest", stored.sha512, {"algorithm": DIGEST_ALGORITHM})
        w.leaf("Size", str(stored.size))
        with w.element("FormatIdentification"):
            w.optional_leaf("FormatLitteral", payload.format_name)
            w.leaf("MimeType", payload.mime_type)
            w.leaf("FormatId", payload.format_id)
        with w.element("FileInfo"):
            w.leaf("Filename", payload.filename)


def _unit(w: _Writer, unit: UnitPlan) -> None:
    with w.element("ArchiveUnit", {"id": unit.unit_id}):
        if _has_rules(unit.management):
            with w.element("Management"):
                _rules(w, unit.management)
        with w.element("Content"):
            w.leaf("DescriptionLevel", unit.level)
            w.leaf("Title", unit.title)
            w.optional_leaf("Description", unit.description)
            w.optional_leaf("StartDate", _date(unit.start_date))
            w.optional_leaf("EndDate", _date(unit.end_date))
        for child in unit.children:
            _unit(w, child)
        if unit.group_id is not None:
            with w.element("DataObjectReference"):
                w.leaf("DataObjectGroupReferenceId", unit.group_id)


def _management_metadata(w: _Writer, request: SipRequest) -> None:
    with w.element("ManagementMetadata"):
        w.optional_leaf("LegalStatus", request.legal_status)
        w.leaf("OriginatingAgencyIdentifier", request.originating_agency)
        w.optional_leaf("SubmissionAgencyIdentifier", request.submission_agency)
        if _has_rules(request.management):
            _rules(w, request.management)


def _has_rules(management: Management | None) -> bool:
    if management is None:
        return False
    return management.appraisal is not None or management.access is not None


def _rules(w: _Writer, management: Management | None) -> None:
    """AppraisalRule then AccessRule: the order of SEDA's ManagementGroup."""
    if management is None:
        return
    if management.appraisal is not None:
        with w.element("AppraisalRule"):
            _rule(w, management.appraisal)
            w.leaf("FinalAction", management.final_action)
    if management.access is not None:
        with w.element("AccessRule"):
            _rule(w, management.access)


def _rule(w: _Writer, rule: Rule) -> None:
    w.leaf("Rule", rule.rule_id)
    if rule.start_date is not None:
        # Rule StartDate is an xsd:date: drop the time part if a datetime slipped in.
        day = rule.start_date.date() if isinstance(rule.start_date, datetime) else rule.start_date
        w.leaf("StartDate", day.isoformat())


def _agency(w: _Writer, name: str, identifier: str) -> None:
    with w.element(name):
        w.leaf("Identifier", identifier)


def _datetime(moment: datetime) -> str:
    return moment.isoformat()


def _date(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
