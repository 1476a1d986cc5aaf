"""Validation of a manifest or of a whole SIP, before it leaves for VITAM.

Checks, each named in the report:
- "xml": the manifest is well-formed;
- "xml-safety": it carries no DTD, entity declaration or external reference (refused before any
  other check: see seda.hostile);
- "version": the root namespace is a supported SEDA version (and the expected one);
- "references": ids unique, every IDREF resolves (libxml2 does not check this);
- "seda-<v>": the official XSD (lxml);
- "vitam-<v>": VITAM's ingest XSD 1.1 (xmlschema);
- for a SIP, "container" (zip layout, Uris) and "digest" (each object's digest and size).

Problems in the input are reported as issues, never raised. A schema folder that is given but
does not hold the schemas of the manifest's version is a deployment problem and raises
SchemaError; only ``schema_dir=None`` skips the schema checks (recorded in ``checks_skipped``).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from seda import schemas
from seda.container import (
    CONTAINER,
    DIGEST,
    READ_ERRORS,
    check_objects,
    inspect_layout,
)
from seda.errors import SchemaError, SipError
from seda.hostile import CHECK as SAFETY
from seda.hostile import HEAD_BYTES, doctype_line, hardened_parser, hostile_issues, refused_unparsable
from seda.references import CHECK as REFERENCES
from seda.references import check_references
from seda.report import Issue, ReportBuilder, ValidationReport
from seda.rules import RulesReferential
from seda.unitchecks import RULES, TREE, check_tree
from seda.versions import SUPPORTED_VERSIONS, version_of

if TYPE_CHECKING:
    from xmlschema import XMLSchemaValidationError

__all__ = [
    "SUPPORTED_VERSIONS",
    "Issue",
    "ValidationReport",
    "detect_version",
    "validate_manifest",
    "validate_sip",
]

log = logging.getLogger("versement.seda")

WELL_FORMED = "xml"
VERSION = "version"
_ROOT = "ArchiveTransfer"
_SEDA_NAME = re.compile(r"\{fr:gouv:culture:archivesdefrance:seda:v[0-9.]+\}")
_XML_NAME = "{http://www.w3.org/XML/1998/namespace}"
NOT_CONFIGURED = "schemas folder not configured"
# The reason callers give when their user skipped the schema checks on purpose.
SKIPPED_ON_REQUEST = "skipped on request (--no-schemas)"


def detect_version(manifest: bytes) -> str:
    """The SEDA version of a manifest, read from its root namespace.

    Raises SipError when the manifest is not XML or its namespace is not a supported version.
    """
    try:
        tree = etree.parse(io.BytesIO(manifest), hardened_parser())
    except etree.XMLSyntaxError as exc:
        declared = doctype_line(manifest[:HEAD_BYTES])
        if declared is not None:
            raise SipError(refused_unparsable(declared, exc.msg).message) from exc
        raise SipError(f"manifest is not well-formed XML (line {exc.lineno}): {exc.msg}") from exc
    hostile = hostile_issues(tree, manifest)
    if hostile:
        raise SipError(hostile[0].message)
    root = tree.getroot()
    ns = etree.QName(root).namespace
    version = version_of(ns)
    if version is None:
        raise SipError(f"unsupported SEDA namespace {ns!r} (supported: {', '.join(SUPPORTED_VERSIONS)})")
    return version


def validate_manifest(
    manifest: bytes | Path,
    schema_dir: Path | None,
    *,
    version: str | None = None,
    vitam: bool = True,
    skip_reason: str = NOT_CONFIGURED,
    rules: RulesReferential | None = None,
) -> ValidationReport:
    """Validate a manifest given as bytes or as a file path."""
    builder = ReportBuilder()
    root = _parse(manifest, builder)
    if root is None:
        return builder.build(None)
    return _validate_root(root, builder, schema_dir, version, vitam, skip_reason, rules)


def validate_sip(
    sip: Path,
    schema_dir: Path | None,
    *,
    version: str | None = None,
    vitam: bool = True,
    skip_reason: str = NOT_CONFIGURED,
    rules: RulesReferential | None = None,
    streamed: bool = True,
) -> ValidationReport:
    """Validate a zipped SIP: its layout, every object against the manifest, then the manifest.

    `rules` adds the check of every rule id against the institution's referential. By default
    the manifest is streamed (``seda.stream_validation``: flat memory, same verdicts);
    ``streamed=False`` runs the document path below, which holds the manifest as one tree.
    """
    if streamed:
        from seda.stream_validation import validate_sip_streamed

        return validate_sip_streamed(
            sip, schema_dir, version=version, vitam=vitam, rules=rules, skip_reason=skip_reason
        )
    builder = ReportBuilder()
    builder.ran(CONTAINER)
    try:
        archive = zipfile.ZipFile(sip)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        builder.add(Issue(CONTAINER, f"{Path(sip).name} is not a readable zip file: {exc}"))
        return builder.build(None)
    with archive:
        root = _read_sip(archive, builder)
    if root is None:
        return builder.build(None)
    return _validate_root(root, builder, schema_dir, version, vitam, skip_reason, rules)


def _read_sip(archive: zipfile.ZipFile, builder: ReportBuilder) -> Any:
    """Layout, manifest and object checks; the manifest root, or None when it is unusable."""
    layout = inspect_layout(archive)
    builder.extend(CONTAINER, layout.issues)
    if layout.manifest is None:
        return None
    try:
        data = archive.read(layout.manifest)
    except READ_ERRORS as exc:
        builder.add(Issue(CONTAINER, f"{layout.manifest} cannot be read from the zip: {exc}"))
        return None
    root = _parse(data, builder)
    if root is not None:
        builder.extend(DIGEST, check_objects(archive, layout, root))
    return root


def _parse(manifest: bytes | Path, builder: ReportBuilder) -> Any:
    """The root element, or None after recording why the manifest cannot be read."""
    builder.ran(WELL_FORMED)
    source: Any = str(manifest) if isinstance(manifest, Path) else io.BytesIO(manifest)
    try:
        declared = doctype_line(manifest[:HEAD_BYTES] if isinstance(manifest, bytes) else _head(manifest))
        tree = etree.parse(source, hardened_parser())
    except etree.XMLSyntaxError as exc:
        if declared is not None:  # e.g. libxml2's amplification limit stopping a billion laughs
            builder.extend(SAFETY, [refused_unparsable(declared, exc.msg)])
        else:
            builder.add(Issue(WELL_FORMED, f"manifest is not well-formed XML: {exc.msg}", exc.lineno))
        return None
    except OSError as exc:
        builder.add(Issue(WELL_FORMED, f"cannot read the manifest: {exc}"))
        return None
    # Refused before anything else looks at it: nothing in a hostile manifest is checked further.
    if isinstance(manifest, bytes):
        raw: bytes | None = manifest
    else:  # read again only to give the DOCTYPE's line
        raw = manifest.read_bytes() if _has_dtd(tree) else None
    hostile = hostile_issues(tree, raw)
    builder.extend(SAFETY, hostile)
    return None if hostile else tree.getroot()


def _head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(HEAD_BYTES)


def _has_dtd(tree: Any) -> bool:
    return bool(tree.docinfo.doctype) or tree.docinfo.internalDTD is not None


def _validate_root(
    root: Any,
    builder: ReportBuilder,
    schema_dir: Path | None,
    expected: str | None,
    vitam: bool,
    skip_reason: str,
    rules: RulesReferential | None = None,
) -> ValidationReport:
    builder.extend(VERSION, _version_issues(root, expected))
    builder.extend(REFERENCES, check_references(root))
    _tree_checks(root, builder, rules)
    actual = version_of(etree.QName(root).namespace)
    if actual is not None:
        _schema_checks(root, builder, schema_dir, actual, vitam, skip_reason)
    return builder.build(actual)


def _tree_checks(root: Any, builder: ReportBuilder, rules: RulesReferential | None) -> None:
    """Titles, levels and cycles always; rule ids when a referential is given (seda.unitchecks)."""
    found = check_tree(root, rules)
    builder.extend(TREE, [issue for issue in found if issue.check == TREE])
    if rules is not None:
        builder.extend(RULES, [issue for issue in found if issue.check == RULES])


def _version_issues(root: Any, expected: str | None) -> list[Issue]:
    qname = etree.QName(root)
    actual = version_of(qname.namespace)
    issues: list[Issue] = []
    if actual is None:
        issues.append(
            Issue(
                VERSION,
                f"unsupported SEDA namespace {qname.namespace!r} "
                f"(supported: {', '.join(SUPPORTED_VERSIONS)}); schema checks not run",
                root.sourceline,
            )
        )
    if expected is not None and expected not in SUPPORTED_VERSIONS:
        issues.append(Issue(VERSION, f"requested SEDA version {expected!r} is not supported"))
    elif expected is not None and actual is not None and expected != actual:
        issues.append(
            Issue(
                VERSION,
                f"manifest is SEDA {actual} (namespace {qname.namespace}), {expected} was expected",
                root.sourceline,
            )
        )
    if qname.localname != _ROOT:
        issues.append(
            Issue(
                VERSION,
                f"root element is {qname.localname}, a SIP manifest is an {_ROOT}",
                root.sourceline,
            )
        )
    return issues


def _schema_checks(
    root: Any, builder: ReportBuilder, schema_dir: Path | None, version: str, vitam: bool, skip_reason: str
) -> None:
    official = f"seda-{version}"
    ingest = f"vitam-{version}"
    if schema_dir is None:
        _skip(builder, official, skip_reason)
        if vitam:
            _skip(builder, ingest, skip_reason)
        else:
            builder.skip(ingest, "disabled by the caller")
        return
    _require(Path(schema_dir), schemas.official_path(Path(schema_dir), version), version)
    _run_official(root, builder, schemas.official_path(Path(schema_dir), version), official)
    if vitam:
        _require(Path(schema_dir), schemas.vitam_path(Path(schema_dir), version), version)
        _run_vitam(root, builder, schemas.vitam_path(Path(schema_dir), version), ingest)
    else:
        builder.skip(ingest, "disabled by the caller")


def _skip(builder: ReportBuilder, check: str, reason: str) -> None:
    """A schema check that cannot run must never go unnoticed: warn, and record it."""
    log.warning("SEDA schema validation SKIPPED: %s (%s)", check, reason)
    builder.skip(check, reason)


def _require(schema_dir: Path, main: Path, version: str) -> None:
    """A folder given for the schemas must hold them: a mistyped path must not pass as valid."""
    reason = schemas.missing_reason(main)
    if reason is not None:
        raise SchemaError(
            f"the schemas folder {schema_dir} does not hold the SEDA {version} schemas ({reason}); "
            f"expected {schemas.official_path(schema_dir, version)} and {schemas.vitam_path(schema_dir, version)}, "
            "each with xml.xsd and xlink.xsd beside it. Give the right folder, or skip the schema checks "
            "explicitly (--no-schemas)"
        )


def _run_official(root: Any, builder: ReportBuilder, main: Path, check: str) -> None:
    schema = schemas.official_schema(main.resolve())
    schema.validate(root.getroottree())
    builder.extend(check, (Issue(check, _readable(error.message), error.line) for error in schema.error_log))


def _run_vitam(root: Any, builder: ReportBuilder, main: Path, check: str) -> None:
    schema = schemas.vitam_schema(main.resolve())
    builder.extend(check, (_vitam_issue(check, error) for error in schema.iter_errors(root.getroottree())))


def _vitam_issue(check: str, error: XMLSchemaValidationError) -> Issue:
    message = _readable(f"{error.reason or error.message} (at {error.path})")
    return Issue(check, message, _vitam_line(error))


def _vitam_line(error: XMLSchemaValidationError) -> int | None:
    """xmlschema reports a misplaced child on its parent; point at the child itself."""
    from xmlschema import XMLSchemaChildrenValidationError  # on use: see seda.schemas.vitam_schema

    element: Any = error.elem
    if isinstance(error, XMLSchemaChildrenValidationError) and element is not None and error.index < len(element):
        return getattr(element[error.index], "sourceline", None) or error.sourceline
    line = error.sourceline
    return line if isinstance(line, int) else None


def _readable(message: str) -> str:
    """Drop the `{namespace}` prefixes validators put before every element name."""
    return _SEDA_NAME.sub("", message).replace(_XML_NAME, "xml:")
