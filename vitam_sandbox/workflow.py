"""The ingest controls the sandbox runs on a received SIP, in VITAM's order (vitam-api.md §10.1).

Each action either passes (an OK event in the logbook), adds WARNING events, or raises
:class:`Refusal` (a blocking KO), after which nothing else runs, as in VITAM where a KO jumps to
the finalisation step. Step, action, outcome detail and severity are VITAM's (§9.4):

STP_SANITY_CHECK_SIP   CHECK_CONTAINER.KO (not zip/tar/tar.gz/tar.bz2), MANIFEST_FILE_NAME_CHECK.KO,
                       MANIFEST_DIGEST_CHECK.KO
STP_UPLOAD_SIP         STP_UPLOAD_SIP.KO (container not unpackable, forbidden file names)
STP_INGEST_CONTROL_SIP CHECK_SEDA.CONTAINER_FORMAT.FILE/DIRECTORY.KO, CHECK_SEDA.NOT_XML_FILE.KO
                       (also a DOCTYPE), CHECK_SEDA.UNSUPPORTED_SEDA_VERSION.KO, CHECK_SEDA.NOT_XSD_VALID.KO;
                       CHECK_HEADER.CHECK_AGENT.EMPTY_REQUIRED_FIELD/UNKNOWN.KO,
                       CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST/CONTRACT_UNKNOWN/
                       CONTRACT_INACTIVE.KO, CHECK_HEADER.CHECK_IC_AP_RELATION.DIFF.KO;
                       CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_DATAOBJECT_VERSION.INVALIDE_ALGO.KO,
                       .CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_SUPERIOR_BDO/MANIFEST_INFERIOR_BDO/INVALID_URI.KO,
                       .CHECK_MANIFEST.CHECK_MANIFEST_LOOP.KO (ArchiveUnitRefId cycle),
                       .CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO (UpdateOperation to a unit
                       the sandbox does not hold, or that the contract's CheckParentLink /
                       CheckParentId / LinkParentId forbid), .CHECK_CONSISTENCY.CHECK_CONSISTENCY_ORPHAN_OBJECT.KO
STP_OG_CHECK_AND_TRANSFORME  CHECK_DIGEST.KO, CHECK_OBJECT_SIZE.WARNING, OG_OBJECTS_FORMAT_CHECK.
                       UNKNOWN.KO (WARNING if the contract has FormatUnidentifiedAuthorized and
                       EveryFormatType) / UNCHARTED.KO / REJECTED_FORMAT.KO / .WARNING (declared
                       format differs; the identified one is kept), STP_OG_CHECK_AND_TRANSFORME.WARNING
                       (no object at all)
STP_UNIT_CHECK_AND_PROCESS  CHECK_UNIT_SCHEMA.INVALID_UNIT.KO (no DescriptionLevel or Title, a value
                       over 32 000 characters), CHECK_UNIT_SCHEMA.CONSISTENCY.KO (EndDate before
                       StartDate), UNITS_RULES_COMPUTE.UNKNOWN/CONSISTENCY/REF_INCONSISTENCY.KO

The sub-codes of the tree checks (LOOP, WRONG_ATTACHMENT, ORPHAN_OBJECT) are those the reference
lists; which exact one VITAM emits for each attachment case is not documented there.

Object- and unit-level failures also leave a lifecycle event on the object group or unit at
fault (``LFC.CHECK_DIGEST.INVALID.KO`` / ``.EMPTY.KO``, ``LFC.CHECK_OBJECT_SIZE.WARNING``,
``LFC.OG_OBJECTS_FORMAT_CHECK.<sub>.<outcome>``, ``LFC.CHECK_UNIT_SCHEMA.<sub>.KO``,
``LFC.UNITS_RULES_COMPUTE.<sub>.KO``), which the ATR lists under that group or unit, as VITAM's
ATRs do (the ``LFC.`` prefix and the per-object sub-codes are the reference's; the exact
per-object detail strings are inferred).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vitam_sandbox import guid
from vitam_sandbox.config import SandboxConfig
from vitam_sandbox.container import SANITY, UPLOAD, Container, container_kind
from vitam_sandbox.events import Event, Lifecycle, Refusal, chain, event_time, lifecycle
from vitam_sandbox.formats import Identification, fido_formats, identify
from vitam_sandbox.manifest import (
    SUPPORTED_VERSIONS,
    DataObject,
    Manifest,
    NotXml,
    Unit,
    read_manifest,
)
from vitam_sandbox.referentials import IngestContract

log = logging.getLogger(__name__)

# VitamConstants.MANIFEST_FILE_NAME_REGEX, applied to the whole name.
MANIFEST_NAME = re.compile(r"([a-zA-Z0-9_\-]{0,56}[_-]{1}){0,1}(manifest.xml)\b")
DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
MANIFEST_DIGESTS = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
MAX_VALUE = 32000  # VITAM's limit on a metadata value (characters)
CHUNK = 1024 * 1024

CONTROL = "STP_INGEST_CONTROL_SIP"
OBJECTS = "STP_OG_CHECK_AND_TRANSFORME"
UNITS = "STP_UNIT_CHECK_AND_PROCESS"
STORAGE = "STP_STORAGE_AVAILABILITY_CHECK"
PACKAGE = "CHECK_DATAOBJECTPACKAGE"
HEADER = "CHECK_HEADER"
FORMAT = "OG_OBJECTS_FORMAT_CHECK"
TREE = f"{PACKAGE}.CHECK_MANIFEST"

# What access-external needs to find the units an attachment names.
UnitLookup = Callable[[str], "dict[str, Any] | None"]
UnitSearch = Callable[[], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class IngestRequest:
    blank_test: bool = False
    digest_algorithm: str | None = None  # X-Manifest-Digest-Algo
    digest_value: str | None = None  # X-Manifest-Digest-Value
    find_unit: UnitLookup = lambda unit_id: None  # a stored unit of the tenant, by GUID
    all_units: UnitSearch = lambda: ()  # every stored unit of the tenant
    forced: str | None = None  # fault injection: KO or WARNING whatever the SIP


@dataclass
class StoredObject:
    """What VITAM records about an object once checked (for the object group metadata)."""

    sha512: str
    size: int
    format: Identification | None


@dataclass
class IngestOutcome:
    status: str = "OK"  # OK | WARNING | KO
    events: list[Event] = field(default_factory=list)  # the KO/WARNING events, for the ATR
    trail: list[Event] = field(default_factory=list)  # every event, for the logbook
    manifest: Manifest | None = None
    manifest_bytes: bytes | None = None
    contract: IngestContract | None = None
    units: dict[str, str] = field(default_factory=dict)  # manifest id -> GUID (existing one for attachments)
    objects: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    stored_objects: dict[str, StoredObject] = field(default_factory=dict)  # manifest id -> facts
    parents: dict[str, list[str]] = field(default_factory=dict)  # manifest unit id -> parent GUIDs
    attached: set[str] = field(default_factory=set)  # stand-in units (existing units, not created)
    lifecycles: list[Lifecycle] = field(default_factory=list)  # per unit / object group, for the ATR
    extracted: bool = False  # the package passed CHECK_DATAOBJECTPACKAGE: VITAM extracted it
    header_read: bool = False  # CHECK_HEADER ran: obIdIn is the MessageIdentifier
    _step_warned: bool = False

    def ok(self, code: str) -> None:
        self.trail.append(Event(code, "OK", f"{code}.OK", event_time()))

    def end_step(self, step: str) -> None:
        outcome = "WARNING" if self._step_warned else "OK"
        self.trail.append(Event(step, outcome, f"{step}.{outcome}", event_time()))
        self._step_warned = False

    def warn(self, events: list[Event], lifecycles: list[Lifecycle] | None = None) -> None:
        self.lifecycles.extend(lifecycles or [])
        self.events.extend(events)
        self.trail.extend(e for e in events if e.code not in (OBJECTS, UNITS, CONTROL))
        self._step_warned = True
        if self.status == "OK":
            self.status = "WARNING"

    def refuse(self, refusal: Refusal) -> None:
        self.lifecycles.extend(refusal.lifecycles)
        self.events.extend(refusal.events)
        self.trail.extend(refusal.events)
        self.status = "KO"


def run_ingest(sip: Path, request: IngestRequest, config: SandboxConfig) -> IngestOutcome:
    """Run every control on the stored SIP and say how the ingest ends."""
    outcome = IngestOutcome()
    work = Path(tempfile.mkdtemp(prefix="sip-", dir=sip.parent))
    try:
        _controls(sip, request, config, outcome, work)
    except Refusal as refusal:
        outcome.refuse(refusal)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outcome


def _controls(sip: Path, request: IngestRequest, config: SandboxConfig, out: IngestOutcome, work: Path) -> None:
    kind = container_kind(sip)
    out.ok("CHECK_CONTAINER")
    with Container(sip, kind, work / "sip") as container:
        names = container.names
        manifest_name = _manifest_name(names)
        out.ok("MANIFEST_FILE_NAME_CHECK")
        data = container.read(manifest_name)
        out.manifest_bytes = data
        if _check_manifest_digest(data, request):
            out.ok("MANIFEST_DIGEST_CHECK")
        out.end_step(SANITY)
        out.ok("UPLOAD_SIP")
        out.end_step(UPLOAD)

        _check_layout(names)
        manifest = _read(data)
        out.manifest = manifest
        _check_schema(data, config)
        out.ok("CHECK_SEDA")
        out.contract = _check_header(manifest, config)
        out.header_read = True
        out.ok(HEADER)
        _check_package(manifest, _content_files(names), out.contract, request, out)
        out.ok(PACKAGE)
        out.end_step(CONTROL)

        _assign_guids(manifest, out)
        _check_objects(container, manifest, out, config, work)
        out.end_step(OBJECTS)
        _check_units(manifest)
        _check_rules(manifest, config)
        out.ok("CHECK_UNIT_SCHEMA")
        out.ok("UNITS_RULES_COMPUTE")
        out.end_step(UNITS)
        _forced(request, out)


# -- STP_SANITY_CHECK_SIP ------------------------------------------------------------------------


def _manifest_name(names: list[str]) -> str:
    candidates = sorted(name for name in names if "/" not in name and MANIFEST_NAME.fullmatch(name))
    if not candidates:
        raise Refusal(
            SANITY,
            "MANIFEST_FILE_NAME_CHECK",
            "MANIFEST_FILE_NAME_CHECK.KO",
            technical=f"no manifest at the root of the SIP (found: {_root_files(names)})",
        )
    return candidates[0]


def _check_manifest_digest(data: bytes, request: IngestRequest) -> bool:
    if request.digest_algorithm is None and request.digest_value is None:
        return False
    algorithm = MANIFEST_DIGESTS.get(request.digest_algorithm or "")
    if algorithm is None or not request.digest_value:
        problem = f"algorithm {request.digest_algorithm!r} / value {request.digest_value!r}"
    elif hashlib.new(algorithm, data).hexdigest() != request.digest_value:
        problem = "the manifest's digest differs from X-Manifest-Digest-Value"
    else:
        return True
    raise Refusal(SANITY, "MANIFEST_DIGEST_CHECK", "MANIFEST_DIGEST_CHECK.KO", technical=problem)


# -- STP_INGEST_CONTROL_SIP ----------------------------------------------------------------------


def _check_layout(names: list[str]) -> None:
    root_files = _root_files(names)
    if len(root_files) > 1:
        raise _seda("CONTAINER_FORMAT.FILE", f"files at the root: {', '.join(root_files)}")
    folders = sorted({name.split("/", 1)[0] for name in names if "/" in name})
    if len(folders) > 1 or any(folder.lower() != "content" for folder in folders):
        raise _seda("CONTAINER_FORMAT.DIRECTORY", f"folders at the root: {', '.join(folders)}")


def _read(data: bytes) -> Manifest:
    try:
        manifest = read_manifest(data)
    except NotXml as exc:
        raise _seda("NOT_XML_FILE", str(exc)) from None
    if manifest.version not in SUPPORTED_VERSIONS:
        raise _seda("UNSUPPORTED_SEDA_VERSION", f"namespace {manifest.namespace!r}")
    return manifest


def _check_schema(data: bytes, config: SandboxConfig) -> None:
    # Written by the seda package; imported here so that the sandbox starts without it.
    from seda.validation import validate_manifest

    report = validate_manifest(data, config.schema_dir, vitam=True)
    vitam_ran = any(check.startswith("vitam-") for check in report.checks_run)
    # VITAM validates with its own (more permissive) schema only; the official one stands in
    # for it only if the VITAM set is missing.
    relevant = [
        issue
        for issue in report.issues
        if issue.check.startswith("vitam-")
        or issue.check in ("xml", "references")
        or (issue.check.startswith("seda-") and not vitam_ran)
    ]
    if relevant:
        lines = "; ".join(f"line {i.line}: {i.message}" for i in relevant[:5])
        raise _seda("NOT_XSD_VALID", lines)


def _check_header(manifest: Manifest, config: SandboxConfig) -> IngestContract:
    referentials = config.referentials
    agent = f"{HEADER}.CHECK_AGENT"
    if not manifest.originating_agency:
        raise Refusal(
            CONTROL,
            agent,
            f"{agent}.EMPTY_REQUIRED_FIELD.KO",
            parent=HEADER,
            technical="no OriginatingAgencyIdentifier",
        )
    declared = [manifest.originating_agency, manifest.submission_agency]
    unknown = [agency for agency in declared if agency and agency not in referentials.agencies]
    if unknown:
        raise Refusal(
            CONTROL,
            agent,
            f"{agent}.UNKNOWN.KO",
            parent=HEADER,
            technical=f"unknown agencies: {', '.join(unknown)}",
        )
    check = f"{HEADER}.CHECK_CONTRACT_INGEST"
    if not manifest.archival_agreement:
        raise Refusal(CONTROL, check, f"{check}.CONTRACT_NOT_IN_MANIFEST.KO", parent=HEADER)
    contract = referentials.ingest_contracts.get(manifest.archival_agreement)
    if contract is None:
        raise Refusal(
            CONTROL,
            check,
            f"{check}.CONTRACT_UNKNOWN.KO",
            parent=HEADER,
            technical=f"unknown ingest contract {manifest.archival_agreement}",
        )
    if not contract.active:
        raise Refusal(
            CONTROL,
            check,
            f"{check}.CONTRACT_INACTIVE.KO",
            parent=HEADER,
            technical=f"ingest contract {contract.identifier} is {contract.status}",
        )
    profile = manifest.archival_profile
    if profile and profile not in contract.archive_profiles:
        relation = f"{HEADER}.CHECK_IC_AP_RELATION"
        allowed = ", ".join(contract.archive_profiles) or "none"
        raise Refusal(
            CONTROL,
            relation,
            f"{relation}.DIFF.KO",
            parent=HEADER,
            technical=f"ArchivalProfile {profile} not allowed by {contract.identifier} (allowed: {allowed})",
        )
    return contract


def _check_package(
    manifest: Manifest,
    files: list[str],
    contract: IngestContract,
    request: IngestRequest,
    out: IngestOutcome,
) -> None:
    version_check = f"{PACKAGE}.CHECK_MANIFEST_DATAOBJECT_VERSION"
    bad_algorithms = sorted({str(o.algorithm) for o in manifest.objects if o.digest and o.algorithm not in DIGESTS})
    if bad_algorithms:
        raise Refusal(
            CONTROL,
            version_check,
            f"{version_check}.INVALIDE_ALGO.KO",
            parent=PACKAGE,
            technical=f"unsupported digest algorithms: {', '.join(bad_algorithms)}",
        )
    out.ok(version_check)
    binaries = [o for o in manifest.objects if o.kind == "BinaryDataObject"]
    problem = _count_problem([o.uri or "" for o in binaries], files)
    number_check = f"{PACKAGE}.CHECK_MANIFEST_OBJECTNUMBER"
    if problem:
        raise Refusal(
            CONTROL,
            number_check,
            f"{number_check}.{problem}.KO",
            parent=PACKAGE,
            technical=f"{len(binaries)} binary objects declared, {len(files)} files in content/",
        )
    out.ok(number_check)
    _check_tree(manifest)
    _check_attachments(manifest, contract, request, out)
    out.ok(TREE)
    _check_orphans(manifest)
    out.ok(f"{PACKAGE}.CHECK_CONSISTENCY")


def _count_problem(uris: list[str], files: list[str]) -> str | None:
    if len(uris) > len(files):
        return "MANIFEST_SUPERIOR_BDO"
    if len(uris) < len(files):
        return "MANIFEST_INFERIOR_BDO"
    if Counter(uris) != Counter(files):
        return "INVALID_URI"
    return None


def _check_tree(manifest: Manifest) -> None:
    """No unit may be its own ancestor through ArchiveUnitRefId links (CHECK_MANIFEST_LOOP)."""
    children = {unit.id: unit.children for unit in manifest.units}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in children:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            below = children.get(node, ())
            if index < len(below):
                stack.append((node, index + 1))
                child = below[index]
                if state.get(child) == 1:
                    loop = [*path[path.index(child) :], child]
                    raise _tree("CHECK_MANIFEST_LOOP", f"cycle in the unit tree: {' -> '.join(loop)}")
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()


def _check_attachments(
    manifest: Manifest, contract: IngestContract, request: IngestRequest, out: IngestOutcome
) -> None:
    """UpdateOperation attachments to units already archived, and the contract's rules on them."""
    attachments = [unit for unit in manifest.units if unit.attachment]
    if attachments and contract.check_parent_link == "UNAUTHORIZED":
        ids = ", ".join(unit.id for unit in attachments)
        raise _wrong_attachment(
            f"contract {contract.identifier} forbids attachments (CheckParentLink UNAUTHORIZED): {ids}"
        )
    if not attachments and contract.check_parent_link == "REQUIRED" and not contract.link_parent_id:
        raise _wrong_attachment(f"contract {contract.identifier} requires an attachment (CheckParentLink REQUIRED)")
    for unit in attachments:
        target = _attachment_target(unit, request)
        if contract.check_parent_ids and not _under(target, contract.check_parent_ids):
            allowed = ", ".join(contract.check_parent_ids)
            raise _wrong_attachment(
                f"unit {unit.id}: {target['#id']} is not under the contract's CheckParentId ({allowed})"
            )
        out.units[unit.id] = target["#id"]
        out.attached.add(unit.id)
    if contract.link_parent_id:
        parent = request.find_unit(contract.link_parent_id)
        if parent is None:
            raise _wrong_attachment(f"LinkParentId {contract.link_parent_id} of {contract.identifier} is not archived")
        for root in _roots(manifest):
            if root.id not in out.attached:
                out.parents.setdefault(root.id, []).append(parent["#id"])


