"""Purging the local copy of archived batches (``[retention] purge_local_after_days``).

Once VITAM holds a batch and the verification read it back and matched it (``verified``), the
staging area need not keep its copy: personal data kept twice is personal data exposed twice. A
batch verified at least ``purge_local_after_days`` days ago loses its Parquet files with their
extraction manifests, its CSV renditions and its SIPs; its ATR stays (it is VITAM's receipt),
and so does every ledger row. One audit event, ``batch.purged``, written *before* any file is
deleted, names each file with its SHA-256 as the ledger knew it; ``audit verify`` then accepts a
missing SIP that event names (the trail it held is in VITAM), and the browser reads the batch's
pieces back from VITAM (``browser.vitam``). A purge that fails half-way names the file, exits
non-zero and is completed by running it again.

Only files inside the staging folder are deleted: a path the ledger holds elsewhere is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from versement.config import Settings
from versement.ledger import Batch, Ledger, State
from versement.ledger.sips import current_sips
from versement.ledger.trail import PURGED


class PurgeError(Exception):
    """A purge refused or interrupted; the message is French and names the batch and file."""


@dataclass(frozen=True)
class Purged:
    batch_id: int
    verified_at: datetime
    files: tuple[str, ...]


def verified_at(ledger: Ledger, batch_id: int) -> datetime | None:
    """When the batch became ``verified`` (its last transition there)."""
    found = [e.at for e in ledger.events(batch_id) if e.to_state == State.VERIFIED.value]
    if not found:
        return None
    at = datetime.fromisoformat(max(found))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def local_files(batch: Batch) -> list[tuple[Path, str | None]]:
    """The batch's local copy as the ledger names it: (path, SHA-256 when the ledger has one)."""
    files: list[tuple[Path, str | None]] = []
    for dataset in batch.datasets:
        parquet = Path(dataset.path)
        files.append((parquet, dataset.sha256))
        files.append((parquet.with_name(parquet.name.removesuffix(".parquet") + ".manifest.json"), None))
    parts = current_sips(batch)
    sips = [(Path(s.path), s.sha256) for s in parts if s.path] or (
        [(Path(batch.sip_path), batch.sip_sha256)] if batch.sip_path else []
    )
    files.extend(sips)
    for sip, _digest in sips:
        renditions = sip.parent / "renditions"
        if renditions.is_dir():
            files.extend((p, None) for p in sorted(renditions.iterdir()) if p.is_file())
    return files


def purge(settings: Settings, ledger: Ledger, *, actor: str, now: datetime | None = None) -> list[Purged]:
    """Purge every batch verified at least ``purge_local_after_days`` days ago that still has
    local files; returns what was purged."""
    days = settings.purge_local_after_days
    if days is None:
        raise PurgeError(
            "la conservation locale n'est pas limitée : réglez [retention] purge_local_after_days "
            "(nombre de jours après la vérification) pour purger les lots archivés"
        )
    now = now or datetime.now(UTC)
    staging = settings.staging.resolve()
    done = []
    for batch in ledger.batches():
        if batch.state != State.VERIFIED.value:
            continue
        at = verified_at(ledger, batch.id)
        if at is None or now - at < timedelta(days=days):
            continue
        present = [(path, digest) for path, digest in local_files(batch) if path.is_file()]
        if not present:
            continue  # purged already
        for path, _digest in present:
            if not path.resolve().is_relative_to(staging):
                raise PurgeError(
                    f"lot {batch.id} : {path} n'est pas dans le dossier de travail {staging} ; rien n'a été purgé"
                )
        details: dict[str, Any] = {
            "after_days": days,
            "verified_at": at.isoformat(),
            "files": [{"path": str(p), "sha256": d} for p, d in present],
        }
        ledger.record(batch.id, actor=actor, action=PURGED, details=details)
        for path, _digest in present:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise PurgeError(
                    f"lot {batch.id} : {path} n'a pas pu être supprimé ({exc.strerror or exc}) ; "
                    "relancez la purge pour la terminer"
                ) from None
        done.append(Purged(batch.id, at, tuple(str(p) for p, _ in present)))
    return done
