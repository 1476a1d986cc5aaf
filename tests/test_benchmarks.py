"""The benchmarks still run: each is started at a tiny size and must end with its JSON line.

They are measured by ``make bench-*``, never here (no figure is asserted but their shape); this
only keeps a harness from rotting when the code it drives changes (a sandbox option renamed...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def last_json_line(script: str, **environ: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script)],
        env={**os.environ, **environ},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(found, dict)
    return found


def test_the_transfer_benchmark_runs_against_the_sandbox_and_curl() -> None:
    figures = last_json_line("bench_transfer.py", BENCH_TRANSFER_BYTES=str(3_000_000))
    assert figures["bytes"] == 3_000_000
    assert isinstance(figures["peak_rss_mb"], float) and figures["peak_rss_mb"] > 0
    assert isinstance(figures["ratio_vs_curl"], float) and figures["ratio_vs_curl"] > 0


def test_the_browser_benchmark_serves_python_m_browser_and_reports_both_loads() -> None:
    figures = last_json_line(
        "bench_browser.py",
        BENCH_ROWS="2000",
        BENCH_PERSON_ROWS="5600",
        BENCH_USERS="4",
        BENCH_REPEAT="2",
        BENCH_WORKERS="1",
        BENCH_THINK_SECONDS="0.05",
        BENCH_LOAD_ROUNDS="1",
    )
    assert {"rows", "search_p95_ms", "file_p95_ms", "load_p95_ms", "users"} <= set(figures)
    assert figures["rows"] == 5600 and figures["users"] == 4 and figures["think_seconds"] == 0.05
    assert isinstance(figures["saturation_p95_ms"], float) and figures["saturation_p95_ms"] > 0
