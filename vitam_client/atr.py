"""Reading an ArchiveTransferReply (ATR), the answer VITAM gives to every ingest.

The parser is deliberately lenient (seda.md §7): VITAM's early KO replies can be invalid against
the schema (no ArchivalAgency, empty MessageRequestIdentifier), the reply to a refused upload
uses the SEDA 2.0 namespace and puts its event under ``ManagementMetadata/ReplyOutcome``, and the
namespace follows the SIP's SEDA version. Any ``fr:gouv:culture:archivesdefrance:seda:v2...``
namespace is accepted and every element may be missing, except that the document must be
well-formed XML whose root is an ``ArchiveTransferReply``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

from lxml import etree

_SEDA_NS = re.compile(r"^fr:gouv:culture:archivesdefrance:seda:v(2(?:\.[0-9]+)?)$")
_ACCEPTED = frozenset({"OK", "WARNING"})
_TEST_PREFIX = "Test "


class AtrError(ValueError):
    """The bytes are not an ArchiveTransferReply that can be read."""


@dataclass(frozen=True)
class AtrEvent:
    """One ``Operation/Event`` of a KO or WARNING reply."""

    type_code: str | None
    type: str | None
    outcome: str | None
    detail: str | None
    message: str | None
    date: str | None
    detail_data: str | None = None  # EventDetailData: a JSON string, often with evDetTechData


@dataclass(frozen=True)
class ArchiveTransferReply:
    """What a client needs from an ATR."""

    seda_version: str | None
    reply_code: str  # "" when the reply has no ReplyCode (then it is not accepted)
    operation_id: str | None  # the ATR's MessageIdentifier is VITAM's operation id
    message_request_identifier: str | None  # the SIP's MessageIdentifier
    grant_date: str | None
    archival_agreement: str | None
    units: Mapping[str, str] = field(default_factory=dict)  # manifest unit id -> SystemId
    objects: Mapping[str, str] = field(default_factory=dict)  # manifest object id -> system id
    events: tuple[AtrEvent, ...] = ()
    groups: Mapping[str, str] = field(default_factory=dict)  # manifest group id -> system id
    # KO/WARNING events VITAM attached to one unit (Management/LogBook) or to one object group
    # or object (LogBook), by manifest id.
    unit_events: Mapping[str, tuple[AtrEvent, ...]] = field(default_factory=dict)
    object_events: Mapping[str, tuple[AtrEvent, ...]] = field(default_factory=dict)

    @property
    def is_test(self) -> bool:
        """A BLANK_TEST (dry run) reply: ``Test OK``, ``Test KO``..."""
        return self.reply_code.startswith(_TEST_PREFIX)

    @property
    def accepted(self) -> bool:
        """VITAM took charge of the archives: OK or WARNING, never a dry run."""
        return self.reply_code in _ACCEPTED

    @property
    def outcome(self) -> str:
        """OK, WARNING, KO or FATAL, with the ``Test `` of a dry run removed ("" if absent)."""
        return self.reply_code.removeprefix(_TEST_PREFIX)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values (``versement atr parse --json``)."""

        def events(found: tuple[AtrEvent, ...]) -> list[dict[str, str | None]]:
            return [asdict(event) for event in found]

        return {
            "seda_version": self.seda_version,
            "reply_code": self.reply_code,
            "test": self.is_test,
            "accepted": self.accepted,
            "operation_id": self.operation_id,
            "message_request_identifier": self.message_request_identifier,
            "grant_date": self.grant_date,
            "archival_agreement": self.archival_agreement,
            "units": dict(self.units),
            "groups": dict(self.groups),
            "objects": dict(self.objects),
            "events": events(self.events),
            "unit_events": {key: events(value) for key, value in self.unit_events.items()},
            "object_events": {key: events(value) for key, value in self.object_events.items()},
        }


def parse_atr(xml: bytes) -> ArchiveTransferReply:
    """Read an ATR; raise :class:`AtrError` naming the problem when it cannot be read."""
    root = _parse(xml)
    namespace, local = _split(root.tag)
    if local != "ArchiveTransferReply":
        raise AtrError(f"the document is a {local!r}, not an ArchiveTransferReply")
    version = _SEDA_NS.match(namespace or "")
    if version is None:
        raise AtrError(f"the ArchiveTransferReply is in namespace {namespace!r}, not SEDA 2.x")
    reader = _Reader(namespace or "")
    return ArchiveTransferReply(
        seda_version=version.group(1),
        reply_code=reader.text(root, "ReplyCode") or "",
        operation_id=reader.text(root, "MessageIdentifier"),
        message_request_identifier=reader.text(root, "MessageRequestIdentifier"),
        grant_date=reader.text(root, "GrantDate"),
        archival_agreement=reader.text(root, "ArchivalAgreement"),
        units=MappingProxyType(reader.units(root)),
        objects=MappingProxyType(reader.objects(root)),
        events=reader.events(root),
        groups=MappingProxyType(reader.groups(root)),
        unit_events=MappingProxyType(
            reader.local_events(root, "s:DataObjectPackage/s:DescriptiveMetadata//s:ArchiveUnit", "Management/LogBook")
        ),
        object_events=MappingProxyType(reader.object_events(root)),
    )


