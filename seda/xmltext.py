"""Text from the data, made safe for the manifest.

The rule (documented for archivists in the batch's warnings): every character XML 1.0 cannot
carry, not even as a character reference (C0 controls other than tab, LF and CR; lone
surrogates; U+FFFE and U+FFFF), is replaced by U+FFFD REPLACEMENT CHARACTER, the character
Unicode defines for "a character that could not be represented". The warning names the unit,
the field and the code points replaced, so the original can be found in the Parquet file and
the source. Everything else is kept as is; ``&``, ``<`` and ``>`` are escaped, and CR is written
as ``&#13;`` so that XML's end-of-line normalisation does not turn it into LF.
"""

from __future__ import annotations

import re

NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"
VITAM_FIELD_LIMIT = 32_000  # characters VITAM indexes per field


def clean(value: str) -> tuple[str, str | None]:
    """`value` with forbidden characters replaced, and a description of what was replaced."""
    found = NOT_XML_CHAR.findall(value)
    if not found:
        return value, None
    points = sorted({f"U+{ord(char):04X}" for char in found})
    return NOT_XML_CHAR.sub(REPLACEMENT, value), (
        f"{len(found)} character(s) XML 1.0 forbids ({', '.join(points)}) replaced by U+FFFD"
    )


def escape(value: str) -> str:
    """Element content; `value` must already be clean."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value
