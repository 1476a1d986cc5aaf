"""write_package: an ArchiveUnit tree (seda.tree) streamed into one or more SEDA SIPs.

Streaming. SEDA puts every data object before the descriptions, while a tree walk meets a
unit and its object together. The writer therefore keeps two spool files per SIP, one for the
DataObjectGroups and one for the (nested) ArchiveUnits, appends to both as it walks, and
writes the manifest last as header + objects + units + footer. Payloads go into the zip as
they are met, hashed (SHA-512) from the very bytes compressed; the zip's own SHA-256 is
computed while it is written (``seda.zipstream``). Memory holds the atomic subtree being
written and the path of open ancestors, whatever the number of units or bytes. The manifest
text is produced directly (escaped by ``seda.xmltext``) in the exact element order of the XSD;
every element written exists with the same shape in SEDA 2.1, 2.2 and 2.3.

Splitting. A package over ``Limits`` (default 100,000 units plus objects, or 1 GB of payload)
becomes several SIPs, cut only between two children of a streamed unit, never inside an
atomic subtree (a person's file). We chose **self-contained SIPs** over attaching later SIPs
under units of the first (VITAM's ``UpdateOperation`` with ``SystemId`` or
``ArchiveUnitIdentifierKey``):

- every SIP must pass the official SEDA schema as well as VITAM's, and ``UpdateOperation``
  exists only in VITAM's schema (a manifest using it is invalid against the official XSD);
- an attaching SIP can only be ingested after the first is accepted (its ATR gives the
  SystemId; a key lookup must match exactly one unit), which serialises the transfers and
  makes a refusal of the first SIP block all the others; self-contained SIPs are validated,
  approved (each by its own digest), transferred and retried independently;
- the tree stays coherent: each SIP repeats the path of ancestors (Fonds, Series...) with the
  same titles, rules and ``OriginatingAgencyArchiveUnitIdentifier`` keys, so an archivist (or
  a later reorganisation in VITAM) finds the parts of one series by its key. An ancestor's
  own data object (e.g. a series' data dictionary) travels in the first SIP only.

Parts are named ``<MessageIdentifier>`` when there is one SIP, ``<MessageIdentifier>-001``,
``-002``... when there are several, and their Comment says "partie n".

Reproducible: ids are sequential in document order, zip metadata is fixed, nothing depends on
the host or the time except Date (and the part's MessageIdentifier the caller chooses).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, BinaryIO

from seda.archive import zip_time
from seda.errors import SipError, UnitError
from seda.model import Management, Rule
from seda.text import check_text
from seda.tree import (
    DataObject,
    Limits,
    PackageResult,
    SipHeader,
    SipPart,
    TextWarning,
    Unit,
)
from seda.versions import SUPPORTED_VERSIONS, namespace
from seda.xmltext import VITAM_FIELD_LIMIT, clean, escape
from seda.zipstream import ZipStreamWriter

MANIFEST_NAME = "manifest.xml"
DIGEST_ALGORITHM = "SHA-512"
USAGE = "BinaryMaster_1"
MAX_WARNINGS = 1000
_BUFFER = 256 << 10

LEGAL_STATUSES = ("Public Archive", "Private Archive", "Public and Private Archive")
_FINAL_ACTIONS = {"AppraisalRule": ("Keep", "Destroy"), "StorageRule": ("RestrictAccess", "Transfer", "Copy")}


def write_package(
    header: SipHeader,
    root: Unit,
    out_dir: Path,
    *,
    limits: Limits | None = None,
    keep_digests: bool = False,
    path_for: Callable[[str], Path] | None = None,
    on_sip: Callable[[SipPart], None] | None = None,
) -> PackageResult:
    """Write `root` as one SIP, or several when it is over `limits`; every SIP with its digests.

    Nothing is left half-done: SIPs are written to ``.partial`` files and renamed when complete,
    and a failure removes every SIP of this call. `path_for` maps a part's MessageIdentifier to
    its zip path (default ``out_dir / "<id>.zip"``). `on_sip` is called with each SIP as soon as
    it is complete, e.g. to start validating it while the next one is written. Raises SipError
    (UnitError naming the unit) for a tree that cannot become a valid SIP.
    """
    _check_header(header)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _PackageWriter(
        header,
        out_dir,
        limits or Limits(),
        keep_digests,
        path_for or (lambda identifier: out_dir / f"{identifier}.zip"),
        on_sip,
    )
    try:
        writer.run(root)
    except BaseException:
        writer.abort()
        raise
    return writer.result()


def _check_header(header: SipHeader) -> None:
    """Header fields come from the configuration: refuse, never repair, what cannot be written."""
    if header.seda_version not in SUPPORTED_VERSIONS:
        raise SipError(f"seda_version: {header.seda_version!r} is not supported (use {', '.join(SUPPORTED_VERSIONS)})")
    for name in ("message_identifier", "comment", "archival_agreement", "archival_agency", "transferring_agency"):
        check_text(name, getattr(header, name), required=True)
    check_text("originating_agency", header.originating_agency, required=True)
    check_text("submission_agency", header.submission_agency)
    check_text("archival_profile", header.archival_profile)
    if header.legal_status is not None and header.legal_status not in LEGAL_STATUSES:
        raise SipError(f"legal_status: {header.legal_status!r} is not one of {', '.join(LEGAL_STATUSES)}")
    _check_management("management", header.management)


def _check_management(where: str, management: Management | None) -> None:
    if management is None:
        return
    for category, rule in _rule_blocks(management):
        check_text(f"{where}.{category}.rule_id", rule.rule_id, required=True)
    if management.final_action not in _FINAL_ACTIONS["AppraisalRule"]:
        raise SipError(f"{where}.final_action: {management.final_action!r} is not Keep or Destroy")
    if management.storage_final_action not in _FINAL_ACTIONS["StorageRule"]:
        raise SipError(f"{where}.storage_final_action: {management.storage_final_action!r} is not valid")


def _rule_blocks(management: Management) -> Iterator[tuple[str, Rule]]:
    """Rule categories in the order of SEDA's ManagementGroup."""
    if management.storage is not None:
        yield "StorageRule", management.storage
    if management.appraisal is not None:
        yield "AppraisalRule", management.appraisal
    if management.access is not None:
        yield "AccessRule", management.access


