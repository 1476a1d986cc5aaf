"""The ingest controls the sandbox runs on a received SIP, in VITAM's order (vitam-api.md §10.1).

Each check either passes, adds WARNING events, or raises :class:`Refusal` (a blocking KO), after
which nothing else runs, as in VITAM where a KO jumps to the finalisation step.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vitam_sandbox import guid
from vitam_sandbox.config import SandboxConfig
from vitam_sandbox.events import Event, Refusal, chain
from vitam_sandbox.manifest import (
    SUPPORTED_VERSIONS,
    DataObject,
    Manifest,
    NotXml,
    read_manifest,
)

log = logging.getLogger(__name__)

# VitamConstants.MANIFEST_FILE_NAME_REGEX, applied to the whole name.
MANIFEST_NAME = re.compile(r"([a-zA-Z0-9_\-]{0,56}[_-]{1}){0,1}(manifest.xml)\b")
DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
MANIFEST_DIGESTS = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
CHUNK = 1024 * 1024

SANITY = "STP_SANITY_CHECK_SIP"
CONTROL = "STP_INGEST_CONTROL_SIP"
OBJECTS = "STP_OG_CHECK_AND_TRANSFORME"
UNITS = "STP_UNIT_CHECK_AND_PROCESS"
PACKAGE = "CHECK_DATAOBJECTPACKAGE"
HEADER = "CHECK_HEADER"


@dataclass(frozen=True)
class IngestRequest:
    blank_test: bool = False
    digest_algorithm: str | None = None  # X-Manifest-Digest-Algo
    digest_value: str | None = None  # X-Manifest-Digest-Value


@dataclass
class IngestOutcome:
    status: str = "OK"  # OK | WARNING | KO
    events: list[Event] = field(default_factory=list)  # the KO/WARNING events, for the ATR
    manifest: Manifest | None = None
    manifest_bytes: bytes | None = None
    units: dict[str, str] = field(default_factory=dict)  # manifest id -> GUID
    objects: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    extracted: bool = False  # the package passed CHECK_DATAOBJECTPACKAGE: VITAM extracted it

    def warn(self, events: list[Event]) -> None:
        self.events.extend(events)
        if self.status == "OK":
            self.status = "WARNING"

    def refuse(self, refusal: Refusal) -> None:
        self.events.extend(refusal.events)
        self.status = "KO"


def run_ingest(sip: Path, request: IngestRequest, config: SandboxConfig) -> IngestOutcome:
    """Run every control on the stored SIP and say how the ingest ends."""
    outcome = IngestOutcome()
    try:
        _controls(sip, request, config, outcome)
    except Refusal as refusal:
        outcome.refuse(refusal)
    return outcome


def _controls(sip: Path, request: IngestRequest, config: SandboxConfig, out: IngestOutcome) -> None:
    with _open_container(sip) as archive:
        names = [info.filename for info in archive.infolist()]
        manifest_name = _manifest_name(names)
        data = archive.read(manifest_name)
        out.manifest_bytes = data
        _check_manifest_digest(data, request)
        _check_layout(names)
        manifest = _read(data)
        out.manifest = manifest
        _check_schema(data, config)
        _check_header(manifest, config)
        _check_package(manifest, _content_files(names))
        _assign_guids(manifest, out)
        _check_objects(archive, manifest, out)
        _check_units(manifest)
        _check_rules(manifest, config)


# -- STP_SANITY_CHECK_SIP ------------------------------------------------------------------------


def _open_container(sip: Path) -> zipfile.ZipFile:
    # VITAM identifies the container with Siegfried and also takes tar; the sandbox takes zip.
    try:
        return zipfile.ZipFile(sip)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise Refusal(SANITY, "CHECK_CONTAINER", "CHECK_CONTAINER.KO", technical=str(exc)) from None


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


def _check_manifest_digest(data: bytes, request: IngestRequest) -> None:
    if request.digest_algorithm is None and request.digest_value is None:
        return
    algorithm = MANIFEST_DIGESTS.get(request.digest_algorithm or "")
    if algorithm is None or not request.digest_value:
        problem = f"algorithm {request.digest_algorithm!r} / value {request.digest_value!r}"
    elif hashlib.new(algorithm, data).hexdigest() != request.digest_value:
        problem = "the manifest's digest differs from X-Manifest-Digest-Value"
    else:
        return
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
    # Written by the seda package; imported here so that the client never needs it.
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


def _check_header(manifest: Manifest, config: SandboxConfig) -> None:
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
    unknown = [agency for agency in declared if agency and agency not in config.agencies]
    if unknown:
        raise Refusal(
            CONTROL,
            agent,
            f"{agent}.UNKNOWN.KO",
            parent=HEADER,
            technical=f"unknown agencies: {', '.join(unknown)}",
        )
    contract = f"{HEADER}.CHECK_CONTRACT_INGEST"
    if not manifest.archival_agreement:
        raise Refusal(CONTROL, contract, f"{contract}.CONTRACT_NOT_IN_MANIFEST.KO", parent=HEADER)
    if manifest.archival_agreement not in config.ingest_contracts:
        raise Refusal(
            CONTROL,
            contract,
            f"{contract}.CONTRACT_UNKNOWN.KO",
            parent=HEADER,
            technical=f"unknown ingest contract {manifest.archival_agreement}",
        )


def _check_package(manifest: Manifest, files: list[str]) -> None:
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
    binaries = [o for o in manifest.objects if o.kind == "BinaryDataObject"]
    problem = _count_problem([o.uri or "" for o in binaries], files)
    if problem:
        number_check = f"{PACKAGE}.CHECK_MANIFEST_OBJECTNUMBER"
        raise Refusal(
            CONTROL,
            number_check,
            f"{number_check}.{problem}.KO",
            parent=PACKAGE,
            technical=f"{len(binaries)} binary objects declared, {len(files)} files in content/",
        )


def _count_problem(uris: list[str], files: list[str]) -> str | None:
    if len(uris) > len(files):
        return "MANIFEST_SUPERIOR_BDO"
    if len(uris) < len(files):
        return "MANIFEST_INFERIOR_BDO"
    if Counter(uris) != Counter(files):
        return "INVALID_URI"
    return None


def _assign_guids(manifest: Manifest, out: IngestOutcome) -> None:
    """VITAM extracts the package and creates its identifiers once it is consistent."""
    out.extracted = True
    out.units = {unit.id: guid.new_guid(guid.UNIT) for unit in manifest.units}
    out.objects = {obj.id: guid.new_guid(guid.OBJECT) for obj in manifest.objects}
    for obj in manifest.objects:
        out.groups.setdefault(obj.group_key, guid.new_guid(guid.OBJECT_GROUP))


# -- STP_OG_CHECK_AND_TRANSFORME -----------------------------------------------------------------


def _check_objects(archive: zipfile.ZipFile, manifest: Manifest, out: IngestOutcome) -> None:
    if not manifest.objects:  # OK_SIP_sans_objet ends in WARNING in VITAM
        out.warn(chain(OBJECTS, OBJECTS, f"{OBJECTS}.WARNING", outcome="WARNING"))
        return
    binaries = [o for o in manifest.objects if o.kind == "BinaryDataObject"]
    wrong = [o.id for o in binaries if _digest(archive, o) != o.digest]
    if wrong:
        raise Refusal(
            OBJECTS,
            "CHECK_DIGEST",
            "CHECK_DIGEST.KO",
            technical=f"digest absent or different for: {', '.join(wrong)}",
        )
    resized = [o.id for o in binaries if o.size is not None and o.size != _size(archive, o)]
    if resized:
        out.warn(
            chain(
                OBJECTS,
                "CHECK_OBJECT_SIZE",
                "CHECK_OBJECT_SIZE.WARNING",
                outcome="WARNING",
                technical=f"declared size differs for: {', '.join(resized)}",
            )
        )


def _digest(archive: zipfile.ZipFile, item: DataObject) -> str | None:
    # Lowercase hex, compared as written: VITAM asks for lowercase hex digests.
    if not item.digest or not item.uri:
        return None
    hasher = hashlib.new(DIGESTS[item.algorithm or ""])
    with archive.open(item.uri) as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _size(archive: zipfile.ZipFile, item: DataObject) -> int:
    return archive.getinfo(item.uri or "").file_size


# -- STP_UNIT_CHECK_AND_PROCESS ------------------------------------------------------------------


def _check_units(manifest: Manifest) -> None:
    invalid = [u.id for u in manifest.units if not u.description_level or not u.title]
    if invalid:
        raise Refusal(
            UNITS,
            "CHECK_UNIT_SCHEMA",
            "CHECK_UNIT_SCHEMA.INVALID_UNIT.KO",
            technical=f"DescriptionLevel or Title missing in: {', '.join(invalid)}",
        )


def _check_rules(manifest: Manifest, config: SandboxConfig) -> None:
    unknown = [r for r in manifest.rules if r.rule_id not in config.rules]
    if unknown:
        names = ", ".join(f"{r.rule_id or '(empty)'} ({r.where})" for r in unknown)
        raise Refusal(
            UNITS,
            "UNITS_RULES_COMPUTE",
            "UNITS_RULES_COMPUTE.UNKNOWN.KO",
            technical=f"unknown rules: {names}",
        )
    misplaced = [r for r in manifest.rules if config.rules[r.rule_id] != r.category]
    if misplaced:
        names = ", ".join(f"{r.rule_id} in {r.category} ({r.where})" for r in misplaced)
        raise Refusal(
            UNITS,
            "UNITS_RULES_COMPUTE",
            "UNITS_RULES_COMPUTE.CONSISTENCY.KO",
            technical=f"rules of another category: {names}",
        )


# -- helpers -------------------------------------------------------------------------------------


def _seda(subcode: str, technical: str) -> Refusal:
    return Refusal(CONTROL, "CHECK_SEDA", f"CHECK_SEDA.{subcode}.KO", technical=technical)


def _root_files(names: list[str]) -> list[str]:
    return sorted(name for name in names if "/" not in name)


def _content_files(names: list[str]) -> list[str]:
    return sorted(name for name in names if "/" in name and not name.endswith("/"))
