"""Checks on the text values that end up in a manifest."""

from __future__ import annotations

import logging
import re

from seda.errors import SipError

log = logging.getLogger("versement.seda")

# Characters XML 1.0 can carry (production [2] Char). Everything else — C0 controls other than
# tab/LF/CR, lone surrogates, U+FFFE/U+FFFF — cannot be written, not even as a character reference.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# VITAM indexes each field with a length limit; longer values are accepted by the schema but
# may be refused at ingest, so we warn instead of failing (the caller decides).
VITAM_FIELD_LIMIT = 32_000


def check_text(field: str, value: object, *, required: bool = False) -> None:
    """Raise SipError naming `field` when `value` cannot go into the manifest as it is."""
    if value is None:
        if required:
            raise SipError(f"{field}: a value is required")
        return
    if not isinstance(value, str):
        raise SipError(f"{field}: expected text, got {type(value).__name__}")
    if required and not value.strip():
        raise SipError(f"{field}: must not be empty")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise SipError(
            f"{field}: character U+{ord(bad.group()):04X} at position {bad.start()} cannot be written in XML 1.0"
        )
    if len(value) > VITAM_FIELD_LIMIT:
        log.warning(
            "%s is %d characters long; VITAM accepts at most %d per field and may refuse the SIP",
            field,
            len(value),
            VITAM_FIELD_LIMIT,
        )