def _parse(xml: bytes) -> etree._Element:
    if not xml or not xml.strip():
        raise AtrError("the ATR is empty")
    # No DTD, no entities, no network: the reply comes from a remote server.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise AtrError(f"the ATR is not well-formed XML: {exc}") from None


def _split(tag: object) -> tuple[str | None, str]:
    if not isinstance(tag, str):
        return None, repr(tag)
    qname = etree.QName(tag)
    return qname.namespace, qname.localname


class _Reader:
    """Finds SEDA elements in one namespace, tolerating whatever is missing."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"s": namespace}

    def text(self, parent: etree._Element, path: str) -> str | None:
        found = parent.find(self._path(path), self.ns)
        if found is None or found.text is None:
            return None
        value = found.text.strip()
        return value or None

    def units(self, root: etree._Element) -> dict[str, str]:
        units: dict[str, str] = {}
        for unit in root.iterfind(".//s:DescriptiveMetadata//s:ArchiveUnit", self.ns):
            system_id = self.text(unit, "Content/SystemId")
            if unit.get("id") and system_id:
                units[unit.get("id", "")] = system_id
        return units

    def objects(self, root: etree._Element) -> dict[str, str]:
        objects: dict[str, str] = {}
        # VITAM puts them on the group (DataObjectGroup/LogBook); accept them on an object too.
        for kind in ("DataObjectGroup", "BinaryDataObject", "PhysicalDataObject"):
            for item in root.iterfind(f"s:DataObjectPackage//s:{kind}", self.ns):
                system_id = self.text(item, "DataObjectSystemId")
                if item.get("id") and system_id:
                    objects[item.get("id", "")] = system_id
        return objects

    def groups(self, root: etree._Element) -> dict[str, str]:
        groups: dict[str, str] = {}
        for group in root.iterfind("s:DataObjectPackage//s:DataObjectGroup", self.ns):
            for item in group:
                system_id = self.text(item, "DataObjectGroupSystemId")
                if group.get("id") and system_id:
                    groups[group.get("id", "")] = system_id
                    break
        return groups

    def local_events(self, root: etree._Element, where: str, logbook: str) -> dict[str, tuple[AtrEvent, ...]]:
        found: dict[str, tuple[AtrEvent, ...]] = {}
        for element in root.iterfind(where, self.ns):
            events = element.findall(f"{self._path(logbook)}/s:Event", self.ns)
            if element.get("id") and events:
                found[element.get("id", "")] = tuple(self._event(event) for event in events)
        return found

    def object_events(self, root: etree._Element) -> dict[str, tuple[AtrEvent, ...]]:
        found: dict[str, tuple[AtrEvent, ...]] = {}
        # VITAM puts them on the group (DataObjectGroup/LogBook); accept them on an object too.
        for kind in ("DataObjectGroup", "BinaryDataObject", "PhysicalDataObject"):
            found.update(self.local_events(root, f"s:DataObjectPackage//s:{kind}", "LogBook"))
        return found

    def events(self, root: etree._Element) -> tuple[AtrEvent, ...]:
        found = root.findall("s:Operation/s:Event", self.ns)
        if not found:  # the reply to a refused upload (ATR_KO_DEFAULT) keeps it elsewhere
            found = root.findall(".//s:ReplyOutcome/s:Event", self.ns)
        return tuple(self._event(event) for event in found)

    def _event(self, event: etree._Element) -> AtrEvent:
        return AtrEvent(
            type_code=self.text(event, "EventTypeCode"),
            type=self.text(event, "EventType"),
            outcome=self.text(event, "Outcome"),
            detail=self.text(event, "OutcomeDetail"),
            message=self.text(event, "OutcomeDetailMessage"),
            date=self.text(event, "EventDateTime"),
            detail_data=self.text(event, "EventDetailData"),
        )

    @staticmethod
    def _path(path: str) -> str:
        return "/".join(f"s:{step}" for step in path.split("/"))
