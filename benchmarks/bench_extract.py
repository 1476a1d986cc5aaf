"""Extraction benchmark: versement against the raw COPY floor and pandas, from one run.

``make bench-extract`` fills a RESULTAT_ELP-shaped table in the local PostgreSQL with 1 and
5 million rows (``benchmarks.resultat_elp.fill_resultat_elp``, the seam the synthetic source
generator will take over) and, for each size, measures side by side:

- **versement**: ``extractors.extract()`` of the dataset to Parquet (checked types, manifest);
- **copy floor**: ``COPY (same query) TO STDOUT (FORMAT binary)`` read and discarded by psycopg;
- **pandas**: ``pandas.read_sql`` of the same query, then ``to_parquet``.

Each measured thing runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own;
throughput is rows over the wall time of the operation alone (imports and connection set-up
excluded for all three alike). The machine is shared, so each measurement is repeated
(``BENCH_REPEAT``, default 3) in interleaved order and the median is kept. The last line is one
JSON object: ``{"results": [{"rows": N, "rows_per_s": x, "ratio_vs_copy": r1,
"ratio_vs_pandas": r2, "peak_rss_mb": m}, ...]}``.

Environment: ``BENCH_URL`` (server, default postgresql://postgres@127.0.0.1:5432),
``BENCH_ROWS`` (default ``1000000,5000000``), ``BENCH_REPEAT``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.resultat_elp import KEY, QUERY, YEAR, fill_resultat_elp

SERVER = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "versement_bench_extract"
TARGETS = {"ratio_vs_copy": 0.7, "ratio_vs_pandas": 4.0, "peak_rss_mb": 400.0}
ORDERED = QUERY + " ORDER BY " + ", ".join(f'"{k}"' for k in KEY)
LITERAL = ORDERED.replace(":academic_year", f"'{YEAR}'")  # the baselines take no parameters


def _child(kind: str, url: str, out: str) -> dict[str, Any]:
    """Runs in the subprocess: one measured operation, then its rows, seconds and peak RSS."""
    import resource

    if kind == "versement":
        from extractors import extract
        from extractors.specs import DatasetSpec

        spec = DatasetSpec("resultats_elp", "Résultats aux éléments", "jury_minutes", QUERY, KEY)
        import pyarrow as pa

        pa.array([0])  # pyarrow imports pandas on its first Python conversion: a set-up cost, as for pandas
        sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        started = time.perf_counter()
        snapshot = extract(sqlalchemy_url, [spec], Path(out), parameters={"academic_year": YEAR})
        seconds = time.perf_counter() - started
        rows = snapshot.datasets[0].rows
    elif kind == "copy":
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            size = 0
            with conn.cursor().copy(f"COPY ({LITERAL}) TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    size += len(chunk)
            seconds = time.perf_counter() - started
            rows = conn.execute(f"SELECT count(*) FROM ({LITERAL}) q").fetchone()[0]  # type: ignore[index]
    elif kind == "pandas":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            started = time.perf_counter()
            frame = pd.read_sql(sa.text(ORDERED), conn, params={"academic_year": YEAR})
            frame.to_parquet(Path(out) / "resultats_elp.parquet")
            seconds = time.perf_counter() - started
        rows = len(frame)
    else:
        raise ValueError(kind)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "rows": rows, "seconds": seconds, "peak_rss_mb": peak}


def _measure(kind: str, url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as out:
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, url, out],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _database() -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return f"{SERVER}/{DATABASE}"


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_ROWS", "1000000,5000000").split(",")]
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    url = _database()
    results = []
    try:
        for rows in sizes:
            started = time.perf_counter()
            fill_resultat_elp(url, rows)
            print(f"RESULTAT_ELP filled with {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
            runs: dict[str, list[dict[str, Any]]] = {"versement": [], "copy": [], "pandas": []}
            for _ in range(repeat):
                for kind in runs:  # interleaved: a busy moment of the machine hits all three
                    run = _measure(kind, url)
                    if run["rows"] != rows:
                        raise SystemExit(f"{kind} read {run['rows']} rows, expected {rows}")
                    runs[kind].append(run)
                    print(
                        f"  {kind:9} {rows / run['seconds']:>12,.0f} rows/s  {run['seconds']:7.2f} s  "
                        f"peak RSS {run['peak_rss_mb']:6.0f} MB",
                        flush=True,
                    )
            rate = {k: statistics.median(rows / r["seconds"] for r in v) for k, v in runs.items()}
            peak = {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()}
            result = {
                "rows": rows,
                "rows_per_s": round(rate["versement"]),
                "ratio_vs_copy": round(rate["versement"] / rate["copy"], 3),
                "ratio_vs_pandas": round(rate["versement"] / rate["pandas"], 3),
                "peak_rss_mb": round(peak["versement"], 1),
                "copy_rows_per_s": round(rate["copy"]),
                "pandas_rows_per_s": round(rate["pandas"]),
                "copy_peak_rss_mb": round(peak["copy"], 1),
                "pandas_peak_rss_mb": round(peak["pandas"], 1),
            }
            results.append(result)
            print(
                f"{rows:,} rows: versement {result['rows_per_s']:,} rows/s, "
                f"{result['ratio_vs_copy']}x the COPY floor (target {TARGETS['ratio_vs_copy']}), "
                f"{result['ratio_vs_pandas']}x pandas (target {TARGETS['ratio_vs_pandas']}), "
                f"peak RSS {result['peak_rss_mb']} MB (target < {TARGETS['peak_rss_mb']:.0f}; "
                f"pandas {result['pandas_peak_rss_mb']} MB)",
                flush=True,
            )
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
