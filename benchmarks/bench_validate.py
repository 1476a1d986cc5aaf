"""Benchmark: validating an ELP-results-shaped dataset of 1M and 5M rows (time, peak RSS).

Each size is synthesised as Parquet (row groups of 100k rows, written batch by batch), then
validated in its own subprocess with the default suite (keys, person key, references to a
reference dataset, grades within scale, academic year, text warnings) and two source
aggregates. At 1M rows the previous gate's approach (the file loaded into pandas, then the key
checks) is measured in the same run as the baseline, with the ratios. Last line:
``{"results": [{"rows": N, "seconds": s, "peak_rss_mb": m}, ...], "baseline": [...]}``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SIZES = (1_000_000, 5_000_000)
CHUNK = 100_000
BASELINE_MAX_ROWS = 1_000_000


def synthesise(folder: Path, rows: int) -> dict[str, object]:
    """Write ``resultats_elements.parquet`` and ``ref_elements.parquet``; return the source aggregates."""
    import pyarrow.compute as pc

    path = folder / "resultats_elements.parquet"
    schema = pa.schema(
        [
            ("COD_IND", pa.int64()),
            ("COD_ELP", pa.string()),
            ("COD_ANU", pa.string()),
            ("COD_SES", pa.string()),
            ("COD_ADM", pa.string()),
            ("NOT_ELP", pa.decimal128(8, 3)),
            ("BAR_NOT_ELP", pa.int32()),
            ("COD_TRE", pa.string()),
        ]
    )
    total = Decimal(0)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            index = pa.array(range(start, start + n), pa.int64())
            person = pc.divide(index, 10)
            element = pc.add(pc.multiply(pc.remainder(index, 10), 7), pc.remainder(person, 13))
            grades = pc.cast(pc.cast(pc.remainder(pc.multiply(index, 37), 21), pa.int8()), pa.decimal128(8, 3))
            total += Decimal(str(pc.sum(grades).as_py()))
            batch = pa.record_batch(
                [
                    person,
                    pc.binary_join_element_wise("ELP", pc.cast(element, pa.string()), ""),
                    pa.array(["2023"] * n),
                    pa.array(["1"] * n),
                    pa.array(["1"] * n),
                    grades,
                    pa.array([20] * n, pa.int32()),
                    pa.array(["ADM"] * n),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=CHUNK)
    codes = sorted({f"ELP{e}" for e in range(0, 9 * 7 + 13)})
    pq.write_table(
        pa.table({"COD_ELP": codes, "LIB_ELP": [f"Élément {c}" for c in codes]}), folder / "ref_elements.parquet"
    )
    return {"sum:NOT_ELP": str(total), "distinct:COD_IND": (rows + 9) // 10}


def child(folder: Path, rows: int, aggregates: dict[str, object]) -> None:
    """Validate the two datasets in this process and print seconds and peak RSS."""
    from extractors.files import sha256_file
    from extractors.scope import Scope
    from validation import DatasetInput, validate_batch

    started = time.perf_counter()
    result_spec = {
        "key": ["COD_IND", "COD_ELP", "COD_ANU", "COD_SES", "COD_ADM"],
        "person_key": "COD_IND",
        "person_kind": "student",
        "references": ["ref_elements"],
        "columns": {"COD_IND": {"tags": ["person_identifier"]}},
    }
    inputs = []
    for name, spec, count, agg in (
        ("resultats_elements", result_spec, rows, aggregates),
        ("ref_elements", {"key": ["COD_ELP"], "scoped": False}, None, {}),
    ):
        path = folder / f"{name}.parquet"
        n = count if count is not None else pq.ParquetFile(path).metadata.num_rows
        inputs.append(DatasetInput(name, path, n, n, sha256_file(path), spec, {"aggregates": agg}))
    quality = validate_batch(inputs, scope=Scope.academic_year(2023), tool=None, temp_directory=folder / "tmp")
    seconds = time.perf_counter() - started
    report = quality.report("resultats_elements")
    assert quality.success, [o.to_dict() for o in report.failed]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"rows": rows, "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1), "checks": len(report.outcomes)}
        )
    )


def baseline(folder: Path, rows: int) -> None:
    """The previous gate's way, for comparison: the file into pandas, then the key checks there."""
    started = time.perf_counter()
    frame = pq.read_table(folder / "resultats_elements.parquet").to_pandas(
        integer_object_nulls=True, date_as_object=True, timestamp_as_object=True
    )
    key = ["COD_IND", "COD_ELP", "COD_ANU", "COD_SES", "COD_ADM"]
    assert not frame[key].isna().any().any() and not frame.duplicated(subset=key).any()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1), "checks": 2}))


def measure(mode: str, folder: Path, rows: int, aggregates: dict[str, object]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, mode, str(folder), str(rows)],
        input=json.dumps(aggregates),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), json.loads(sys.stdin.read()))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        baseline(Path(sys.argv[2]), int(sys.argv[3]))
        return
    sizes = [int(s) for s in sys.argv[1:]] or list(SIZES)
    results = []
    baselines: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        for rows in sizes:
            folder = Path(tmp) / str(rows)
            folder.mkdir()
            aggregates = synthesise(folder, rows)
            result = measure("--child", folder, rows, aggregates)
            if rows <= BASELINE_MAX_ROWS:  # beyond, pandas would need several GB on a shared machine
                base = measure("--baseline", folder, rows, aggregates)
                print(
                    f"{rows:>9} rows, baseline (pandas load + key checks): {base['seconds']:>6.2f} s, "
                    f"peak RSS {base['peak_rss_mb']:>7.1f} MB",
                    flush=True,
                )
                baselines.append(
                    {
                        **{k: base[k] for k in ("rows", "seconds", "peak_rss_mb")},
                        "time_ratio": round(result["seconds"] / base["seconds"], 2),
                        "rss_ratio": round(result["peak_rss_mb"] / base["peak_rss_mb"], 2),
                    }
                )
            print(
                f"{rows:>9} rows: {result['seconds']:>6.2f} s, peak RSS {result['peak_rss_mb']:>7.1f} MB, "
                f"{result['checks']} checks",
                flush=True,
            )
            results.append({k: result[k] for k in ("rows", "seconds", "peak_rss_mb")})
    print(json.dumps({"results": results, "baseline": baselines}))


if __name__ == "__main__":
    main()
