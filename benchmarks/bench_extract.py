"""Extraction benchmark: versement against the raw COPY floor and pandas, from one run.

``make bench-extract`` generates a synthetic Apogée in the local PostgreSQL with
``extractors.synthetic.generate`` (one academic year, 2023, sized so that RESULTAT_ELP holds
about 1 and 5 million rows; the generator is idempotent, so a kept database is reused) and, for
each size, measures side by side on the shipped ``resultats_elements`` dataset of
``extractors/specs/apogee.toml``:

- **versement**: ``extractors.extract()`` of the dataset to Parquet (checked types, manifest,
  COUNT(*) and aggregates in the same snapshot);
- **copy floor**: ``COPY (same query) TO STDOUT (FORMAT binary)`` read and discarded by psycopg;
- **pandas**: ``pandas.read_sql`` of the same query, then ``to_parquet``;
- **partitioned**: ``extract()`` of the same dataset cut in ``BENCH_PARTITIONS`` partitions (default
  4), read one after the other as ``versement extract`` reads them, then combined into the one file:
  what the boundaries (a sort of the partition column, a COUNT(*)) and the combine cost a single
  reader (``partitioned_ratio_vs_single``; under Airflow the partitions are read side by side).

Each measured thing runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own;
throughput is rows over the wall time of the operation alone (imports and connection set-up
excluded for all three alike). The machine is shared, so each measurement is repeated
(``BENCH_REPEAT``, default 5: a 1M-row read lasts about a second, and with three repeats one
burst of another process's load moved a median by a third) in interleaved order and the median
is kept. The last line is one
JSON object: ``{"results": [{"rows": N, "rows_per_s": x, "ratio_vs_copy": r1,
"ratio_vs_pandas": r2, "peak_rss_mb": m, "partitioned_ratio_vs_single": r3, ...}, ...]}``.

Environment: ``BENCH_URL`` (server, default postgresql://postgres@127.0.0.1:5432),
``BENCH_ROWS`` (target RESULTAT_ELP rows, default ``1000000,5000000``), ``BENCH_REPEAT``,
``BENCH_PARTITIONS``, ``BENCH_KEEP=1`` to keep the generated databases for a later run.
"""

from __future__ import annotations

import contextlib
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

from extractors.scope import Scope
from extractors.specs import DatasetSpec, load_tool
from extractors.synthetic import generate

SERVER = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "versement_bench_extract_{rows}"
TARGETS = {"ratio_vs_copy": 0.7, "ratio_vs_pandas": 4.0, "peak_rss_mb": 400.0}
DATASET = "resultats_elements"
YEAR = 2023
ELP_ROWS_PER_STUDENT = 13  # RESULTAT_ELP rows per student with one year (extractors.synthetic.apogee)
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "4"))


def dataset() -> DatasetSpec:
    """The shipped dataset, as a deployment with the defaults extracts it."""
    return next(d for d in load_tool("apogee").select() if d.name == DATASET)


def baseline_query(spec: DatasetSpec) -> str:
    """The statement versement runs (key order), with the year as a literal: the baselines bind nothing."""
    order = ", ".join(spec.key)
    sql = spec.sql.replace(":academic_year", f"'{YEAR}'")
    return f"SELECT * FROM ({sql}) q ORDER BY {order}"


def _child(kind: str, url: str, out: str) -> dict[str, Any]:
    """Runs in the subprocess: one measured operation, then its rows, seconds and peak RSS."""
    import resource

    spec = dataset()
    query = baseline_query(spec)
    if kind in ("versement", "partitioned"):
        import pyarrow as pa

        from extractors import extract

        pa.array([0])  # pyarrow imports pandas on its first Python conversion: a set-up cost, as for pandas
        sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        cut = {DATASET: PARTITIONS} if kind == "partitioned" else None
        started = time.perf_counter()
        snapshot = extract(
            sqlalchemy_url, [spec], Path(out), parameters=Scope.academic_year(YEAR).parameters(), partitions=cut
        )
        seconds = time.perf_counter() - started
        rows = snapshot.datasets[0].rows
    elif kind == "copy":
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            size = 0
            with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    size += len(chunk)
            seconds = time.perf_counter() - started
            rows = conn.execute(f"SELECT count(*) FROM ({query}) q").fetchone()[0]  # type: ignore[index]
    elif kind == "pandas":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            started = time.perf_counter()
            frame = pd.read_sql(sa.text(query), conn)
            frame.to_parquet(Path(out) / f"{DATASET}.parquet")
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


def _source(target: int) -> tuple[str, int]:
    """The generated source for about ``target`` RESULTAT_ELP rows, and the rows the dataset holds."""
    url = f"{SERVER}/{DATABASE.format(rows=target)}"
    started = time.perf_counter()
    summary = generate("apogee", url, students=max(12, target // ELP_ROWS_PER_STUDENT), years=(YEAR,))
    what = "generated" if summary.created else "found already generated"
    print(
        f"synthetic Apogée {what}: {summary.tables['RESULTAT_ELP']:,} RESULTAT_ELP rows, {summary.rows:,} rows in all, "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE resultat_elp")
        row = conn.execute(f"SELECT count(*) FROM ({baseline_query(dataset())}) q").fetchone()
    assert row is not None
    return url, int(row[0])


def _drop(target: int) -> None:
    with contextlib.closing(psycopg.connect(f"{SERVER}/postgres", autocommit=True)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE.format(rows=target)}" WITH (FORCE)')


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_ROWS", "1000000,5000000").split(",")]
    repeat = int(os.environ.get("BENCH_REPEAT", "5"))
    keep = os.environ.get("BENCH_KEEP") == "1"
    results = []
    for target in sizes:
        try:
            url, rows = _source(target)
            runs: dict[str, list[dict[str, Any]]] = {"versement": [], "copy": [], "pandas": [], "partitioned": []}
            for _ in range(repeat):
                for kind in runs:  # interleaved: a busy moment of the machine hits all three
                    run = _measure(kind, url)
                    if run["rows"] != rows:
                        raise SystemExit(f"{kind} read {run['rows']} rows, expected {rows}")
                    runs[kind].append(run)
                    print(
                        f"  {kind:11} {rows / run['seconds']:>12,.0f} rows/s  {run['seconds']:7.2f} s  "
                        f"peak RSS {run['peak_rss_mb']:6.0f} MB",
                        flush=True,
                    )
        finally:
            if not keep:
                _drop(target)
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
            "partitions": PARTITIONS,
            "partitioned_ratio_vs_single": round(rate["partitioned"] / rate["versement"], 3),
            "partitioned_peak_rss_mb": round(peak["partitioned"], 1),
        }
        results.append(result)
        print(
            f"{rows:,} rows: versement {result['rows_per_s']:,} rows/s, "
            f"{result['ratio_vs_copy']}x the COPY floor (target {TARGETS['ratio_vs_copy']}), "
            f"{result['ratio_vs_pandas']}x pandas (target {TARGETS['ratio_vs_pandas']}), "
            f"peak RSS {result['peak_rss_mb']} MB (target < {TARGETS['peak_rss_mb']:.0f}; "
            f"pandas {result['pandas_peak_rss_mb']} MB); in {PARTITIONS} partitions read in turn "
            f"{result['partitioned_ratio_vs_single']}x a single reader, "
            f"peak RSS {result['partitioned_peak_rss_mb']} MB",
            flush=True,
        )
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
