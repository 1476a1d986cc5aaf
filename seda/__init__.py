"""Build and validate SEDA 2.1/2.2/2.3 SIPs (ArchiveTransfer manifest + content/) for VITAM.

Two ways to build: ``write_package(header, root_unit, out_dir)`` streams an ArchiveUnit tree
(``seda.tree``: what the packaging profiles produce) into one or more SIPs; ``build_sip`` keeps
the older Fonds › Series › Item request shape as a thin layer over it. ``validate_sip`` checks a
SIP before it leaves (both schemas, references, digests, titles, rules, cycles).
"""

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
