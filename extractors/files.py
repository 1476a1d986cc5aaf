"""File helpers shared by the stages: chunked digests and partial-file bookkeeping."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1024 * 1024
PARTIAL_SUFFIX = ".partial"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks so memory stays flat."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def partial_path(final: Path) -> Path:
    """Where a file is written before it is complete: ``x.parquet`` → ``x.parquet.partial``."""
    return final.with_name(final.name + PARTIAL_SUFFIX)