@dataclass
class _Frame:
    """An open ArchiveUnit of the current SIP."""

    group_id: str | None  # the group its DataObjectReference points to, written at close


@dataclass
class _Part:
    number: int
    partial: Path
    raw: BinaryIO
    zip: ZipStreamWriter
    objects: IO[bytes]
    units: IO[bytes]
    n_units: int = 0
    n_objects: int = 0
    n_bytes: int = 0
    has_atomic: bool = False
    next_unit: int = 0
    next_object: int = 0
    frames: list[_Frame] = field(default_factory=list)
    digests: dict[str, str] | None = None

    def unit_id(self) -> str:
        self.next_unit += 1
        return f"AU{self.next_unit}"

    def object_ids(self) -> tuple[str, str]:
        self.next_object += 1
        return f"GOT{self.next_object}", f"BDO{self.next_object}"


class _PackageWriter:
    def __init__(
        self,
        header: SipHeader,
        out_dir: Path,
        limits: Limits,
        keep_digests: bool,
        path_for: Callable[[str], Path],
        on_sip: Callable[[SipPart], None] | None = None,
    ) -> None:
        self.on_sip = on_sip
        self.header = header
        self.out_dir = out_dir
        self.limits = limits
        self.keep_digests = keep_digests
        self.path_for = path_for
        self.when = zip_time(header.date)
        self.path: list[Unit] = []  # open ancestors (containers), outermost first
        self.labels: list[str] = []
        self.done: list[SipPart] = []
        self.written: list[Path] = []
        self.warnings: list[TextWarning] = []
        self.warnings_dropped = 0
        self.part: _Part | None = None

    # -- the walk -------------------------------------------------------------------------

    def run(self, root: Unit) -> None:
        self.part = self._new_part(1)
        if root.atomic:
            self._atomic(root)
        else:
            self._container(root)
        self._finish(last=True)

    def _container(self, unit: Unit) -> None:
        label = self._label(unit)
        self._open(unit, label, with_object=True)
        self.path.append(unit)
        self.labels.append(label)
        for child in unit.children:
            if child.atomic:
                self._atomic(child)
            else:
                self._container(child)
        self.path.pop()
        self.labels.pop()
        self._close()

    def _atomic(self, unit: Unit) -> None:
        units, objects, size = _measure(unit)
        part = self._current()
        limits = self.limits
        if part.n_units + part.n_objects + units + objects > limits.max_items or part.n_bytes + size > limits.max_bytes:
            if part.has_atomic:
                self._rollover()
                part = self._current()
            if (
                part.n_units + part.n_objects + units + objects > limits.max_items
                or part.n_bytes + size > limits.max_bytes
            ):
                raise UnitError(
                    self._label(unit),
                    "size",
                    f"holds {units + objects} units and objects and {size} bytes, more than one SIP may "
                    f"({limits.max_items} units and objects, {limits.max_bytes} bytes) with its ancestors",
                )
        self._write_whole(unit)
        part.has_atomic = True

    def _write_whole(self, unit: Unit) -> None:
        label = self._label(unit)
        self._open(unit, label, with_object=True)
        self.labels.append(label)
        for child in unit.children:
            self._write_whole(child)
        self.labels.pop()
        self._close()

    def _rollover(self) -> None:
        """Close the current SIP after its open ancestors, and open them again in a new one."""
        part = self._current()
        while part.frames:
            self._close()
        self._finish(last=False)
        self.part = self._new_part(part.number + 1)
        labels = list(self.labels)
        for unit, label in zip(self.path, labels, strict=True):
            self._open(unit, label, with_object=False)

    # -- one unit -------------------------------------------------------------------------

    def _label(self, unit: Unit) -> str:
        if unit.key:
            return unit.key
        return " › ".join([*self.labels[-2:], unit.title.strip() or "(sans titre)"])

    def _open(self, unit: Unit, label: str, *, with_object: bool) -> None:
        part = self._current()
        unit_id = part.unit_id()
        group_id = None
        part.n_units += 1
        if unit.object is not None and with_object:
            group_id, size = self._store_object(unit.object, label)
            part.n_objects += 1
            part.n_bytes += size
        pieces = [f'<ArchiveUnit id="{unit_id}">\n']
        if unit.management is not None:
            pieces.append(self._management(unit.management, label))
        pieces.append(self._content(unit, label))
        part.units.write("".join(pieces).encode("utf-8"))
        part.frames.append(_Frame(group_id))

    def _close(self) -> None:
        part = self._current()
        frame = part.frames.pop()
        if frame.group_id is not None:
            tail = (
                "<DataObjectReference>\n<DataObjectGroupReferenceId>"
                f"{frame.group_id}</DataObjectGroupReferenceId>\n</DataObjectReference>\n</ArchiveUnit>\n"
            )
        else:
            tail = "</ArchiveUnit>\n"
        part.units.write(tail.encode("ascii"))

    def _content(self, unit: Unit, label: str) -> str:
        title = self._text(unit.title, label, "Title")
        if not title.strip():
            raise UnitError(label, "Title", "a unit needs a non-empty title (VITAM refuses a unit without one)")
        out = [f"<Content>\n<DescriptionLevel>{unit.level}</DescriptionLevel>\n<Title>{escape(title)}</Title>\n"]
        if unit.key:
            key = self._text(unit.key, label, "OriginatingAgencyArchiveUnitIdentifier")
            out.append(
                f"<OriginatingAgencyArchiveUnitIdentifier>{escape(key)}</OriginatingAgencyArchiveUnitIdentifier>\n"
            )
        if unit.description:
            text = self._text(unit.description, label, "Description")
            out.append(f"<Description>{escape(text)}</Description>\n")
        for keyword in unit.keywords:
            text = self._text(keyword.content, label, "Keyword")
            if text.strip():
                out.append(
                    f"<Keyword>\n<KeywordContent>{escape(text)}</KeywordContent>\n"
                    f"<KeywordType>{keyword.type}</KeywordType>\n</Keyword>\n"
                )
        if unit.start_date is not None and unit.end_date is not None and unit.start_date > unit.end_date:
            raise UnitError(label, "StartDate", f"{_day(unit.start_date)} is after EndDate {_day(unit.end_date)}")
        if unit.start_date is not None:
            out.append(f"<StartDate>{_day(unit.start_date)}</StartDate>\n")
        if unit.end_date is not None:
            out.append(f"<EndDate>{_day(unit.end_date)}</EndDate>\n")
        out.append("</Content>\n")
        return "".join(out)

    def _management(self, management: Management, label: str) -> str:
        blocks = _management_blocks(management, label)
        return f"<Management>\n{blocks}</Management>\n" if blocks else ""

    def _text(self, value: str, label: str, name: str) -> str:
        if not isinstance(value, str):
            raise UnitError(label, name, f"expected text, got {type(value).__name__}")
        text, problem = clean(value)
        if problem is not None:
            self._warn(TextWarning(label, name, problem))
        if len(text) > VITAM_FIELD_LIMIT:
            self._warn(TextWarning(label, name, f"{len(text)} characters; VITAM indexes at most {VITAM_FIELD_LIMIT}"))
        return text

    def _warn(self, warning: TextWarning) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(warning)
        else:
            self.warnings_dropped += 1

    def _store_object(self, obj: DataObject, label: str) -> tuple[str, int]:
        part = self._current()
        group_id, object_id = part.object_ids()
        uri = f"content/{object_id}{obj.format.extension}"
        if obj.data is not None:
            if not obj.data:
                raise UnitError(label, "object", "the data object is empty (SEDA Size must be above 0)")
            stored = part.zip.write_bytes(uri, obj.data)
        else:
            source = obj.source or ""
            try:
                stored = part.zip.write_file(uri, source)
            except OSError as exc:
                raise UnitError(label, "object", f"cannot read {source}: {exc.strerror or exc}") from exc
            if stored.size == 0:
                raise UnitError(label, "object", f"{source} is empty (0 bytes); SEDA requires a Size above 0")
        filename = self._text(obj.filename, label, "Filename")
        if not filename.strip():
            raise UnitError(label, "Filename", "a data object needs a file name")
        fmt = obj.format
        literal = f"<FormatLitteral>{escape(fmt.name)}</FormatLitteral>\n" if fmt.name else ""
        part.objects.write(
            (
                f'<DataObjectGroup id="{group_id}">\n<BinaryDataObject id="{object_id}">\n'
                f"<DataObjectVersion>{USAGE}</DataObjectVersion>\n<Uri>{uri}</Uri>\n"
                f'<MessageDigest algorithm="{DIGEST_ALGORITHM}">{stored.sha512}</MessageDigest>\n'
                f"<Size>{stored.size}</Size>\n<FormatIdentification>\n{literal}"
                f"<MimeType>{escape(fmt.mime_type)}</MimeType>\n<FormatId>{escape(fmt.puid)}</FormatId>\n"
                f"</FormatIdentification>\n<FileInfo>\n<Filename>{escape(filename)}</Filename>\n</FileInfo>\n"
                "</BinaryDataObject>\n</DataObjectGroup>\n"
            ).encode()
        )
        if part.digests is not None:
            part.digests[uri] = stored.sha512
        return group_id, stored.size

    # -- SIP files ------------------------------------------------------------------------

    def _current(self) -> _Part:
        assert self.part is not None
        return self.part

    def _new_part(self, number: int) -> _Part:
        partial = self.out_dir / f".{self.header.message_identifier}-{number:03d}.zip.partial"
        raw = partial.open("wb", buffering=_BUFFER)
        self.written.append(partial)
        return _Part(
            number=number,
            partial=partial,
            raw=raw,
            zip=ZipStreamWriter(raw, self.when),
            objects=tempfile.TemporaryFile(dir=self.out_dir, prefix=".objects-", buffering=_BUFFER),
            units=tempfile.TemporaryFile(dir=self.out_dir, prefix=".units-", buffering=_BUFFER),
            digests={} if self.keep_digests else None,
        )

    def _finish(self, *, last: bool) -> None:
        part = self._current()
        split = not (last and part.number == 1)
        identifier = self.header.message_identifier + (f"-{part.number:03d}" if split else "")
        comment = self.header.comment + (f" — partie {part.number}" if split else "")
        head, middle, tail = self._manifest_frame(identifier, comment)
        manifest = part.zip.write_parts(MANIFEST_NAME, [head, part.objects, middle, part.units, tail])
        part.objects.close()
        part.units.close()
        sha256 = part.zip.close()
        part.raw.flush()
        os.fsync(part.raw.fileno())
        part.raw.close()
        target = self.path_for(identifier)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part.partial, target)
        self.written.remove(part.partial)
        self.written.append(target)
        self.done.append(
            SipPart(
                path=target,
                message_identifier=identifier,
                sha256=sha256,
                manifest_sha512=manifest.sha512,
                unit_count=part.n_units,
                object_count=part.n_objects,
                payload_bytes=part.n_bytes,
                objects=part.digests or {},
            )
        )
        self.part = None
        if self.on_sip is not None:
            self.on_sip(self.done[-1])

    def _manifest_frame(self, identifier: str, comment: str) -> tuple[bytes, bytes, bytes]:
        return _manifest_head(self.header, identifier, comment), b"<DescriptiveMetadata>\n", _manifest_tail(self.header)

    def abort(self) -> None:
        part = self.part
        if part is not None:
            part.zip.abort()
            for handle in (part.objects, part.units, part.raw):
                with suppress(OSError):
                    handle.close()
        for path in self.written:
            path.unlink(missing_ok=True)

    def result(self) -> PackageResult:
        return PackageResult(
            sips=tuple(self.done),
            warnings=tuple(self.warnings),
            warnings_dropped=self.warnings_dropped,
            units=sum(p.unit_count for p in self.done),
            objects=sum(p.object_count for p in self.done),
        )


