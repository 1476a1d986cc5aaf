"""``make bench-synthetic``: how fast a large synthetic Apogée is generated in PostgreSQL.

For each target size (RESULTAT_ELP rows), a fresh database is generated with ``years=5``
(about 28 RESULTAT_ELP rows per student), then, as the baseline of the same run, the
RESULTAT_ELP table is dumped with ``COPY TO`` and loaded again into an empty copy of itself with
``COPY FROM``: the server's own ingest floor for those rows. Printed: rows of every table,
seconds, rows/s, the ratio to the raw COPY load, CPU seconds of this process, peak RSS. The last
line is one JSON object. The databases are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from typing import Any

ELP_ROWS_PER_STUDENT = 28  # measured at years=5 (see extractors.synthetic.apogee)


def main(argv: list[str] | None = None) -> int:
    import psycopg

    from extractors.synthetic import generate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--elp-rows", default="1000000,5000000", help="target RESULTAT_ELP sizes, comma-separated")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for target in (int(n) for n in args.elp_rows.split(",")):
        name = f"versement_bench_synthetic_{target}"
        url = f"{args.server}/{name}"
        with contextlib.closing(psycopg.connect(f"{args.server}/postgres", autocommit=True)) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cpu = _cpu()
        started = time.perf_counter()
        summary = generate("apogee", url, students=max(12, target // ELP_ROWS_PER_STUDENT), years=5)
        seconds = time.perf_counter() - started
        cpu = _cpu() - cpu
        elp = summary.tables["RESULTAT_ELP"]
        raw = _raw_copy_seconds(url)
        result = {
            "elp_rows": elp,
            "rows": summary.rows,
            "seconds": round(seconds, 1),
            "rows_per_s": round(summary.rows / seconds),
            "elp_raw_copy_rows_per_s": round(elp / raw),
            "ratio_vs_raw_copy": round((summary.rows / seconds) / (elp / raw), 3),
            "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
        results.append(result)
        print(
            f"{elp:>10,} RESULTAT_ELP rows, {summary.rows:,} rows in all: {seconds:.1f} s "
            f"({result['rows_per_s']:,} rows/s, {result['ratio_vs_raw_copy']}x the raw COPY load of "
            f"{result['elp_raw_copy_rows_per_s']:,} rows/s), {cpu:.1f} s CPU, peak RSS {result['peak_rss_mb']} MB",
            file=sys.stderr,
        )
        if not args.keep:
            with contextlib.closing(psycopg.connect(f"{args.server}/postgres", autocommit=True)) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps({"results": results}))
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raw_copy_seconds(url: str) -> float:
    """Seconds the server takes to load RESULTAT_ELP's own COPY text into an empty table."""
    import psycopg

    with contextlib.closing(psycopg.connect(url, autocommit=True)) as conn, tempfile.TemporaryFile() as dump:
        with conn.cursor().copy("COPY RESULTAT_ELP TO STDOUT") as copy:
            for data in copy:
                dump.write(data)
        conn.execute("CREATE TEMPORARY TABLE elp_again (LIKE RESULTAT_ELP)")
        dump.seek(0)
        started = time.perf_counter()
        with conn.cursor().copy("COPY elp_again FROM STDIN") as copy:
            while data := dump.read(1 << 20):
                copy.write(data)
        return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