def _attachment_target(unit: Unit, request: IngestRequest) -> dict[str, Any]:
    if unit.attach_system_id is not None:
        found = request.find_unit(unit.attach_system_id)
        if found is None:
            raise _wrong_attachment(f"unit {unit.id}: SystemId {unit.attach_system_id} is not an archived unit")
        return found
    assert unit.attach_key is not None
    name, value = unit.attach_key
    matches = [stored for stored in request.all_units() if str(stored.get(name, "")) == value and value]
    if len(matches) != 1:
        raise _wrong_attachment(f"unit {unit.id}: {name} = {value!r} matches {len(matches)} archived units, not 1")
    return matches[0]


def _under(target: dict[str, Any], allowed: tuple[str, ...]) -> bool:
    return target["#id"] in allowed or any(parent in allowed for parent in target.get("#allunitups", []))


def _roots(manifest: Manifest) -> list[Unit]:
    referenced = {child for unit in manifest.units for child in unit.children}
    return [unit for unit in manifest.units if unit.id not in referenced and unit.parent is None]


def _check_orphans(manifest: Manifest) -> None:
    referenced = {unit.group_ref for unit in manifest.units if unit.group_ref}
    orphans = sorted(
        {o.group_key for o in manifest.objects if o.group_key not in referenced and o.id not in referenced}
    )
    if orphans:
        code = f"{PACKAGE}.CHECK_CONSISTENCY"
        raise Refusal(
            CONTROL,
            code,
            f"{code}.CHECK_CONSISTENCY_ORPHAN_OBJECT.KO",
            parent=PACKAGE,
            technical=f"object groups no unit references: {', '.join(orphans)}",
        )


