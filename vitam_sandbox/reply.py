"""Builds the ArchiveTransferReply the sandbox stores for each ingest (seda.md §7,
vitam-api.md §6.2), in the SIP's SEDA namespace.

An OK reply is valid against the official schema. KO replies written before the manifest could
be read lack the agencies, as VITAM's own early KO replies do.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from lxml import etree

from vitam_sandbox.events import Event, event_time, message_time
from vitam_sandbox.manifest import SUPPORTED_VERSIONS, Manifest
from vitam_sandbox.workflow import IngestOutcome

DEFAULT_NAMESPACE = "fr:gouv:culture:archivesdefrance:seda:v2.2"  # when the SIP was unreadable
REFUSED_UPLOAD_NAMESPACE = "fr:gouv:culture:archivesdefrance:seda:v2.0"  # ATR_KO_DEFAULT.xml


def build_reply(outcome: IngestOutcome, operation_id: str, *, blank_test: bool) -> bytes:
    """The ATR of a finished ingest.

    Like VITAM, the reply echoes the SIP's header (MessageIdentifier, ArchivalAgreement,
    agencies, code lists) only when the package was extracted, i.e. for a refusal after
    CHECK_DATAOBJECTPACKAGE; an earlier refusal leaves MessageRequestIdentifier empty.
    """
    readable = outcome.manifest is not None and outcome.manifest.version in SUPPORTED_VERSIONS
    namespace = outcome.manifest.namespace if outcome.manifest and readable else DEFAULT_NAMESPACE
    manifest = outcome.manifest if outcome.extracted else None
    builder = _Builder(namespace)
    root = builder.root("ArchiveTransferReply")
    builder.add(root, "Date", message_time())
    builder.add(root, "MessageIdentifier", operation_id)
    if manifest and manifest.archival_agreement:
        builder.add(root, "ArchivalAgreement", manifest.archival_agreement)
    root.append(builder.code_lists(manifest))
    root.append(builder.package(outcome, manifest))
    builder.add(root, "ReplyCode", f"Test {outcome.status}" if blank_test else outcome.status)
    if outcome.status != "OK":
        root.append(builder.operation(outcome.events))
    request_id = manifest.message_identifier if manifest else None
    builder.add(root, "MessageRequestIdentifier", request_id or "")
    if not blank_test:
        builder.add(root, "GrantDate", message_time())
    builder.agency(root, "ArchivalAgency", manifest.archival_agency if manifest else None)
    builder.agency(root, "TransferringAgency", manifest.transferring_agency if manifest else None)
    return _serialise(root)


def build_refused_upload_reply(operation_id: str, context_id: str) -> bytes:
    """The ATR KO of a 503 (unknown workflow), shaped like VITAM's ATR_KO_DEFAULT.xml."""
    builder = _Builder(REFUSED_UPLOAD_NAMESPACE)
    root = builder.root("ArchiveTransferReply")
    builder.add(root, "Comment", f"Unknown workflow (X-Context-Id {context_id!r})")
    builder.add(root, "Date", message_time())
    builder.add(root, "MessageIdentifier", operation_id)
    root.append(builder.element("CodeListVersions"))
    package = builder.add(root, "DataObjectPackage")
    builder.add(package, "DescriptiveMetadata")
    reply_outcome = builder.add(builder.add(package, "ManagementMetadata"), "ReplyOutcome")
    event = Event("STP_UPLOAD_SIP", "KO", "STP_UPLOAD_SIP.KO", event_time())
    reply_outcome.append(builder.event(event))
    builder.add(root, "ReplyCode", "KO")
    builder.add(root, "MessageRequestIdentifier", "Unknown")
    builder.agency(root, "ArchivalAgency", "Unknown")
    builder.agency(root, "TransferringAgency", "Unknown")
    return _serialise(root)


