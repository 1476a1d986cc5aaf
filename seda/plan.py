"""Names inside the SIP: VITAM's rule for Uri segments and the extension kept from a file name."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

# VITAM's rule for each Uri path segment (SIP structuration guide).
URI_SEGMENT = re.compile(r"^[a-zA-Z0-9\-_@]+(\.[a-zA-Z0-9\-_@]+)*$")
CONTENT_FOLDER = "content"
_MAX_EXTENSION = 16


def safe_extension(filename: str) -> str:
    """The file extension reduced to lowercase ASCII letters and digits ("" when nothing is left).

    Accents are folded ("é" -> "e") and anything else is dropped, so the Uri always satisfies
    VITAM's segment pattern whatever the original name holds.
    """
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix[1:]
    folded = unicodedata.normalize("NFKD", suffix).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9]", "", folded).lower()[:_MAX_EXTENSION]
    return f".{cleaned}" if cleaned else ""
