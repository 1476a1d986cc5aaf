"""Progress lines for long steps, on stderr.

On a terminal one line rewrites itself; in a log (Airflow, CI, a pipe) each update is a line
of its own, since a carriage return there only glues updates together.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vitam_client import OperationStatus


def rows_extracted(dataset: str, rows: int, elapsed: float = 0.0) -> None:
    """Extraction: rows written so far for a dataset, its rate and elapsed time (French number format)."""
    from extractors.partitions import parse_part

    part = parse_part(dataset)
    shown = dataset if part is None else f"{part[0]} (partition {part[1]}/{part[2]})"
    text = f"  {shown} : {_number(rows)} lignes extraites"
    if elapsed > 0:
        minutes, seconds = divmod(int(elapsed), 60)
        text += f", {_number(round(rows / elapsed))} lignes/s, {minutes} min {seconds:02d} s"
    _show(text)


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def operation_status(status: OperationStatus) -> None:
    """Transfer: each status VITAM reports while the ingest runs, in VITAM's own words."""
    _show(f"  opération VITAM {status.operation_id} : {status.state}/{status.status}", last=status.finished)


def done() -> None:
    """End the rewriting line on a terminal."""
    if sys.stderr.isatty():
        print(file=sys.stderr)


def _show(text: str, *, last: bool = False) -> None:
    if sys.stderr.isatty():
        print(f"\r{text:<78}", end="\n" if last else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)
