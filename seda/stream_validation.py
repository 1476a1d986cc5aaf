"""Streamed validation of a SIP: both schemas, references, digests, rules and tree, in flat memory.

Validating a 100,000-unit SIP the document way (one lxml tree of the manifest, then xmlschema's
XSD 1.1 check of VITAM's schema) took 80 s and 1.45 GB. This path gives the same verdicts in
a fraction of that:

- the manifest is read with ``lxml.etree.iterparse`` from the zip, never held whole: each
  ArchiveUnit and DataObjectGroup is checked when it ends, then removed from the tree;
- libxml2 validates the stream against the official SEDA schema *during that same pass*
  (``iterparse(schema=...)``), while the pass checks ids and references, every object's Uri,
  digest and size against the zip, titles, rules against the referential and cycles;
- VITAM's XSD 1.1 schema is checked through its XSD 1.0 derivation (``seda.derived``), which
  accepts a subset of what VITAM's accepts, in a second streamed pass run in a worker process
  in parallel with the first. When the derived schema refuses a manifest, VITAM's own schema
  (xmlschema) gives the verdict and the messages, so a refusal never rests on the derivation;
- when a schema refuses the stream, libxml2 stops at the first error; the other checks are
  then completed by a pass without schema, and for manifests up to ``DOCUMENT_LIMIT`` the
  document path is run for the schema check so that every error gets its message and line.

Nothing is skipped: a check that cannot run (schemas not configured) is reported as skipped,
exactly as on the document path. ``tests/seda/test_fast_validation.py`` holds the corpus that
shows both paths give the same verdicts.
"""

from __future__ import annotations

import logging
import multiprocessing
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from seda import schemas
from seda.container import CONTAINER, DIGEST, READ_ERRORS, Layout, check_object, inspect_layout
from seda.derived import derived_vitam_schema
from seda.hostile import CHECK as SAFETY_CHECK
from seda.references import CHECK as REFERENCES
from seda.references import Declared as _Declared
from seda.references import declared_ids, reference_issue, references_in
from seda.report import Issue, ReportBuilder, ValidationReport
from seda.rules import RulesReferential
from seda.unitchecks import RULE_CATEGORIES, RULES, TREE, UnitChecker
from seda.versions import version_of

log = logging.getLogger("versement.seda")

WELL_FORMED = "xml"
VERSION = "version"
DOCUMENT_LIMIT = 64 << 20  # uncompressed manifest bytes up to which a refusal is re-run whole

_REF_NAMES = (
    "ArchiveUnitRefId",
    "DataObjectGroupReferenceId",
    "DataObjectReferenceId",
    "SignedObjectId",
    "SignedDocumentReferenceId",
    "DataObjectGroupId",
    "Relationship",
)
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


def validate_sip_streamed(
    sip: Path,
    schema_dir: Path | None,
    *,
    version: str | None = None,
    vitam: bool = True,
    rules: RulesReferential | None = None,
    parallel: bool = True,
    skip_reason: str = "schemas folder not configured",
) -> ValidationReport:
    """Validate a zipped SIP without holding its manifest; same checks and verdict as the
    document path (``seda.validation.validate_sip``)."""
    from seda import validation  # the document path: its report format and schema helpers

    builder = ReportBuilder()
    builder.ran(CONTAINER)
    try:
        archive = zipfile.ZipFile(sip)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        builder.add(Issue(CONTAINER, f"{Path(sip).name} is not a readable zip file: {exc}"))
        return builder.build(None)
    with archive:
        layout = inspect_layout(archive)
        builder.extend(CONTAINER, layout.issues)
        if layout.manifest is None:
            return builder.build(None)
        manifest = layout.manifest
        builder.ran(WELL_FORMED)
        if _declares_dtd(archive, manifest):
            # The document path's xml-safety check names every hostile construct (DTD, external
            # entities, XInclude) without expanding or fetching any: let it answer, once.
            archive.close()
            return validation.validate_sip(
                sip, schema_dir, version=version, vitam=vitam, skip_reason=skip_reason, rules=rules, streamed=False
            )
        builder.ran(SAFETY_CHECK)  # no DTD: nothing can declare or pull in entities
        ns = _root_namespace(archive, manifest)
        declared = version_of(ns)
        plan = _SchemaPlan(schema_dir, declared, vitam, builder, skip_reason)
        vitam_future = _start_vitam_pass(Path(sip), manifest, plan, parallel, archive)
        try:
            state = _checking_pass(archive, layout, manifest, plan.official, rules, ns)
            if state.fatal is not None:
                builder.add(state.fatal)
                return builder.build(None)
            if state.schema_error is not None:  # libxml2 stopped early: finish the other checks
                plan.streamed_official_error = state.schema_error
                state = _checking_pass(archive, layout, manifest, None, rules, ns)
            builder.extend(VERSION, validation._version_issues(state.root, version))
            builder.extend(REFERENCES, state.reference_issues)
            builder.extend(DIGEST, state.object_issues)
            builder.extend(TREE, [i for i in state.unit_issues if i.check == TREE])
            if rules is not None:
                builder.extend(RULES, [i for i in state.unit_issues if i.check == RULES])
            actual = version_of(etree.QName(state.root).namespace)
            if actual is None:
                return builder.build(None)
            # libxml2 does not check ID uniqueness nor IDREF targets when it validates a stream
            # (the schemas have no other identity constraint); the references check does. When
            # it finds a problem, both schema verdicts are taken from the whole document.
            ids_sound = not state.reference_issues
            _official_verdict(archive, manifest, plan, builder, ids_sound)
            _vitam_verdict(archive, manifest, plan, builder, vitam_future, ids_sound)
        finally:
            if vitam_future is not None:
                vitam_future.cancel()
    return builder.build(actual)


