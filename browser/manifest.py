"""A readable summary of a SIP's manifest: its unit tree with levels, titles, dates and rules.

The manifest is read from the SIP zip the ledger names (the member ``manifest.xml``, never a
name from the request), with a parser that resolves no entity, loads no DTD and reaches no
network, and a size cap, so a hostile file cannot make the browser read anything else.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

MANIFEST_MEMBER = "manifest.xml"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
RULE_KINDS_FR = {"AppraisalRule": "durée d'utilité administrative", "AccessRule": "communicabilité"}
FINAL_ACTIONS_FR = {"Keep": "conserver", "Destroy": "détruire"}


@dataclass(frozen=True)
class RuleLine:
    kind: str
    rule: str
    start_date: str | None
    final_action: str | None


@dataclass(frozen=True)
class Unit:
    unit_id: str
    level: str
    title: str
    start_date: str | None
    end_date: str | None
    rules: tuple[RuleLine, ...]
    children: tuple[Unit, ...] = field(default=())


class ManifestUnreadable(Exception):
    """The SIP or its manifest is missing, too large or not well-formed XML."""


def read_manifest(sip_path: Path) -> bytes:
    try:
        with zipfile.ZipFile(sip_path) as sip:
            info = sip.getinfo(MANIFEST_MEMBER)
            if info.file_size > MAX_MANIFEST_BYTES:
                raise ManifestUnreadable(f"manifest larger than {MAX_MANIFEST_BYTES} bytes")
            return sip.read(info)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ManifestUnreadable(str(exc)) from None


def read_file(path: Path) -> bytes:
    """A manifest kept as a file of its own (VITAM's copy of a purged SIP's), with the same cap."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestUnreadable(f"manifest larger than {MAX_MANIFEST_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise ManifestUnreadable(str(exc)) from None


def units(content: bytes) -> tuple[Unit, ...]:
    """The top-level archive units of the manifest, with their children."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ManifestUnreadable(str(exc)) from None
    found = root.xpath("//*[local-name()='DescriptiveMetadata']/*[local-name()='ArchiveUnit']")
    return tuple(_unit(element) for element in found)


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    return None


def _text(element: etree._Element | None, name: str) -> str | None:
    found = _child(element, name) if element is not None else None
    return found.text if found is not None and found.text else None


def _unit(element: etree._Element) -> Unit:
    content = _child(element, "Content")
    management = _child(element, "Management")
    rules = []
    if management is not None:
        for kind in ("AppraisalRule", "AccessRule"):
            node = _child(management, kind)
            if node is not None:
                rules.append(
                    RuleLine(
                        kind=RULE_KINDS_FR[kind],
                        rule=_text(node, "Rule") or "—",
                        start_date=_text(node, "StartDate"),
                        final_action=FINAL_ACTIONS_FR.get(_text(node, "FinalAction") or "", _text(node, "FinalAction")),
                    )
                )
    children = tuple(_unit(child) for child in element if _is(child, "ArchiveUnit"))
    return Unit(
        unit_id=element.get("id", ""),
        level=_text(content, "DescriptionLevel") or "",
        title=_text(content, "Title") or "",
        start_date=_text(content, "StartDate"),
        end_date=_text(content, "EndDate"),
        rules=tuple(rules),
        children=children,
    )


def _is(element: etree._Element, name: str) -> bool:
    return isinstance(element.tag, str) and etree.QName(element).localname == name


def object_units(content: bytes) -> dict[str, tuple[str, ...]]:
    """For each object's file name (``resultats_elements.csv``), the archive unit that holds it
    and that unit's ancestors, nearest first: where a dataset's rows went in the SIP."""
    return unit_chains(content)[0]


def unit_chains(content: bytes) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Two maps of the manifest's units, each to the unit and its ancestors, nearest first: by the
    file name of the object a unit holds (as ``object_units``), and by the unit's key, its
    ``OriginatingAgencyArchiveUnitIdentifier`` (``apogee:etudiant:100083``, the keys packaging
    gives: ``versement.packaging.person_file_key``, ``table_key``...). A person's documents all
    bear the same file names (``identite.json``): only their File's key tells whose they are."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ManifestUnreadable(str(exc)) from None
    files: dict[str, str] = {}  # group id → file name
    for group in root.xpath("//*[local-name()='DataObjectGroup']"):
        for name in group.xpath(".//*[local-name()='FileInfo']/*[local-name()='Filename']"):
            if name.text:
                files[group.get("id", "")] = name.text
    by_file: dict[str, tuple[str, ...]] = {}
    for reference in root.xpath("//*[local-name()='ArchiveUnit']/*[local-name()='DataObjectReference']"):
        group_id = "".join(reference.xpath("./*[local-name()='DataObjectGroupReferenceId']/text()")).strip()
        if group_id in files:
            by_file.setdefault(files[group_id], _chain(reference.getparent()))
    by_key: dict[str, tuple[str, ...]] = {}
    for key in root.xpath(
        "//*[local-name()='ArchiveUnit']/*[local-name()='Content']/*[local-name()='OriginatingAgencyArchiveUnitIdentifier']"
    ):
        if key.text and key.text.strip():
            by_key.setdefault(key.text.strip(), _chain(key.getparent().getparent()))
    return by_file, by_key


def _chain(unit: etree._Element | None) -> tuple[str, ...]:
    """The unit's id and its ancestor units' ids, nearest first."""
    chain = []
    while unit is not None and _is(unit, "ArchiveUnit"):
        chain.append(unit.get("id", ""))
        unit = unit.getparent()
    return tuple(chain)
