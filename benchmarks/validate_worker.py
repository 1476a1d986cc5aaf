"""The benchmark's validation worker, kept apart so that a spawned worker imports only seda.

The benchmark itself imports ``peak_rss_mb`` from here: the validation stack (lxml schemas,
xmlschema) is imported on use, so that the writer process does not carry it.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak RSS since it started its program (VmHWM; ru_maxrss would carry the
    peak of the parent it was forked from across exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def validate_one(path: str, schemas: str, rules: str) -> dict[str, Any]:
    """Both schema passes one after the other: the writer has the other core."""
    from seda.rules import load_rules
    from seda.stream_validation import validate_sip_streamed

    report = validate_sip_streamed(Path(path), Path(schemas), rules=load_rules(Path(rules)), parallel=False)
    return {
        "path": path,
        "valid": report.valid,
        "issues": [i.to_dict() for i in report.issues[:5]],
        "checks": list(report.checks_run),
        "rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Read SIP paths on stdin, one a line; write one JSON report a line on stdout."""
    import json
    import sys

    schemas, rules = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        print(json.dumps(validate_one(line.strip(), schemas, rules)), flush=True)


if __name__ == "__main__":
    main()
