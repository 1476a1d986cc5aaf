"""Format identification of the objects of a SIP with FIDO (PRONOM signatures).

VITAM identifies each object with Siegfried against PRONOM (vitam-api.md §10.1,
``OG_OBJECTS_FORMAT_CHECK``); Siegfried is not packaged for Python, FIDO is (``opf-fido``) and
reads the same PRONOM signatures. One FIDO instance is built per process (loading the
signatures takes about a second) and used under a lock: FIDO keeps per-file state on itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vitam_sandbox.referentials import FileFormat, read_formats


@dataclass(frozen=True)
class Identification:
    puid: str
    name: str
    mime_type: str | None
    basis: str  # signature | container | extension


_lock = threading.Lock()


def identify(path: Path, *, declared_puid: str | None = None) -> Identification | None:
    """What FIDO says ``path`` is (None: not identified). The file's name gives the extension.

    When FIDO proposes several formats and one of them is the declared one, that one is
    kept (the declaration agrees with a match); otherwise FIDO's first, i.e. best, match.
    """
    fido, found = _fido()
    with _lock:
        found.clear()
        fido.identify_file(str(path))
        matches = list(found)
    if not matches:
        return None
    candidates = [candidate for _, candidate in matches]
    chosen = next((c for c in candidates if c.puid == declared_puid), candidates[0])
    if chosen.puid != declared_puid and chosen.basis == "extension" and declared_puid is not None:
        # A match on the extension alone cannot tell formats sharing it (.json: JSON, Tweet JSON,
        # GeoJSON...). A declared format of the same MIME type is as good a reading of the
        # extension, so the declaration stands, as a signature-less identification allows.
        declared = fido_formats().get(declared_puid)
        if declared is not None and chosen.mime_type and chosen.mime_type in declared.mime_types:
            return Identification(declared_puid, declared.name, chosen.mime_type, "extension")
    return chosen


def fido_formats() -> dict[str, FileFormat]:
    """The default format referential: the DROID signature file FIDO ships."""
    return _fido_formats()


@cache
def _fido_formats() -> dict[str, FileFormat]:
    import fido

    folder = Path(fido.__file__).parent / "conf"
    droid = sorted(folder.glob("DROID_SignatureFile*.xml"))
    if not droid:
        raise RuntimeError(f"no DROID signature file in {folder}")
    return read_formats(droid[-1])


@cache
def _fido() -> tuple[Any, list[tuple[str, Identification]]]:
    from fido.fido import Fido
    from fido.versions import get_local_versions

    versions = get_local_versions()
    found: list[tuple[str, Identification]] = []

    def collect(name: str, matches: list[Any], delta: float, matchtype: str = "") -> None:
        for fmt, _signature in matches:
            mime = fmt.find("mime")
            found.append(
                (
                    name,
                    Identification(
                        puid=fmt.find("puid").text,
                        name=fmt.find("name").text or "",
                        mime_type=mime.text if mime is not None else None,
                        basis=matchtype or "signature",
                    ),
                )
            )

    fido = Fido(
        quiet=True,
        handle_matches=collect,
        format_files=[versions.pronom_signature, versions.fido_extension_signature],
    )
    return fido, found