def _manifest_head(header: SipHeader, identifier: str, comment: str) -> bytes:
    ns = namespace(header.seda_version)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ArchiveTransfer xmlns="{ns}">\n'
        f"<Comment>{escape(comment)}</Comment>\n"
        f"<Date>{_moment(header.date)}</Date>\n"
        f"<MessageIdentifier>{escape(identifier)}</MessageIdentifier>\n"
        f"<ArchivalAgreement>{escape(header.archival_agreement)}</ArchivalAgreement>\n"
        # Mandatory in every version; all its children are optional and VITAM ignores them.
        "<CodeListVersions/>\n"
        "<DataObjectPackage>\n"
    ).encode()


def _manifest_tail(header: SipHeader) -> bytes:
    out = ["</DescriptiveMetadata>\n<ManagementMetadata>\n"]
    if header.archival_profile:
        out.append(f"<ArchivalProfile>{escape(header.archival_profile)}</ArchivalProfile>\n")
    if header.legal_status:
        out.append(f"<LegalStatus>{header.legal_status}</LegalStatus>\n")
    out.append(f"<OriginatingAgencyIdentifier>{escape(header.originating_agency)}</OriginatingAgencyIdentifier>\n")
    if header.submission_agency:
        out.append(f"<SubmissionAgencyIdentifier>{escape(header.submission_agency)}</SubmissionAgencyIdentifier>\n")
    if header.management is not None:
        out.append(_management_blocks(header.management, "ManagementMetadata"))
    out.append("</ManagementMetadata>\n</DataObjectPackage>\n")
    out.append(f"<ArchivalAgency>\n<Identifier>{escape(header.archival_agency)}</Identifier>\n</ArchivalAgency>\n")
    out.append(
        f"<TransferringAgency>\n<Identifier>{escape(header.transferring_agency)}</Identifier>\n</TransferringAgency>\n"
    )
    out.append("</ArchiveTransfer>\n")
    return "".join(out).encode("utf-8")