def _assign_guids(manifest: Manifest, out: IngestOutcome) -> None:
    """VITAM extracts the package and creates its identifiers once it is consistent."""
    out.extracted = True
    for unit in manifest.units:
        out.units.setdefault(unit.id, guid.new_guid(guid.UNIT))
    out.objects = {obj.id: guid.new_guid(guid.OBJECT) for obj in manifest.objects}
    for obj in manifest.objects:
        out.groups.setdefault(obj.group_key, guid.new_guid(guid.OBJECT_GROUP))
    units_by_id = {unit.id: unit for unit in manifest.units}
    for unit in manifest.units:
        for child in unit.children:
            if child in units_by_id:
                out.parents.setdefault(child, []).append(out.units[unit.id])


# -- STP_OG_CHECK_AND_TRANSFORME -----------------------------------------------------------------


def _check_objects(
    container: Container, manifest: Manifest, out: IngestOutcome, config: SandboxConfig, work: Path
) -> None:
    if not manifest.objects:  # OK_SIP_sans_objet ends in WARNING in VITAM
        out.warn(chain(OBJECTS, OBJECTS, f"{OBJECTS}.WARNING", outcome="WARNING"))
        return
    binaries = [o for o in manifest.objects if o.kind == "BinaryDataObject"]
    wrong: list[str] = []
    failed: list[Lifecycle] = []
    identified: dict[str, Identification | None] = {}
    for item in binaries:
        declared, stored = _examine(container, item, work)
        out.stored_objects[item.id] = stored
        identified[item.id] = stored.format
        if not item.digest or declared != item.digest:
            wrong.append(item.id)
            subcode = "INVALID" if item.digest else "EMPTY"
            failed.append(lifecycle(item.group_key, "CHECK_DIGEST", subcode, "KO", item.id))
    if wrong:
        raise Refusal(
            OBJECTS,
            "CHECK_DIGEST",
            "CHECK_DIGEST.KO",
            technical=f"digest absent or different for: {', '.join(wrong)}",
            lifecycles=failed,
        )
    out.ok("CHECK_DIGEST")
    resized = [o for o in binaries if o.size is not None and o.size != out.stored_objects[o.id].size]
    if resized:
        out.warn(
            chain(
                OBJECTS,
                "CHECK_OBJECT_SIZE",
                "CHECK_OBJECT_SIZE.WARNING",
                outcome="WARNING",
                technical=f"declared size differs for: {', '.join(o.id for o in resized)}",
            ),
            [lifecycle(o.group_key, "CHECK_OBJECT_SIZE", None, "WARNING", o.id) for o in resized],
        )
    else:
        out.ok("CHECK_OBJECT_SIZE")
    _check_formats(binaries, identified, out, config)


