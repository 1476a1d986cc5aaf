"""The hash chain over audit events: how an event is hashed and how a history is verified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(details: dict[str, Any]) -> str:
    """The one JSON spelling of a details mapping: what is stored is what is hashed."""
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(
    *,
    event_id: int,
    batch_id: int | None,
    at: str,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    details: str,
    prev_hash: str,
) -> str:
    fields = [
        str(event_id),
        str(batch_id),
        at,
        actor,
        action,
        str(from_state),
        str(to_state),
        details,
        prev_hash,
    ]
    # Length-prefix every field so that no two different events share a byte string.
    material = "".join(f"{len(value)}:{value}" for value in fields)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    problems: tuple[str, ...]
    anchor: str | None = None  # the anchor log compared, if any


def verify_chain(events: Iterable[Any], head_hash: str | None, head_count: int | None) -> ChainCheck:
    problems: list[str] = []
    previous = GENESIS
    count = 0
    for event in events:
        count += 1
        if event.prev_hash != previous:
            problems.append(
                f"événement {event.id} : lien vers l'empreinte précédente rompu (un événement a été supprimé "
                "ou déplacé)"
            )
        expected = event_hash(
            event_id=event.id,
            batch_id=event.batch_id,
            at=event.at,
            actor=event.actor,
            action=event.action,
            from_state=event.from_state,
            to_state=event.to_state,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        if expected != event.hash:
            problems.append(
                f"événement {event.id} : le contenu ne correspond plus à son empreinte (la ligne a été modifiée)"
            )
        previous = event.hash
    if head_hash is not None and (head_hash != previous or head_count != count):
        problems.append(
            f"la tête de chaîne annonce {head_count} événements finissant par {str(head_hash)[:12]}…, le registre "
            f"en contient {count} finissant par {previous[:12]}… (des événements ont été supprimés ou ajoutés hors "
            "du registre)"
        )
    return ChainCheck(ok=not problems, events=count, problems=tuple(problems))
