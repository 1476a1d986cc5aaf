"""The extraction manifest written beside each dataset: ``<name>.manifest.json``.

It is written (to a temporary name, then renamed) only after the Parquet file is complete and
renamed, so a manifest always describes a finished file. A re-run of the same batch keeps a
dataset when its manifest matches what would be extracted now (same spec identity, source,
SQL and bound parameters) and its file still has the recorded SHA-256; anything else is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from extractors.specs import DatasetSpec

FORMAT = "versement.extraction-manifest/1"
MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(out_dir: Path, name: str) -> Path:
    return out_dir / f"{name}{MANIFEST_SUFFIX}"


def spec_identity(spec: DatasetSpec) -> str:
    """SHA-256 of what in a spec decides the file's content (name, SQL, key, columns left out)."""
    shape = {"name": spec.name, "sql": spec.sql, "key": list(spec.key), "exclude_columns": list(spec.exclude_columns)}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def json_parameters(parameters: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Bound parameters as JSON, typed so ``'2023'`` and ``2023`` stay different."""
    return {name: {"type": type(value).__name__, "value": _text(value)} for name, value in sorted(parameters.items())}


def _text(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, Decimal, bool)):
        return str(value)
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    temporary = path.with_name(path.name + ".partial")
    try:
        with temporary.open("w", encoding="utf-8") as stream:
            json.dump(manifest, stream, ensure_ascii=False, indent=2, sort_keys=True)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a full disk leaves no half manifest behind
        raise


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is missing or unreadable (the dataset is redone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None
