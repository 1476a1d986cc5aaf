"""Progress lines for long steps, on stderr.

On a terminal one line rewrites itself; in a log (Airflow, CI, a pipe) each update is a line
of its own, since a carriage return there only glues updates together.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vitam_client import OperationStatus


def rows_extracted(dataset: str, rows: int) -> None:
    """Extraction: rows written so far for a dataset (French thousands separator)."""
    count = f"{rows:,}".replace(",", "\u202f")
    _show(f"  {dataset} : {count} lignes extraites")


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
