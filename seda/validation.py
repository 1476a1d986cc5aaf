"""Validation of a manifest or of a whole SIP, before it leaves for VITAM.

Checks, each named in the report:
- "xml": the manifest is well-formed;
- "version": the root namespace is a supported SEDA version (and the expected one);
- "references": ids unique, every IDREF resolves (libxml2 does not check this);
- "seda-<v>": the official XSD (lxml);
- "vitam-<v>": VITAM's ingest XSD 1.1 (xmlschema);
- for a SIP, "container" (zip layout, Uris) and "digest" (each object's digest and size).

Problems in the input are reported as issues, never raised.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree
from xmlschema import XMLSchemaChildrenValidationError, XMLSchemaValidationError

from seda import schemas
from seda.container import (
    CONTAINER,
    DIGEST,
    READ_ERRORS,
    check_objects,
    inspect_layout,
)
from seda.errors import SipError
from seda.references import CHECK as REFERENCES
from seda.references import check_references
from seda.report import Issue, ReportBuilder, ValidationReport
from seda.rules import RulesReferential
from seda.unitchecks import RULES, TREE, check_tree
from seda.versions import SUPPORTED_VERSIONS, version_of

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


def detect_version(manifest: bytes) -> str:
    """The SEDA version of a manifest, read from its root namespace.

    Raises SipError when the manifest is not XML or its namespace is not a supported version.
    """
    try:
        root = etree.parse(io.BytesIO(manifest), _parser()).getroot()
    except etree.XMLSyntaxError as exc:
        raise SipError(f"manifest is not well-formed XML (line {exc.lineno}): {exc.msg}") from exc
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
    rules: RulesReferential | None = None,
) -> ValidationReport:
    """Validate a manifest given as bytes or as a file path."""
    builder = ReportBuilder()
    root = _parse(manifest, builder)
    if root is None:
        return builder.build(None)
    return _validate_root(root, builder, schema_dir, version, vitam, rules)


def validate_sip(
    sip: Path,
    schema_dir: Path | None,
    *,
    version: str | None = None,
    vitam: bool = True,
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

        return validate_sip_streamed(sip, schema_dir, version=version, vitam=vitam, rules=rules)
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
    return _validate_root(root, builder, schema_dir, version, vitam, rules)


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
        return etree.parse(source, _parser()).getroot()
    except etree.XMLSyntaxError as exc:
        builder.add(Issue(WELL_FORMED, f"manifest is not well-formed XML: {exc.msg}", exc.lineno))
    except OSError as exc:
        builder.add(Issue(WELL_FORMED, f"cannot read the manifest: {exc}"))
    return None


def _parser() -> Any:
    # No entity expansion, no network; huge_tree because legitimate manifests can be large.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)


def _validate_root(
    root: Any,
    builder: ReportBuilder,
    schema_dir: Path | None,
    expected: str | None,
    vitam: bool,
    rules: RulesReferential | None = None,
) -> ValidationReport:
    builder.extend(VERSION, _version_issues(root, expected))
    builder.extend(REFERENCES, check_references(root))
    _tree_checks(root, builder, rules)
    actual = version_of(etree.QName(root).namespace)
    if actual is not None:
        _schema_checks(root, builder, schema_dir, actual, vitam)
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


def _schema_checks(root: Any, builder: ReportBuilder, schema_dir: Path | None, version: str, vitam: bool) -> None:
    official = f"seda-{version}"
    ingest = f"vitam-{version}"
    if schema_dir is None:
        _skip(builder, official, "schemas folder not configured")
        if vitam:
            _skip(builder, ingest, "schemas folder not configured")
        else:
            builder.skip(ingest, "disabled by the caller")
        return
    _run_official(root, builder, schemas.official_path(Path(schema_dir), version), official)
    if vitam:
        _run_vitam(root, builder, schemas.vitam_path(Path(schema_dir), version), ingest)
    else:
        builder.skip(ingest, "disabled by the caller")


def _skip(builder: ReportBuilder, check: str, reason: str) -> None:
    """A schema check that cannot run must never go unnoticed: warn, and record it."""
    log.warning("SEDA schema validation SKIPPED: %s (%s)", check, reason)
    builder.skip(check, reason)


def _run_official(root: Any, builder: ReportBuilder, main: Path, check: str) -> None:
    reason = schemas.missing_reason(main)
    if reason is not None:
        _skip(builder, check, reason)
        return
    schema = schemas.official_schema(main.resolve())
    schema.validate(root.getroottree())
    builder.extend(check, (Issue(check, _readable(error.message), error.line) for error in schema.error_log))


def _run_vitam(root: Any, builder: ReportBuilder, main: Path, check: str) -> None:
    reason = schemas.missing_reason(main)
    if reason is not None:
        _skip(builder, check, reason)
        return
    schema = schemas.vitam_schema(main.resolve())
    builder.extend(check, (_vitam_issue(check, error) for error in schema.iter_errors(root.getroottree())))


def _vitam_issue(check: str, error: XMLSchemaValidationError) -> Issue:
    message = _readable(f"{error.reason or error.message} (at {error.path})")
    return Issue(check, message, _vitam_line(error))


def _vitam_line(error: XMLSchemaValidationError) -> int | None:
    """xmlschema reports a misplaced child on its parent; point at the child itself."""
    element: Any = error.elem
    if isinstance(error, XMLSchemaChildrenValidationError) and element is not None and error.index < len(element):
        return getattr(element[error.index], "sourceline", None) or error.sourceline
    line = error.sourceline
    return line if isinstance(line, int) else None


def _readable(message: str) -> str:
    """Drop the `{namespace}` prefixes validators put before every element name."""
    return _SEDA_NAME.sub("", message).replace(_XML_NAME, "xml:")
