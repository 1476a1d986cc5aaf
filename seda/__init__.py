"""Build and validate SEDA 2.1/2.2/2.3 SIPs (ArchiveTransfer manifest + content/) for VITAM.

Two ways to build: ``write_package(header, root_unit, out_dir)`` streams an ArchiveUnit tree
(``seda.tree``: what the packaging profiles produce) into one or more SIPs; ``build_sip`` keeps
the older Fonds › Series › Item request shape as a thin layer over it. ``validate_sip`` checks a
SIP before it leaves (both schemas, references, digests, titles, rules, cycles).
"""

from typing import TYPE_CHECKING, Any

# Importing a submodule (``seda.versions``) runs this file first: the exports are loaded on first
# use, so that a light import (the configuration, a DAG file) does not load the XML schema stack.
_EXPORTS = {
    "SchemaError": "seda.errors",
    "SipError": "seda.errors",
    "UnitError": "seda.errors",
    "Management": "seda.model",
    "Payload": "seda.model",
    "Rule": "seda.model",
    "Series": "seda.model",
    "SipRequest": "seda.model",
    "SipResult": "seda.model",
    "RulesReferential": "seda.rules",
    "load_rules": "seda.rules",
    "build_sip": "seda.sip",
    "CSV": "seda.tree",
    "JSON": "seda.tree",
    "XML": "seda.tree",
    "DataObject": "seda.tree",
    "Format": "seda.tree",
    "Keyword": "seda.tree",
    "Limits": "seda.tree",
    "PackageResult": "seda.tree",
    "SipHeader": "seda.tree",
    "SipPart": "seda.tree",
    "TextWarning": "seda.tree",
    "Unit": "seda.tree",
    "stable_key": "seda.tree",
    "with_start": "seda.tree",
    "SUPPORTED_VERSIONS": "seda.validation",
    "Issue": "seda.validation",
    "ValidationReport": "seda.validation",
    "detect_version": "seda.validation",
    "validate_manifest": "seda.validation",
    "validate_sip": "seda.validation",
    "SedaVersion": "seda.versions",
    "write_package": "seda.writer",
}

if TYPE_CHECKING:
    from seda.errors import SchemaError, SipError, UnitError
    from seda.model import Management, Payload, Rule, Series, SipRequest, SipResult
    from seda.rules import RulesReferential, load_rules
    from seda.sip import build_sip
    from seda.tree import (
        CSV,
        JSON,
        XML,
        DataObject,
        Format,
        Keyword,
        Limits,
        PackageResult,
        SipHeader,
        SipPart,
        TextWarning,
        Unit,
        stable_key,
        with_start,
    )
    from seda.validation import (
        SUPPORTED_VERSIONS,
        Issue,
        ValidationReport,
        detect_version,
        validate_manifest,
        validate_sip,
    )
    from seda.versions import SedaVersion
    from seda.writer import write_package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seda' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CSV",
    "JSON",
    "SUPPORTED_VERSIONS",
    "XML",
    "DataObject",
    "Format",
    "Issue",
    "Keyword",
    "Limits",
    "Management",
    "PackageResult",
    "Payload",
    "Rule",
    "RulesReferential",
    "SchemaError",
    "SedaVersion",
    "Series",
    "SipError",
    "SipHeader",
    "SipPart",
    "SipRequest",
    "SipResult",
    "TextWarning",
    "Unit",
    "UnitError",
    "ValidationReport",
    "build_sip",
    "detect_version",
    "load_rules",
    "stable_key",
    "validate_manifest",
    "validate_sip",
    "with_start",
    "write_package",
]
