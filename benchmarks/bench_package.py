"""bench-package: Parquet → validated SEDA SIP(s) for a batch of person files, at scale.

One run prints:

1. the whole time from Parquet to finished, validated SIP(s), through the packaging profile path
   that ``run_package`` takes (``versement.packaging.build_package`` with the shipped
   ``profiles/apogee.toml``): a table of persons and a table of their registrations, shaped as
   the Apogée datasets ``etudiants_identite`` and ``inscriptions_administratives`` (synthesised
   here), are read by DuckDB sorted by person key and merged per person; each person becomes
   one File with one JSON Item per slice (identity, registrations), the registrations table
   also goes as CSV with its data dictionary, the tree is streamed into SIPs (split at the default limits, 100,000 units
   plus objects), and every SIP is validated against both schemas, the rules referential, its
   references, digests and sizes; validation of a finished SIP runs in a worker process while
   the next one is written. Target: at least 5,000 units/s.
2. peak RSS of the process and of its largest worker (target under 300 MB together).
3. the time to write manifest, digests and zip over payload files already on disk, beside the
   floor measured in the same run on the same files: ``sha512sum`` plus ``zip -6``. Target: at
   most 1.5 × the floor.

Last line: one JSON object {"units", "units_per_s", "peak_rss_mb", "ratio_vs_floor", ...}.
``units`` counts every ArchiveUnit written (Fonds and Series repeated in each SIP included).

Usage: python benchmarks/bench_package.py [--persons N] [--rows-per-person R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# As `versement package` does (versement/cli.py): Arrow's allocator is chosen on import.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.validate_worker import peak_rss_mb  # noqa: E402
from seda.model import Management, Rule  # noqa: E402
from seda.tree import JSON, DataObject, SipHeader, SipPart, Unit  # noqa: E402
from seda.writer import write_package  # noqa: E402

SCHEMAS = Path(os.environ.get("VERSEMENT_SEDA_SCHEMAS", REPO.parent.parent / "shared" / "seda"))
if not (SCHEMAS / "2.1").is_dir():
    SCHEMAS = Path("/work/shared/seda")
RULES = REPO / "config" / "rules.csv"
BATCH_ROWS = 5_000  # rows per record batch read from Parquet


def synthesise(folder: Path, persons: int, rows_per_person: int) -> tuple[Path, Path]:
    """Two Parquet files shaped as the shipped Apogée datasets etudiants_identite and
    inscriptions_administratives (their columns, types and person key COD_IND), written in slices
    so that memory stays small."""
    people = folder / "etudiants_identite.parquet"
    rows = folder / "inscriptions_administratives.parquet"
    people_schema = pa.schema(
        [
            ("COD_IND", pa.int64()),
            ("COD_ETU", pa.string()),
            ("LIB_NOM_PAT_IND", pa.string()),
            ("LIB_PR1_IND", pa.string()),
            ("DATE_NAI_IND", pa.date32()),
        ]
    )
    rows_schema = pa.schema(
        [
            ("COD_ANU", pa.string()),
            ("COD_IND", pa.int64()),
            ("COD_ETP", pa.string()),
            ("COD_VRS_VET", pa.int32()),
            ("NUM_OCC_IAE", pa.int32()),
            ("DAT_CRE_IAE", pa.date32()),
        ]
    )
    with pq.ParquetWriter(people, people_schema) as pw, pq.ParquetWriter(rows, rows_schema) as rw:
        for start in range(0, persons, BATCH_ROWS):
            ids = list(range(start + 1, min(start + BATCH_ROWS, persons) + 1))
            pw.write_table(
                pa.table(
                    {
                        "COD_IND": ids,
                        "COD_ETU": [f"2{i:07d}" for i in ids],
                        "LIB_NOM_PAT_IND": [f"Nom{i} d'Éàü" for i in ids],
                        "LIB_PR1_IND": [f"Prénom{i % 997}" for i in ids],
                        "DATE_NAI_IND": [date(1980 + i % 25, 1 + i % 12, 1 + i % 28) for i in ids],
                    },
                    schema=people_schema,
                )
            )
            rw.write_table(
                pa.table(
                    {
                        "COD_ANU": ["2023" for i in ids for _ in range(rows_per_person)],
                        "COD_IND": [i for i in ids for _ in range(rows_per_person)],
                        "COD_ETP": [f"E{(i * 7 + r) % 500:04d}" for i in ids for r in range(rows_per_person)],
                        "COD_VRS_VET": [1 + r for i in ids for r in range(rows_per_person)],
                        "NUM_OCC_IAE": [1 for i in ids for r in range(rows_per_person)],
                        "DAT_CRE_IAE": [date(2023, 9, 1 + (i + r) % 28) for i in ids for r in range(rows_per_person)],
                    },
                    schema=rows_schema,
                )
            )
    return people, rows


def profile_batch(folder: Path, people: Path, rows: Path) -> tuple[Any, Any, Path]:
    """Settings and an in-memory batch (never stored) of the two datasets, packaged with the
    shipped Apogée profile (profiles/apogee.toml) as run_package does."""
    from extractors.scope import Scope
    from extractors.specs import load_tool
    from versement.config import load
    from versement.ledger import Batch, Dataset
    from versement.records import dataset_spec_record

    settings = load(
        REPO / "config" / "demo.toml",
        environ={
            "VERSEMENT__SEDA__SCHEMAS": str(SCHEMAS),
            "VERSEMENT__PATHS__STAGING": str(folder / "staging"),
            "VERSEMENT__LEDGER__URL": f"sqlite:///{folder / 'ledger.sqlite'}",
        },
    )
    spec = load_tool("apogee")
    batch = Batch(
        id=1,
        source="apogee",
        scope="2023-2024",
        scope_detail=Scope.academic_year(2023).to_json(),
        spec={"tool": "apogee", "title": "Apogée — scolarité"},
    )
    batch.datasets = [
        Dataset(
            name=path.stem,
            path=str(path),
            rows=pq.ParquetFile(path).metadata.num_rows,
            spec=dataset_spec_record(spec.dataset(path.stem)),
        )
        for path in (rows, people)
    ]
    trail_path = folder / "journal.json"
    trail_path.write_bytes(b"[]\n")
    return settings, batch, trail_path


def _header(identifier: str) -> SipHeader:
    return SipHeader(
        message_identifier=identifier,
        comment="Banc d'essai : dossiers étudiants",
        archival_agreement="IC-000001",
        archival_agency="CINES",
        transferring_agency="UNIV-DEMO",
        originating_agency="UNIV-DEMO",
        date=datetime.now(UTC).replace(microsecond=0),
        management=Management(access=Rule("ACC-00001")),
    )


def _tree(children: Iterator[Unit]) -> Unit:
    series = Unit("Series", "Dossiers individuels des étudiants", key="apogee:serie:etudiants", children=children)
    return Unit("Fonds", "Université de Démonstration — Apogée", key="apogee:fonds", children=iter([series]))


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def whole_run(people: Path, rows: Path, out: Path) -> tuple[float, Any, list[dict[str, Any]]]:
    """Write the SIPs through the packaging profile (versement.packaging.build_package); each
    finished SIP goes to one validating worker process (a plain interpreter that imports seda
    only), which works while the next SIP is written."""
    from versement.packaging import build_package
    from versement.renditions import use_system_allocator

    started = time.perf_counter()
    use_system_allocator()  # as run_package does, before the batch's Parquet files are read
    settings, batch, trail_path = profile_batch(out.parent, people, rows)
    worker = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.validate_worker", str(SCHEMAS), str(RULES)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdin is not None and worker.stdout is not None

    def submit(part: SipPart) -> None:
        assert worker.stdin is not None
        worker.stdin.write(f"{part.path}\n")
        worker.stdin.flush()

    result = build_package(settings, batch, out, "BENCH-APOGEE", trail_path, on_sip=submit).result
    worker.stdin.close()
    reports = [json.loads(line) for line in worker.stdout]
    worker.wait()  # its CPU time and peak RSS are counted once it has exited
    return time.perf_counter() - started, result, reports


def floor_run(people: Path, rows: Path, folder: Path) -> tuple[float, float, float]:
    """Our writer over payload files on disk, then sha512sum + zip -6 over the same files."""
    from versement.packaging import person_files

    payloads = folder / "payloads"
    payloads.mkdir()
    settings, batch, _ = profile_batch(folder, people, rows)
    count = 0
    for unit in person_files(settings, batch, folder):
        for item in unit.children:
            assert item.object is not None and item.object.data is not None
            count += 1
            (payloads / f"p{count:07d}.json").write_bytes(item.object.data)

    def from_files() -> Iterator[Unit]:
        for index in range(1, count + 1):
            path = payloads / f"p{index:07d}.json"
            yield Unit("Item", f"Dossier {index}", key=f"k{index}", object=DataObject(path.name, JSON, source=path))

    started = time.perf_counter()
    write_package(_header("BENCH-FILES"), _tree(from_files()), folder / "sips")
    ours = time.perf_counter() - started

    started = time.perf_counter()
    subprocess.run(f"find {payloads} -type f -print0 | xargs -0 sha512sum > /dev/null", shell=True, check=True)
    sha = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(["zip", "-6", "-q", "-r", str(folder / "floor.zip"), "payloads"], cwd=folder, check=True)
    zipped = time.perf_counter() - started
    return ours, sha, zipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rows-per-person", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    parser.add_argument("--synthesise-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.synthesise_only is not None:  # run as a child so that its memory is not counted
        synthesise(args.synthesise_only, args.persons, args.rows_per_person)
        return 0
    if shutil.which("zip") is None:
        print("zip is missing: apt-get install zip", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-package-", dir=args.keep))
    try:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--synthesise-only",
                str(folder),
                "--persons",
                str(args.persons),
                "--rows-per-person",
                str(args.rows_per_person),
            ],
            check=True,
        )
        people, rows = folder / "etudiants_identite.parquet", folder / "inscriptions_administratives.parquet"
        print(f"synthesised {args.persons} persons, {args.persons * args.rows_per_person} rows", flush=True)

        cpu_before = _cpu()
        elapsed, result, reports = whole_run(people, rows, folder / "sips")
        cpu = _cpu() - cpu_before
        load = os.getloadavg()[0]
        invalid = [r for r in reports if not r["valid"]]
        units_per_s = result.units / elapsed
        print(
            f"whole: {result.units} units, {result.objects} objects in {len(result.sips)} SIPs, "
            f"written and validated in {elapsed:.1f} s = {units_per_s:,.0f} units/s (target >= 5,000)"
        )
        print(
            f"  CPU time (writer + validating worker): {cpu:.1f} s = {result.units / cpu:,.0f} units per CPU-second; "
            f"load average {load:.1f} on {os.cpu_count()} cores during the run (other jobs share the machine)"
        )
        for sip in result.sips:
            print(f"  {sip.path.name}: {sip.unit_count} units, {sip.object_count} objects, sha256 {sip.sha256}")
        if invalid:
            print(f"INVALID SIPs: {invalid}", file=sys.stderr)
        shutil.rmtree(folder / "sips")

        ours, sha, zipped = floor_run(people, rows, folder)
        floor = sha + zipped
        ratio = ours / floor
        print(
            f"over files on disk: manifest + digests + zip {ours:.1f} s; floor sha512sum {sha:.1f} s + "
            f"zip -6 {zipped:.1f} s = {floor:.1f} s; ratio {ratio:.2f} (target <= 1.5)"
        )
        own = peak_rss_mb()
        worker = max(r["rss_mb"] for r in reports)
        peak = own + worker  # both run at once: their peaks add up (an upper bound)
        print(f"peak RSS: writer {own:.0f} MB + validating worker {worker:.0f} MB = {peak:.0f} MB (target < 300)")
        print(f"checks run on every SIP: {', '.join(reports[0]['checks'])}")
        summary = {
            "units": result.units,
            "units_per_s": round(units_per_s),
            "peak_rss_mb": round(peak),
            "ratio_vs_floor": round(ratio, 2),
            "sips": len(result.sips),
            "valid": not invalid,
            "seconds": round(elapsed, 1),
            "cpu_seconds": round(cpu, 1),
            "units_per_cpu_s": round(result.units / cpu),
            "load_average": round(load, 1),
        }
        print(json.dumps(summary))
        return 0 if not invalid else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
