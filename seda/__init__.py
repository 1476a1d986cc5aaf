"""Build and validate SEDA 2.1/2.2/2.3 SIPs (ArchiveTransfer manifest + content/) for VITAM."""

from seda.errors import SchemaError, SipError
from seda.model import Management, Payload, Rule, Series, SipRequest, SipResult
from seda.sip import build_sip
from seda.validation import (
    SUPPORTED_VERSIONS,
    Issue,
    ValidationReport,
    detect_version,
    validate_manifest,
    validate_sip,
)
from seda.versions import SedaVersion

__all__ = [
    "SUPPORTED_VERSIONS",
    "Issue",
    "Management",
    "Payload",
    "Rule",
    "SchemaError",
    "SedaVersion",
    "Series",
    "SipError",
    "SipRequest",
    "SipResult",
    "ValidationReport",
    "build_sip",
    "detect_version",
    "validate_manifest",
    "validate_sip",
]