def _examine(container: Container, item: DataObject, work: Path) -> tuple[str | None, StoredObject]:
    """Read the object once: the declared algorithm's digest, SHA-512 (what VITAM stores), size,
    and FIDO's identification (on a copy named like the object, for FIDO's extension match)."""
    assert item.uri is not None  # the object count check matched every Uri to a file
    declared = hashlib.new(DIGESTS[item.algorithm or "SHA-512"]) if item.digest else None
    sha512 = hashlib.sha512()
    copy = work / "object" / Path(item.uri).name
    copy.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with container.open(item.uri) as stream, copy.open("wb") as target:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            sha512.update(chunk)
            if declared is not None:
                declared.update(chunk)
            target.write(chunk)
    try:
        found = identify(copy, declared_puid=item.format_id) if size else None
    finally:
        copy.unlink(missing_ok=True)
    # Lowercase hex, compared as written: VITAM asks for lowercase hex digests.
    return (declared.hexdigest() if declared else None), StoredObject(sha512.hexdigest(), size, found)


def _check_formats(
    binaries: list[DataObject],
    identified: dict[str, Identification | None],
    out: IngestOutcome,
    config: SandboxConfig,
) -> None:
    contract = out.contract
    assert contract is not None
    known = config.referentials.formats if config.referentials.formats is not None else fido_formats()
    group_of = {o.id: o.group_key for o in binaries}

    def each(ids: list[str], subcode: str | None, outcome: str) -> list[Lifecycle]:
        return [lifecycle(group_of[oid], FORMAT, subcode, outcome, oid) for oid in ids]

    unknown = [o.id for o in binaries if identified[o.id] is None]
    if unknown:
        technical = f"format not identified for: {', '.join(unknown)}"
        if not (contract.format_unidentified_authorized and contract.every_format_type):
            raise Refusal(
                OBJECTS, FORMAT, f"{FORMAT}.UNKNOWN.KO", technical=technical, lifecycles=each(unknown, "UNKNOWN", "KO")
            )
        out.warn(
            chain(OBJECTS, FORMAT, f"{FORMAT}.UNKNOWN.WARNING", outcome="WARNING", technical=technical),
            each(unknown, "UNKNOWN", "WARNING"),
        )
    found = {object_id: fmt for object_id, fmt in identified.items() if fmt is not None}
    uncharted = [oid for oid, fmt in found.items() if fmt.puid not in known]
    if uncharted:
        names = ", ".join(f"{oid} ({found[oid].puid})" for oid in uncharted)
        raise Refusal(
            OBJECTS,
            FORMAT,
            f"{FORMAT}.UNCHARTED.KO",
            technical=f"formats not in the referential: {names}",
            lifecycles=each(uncharted, "UNCHARTED", "KO"),
        )
    if not contract.every_format_type:
        rejected = [oid for oid, fmt in found.items() if fmt.puid not in contract.format_types]
        if rejected:
            names = ", ".join(f"{oid} ({found[oid].puid})" for oid in rejected)
            raise Refusal(
                OBJECTS,
                FORMAT,
                f"{FORMAT}.REJECTED_FORMAT.KO",
                technical=f"formats {contract.identifier} does not allow: {names}",
                lifecycles=each(rejected, "REJECTED_FORMAT", "KO"),
            )
    differing = [
        o
        for o in binaries
        if (fmt := found.get(o.id)) is not None
        and (o.format_id != fmt.puid or (o.mime_type and fmt.mime_type and o.mime_type != fmt.mime_type))
    ]
    if differing:
        technical = "; ".join(
            f"{o.id} (declared {o.format_id or '-'} / {o.mime_type or '-'}, "
            f"identified {found[o.id].puid} / {found[o.id].mime_type or '-'})"
            for o in differing
        )
        out.warn(
            chain(OBJECTS, FORMAT, f"{FORMAT}.WARNING", outcome="WARNING", technical=technical),
            each([o.id for o in differing], None, "WARNING"),
        )
    elif not unknown:
        out.ok(FORMAT)


