"""The anchor log: the chain head written outside the database after every appended event.

The hash chain shows that no event was edited or removed *in the middle*; but whoever can
write to the database can delete the last events, set the head row back and edit the batch
rows to match, and the chain is consistent again. The anchor log is the witness kept elsewhere:
one JSON line per appended event, ``{"events": count, "head": hash, "at": time}``, appended
(O_APPEND, one write per line) to a file in the staging area, and logged (one line with the count
and the hash) to the Airflow task log when running under Airflow. ``audit verify`` then checks
that every line still names an event of the ledger with that very hash.

The log is only as good as its separation from the database: copy it to write-once storage or
ship its lines to a log collector so that the same hand cannot rewrite both.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("versement.ledger.anchor")

FILENAME = "ledger-anchor.jsonl"


class AnchorError(OSError):
    """The anchor log could not be written (the event itself is recorded in the ledger)."""


@dataclass(frozen=True)
class Anchor:
    line: int
    events: int
    head: str
    at: str


def append(path: Path, events: int, head: str, at: str) -> None:
    """One line, written by one ``write`` on a file opened for appending: concurrent writers
    never interleave their lines."""
    line = json.dumps({"events": events, "head": head, "at": at}, separators=(",", ":")) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(descriptor, line.encode("ascii"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise AnchorError(
            f"l'événement {events} est enregistré dans le registre, mais son ancrage n'a pas pu être écrit dans "
            f"{path} : {exc.strerror or exc} ; `versement audit verify` le signalera comme non ancré"
        ) from exc
    # Under Airflow the task log keeps a second copy, out of reach of the database.
    level = logging.INFO if os.environ.get("AIRFLOW_CTX_DAG_ID") else logging.DEBUG
    log.log(level, "ledger anchor: %d events, head %s", events, head)


def read(path: Path) -> tuple[list[Anchor], list[str]]:
    """The anchors of the log, and a problem for each line that is not one."""
    anchors: list[Anchor] = []
    problems: list[str] = []
    with path.open("r", encoding="utf-8", errors="replace") as stream:
        for number, text in enumerate(stream, start=1):
            try:
                item = json.loads(text)
                anchors.append(Anchor(number, int(item["events"]), str(item["head"]), str(item["at"])))
            except (ValueError, KeyError, TypeError):
                problems.append(
                    f"journal d'ancrage {path} ligne {number} : pas une ligne d'ancrage (le journal a été modifié)"
                )
    return anchors, problems


def check(path: Path, hashes: Sequence[str]) -> list[str]:
    """Compare the anchor log with the ledger's event hashes (``hashes[n - 1]`` is event n's)."""
    if not path.exists():
        if not hashes:
            return []
        return [
            f"le journal d'ancrage {path} est absent alors que le registre contient {len(hashes)} événements "
            "(le journal a été supprimé, ou le registre écrit sans lui)"
        ]
    anchors, problems = read(path)
    for anchor in anchors:
        if anchor.events > len(hashes):
            problems.append(
                f"journal d'ancrage ligne {anchor.line} : l'événement {anchor.events} (empreinte "
                f"{anchor.head[:12]}…) a été ancré le {anchor.at}, mais le registre ne contient plus que "
                f"{len(hashes)} événements : des événements ont été supprimés et la tête de chaîne réécrite"
            )
        elif anchor.events < 1 or hashes[anchor.events - 1] != anchor.head:
            found = hashes[anchor.events - 1][:12] if anchor.events >= 1 else "-"
            problems.append(
                f"journal d'ancrage ligne {anchor.line} : l'événement {anchor.events} avait l'empreinte "
                f"{anchor.head[:12]}… quand il a été ancré le {anchor.at}, celui du registre a {found}… : le "
                "journal d'ancrage a été modifié, ou le registre réécrit à partir de cet événement"
            )
    last = max((a.events for a in anchors), default=0)
    if last < len(hashes):
        problems.append(
            f"les événements {last + 1} à {len(hashes)} du registre ne figurent dans aucune ligne du journal "
            f"d'ancrage {path} (le journal a été tronqué, ou ces événements écrits sans lui)"
        )
    return problems
