"""The benchmark's validation worker, kept apart so that a spawned worker imports only seda."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

from seda.rules import load_rules
from seda.stream_validation import validate_sip_streamed


def validate_one(path: str, schemas: str, rules: str) -> dict[str, Any]:
    """Both schema passes one after the other: the writer has the other core."""
    report = validate_sip_streamed(Path(path), Path(schemas), rules=load_rules(Path(rules)), parallel=False)
    return {
        "path": path,
        "valid": report.valid,
        "issues": [i.to_dict() for i in report.issues[:5]],
        "checks": list(report.checks_run),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
