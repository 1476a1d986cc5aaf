"""bench-package: Parquet → validated SEDA SIP(s) for a batch of person files, at scale.

One run prints:

1. the whole time from Parquet to finished, validated SIP(s): a table of persons and a table of
   their registrations (synthesised here, sorted by person key as the extraction writes them)
   are read in record batches, merged per person, each person becomes one File with one JSON
   Item (seda.tree), the tree is streamed into SIPs (split at the default limits, 100,000 units
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

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.validate_worker import peak_rss_mb  # noqa: E402
from seda.model import Management, Rule  # noqa: E402
from seda.tree import JSON, DataObject, Keyword, SipHeader, SipPart, Unit, stable_key, with_start  # noqa: E402
from seda.writer import write_package  # noqa: E402

SCHEMAS = Path(os.environ.get("VERSEMENT_SEDA_SCHEMAS", REPO.parent.parent / "shared" / "seda"))
if not (SCHEMAS / "2.1").is_dir():
    SCHEMAS = Path("/work/shared/seda")
RULES = REPO / "config" / "rules.csv"
BATCH_ROWS = 5_000  # rows per record batch read from Parquet
STUDENT = Management(appraisal=Rule("APP-00002"), final_action="Destroy", access=Rule("ACC-00016"))


def synthesise(folder: Path, persons: int, rows_per_person: int) -> tuple[Path, Path]:
    """Two Parquet files sorted by COD_ETU, written in slices so that memory stays small."""
    people = folder / "individus.parquet"
    rows = folder / "inscriptions.parquet"
    people_schema = pa.schema(
        [("COD_ETU", pa.int64()), ("NOM", pa.string()), ("PRENOM", pa.string()), ("DATE_NAI", pa.date32())]
    )
    rows_schema = pa.schema(
        [("COD_ETU", pa.int64()), ("COD_ANU", pa.int32()), ("COD_ETP", pa.string()), ("LIB_ETP", pa.string())]
    )
    with pq.ParquetWriter(people, people_schema) as pw, pq.ParquetWriter(rows, rows_schema) as rw:
        for start in range(0, persons, BATCH_ROWS):
            ids = list(range(start + 1, min(start + BATCH_ROWS, persons) + 1))
            pw.write_table(
                pa.table(
                    {
                        "COD_ETU": ids,
                        "NOM": [f"Nom{i} d'Éàü" for i in ids],
                        "PRENOM": [f"Prénom{i % 997}" for i in ids],
                        "DATE_NAI": [date(1980 + i % 25, 1 + i % 12, 1 + i % 28) for i in ids],
                    },
                    schema=people_schema,
                )
            )
            rw.write_table(
                pa.table(
                    {
                        "COD_ETU": [i for i in ids for _ in range(rows_per_person)],
                        "COD_ANU": [2015 + (i + r) % 9 for i in ids for r in range(rows_per_person)],
                        "COD_ETP": [f"E{(i * 7 + r) % 500:04d}" for i in ids for r in range(rows_per_person)],
                        "LIB_ETP": [f"Licence & master <{r}>" for i in ids for r in range(rows_per_person)],
                    },
                    schema=rows_schema,
                )
            )
    return people, rows


def _batches(path: Path) -> Iterator[dict[str, list[Any]]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        yield batch.to_pydict()


def person_files(people: Path, rows: Path) -> Iterator[Unit]:
    """Merge the two sorted tables person by person; one File with one JSON Item each."""
    row_batches = _batches(rows)
    pending: dict[str, list[Any]] = {}
    position = 0

    def rows_of(person: int) -> list[dict[str, Any]]:
        nonlocal pending, position
        found: list[dict[str, Any]] = []
        while True:
            if not pending or position >= len(pending["COD_ETU"]):
                nxt = next(row_batches, None)
                if nxt is None:
                    return found
                pending, position = nxt, 0
            if pending["COD_ETU"][position] != person:
                return found
            found.append(
                {
                    "COD_ANU": pending["COD_ANU"][position],
                    "COD_ETP": pending["COD_ETP"][position],
                    "LIB_ETP": pending["LIB_ETP"][position],
                }
            )
            position += 1

    for batch in _batches(people):
        for number, name, first, born in zip(
            batch["COD_ETU"], batch["NOM"], batch["PRENOM"], batch["DATE_NAI"], strict=True
        ):
            registrations = rows_of(number)
            last = max((r["COD_ANU"] for r in registrations), default=None)
            document = {
                "individu": {"COD_ETU": number, "NOM": name, "PRENOM": first, "DATE_NAI": born.isoformat()},
                "inscriptions": registrations,
            }
            key = stable_key("apogee", "etudiant", number)
            end = date(last + 1, 8, 31) if last else None
            yield Unit(
                level="File",
                title=f"Dossier étudiant de {first} {name}",
                key=key,
                keywords=[Keyword(f"{name} {first}")],
                end_date=end,
                management=with_start(STUDENT, end),
                children=[
                    Unit(
                        "Item",
                        f"Données Apogée de {first} {name}",
                        key=f"{key}:donnees",
                        object=DataObject(
                            "dossier.json", JSON, data=json.dumps(document, ensure_ascii=False).encode("utf-8")
                        ),
                    )
                ],
            )


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
    """Write the SIPs; each finished SIP goes to one validating worker process (a plain
    interpreter that imports seda only), which works while the next SIP is written."""
    started = time.perf_counter()
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

    result = write_package(_header("BENCH-APOGEE"), _tree(person_files(people, rows)), out, on_sip=submit)
    worker.stdin.close()
    reports = [json.loads(line) for line in worker.stdout]
    worker.wait()  # its CPU time and peak RSS are counted once it has exited
    return time.perf_counter() - started, result, reports


def floor_run(people: Path, rows: Path, folder: Path) -> tuple[float, float, float]:
    """Our writer over payload files on disk, then sha512sum + zip -6 over the same files."""
    payloads = folder / "payloads"
    payloads.mkdir()
    count = 0
    for count, unit in enumerate(person_files(people, rows), start=1):
        item = next(iter(unit.children))
        assert item.object is not None and item.object.data is not None
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
        people, rows = folder / "individus.parquet", folder / "inscriptions.parquet"
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
