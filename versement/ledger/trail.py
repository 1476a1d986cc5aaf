"""A batch's audit trail as a document inside its own SIP, and the check that it still agrees.

At packaging, the events of the batch so far (creation, extraction, quality, validation) are
written as one canonical JSON document, hashes included, and packed as a document object of
the SIP: VITAM then keeps a copy of how the batch came to be, out of reach of the ledger's
database. Each event carries what its hash covers, so the copy can be re-verified from the
SIP alone. ``audit verify`` reads it back from the zip and compares it with the ledger.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from extractors.files import sha256_file
from seda.container import inspect_layout
from seda.hostile import hardened_parser
from versement.ledger.audit import canonical

FORMAT = "versement-audit-trail/1"
PREFIX = "journal-audit-lot-"
MIME = "application/json"
PUID = "fmt/817"  # PRONOM: JSON Data Interchange Format
_FIELDS = ("id", "batch_id", "at", "actor", "action", "from_state", "to_state", "details", "prev_hash", "hash")


class TrailError(Exception):
    """The trail cannot be read back from a SIP (missing file, no trail object, bad JSON).

    ``missing`` is true when the SIP is readable but carries no trail (another part may).
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def filename(batch_id: int) -> str:
    return f"{PREFIX}{batch_id:06d}.json"


def document(batch: Any, events: Sequence[Any]) -> bytes:
    """The trail of ``batch``: its events, each with every field its hash covers."""
    return canonical(
        {
            "format": FORMAT,
            "batch": batch.id,
            "source": batch.source,
            "scope": batch.scope,
            "events": [{name: getattr(event, name) for name in _FIELDS} for event in events],
        }
    ).encode("utf-8")


def read(sip: Path) -> dict[str, Any]:
    """The trail packed in a SIP, found through the manifest (the object whose Filename is it)."""
    try:
        with zipfile.ZipFile(sip) as archive:
            layout = inspect_layout(archive)
            if layout.manifest is None:
                raise TrailError(f"{sip} n'a pas de bordereau (manifest)")
            root = etree.fromstring(archive.read(layout.manifest), hardened_parser())
            ns = etree.QName(root).namespace
            for obj in root.iter(f"{{{ns}}}BinaryDataObject"):
                name = obj.findtext(f"{{{ns}}}FileInfo/{{{ns}}}Filename") or ""
                uri = obj.findtext(f"{{{ns}}}Uri")
                if name.startswith(PREFIX) and uri:
                    loaded: dict[str, Any] = json.loads(archive.read(uri))
                    return loaded
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise TrailError(f"le journal d'audit ne peut pas être relu dans {sip} : {exc}") from exc
    raise TrailError(f"{sip} ne contient pas de journal d'audit (aucun objet nommé {PREFIX}….json)", missing=True)


def _read_any(sips: Sequence[Path]) -> dict[str, Any]:
    """The trail from whichever SIP of a split package carries it (the first one that does)."""
    missing: TrailError | None = None
    for sip in sips:
        try:
            return read(sip)
        except TrailError as exc:
            if not exc.missing:
                raise
            missing = missing or exc
    if len(sips) > 1:
        raise TrailError(
            f"aucun des {len(sips)} SIP du lot ne contient de journal d'audit ({PREFIX}….json)", missing=True
        )
    assert missing is not None
    raise missing


def check(batch: Any, events: Sequence[Any], parts: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """How the trail inside a packaged batch's SIP disagrees with the ledger's events.

    ``parts``: (path, SHA-256) of every SIP of the batch's current attempt (default: its one
    SIP); each must still be what was packaged, and the trail is read from the part carrying it.
    """
    problems = []
    purged = purged_files(e for e in events if e.batch_id == batch.id)
    present = []
    for path, sha256 in parts or [(batch.sip_path, batch.sip_sha256)]:
        sip = Path(path)
        if not sip.is_file() and str(path) in purged and purged[str(path)] == sha256:
            continue  # purged after verification (versement purge): VITAM keeps it and its trail
        present.append((path, sha256))
        if not sip.is_file():
            problems.append(
                f"lot {batch.id} : son SIP {sip} a disparu ; le journal d'audit qu'il contient ne peut pas être comparé"
            )
            continue
        actual = sha256_file(sip)
        if actual != sha256:
            problems.append(
                f"lot {batch.id} : le SIP {sip} a l'empreinte SHA-256 {actual}, le registre a empaqueté {sha256}"
            )
    if problems or not present:
        return problems
    try:
        embedded = _read_any([Path(path) for path, _ in present])
    except TrailError as exc:
        return [f"lot {batch.id} : {exc}"]
    prefix = f"lot {batch.id} : le journal d'audit contenu dans son SIP"
    found = embedded.get("events")
    listed: list[Any] = found if isinstance(found, list) else []
    if embedded.get("batch") != batch.id:
        problems.append(f"{prefix} est celui du lot {embedded.get('batch')!r}")
    ledger = {event.id: event for event in events if event.batch_id == batch.id}
    seen = set()
    for item in listed:
        if not isinstance(item, dict):
            problems.append(f"{prefix} contient une entrée qui n'est pas un événement")
            continue
        number = item.get("id")
        seen.add(number)
        mine = ledger.get(number)
        if mine is None:
            problems.append(f"{prefix} contient l'événement {number}, que le registre n'a pas pour ce lot")
            continue
        if any(item.get(name) != getattr(mine, name) for name in _FIELDS):
            problems.append(f"{prefix} diffère du registre sur l'événement {number} ({mine.action})")
    # Everything the batch went through before it was packaged must be in the copy.
    packaged = [e.id for e in ledger.values() if e.action == "package" and e.to_state == "packaged"]
    bound = packaged[-1] if packaged else max((n for n in seen if isinstance(n, int)), default=0) + 1
    for number in sorted(n for n in ledger if n < bound and n not in seen):
        problems.append(f"{prefix} n'a pas l'événement {number} ({ledger[number].action}), que le registre contient")
    return problems


PURGED = "batch.purged"


def purged_files(events: Iterable[Any]) -> dict[str, str | None]:
    """Path → SHA-256 of every file a ``batch.purged`` event names (``versement.retention``)."""
    found: dict[str, str | None] = {}
    for event in events:
        if event.action != PURGED:
            continue
        details = json.loads(event.details) if isinstance(event.details, str) else (event.details or {})
        for item in details.get("files") or ():
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                found[item["path"]] = item.get("sha256")
    return found