def _management_blocks(management: Management, label: str) -> str:
    out = []
    for category, rule in _rule_blocks(management):
        rule_id, problem = clean(rule.rule_id)
        if problem is not None or not rule_id.strip():
            raise UnitError(label, category, f"rule identifier {rule.rule_id!r} cannot be written")
        out.append(f"<{category}>\n<Rule>{escape(rule_id.strip())}</Rule>\n")
        if rule.start_date is not None:
            out.append(f"<StartDate>{_day(rule.start_date)}</StartDate>\n")
        if category == "AppraisalRule":
            out.append(f"<FinalAction>{management.final_action}</FinalAction>\n")
        elif category == "StorageRule":
            out.append(f"<FinalAction>{management.storage_final_action}</FinalAction>\n")
        out.append(f"</{category}>\n")
    return "".join(out)


def _measure(unit: Unit) -> tuple[int, int, int]:
    """Units, objects and payload bytes of an atomic subtree (its children are all Sequences)."""
    units, objects, size = 1, 0, 0
    obj = unit.object
    if obj is not None:
        objects = 1
        try:
            size = len(obj.data) if obj.data is not None else os.stat(obj.source or "").st_size
        except OSError as exc:
            label = unit.key or unit.title
            raise UnitError(label, "object", f"cannot read {obj.source}: {exc.strerror or exc}") from exc
    children = unit.children
    if not isinstance(children, Sequence):
        raise UnitError(unit.key or unit.title, "children", "inside an atomic subtree children must be a list")
    for child in children:
        more_units, more_objects, more_size = _measure(child)
        units += more_units
        objects += more_objects
        size += more_size
    return units, objects, size


def _fits(part: _Part, items: int, size: int, limits: Limits) -> bool:
    return part.n_units + part.n_objects + items <= limits.max_items and part.n_bytes + size <= limits.max_bytes


def _day(day: date) -> str:
    return (day.date() if isinstance(day, datetime) else day).isoformat()


def _moment(moment: datetime) -> str:
    return moment.isoformat()