# -- schemas ----------------------------------------------------------------------------------


class _SchemaPlan:
    """Which schema checks run for this manifest, and which are skipped (and why)."""

    def __init__(
        self,
        schema_dir: Path | None,
        version: str | None,
        vitam: bool,
        builder: ReportBuilder,
        skip_reason: str = "schemas folder not configured",
    ) -> None:
        from seda.validation import _require  # a folder given must hold the schemas: one rule, both paths

        self.version = version
        self.official: Any = None
        self.official_name = f"seda-{version}"
        self.vitam_name = f"vitam-{version}"
        self.vitam_main: Path | None = None
        self.builder = builder
        self.streamed_official_error: str | None = None
        if version is None:
            return
        if schema_dir is None:
            self._skip(self.official_name, skip_reason)
            if vitam:
                self._skip(self.vitam_name, skip_reason)
            else:
                builder.skip(self.vitam_name, "disabled by the caller")
            return
        official = schemas.official_path(Path(schema_dir), version)
        _require(Path(schema_dir), official, version)
        self.official = schemas.official_schema(official.resolve())
        if not vitam:
            builder.skip(self.vitam_name, "disabled by the caller")
            return
        main = schemas.vitam_path(Path(schema_dir), version)
        _require(Path(schema_dir), main, version)
        self.vitam_main = main.resolve()

    def _skip(self, check: str, reason: str) -> None:
        log.warning("SEDA schema validation SKIPPED: %s (%s)", check, reason)
        self.builder.skip(check, reason)


def _root_namespace(archive: zipfile.ZipFile, manifest: str) -> str | None:
    """The namespace of the root element (read from the first start tag only)."""
    try:
        with archive.open(manifest) as stream:
            for _event, element in etree.iterparse(stream, events=("start",), **_PARSER):
                return etree.QName(element).namespace
    except (etree.XMLSyntaxError, *READ_ERRORS):
        return None
    return None


_PARSER: dict[str, Any] = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": True}


def _official_verdict(
    archive: zipfile.ZipFile, manifest: str, plan: _SchemaPlan, builder: ReportBuilder, ids_sound: bool
) -> None:
    if plan.official is None:
        return
    if plan.streamed_official_error is None and ids_sound:
        builder.ran(plan.official_name)
        return
    info = archive.getinfo(manifest)
    if info.file_size <= DOCUMENT_LIMIT:  # every error, with its line
        root = etree.fromstring(archive.read(manifest), etree.XMLParser(**_PARSER))
        plan.official.validate(root.getroottree())
        builder.extend(plan.official_name, (_official_issue(plan.official_name, e) for e in plan.official.error_log))
    elif plan.streamed_official_error is not None:
        builder.extend(plan.official_name, [Issue(plan.official_name, plan.streamed_official_error)])
    else:  # too big to hold: the references check has already refused the SIP
        builder.ran(plan.official_name)


