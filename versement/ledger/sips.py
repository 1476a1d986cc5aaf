"""The SIPs of a batch: every part of every packaging attempt, as the ledger records them.

A batch is packaged as one SIP, or as several self-contained SIPs when it is over the packaging
limits (``seda.writer``: parts ``<MessageIdentifier>-001``, ``-002``...). Each is a ``sip`` row
(attempt, part, MessageIdentifier, path, SHA-256, manifest SHA-512, units, objects, bytes, and
later the digest approved and VITAM's operation and ATR for it), added and updated only by
``Ledger.transition`` events: ``details.row_sips`` holds the rows an event adds (by key
``"<attempt>.<part>"``), ``details.row_sip_updates`` the fields it changes, and ``audit
verify`` replays both (versement/ledger/consistency.py).

The batch's own columns (``message_identifier``, ``sip_path``, ``sip_sha256``,
``manifest_sha512``, ``approved_sha256``, ``vitam_operation_id``, ``atr_*``) keep describing
part 1 of the current attempt, which is the whole SIP when there is one part: readers written
for one SIP per batch keep working. A re-packaging (``versement repackage``) clears them for the
next attempt; the previous attempt stays in its ``sip`` rows and in the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SIP_COLUMNS = (
    "message_identifier",
    "path",
    "sha256",
    "manifest_sha512",
    "units",
    "objects",
    "bytes",
    "approved_sha256",
    "vitam_operation_id",
    "atr_path",
    "atr_reply_code",
    "status",
)
SIP_UPDATABLE = frozenset({"approved_sha256", "vitam_operation_id", "atr_path", "atr_reply_code", "status"})


def sip_key(attempt: int, part: int) -> str:
    return f"{attempt}.{part}"


def sip_record(sip: Any) -> dict[str, Any]:
    """What an event says about a sip row when the ledger adds it."""
    return {name: getattr(sip, name) for name in SIP_COLUMNS}


def current_attempt(batch: Any) -> int:
    """The attempt whose SIPs the batch holds now (0: never packaged since SIPs were recorded)."""
    return max((sip.attempt for sip in batch.sips), default=0)


def current_sips(batch: Any) -> list[Any]:
    """The parts of the current attempt, in order."""
    attempt = current_attempt(batch)
    return sorted((sip for sip in batch.sips if sip.attempt == attempt), key=lambda sip: sip.part)


def attempts(batch: Any) -> dict[int, list[Any]]:
    """Every attempt's parts, in order."""
    found: dict[int, list[Any]] = {}
    for sip in sorted(batch.sips, key=lambda sip: (sip.attempt, sip.part)):
        found.setdefault(sip.attempt, []).append(sip)
    return found


def sip_summary(sip: Any) -> dict[str, Any]:
    return {"attempt": sip.attempt, "part": sip.part, **sip_record(sip)}


def part_updates(sips: Sequence[Any], **fields: Any) -> dict[tuple[int, int], dict[str, Any]]:
    """The same fields for each of ``sips`` (``Ledger.transition(sip_updates=...)``)."""
    return {(sip.attempt, sip.part): dict(fields) for sip in sips}


def next_attempt(batch: Any, events: Sequence[Any]) -> int:
    """The number of the packaging attempt about to be made: one more than the attempts recorded
    (as SIP rows, or as re-packagings for batches packaged before SIP rows existed)."""
    repackaged = sum(1 for event in events if event.action == "batch.repackaged")
    return max(current_attempt(batch), repackaged) + 1


def attempt_identifier(base: str, attempt: int) -> str:
    """The MessageIdentifier of an attempt: the base for the first, ``<base>-A<n>`` after, so that
    VITAM (whose logbook finds an ingest by it) never sees two attempts under one identifier."""
    return base if attempt <= 1 else f"{base}-A{attempt}"
