"""Reads, from a SEDA 2.x manifest, what the sandbox's ingest checks and ATR need."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

SEDA_NAMESPACE = re.compile(r"^fr:gouv:culture:archivesdefrance:seda:v([0-9]\.[0-9]+)$")
SUPPORTED_VERSIONS = frozenset({"2.1", "2.2", "2.3"})  # SupportedSedaVersions.java
RULE_CATEGORIES = (
    "StorageRule",
    "AppraisalRule",
    "AccessRule",
    "DisseminationRule",
    "ReuseRule",
    "ClassificationRule",
    "HoldRule",
)


class NotXml(ValueError):
    """The manifest is not well-formed XML, or declares a DTD (VITAM's parser has DTDs off)."""


@dataclass(frozen=True)
class DataObject:
    id: str
    kind: str  # BinaryDataObject | PhysicalDataObject
    group_id: str | None
    version: str | None  # DataObjectVersion as declared
    uri: str | None
    digest: str | None
    algorithm: str | None
    size: int | None
    format_id: str | None = None  # FormatIdentification/FormatId (PRONOM PUID) as declared
    mime_type: str | None = None
    format_litteral: str | None = None
    filename: str | None = None  # FileInfo/Filename

    @property
    def group_key(self) -> str:
        """The group's manifest id; an object declared without a group gets one of its own."""
        return self.group_id or f"{self.id}-GOT"


@dataclass(frozen=True)
class Unit:
    id: str
    description_level: str | None
    title: str | None
    group_ref: str | None  # DataObjectGroupReferenceId (or an object id, for SEDA 2.0 style)
    parent: str | None = None  # the enclosing unit (nested form)
    children: tuple[str, ...] = ()  # units below it: nested ones and ArchiveUnitRefId stubs' targets
    attach_system_id: str | None = None  # Management/UpdateOperation/SystemId
    attach_key: tuple[str, str] | None = None  # UpdateOperation/ArchiveUnitIdentifierKey (name, value)
    fields: dict[str, str] = field(default_factory=dict)  # the simple text fields of Content (first value)
    longest_value: int = 0  # characters in the longest text value of Content
    start_date: str | None = None
    end_date: str | None = None

    @property
    def attachment(self) -> bool:
        return self.attach_system_id is not None or self.attach_key is not None


@dataclass(frozen=True)
class RuleRef:
    category: str  # AppraisalRule, AccessRule...
    rule_id: str
    where: str  # the unit id, or "ManagementMetadata"
    ref_non_rule: bool = False  # a RefNonRuleId (an inherited rule blocked), not a Rule


@dataclass
class Manifest:
    namespace: str
    version: str | None  # "2.1" when the namespace is a SEDA one, whatever its number
    root: etree._Element
    message_identifier: str | None = None
    archival_agreement: str | None = None
    archival_profile: str | None = None
    archival_agency: str | None = None
    transferring_agency: str | None = None
    originating_agency: str | None = None
    submission_agency: str | None = None
    objects: list[DataObject] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    rules: list[RuleRef] = field(default_factory=list)

    def code_list_versions(self) -> etree._Element | None:
        return self.root.find(_q(self.namespace, "CodeListVersions"))


def read_manifest(data: bytes) -> Manifest:
    """Parse a manifest; raise :class:`NotXml` when it is not well-formed."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise NotXml(str(exc)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise NotXml("a DOCTYPE (DTD, entities) is not allowed in a manifest")
    namespace = etree.QName(root).namespace or ""
    match = SEDA_NAMESPACE.match(namespace)
    manifest = Manifest(namespace=namespace, version=match.group(1) if match else None, root=root)
    if manifest.version in SUPPORTED_VERSIONS:
        _fill(manifest, _Finder(namespace))
    return manifest


class _Finder:
    def __init__(self, namespace: str) -> None:
        self.ns = {"s": namespace}

    def text(self, parent: etree._Element, path: str) -> str | None:
        found = parent.find("/".join(f"s:{step}" for step in path.split("/")), self.ns)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def all(self, parent: etree._Element, path: str) -> list[etree._Element]:
        return parent.findall(path, self.ns)


def _fill(manifest: Manifest, find: _Finder) -> None:
    root = manifest.root
    manifest.message_identifier = find.text(root, "MessageIdentifier")
    manifest.archival_agreement = find.text(root, "ArchivalAgreement")
    manifest.archival_agency = find.text(root, "ArchivalAgency/Identifier")
    manifest.transferring_agency = find.text(root, "TransferringAgency/Identifier")
    metadata = "DataObjectPackage/ManagementMetadata"
    manifest.archival_profile = find.text(root, f"{metadata}/ArchivalProfile")
    manifest.originating_agency = find.text(root, f"{metadata}/OriginatingAgencyIdentifier")
    manifest.submission_agency = find.text(root, f"{metadata}/SubmissionAgencyIdentifier")
    manifest.objects = _objects(root, find)
    manifest.units = _units(root, find)
    manifest.rules = _rules(root, find)


def _objects(root: etree._Element, find: _Finder) -> list[DataObject]:
    objects = []
    for kind in ("BinaryDataObject", "PhysicalDataObject"):
        for item in find.all(root, f"s:DataObjectPackage//s:{kind}"):
            digest = item.find("s:MessageDigest", find.ns)
            size = find.text(item, "Size")
            objects.append(
                DataObject(
                    id=item.get("id", ""),
                    kind=kind,
                    group_id=_group_of(item, find),
                    version=find.text(item, "DataObjectVersion"),
                    uri=find.text(item, "Uri"),
                    digest=(digest.text or "").strip() if digest is not None else None,
                    algorithm=digest.get("algorithm") if digest is not None else None,
                    size=int(size) if size and size.isdigit() else None,
                    format_id=find.text(item, "FormatIdentification/FormatId"),
                    mime_type=find.text(item, "FormatIdentification/MimeType"),
                    format_litteral=find.text(item, "FormatIdentification/FormatLitteral"),
                    filename=find.text(item, "FileInfo/Filename"),
                )
            )
    return objects


def _group_of(item: etree._Element, find: _Finder) -> str | None:
    """The group an object belongs to: its DataObjectGroup container, or SEDA 2.0 style ids."""
    parent = item.getparent()
    if parent is not None and etree.QName(parent).localname == "DataObjectGroup":
        return parent.get("id")
    return find.text(item, "DataObjectGroupId") or find.text(item, "DataObjectGroupReferenceId")


def _units(root: etree._Element, find: _Finder) -> list[Unit]:
    units = []
    for unit in find.all(root, "s:DataObjectPackage/s:DescriptiveMetadata//s:ArchiveUnit"):
        content = unit.find("s:Content", find.ns)
        if content is None:
            continue  # a reference (ArchiveUnitRefId) to a unit declared elsewhere
        reference = "DataObjectReference/DataObjectGroupReferenceId"
        children = []
        for child in unit.findall("s:ArchiveUnit", find.ns):
            target = find.text(child, "ArchiveUnitRefId")
            children.append(target if target is not None else child.get("id", ""))
        parent = unit.getparent()
        key = unit.find("s:Management/s:UpdateOperation/s:ArchiveUnitIdentifierKey", find.ns)
        values = [(etree.QName(e).localname, e.text or "") for e in content.iter() if isinstance(e.tag, str)]
        fields: dict[str, str] = {}
        for name, value in values:
            if value.strip():
                fields.setdefault(name, value.strip())
        units.append(
            Unit(
                id=unit.get("id", ""),
                description_level=find.text(unit, "Content/DescriptionLevel"),
                title=_title(unit, find),
                group_ref=find.text(unit, reference) or find.text(unit, "DataObjectReference/DataObjectReferenceId"),
                parent=parent.get("id")
                if parent is not None and etree.QName(parent).localname == "ArchiveUnit"
                else None,
                children=tuple(children),
                attach_system_id=find.text(unit, "Management/UpdateOperation/SystemId"),
                attach_key=(
                    (find.text(key, "MetadataName") or "", find.text(key, "MetadataValue") or "")
                    if key is not None
                    else None
                ),
                fields=fields,
                longest_value=max((len(value) for _, value in values), default=0),
                start_date=find.text(unit, "Content/StartDate"),
                end_date=find.text(unit, "Content/EndDate"),
            )
        )
    return units


def _title(unit: etree._Element, find: _Finder) -> str | None:
    for title in find.all(unit, "s:Content/s:Title"):
        if title.text and title.text.strip():
            return title.text.strip()
    return None


def _rules(root: etree._Element, find: _Finder) -> list[RuleRef]:
    blocks = [("ManagementMetadata", root.find("s:DataObjectPackage/s:ManagementMetadata", find.ns))]
    for unit in find.all(root, "s:DataObjectPackage/s:DescriptiveMetadata//s:ArchiveUnit"):
        blocks.append((unit.get("id", ""), unit.find("s:Management", find.ns)))
    rules = []
    for where, block in blocks:
        if block is None:
            continue
        for category in RULE_CATEGORIES:
            for rule in find.all(block, f"s:{category}/s:Rule"):
                rules.append(RuleRef(category, (rule.text or "").strip(), where))
            for rule in find.all(block, f"s:{category}/s:RefNonRuleId"):
                rules.append(RuleRef(category, (rule.text or "").strip(), where, ref_non_rule=True))
    return rules


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"