def _official_issue(check: str, error: Any) -> Issue:
    from seda.validation import _readable

    return Issue(check, _readable(error.message), error.line)


def _start_vitam_pass(
    sip: Path, manifest: str, plan: _SchemaPlan, parallel: bool, archive: zipfile.ZipFile
) -> Future[str | None] | None:
    if plan.vitam_main is None:
        return None
    if not parallel:
        done: Future[str | None] = Future()
        done.set_result(derived_pass(str(sip), manifest, str(plan.vitam_main), archive))
        return done
    try:
        executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        future = executor.submit(derived_pass, str(sip), manifest, str(plan.vitam_main))
    except (AssertionError, OSError, RuntimeError) as exc:  # e.g. inside a daemonic worker
        log.info("derived VITAM pass runs in process (%s)", exc)
        return _start_vitam_pass(sip, manifest, plan, False, archive)
    executor.shutdown(wait=False)
    return future


def derived_pass(sip: str, manifest: str, vitam_main: str, archive: zipfile.ZipFile | None = None) -> str | None:
    """Stream the manifest through the derived VITAM schema: None when it accepts, else why not.

    In process, the caller's open `archive` is read again rather than a second ZipFile opened:
    each holds the SIP's whole central directory (about 25 MB for 40,000 objects). A forked
    worker opens its own (a file offset shared across processes cannot be).
    """
    schema = derived_vitam_schema(Path(vitam_main))
    if archive is None:
        with zipfile.ZipFile(sip) as own:
            return _derived_stream(own, manifest, schema)
    return _derived_stream(archive, manifest, schema)


def _derived_stream(archive: zipfile.ZipFile, manifest: str, schema: Any) -> str | None:
    with archive.open(manifest) as stream:
        try:
            for _event, element in etree.iterparse(stream, events=("end",), schema=schema, **_PARSER):
                if element.getparent() is not None and _is_subtree(element):
                    element.clear()
                    element.getparent().remove(element)
        except etree.XMLSyntaxError as exc:
            return str(exc.msg or exc)
    return None


def _is_subtree(element: Any) -> bool:
    tag = element.tag
    return isinstance(tag, str) and (tag.endswith("}ArchiveUnit") or tag.endswith("}DataObjectGroup"))


def _vitam_verdict(
    archive: zipfile.ZipFile,
    manifest: str,
    plan: _SchemaPlan,
    builder: ReportBuilder,
    future: Future[str | None] | None,
    ids_sound: bool,
) -> None:
    if future is None or plan.vitam_main is None:
        return
    refusal = future.result()
    if refusal is None and ids_sound:
        builder.ran(plan.vitam_name)
        return
    # The derived schema is stricter than VITAM's: let VITAM's own schema decide.
    log.info("derived VITAM schema refused the manifest (%s); checking with VITAM's schema", refusal)
    from seda.validation import _vitam_issue

    schema = schemas.vitam_schema(plan.vitam_main)
    with archive.open(manifest) as stream:
        root = etree.parse(stream, etree.XMLParser(**_PARSER))
    builder.extend(plan.vitam_name, (_vitam_issue(plan.vitam_name, e) for e in schema.iter_errors(root)))


# -- the checking pass --------------------------------------------------------------------------


@dataclass
class _State:
    root: Any = None
    fatal: Issue | None = None
    schema_error: str | None = None
    reference_issues: list[Issue] = field(default_factory=list)
    object_issues: list[Issue] = field(default_factory=list)
    unit_issues: list[Issue] = field(default_factory=list)


