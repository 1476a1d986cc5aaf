"""Replays the audit trail into the batch and dataset rows it implies, and compares.

The chain proves the events were not edited; this proves the rows were not edited *alone*:
every change the ledger makes to a row is written, with its value, in the event that makes it
(``details["row"]`` for batch columns, ``details["row_datasets"]`` for datasets added,
``details["row_quality"]`` for the quality results a validation or override writes,
``details["row_sips"]`` and ``details["row_sip_updates"]`` for the SIP rows a packaging adds
and the approval and transfer update, versement/ledger/sips.py). A row
whose value differs from what its events say was changed outside the ledger.

Batches created before rows were recorded in events (no ``row_format`` in their creation
event) are checked on their state only, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from versement.ledger.audit import canonical
from versement.ledger.sips import SIP_COLUMNS, sip_key, sip_record
from versement.ledger.states import CLOSED

ROW_FORMAT = 1
_CLOSED = {str(state) for state in CLOSED}
# What one packaging attempt sets on its batch: a new attempt (versement.attempts) starts without them.
ATTEMPT_COLUMNS = (
    "message_identifier",
    "sip_path",
    "sip_sha256",
    "manifest_sha512",
    "sip_validation",
    "approved_by",
    "approver_identity",
    "approved_at",
    "approved_sha256",
    "vitam_operation_id",
    "atr_path",
    "atr_reply_code",
    "atr",
)
# Batch columns that only the ledger's events may set (id and timestamps are bookkeeping).
BATCH_COLUMNS = (
    "source",
    "scope",
    "scope_detail",
    "spec",
    "active_key",
    "state",
    "snapshot_marker",
    *ATTEMPT_COLUMNS,
    "supersedes",
    "superseded_by",
)
DATASET_COLUMNS = ("source_table", "path", "rows", "source_count", "sha256", "columns", "query", "spec", "manifest")


def dataset_record(dataset: Any) -> dict[str, Any]:
    """What an event says about a dataset row when the ledger adds it."""
    return {name: getattr(dataset, name) for name in DATASET_COLUMNS}


def quality_digest(quality: Any) -> str:
    return hashlib.sha256(canonical({"quality": quality}).encode("utf-8")).hexdigest()


@dataclass
class Expected:
    """A batch as its events describe it."""

    full: bool  # False for batches created before rows were recorded in events
    fields: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    sips: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<attempt>.<part>" -> columns


def replay(events: Iterable[Any]) -> dict[int, Expected]:
    batches: dict[int, Expected] = {}
    for event in events:
        if event.batch_id is None:
            continue
        details = _details(event)
        if event.action == "batch.created":
            full = details.get("row_format") == ROW_FORMAT
            expected = batches[event.batch_id] = Expected(full=full)
            expected.fields.update(
                source=details.get("source"),
                scope=details.get("scope"),
                active_key=f"{details.get('source')}/{details.get('scope')}",
                supersedes=details.get("supersedes"),
            )
        expected = batches.setdefault(event.batch_id, Expected(full=False))
        if event.to_state is not None:
            expected.fields["state"] = event.to_state
            if event.to_state in _CLOSED:
                expected.fields["active_key"] = None
        expected.fields.update(details.get("row") or {})
        for name, record in (details.get("row_datasets") or {}).items():
            expected.datasets[name] = dict(record, quality_success=None, quality=quality_digest(None))
        for name, quality in (details.get("row_quality") or {}).items():
            if name in expected.datasets and isinstance(quality, dict):
                record = expected.datasets[name]
                record.update(quality_success=quality.get("success"), quality=quality.get("quality_sha256"))
        for key, record in (details.get("row_sips") or {}).items():
            if isinstance(record, dict):
                expected.sips[key] = {name: record.get(name) for name in SIP_COLUMNS}
        for key, fields in (details.get("row_sip_updates") or {}).items():
            if key in expected.sips and isinstance(fields, dict):
                expected.sips[key].update(fields)
    return batches


def _details(event: Any) -> dict[str, Any]:
    """An event's details; an edited, unreadable one counts as empty (the chain check names it)."""
    try:
        loaded = json.loads(event.details)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def mismatches(batch: Any, expected: Expected | None) -> list[str]:
    """How a batch row (with its datasets) differs from what its events say."""
    if expected is None:
        return [f"lot {batch.id} : la ligne n'a aucun événement dans le journal d'audit (insérée hors du registre)"]
    columns = BATCH_COLUMNS if expected.full else ("state",)
    problems = []
    for name in columns:
        want = expected.fields.get(name)
        have = getattr(batch, name)
        if canonical({"v": have}) != canonical({"v": want}):
            problems.append(
                f"lot {batch.id} : {name} vaut {_shown(have)} dans la ligne mais {_shown(want)} dans son journal "
                "d'audit (la ligne a été modifiée hors du registre)"
            )
    if not expected.full:
        return problems
    rows = {dataset.name: dataset for dataset in batch.datasets}
    for name in sorted(set(rows) - set(expected.datasets)):
        problems.append(
            f"lot {batch.id} : le jeu de données {name} ne figure dans aucun événement (ajouté hors du registre)"
        )
    for name in sorted(set(expected.datasets) - set(rows)):
        problems.append(
            f"lot {batch.id} : le jeu de données {name} de son journal d'audit n'a pas de ligne "
            "(supprimée hors du registre)"
        )
    for name in sorted(set(rows) & set(expected.datasets)):
        row, want = rows[name], expected.datasets[name]
        have = {**dataset_record(row), "quality_success": row.quality_success, "quality": quality_digest(row.quality)}
        for column, value in want.items():
            if canonical({"v": have.get(column)}) != canonical({"v": value}):
                problems.append(
                    f"lot {batch.id} : jeu de données {name}, {column} vaut {_shown(have.get(column))} dans la "
                    f"ligne mais {_shown(value)} dans son journal d'audit (la ligne a été modifiée hors du registre)"
                )
    problems.extend(_sip_mismatches(batch, expected))
    return problems


def _sip_mismatches(batch: Any, expected: Expected) -> list[str]:
    rows = {sip_key(sip.attempt, sip.part): sip for sip in getattr(batch, "sips", [])}
    problems = []
    for key in sorted(set(rows) - set(expected.sips)):
        problems.append(
            f"lot {batch.id} : le SIP {_part(key)} ne figure dans aucun événement (ajouté hors du registre)"
        )
    for key in sorted(set(expected.sips) - set(rows)):
        problems.append(
            f"lot {batch.id} : le SIP {_part(key)} de son journal d'audit n'a pas de ligne (supprimée hors du registre)"
        )
    for key in sorted(set(rows) & set(expected.sips)):
        have, want = sip_record(rows[key]), expected.sips[key]
        for column in SIP_COLUMNS:
            if canonical({"v": have.get(column)}) != canonical({"v": want.get(column)}):
                problems.append(
                    f"lot {batch.id} : SIP {_part(key)}, {column} vaut {_shown(have.get(column))} dans la ligne mais "
                    f"{_shown(want.get(column))} dans son journal d'audit (la ligne a été modifiée hors du registre)"
                )
    return problems


def _part(key: str) -> str:
    attempt, _, part = key.partition(".")
    return f"partie {part} de la tentative {attempt}"


def _shown(value: Any) -> str:
    text = canonical({"v": value})[5:-1]
    return text if len(text) <= 80 else text[:77] + "…"