# -- STP_UNIT_CHECK_AND_PROCESS ------------------------------------------------------------------


def _check_units(manifest: Manifest) -> None:
    created = [u for u in manifest.units if not u.attachment]
    invalid = [u.id for u in created if not u.description_level or not u.title]
    if invalid:
        raise _unit_schema("INVALID_UNIT", f"DescriptionLevel or Title missing in: {', '.join(invalid)}", invalid)
    too_long = [u.id for u in created if u.longest_value > MAX_VALUE]
    if too_long:
        raise _unit_schema(
            "INVALID_UNIT", f"a value is over {MAX_VALUE} characters in: {', '.join(too_long)}", too_long
        )
    reversed_dates = [u.id for u in created if u.start_date and u.end_date and u.end_date[:10] < u.start_date[:10]]
    if reversed_dates:
        raise _unit_schema("CONSISTENCY", f"EndDate before StartDate in: {', '.join(reversed_dates)}", reversed_dates)


def _check_rules(manifest: Manifest, config: SandboxConfig) -> None:
    referentials = config.referentials
    plain = [r for r in manifest.rules if not r.ref_non_rule]
    unknown = [r for r in plain if referentials.rule_type(r.rule_id) is None]
    if unknown:
        names = ", ".join(f"{r.rule_id or '(empty)'} ({r.where})" for r in unknown)
        raise _rules("UNKNOWN", f"unknown rules: {names}", [r.where for r in unknown])
    misplaced = [r for r in plain if referentials.rule_type(r.rule_id) != r.category]
    if misplaced:
        names = ", ".join(f"{r.rule_id} in {r.category} ({r.where})" for r in misplaced)
        raise _rules("CONSISTENCY", f"rules of another category: {names}", [r.where for r in misplaced])
    refs = [r for r in manifest.rules if r.ref_non_rule and referentials.rule_type(r.rule_id) != r.category]
    if refs:
        names = ", ".join(
            f"{r.rule_id or '(empty)'} in {r.category} ({r.where}): {referentials.rule_type(r.rule_id) or 'unknown'}"
            for r in refs
        )
        raise _rules(
            "REF_INCONSISTENCY", f"RefNonRuleId not a known rule of its category: {names}", [r.where for r in refs]
        )