def _checking_pass(
    archive: zipfile.ZipFile,
    layout: Layout,
    manifest: str,
    schema: Any,
    rules: RulesReferential | None,
    ns: str | None,
) -> _State:
    state = _State()
    tags = _Tags(ns)
    tracker = _References(ns)
    checker = UnitChecker(rules)
    referenced: set[str] = set()
    # Only the elements the checks look at reach Python (filtered in C); the rest of each
    # subtree is read when its ArchiveUnit or DataObjectGroup ends.
    wanted = tags.wanted if ns is not None else None
    try:
        with archive.open(manifest) as stream:
            events = etree.iterparse(stream, events=("start", "end"), tag=wanted, schema=schema, **_PARSER)
            for event, element in events:
                if state.root is None:
                    state.root = element.getroottree().getroot()
                    if element.getroottree().docinfo.doctype:
                        state.fatal = Issue(
                            WELL_FORMED, "the manifest carries a DOCTYPE (DTD, entities): refused", element.sourceline
                        )
                        return state
                _on_event(event, element, tags, archive, layout, referenced, tracker, checker, state)
            if state.root is None:
                state.root = events.root
    except etree.XMLSyntaxError as exc:
        if schema is not None and exc.error_log and _is_schema_error(exc):
            state.schema_error = _readable_error(exc)
            return state
        state.fatal = Issue(WELL_FORMED, f"manifest is not well-formed XML: {exc.msg}", exc.lineno)
        return state
    except READ_ERRORS as exc:
        state.fatal = Issue(CONTAINER, f"{manifest} cannot be read from the zip: {exc}")
        return state
    if state.root is None:
        state.fatal = Issue(WELL_FORMED, "manifest is empty")
        return state
    if state.root.getroottree().docinfo.doctype:
        state.fatal = Issue(WELL_FORMED, "the manifest carries a DOCTYPE (DTD, entities): refused", 1)
        return state
    tracker.scan(state.root)  # whatever was not removed: header, package, metadata
    state.reference_issues.extend(tracker.finish())
    for name in sorted(set(layout.files) - referenced):
        state.object_issues.append(Issue(CONTAINER, f"{name} is in the SIP but no object references it"))
    state.unit_issues = checker.issues()
    return state


class _Tags:
    """Qualified names of the elements the checking pass handles, for one namespace."""

    def __init__(self, ns: str | None) -> None:
        q = f"{{{ns}}}" if ns else ""
        self.unit = f"{q}ArchiveUnit"
        self.content = f"{q}Content"
        self.management = f"{q}Management"
        self.metadata = f"{q}ManagementMetadata"
        self.binary = f"{q}BinaryDataObject"
        self.physical = f"{q}PhysicalDataObject"
        self.group = f"{q}DataObjectGroup"
        self.package = f"{q}DataObjectPackage"
        self.descriptive = f"{q}DescriptiveMetadata"
        self.stub = f"{q}ArchiveUnitRefId"
        self.rule = f"{q}Rule"
        self.title = f"{q}Title"
        self.root = f"{q}ArchiveTransfer"
        self.unit_parents = frozenset({self.unit, self.descriptive})
        self.rule_blocks = frozenset(f"{q}{name}" for name in RULE_CATEGORIES)
        self.wanted = [
            self.root,
            self.unit,
            self.content,
            self.management,
            self.metadata,
            self.binary,
            self.physical,
            self.group,
        ]


def _is_schema_error(exc: etree.XMLSyntaxError) -> bool:
    return any(entry.domain_name == "SCHEMASV" for entry in exc.error_log)


def _readable_error(exc: etree.XMLSyntaxError) -> str:
    from seda.validation import _readable

    entry = next(entry for entry in exc.error_log if entry.domain_name == "SCHEMASV")
    return _readable(entry.message)


def _on_event(
    event: str,
    element: Any,
    tags: _Tags,
    archive: zipfile.ZipFile,
    layout: Layout,
    referenced: set[str],
    tracker: _References,
    checker: UnitChecker,
    state: _State,
) -> None:
    tag = element.tag
    parent = element.getparent()
    parent_tag = parent.tag if parent is not None else None
    if event == "start":
        if tag == tags.unit and parent_tag in tags.unit_parents:
            checker.open_unit((element.get("id") or "").strip(), element.sourceline)
        return
    if tag == tags.content:
        if parent_tag == tags.unit:
            checker.content(element, tracker.ns)
    elif tag == tags.unit:
        if parent_tag in tags.unit_parents:
            for stub in element.iterchildren(tags.stub):
                checker.unit_reference((stub.text or "").strip(), stub.sourceline)
            checker.close_unit()
            _drop(element, tracker)
    elif tag == tags.binary:
        state.object_issues.extend(check_object(archive, layout, element, tracker.ns, referenced))
        if parent_tag == tags.package:  # SEDA 2.0-style bare object
            _drop(element, tracker)
    elif tag == tags.management:
        if parent_tag == tags.unit:
            _rules_of(element, checker, tags)
    elif tag == tags.metadata:
        _rules_of(element, checker, tags)
    elif tag in (tags.group, tags.physical) and parent_tag == tags.package:
        _drop(element, tracker)