class _Builder:
    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def element(self, name: str, text: str | None = None, **attributes: str) -> etree._Element:
        element = etree.Element(f"{{{self.ns}}}{name}", attributes)
        element.text = text
        return element

    def root(self, name: str) -> etree._Element:
        return etree.Element(f"{{{self.ns}}}{name}", nsmap={None: self.ns})

    def add(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        child = self.element(name, text)
        parent.append(child)
        return child

    def agency(self, parent: etree._Element, name: str, identifier: str | None) -> None:
        if identifier:
            self.add(self.add(parent, name), "Identifier", identifier)

    def code_lists(self, manifest: Manifest | None) -> etree._Element:
        source = manifest.code_list_versions() if manifest else None
        if source is None:
            return self.element("CodeListVersions")
        copied = copy.deepcopy(source)  # same namespace: the reply is in the SIP's version
        for element in copied.iter():
            element.tail = None  # drop the SIP's indentation
            if element.text is not None and not element.text.strip():
                element.text = None
        return copied

    def package(self, outcome: IngestOutcome, manifest: Manifest | None) -> etree._Element:
        package = self.element("DataObjectPackage")
        if manifest is not None:
            for group_id, members in _groups(manifest).items():
                package.append(self.group(group_id, members, outcome))
        descriptive = self.add(package, "DescriptiveMetadata")
        for unit_id, system_id in outcome.units.items():
            unit = self.add(descriptive, "ArchiveUnit")
            unit.set("id", unit_id)
            events = [item.event for item in outcome.lifecycles if item.target == unit_id]
            if events:
                logbook = self.add(self.add(unit, "Management"), "LogBook")
                for event in events:
                    logbook.append(self.event(event))
            self.add(self.add(unit, "Content"), "SystemId", system_id)
        management = self.add(package, "ManagementMetadata")
        if manifest is not None and manifest.archival_profile:
            self.add(management, "ArchivalProfile", manifest.archival_profile)
        return package

    def group(
        self, group_id: str, members: list[tuple[str, str, str | None]], outcome: IngestOutcome
    ) -> etree._Element:
        group = self.element("DataObjectGroup", id=group_id)
        for object_id, kind, version in members:
            item = self.add(group, kind)
            item.set("id", object_id)
            self.add(item, "DataObjectSystemId", outcome.objects[object_id])
            self.add(item, "DataObjectGroupSystemId", outcome.groups[group_id])
            self.add(item, "DataObjectVersion", object_version(kind, version))
        events = [item for item in outcome.lifecycles if item.target == group_id]
        if events:
            logbook = self.add(group, "LogBook")
            for lifecycle in events:
                element = self.event(lifecycle.event)
                if lifecycle.object_id is not None:
                    self.add(element, "DataObjectReferenceId", lifecycle.object_id)
                logbook.append(element)
        return group

    def operation(self, events: Iterable[Event]) -> etree._Element:
        operation = self.element("Operation")
        for event in events:
            operation.append(self.event(event))
        return operation

    def event(self, event: Event) -> etree._Element:
        element = self.element("Event")
        self.add(element, "EventTypeCode", event.code)
        self.add(element, "EventType", event.label)
        self.add(element, "EventDateTime", event.date)
        self.add(element, "Outcome", event.outcome)
        self.add(element, "OutcomeDetail", event.detail)
        self.add(element, "OutcomeDetailMessage", event.message)
        if event.detail_data is not None:
            self.add(element, "EventDetailData", event.detail_data)
        return element


def _groups(manifest: Manifest) -> dict[str, list[tuple[str, str, str | None]]]:
    """Objects by group, in manifest order; an object without a group gets its own."""
    groups: dict[str, list[tuple[str, str, str | None]]] = {}
    for item in manifest.objects:
        groups.setdefault(item.group_key, []).append((item.id, item.kind, item.version))
    return groups


def object_version(kind: str, declared: str | None) -> str:
    """VITAM writes usage_version; a bare usage means version 1."""
    default = "BinaryMaster" if kind == "BinaryDataObject" else "PhysicalMaster"
    usage = declared or default
    return usage if "_" in usage else f"{usage}_1"


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