def _forced(request: IngestRequest, out: IngestOutcome) -> None:
    """Fault injection: end KO or WARNING whatever the SIP, at the storage availability step."""
    if request.forced == "KO":
        raise Refusal(
            STORAGE,
            "STORAGE_AVAILABILITY_CHECK",
            "STORAGE_AVAILABILITY_CHECK.STORAGE_OFFER_KO_UNAVAILABLE.KO",
            technical="fault injected by the test: storage offers unavailable",
        )
    if request.forced == "WARNING":
        out.warn(
            chain(
                OBJECTS,
                "CHECK_OBJECT_SIZE",
                "CHECK_OBJECT_SIZE.WARNING",
                outcome="WARNING",
                technical="fault injected by the test: a WARNING outcome",
            )
        )


# -- helpers -------------------------------------------------------------------------------------


def _seda(subcode: str, technical: str) -> Refusal:
    return Refusal(CONTROL, "CHECK_SEDA", f"CHECK_SEDA.{subcode}.KO", technical=technical)


def _tree(subcode: str, technical: str) -> Refusal:
    return Refusal(CONTROL, TREE, f"{TREE}.{subcode}.KO", parent=PACKAGE, technical=technical)


def _wrong_attachment(technical: str) -> Refusal:
    return _tree("CHECK_MANIFEST_WRONG_ATTACHMENT", technical)


def _unit_schema(subcode: str, technical: str, units: list[str]) -> Refusal:
    return _unit_refusal("CHECK_UNIT_SCHEMA", subcode, technical, units)


def _rules(subcode: str, technical: str, places: list[str]) -> Refusal:
    return _unit_refusal("UNITS_RULES_COMPUTE", subcode, technical, places)


def _unit_refusal(action: str, subcode: str, technical: str, units: list[str]) -> Refusal:
    """A unit-level KO; each unit concerned gets its lifecycle event (the package defaults,
    ``ManagementMetadata``, belong to no unit)."""
    concerned = [u for u in dict.fromkeys(units) if u != "ManagementMetadata"]
    return Refusal(
        UNITS,
        action,
        f"{action}.{subcode}.KO",
        technical=technical,
        lifecycles=[lifecycle(unit, action, subcode, "KO") for unit in concerned],
    )


def _root_files(names: list[str]) -> list[str]:
    return sorted(name for name in names if "/" not in name)


def _content_files(names: list[str]) -> list[str]:
    return sorted(name for name in names if "/" in name and not name.endswith("/"))