def _rules_of(management: Any, checker: UnitChecker, tags: _Tags) -> None:
    for block in management:
        if block.tag in tags.rule_blocks:
            category = block.tag.rsplit("}", 1)[-1]
            for rule in block.iterchildren(tags.rule):
                checker.rule(category, (rule.text or "").strip(), rule.sourceline)


def _drop(element: Any, tracker: _References) -> None:
    """Record the ids and references of a finished subtree, then free it."""
    tracker.scan(element)
    element.clear()
    element.getparent().remove(element)


class _PackedIds(Mapping[str, _Declared]):
    """Declared ids, each as one int (line and kind packed): a SIP of 100,000 units and objects
    declares some 140,000 ids, and a ``Declared`` object per id cost about 15 MB more."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._kinds: list[str] = []
        self._kind_index: dict[str, int] = {}

    def put(self, value: str, kind: str, line: int | None) -> None:
        index = self._kind_index.get(kind)
        if index is None:
            index = self._kind_index[kind] = len(self._kinds)
            self._kinds.append(kind)
        self._ids[value] = ((0 if line is None else line + 1) << 32) | index

    def __getitem__(self, value: str) -> _Declared:
        packed = self._ids[value]
        line = packed >> 32
        return _Declared(self._kinds[packed & 0xFFFFFFFF], None if line == 0 else line - 1)

    def __contains__(self, value: object) -> bool:
        return value in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class _References:
    """ids declared and references made, checked as in ``seda.references`` but incrementally.

    References are resolved at the end (an ``ArchiveUnitRefId`` may point forward); those whose
    target is already declared are settled as they come, so few are held.
    """

    def __init__(self, ns: str | None) -> None:
        self.ns = ns
        self.prefix = f"{{{ns}}}" if ns else ""
        self.declared = _PackedIds()
        self.pending: list[Any] = []
        self.issues: list[Issue] = []
        self.special = [f"{self.prefix}{name}" for name in _REF_NAMES]
        self.group_id = f"{self.prefix}DataObjectGroupId"
        self.special_set = frozenset(self.special)

    def scan(self, subtree: Any) -> None:
        # Both searches run in C: elements with an id (any namespace, as seda.references reads
        # them), and the elements whose text is a reference or a SEDA 2.0 group id.
        if not isinstance(subtree.tag, str):
            return
        special = self.special_set
        for element in subtree.iter():
            tag = element.tag
            if tag in special:
                if element.get("id") is not None or element.get(_XML_ID) is not None or tag == self.group_id:
                    self.declare(element)
                self._refer(element)
            elif isinstance(tag, str) and (element.get("id") is not None or element.get(_XML_ID) is not None):
                self.declare(element)

    def declare(self, element: Any) -> None:
        # Subtrees are scanned when they end, so a unit's own id is seen after its children's:
        # a duplicate is reported at the later line with the earlier as "first", whatever the
        # order of discovery, which is what the document path (document order) reports.
        line = element.sourceline
        for value, kind in declared_ids(element, self.ns):
            first = self.declared.get(value)
            if first is None:
                self.declared.put(value, kind, line)
                continue
            early, late = (first.line, line) if (first.line or 0) <= (line or 0) else (line, first.line)
            message = f"id {value!r} is declared twice (first at line {early})"
            self.issues.append(Issue(REFERENCES, message, late))
            if late == first.line:
                self.declared.put(value, kind, line)

    def _refer(self, element: Any) -> None:
        for ref in references_in(element, self.ns):
            if ref.value in self.declared:
                issue = reference_issue(ref, self.declared)
                if issue is not None:
                    self.issues.append(issue)
            else:
                self.pending.append(ref)

    def finish(self) -> list[Issue]:
        found = list(self.issues)
        for ref in self.pending:
            issue = reference_issue(ref, self.declared)
            if issue is not None:
                found.append(issue)
        return found


def _declares_dtd(archive: zipfile.ZipFile, manifest: str) -> bool:
    """Whether the manifest's prolog holds a DOCTYPE (read from its head, nothing parsed)."""
    from seda.hostile import HEAD_BYTES, doctype_line

    try:
        with archive.open(manifest) as stream:
            head = stream.read(HEAD_BYTES)
    except READ_ERRORS:
        return False  # the checking pass reports the unreadable manifest
    return doctype_line(head) is not None
