"""``make bench-browser``: how fast the browser's pages answer, alone and under concurrent users.

A synthetic dataset of ROWS rows (Parquet, written here) and a ledger are served by uvicorn on
loopback. Each page is timed beside the health probe measured in the same run (the baseline:
the cost of HTTP, the session and the middleware), then USERS users load the main pages at
once. The person pages run over an Apogée of PERSON_ROWS element results (RESULTAT_ELP,
28 per student, sorted on COD_IND as the extraction writes them) with its students' identities,
its PERSONNEL link and a Harpège of agents (every fifth one also a student): the Parquet files are
written here directly in the shapes of the shipped specifications, since generating 10 million
rows in PostgreSQL and extracting them takes far longer than the benchmark itself. The person
index is built first (its time is printed), then person searches (name with a misspelt accent,
first name, birth date, student number, INE, dossier) and person files are timed, and the
concurrent users load the dashboard, a batch, the explorer, a search and a file. The last line is
one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import uvicorn
from argon2 import PasswordHasher

from browser import create_app
from browser.persons import PersonIndex
from versement.config import BrowserConfig
from versement.ledger import Dataset, Ledger, State
from versement.ledger.accounts import Accounts

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
PERSON_ROWS = int(os.environ.get("BENCH_PERSON_ROWS", "10000000"))
ELP_PER_STUDENT = 28
SURNAMES = ["LEFÈVRE", "MARTIN", "ŒUVRAY", "D'ARTAGNAN", "MÜLLER", "NÚÑEZ", "BERNARD", "L'HÔTE", "LE GOFF-DURAND"]
FIRST = ["Hélène", "Noël", "Lætitia", "Jean-Baptiste", "Chloé", "Maël", "Zoé", "Raphaël", "Séverin", "Anaïs"]
USERS = int(os.environ.get("BENCH_USERS", "50"))
THINK = float(os.environ.get("BENCH_THINK_SECONDS", "1.0"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
PASSWORD = "mot de passe du banc d'essai"


def write_dataset(path: Path, rows: int) -> None:
    names = ["LEFÈVRE", "Martin", "Œuvray", "D'Artagnan", "Müller", "Ñúñez", "Bernard"]
    writer = None
    chunk = 200_000
    for start in range(0, rows, chunk):
        count = min(chunk, rows - start)
        ids = range(start + 1, start + count + 1)
        table = pa.table(
            {
                "COD_IND": pa.array(ids, pa.int64()),
                "COD_ETU": pa.array([f"E{n:09d}" for n in ids]),
                "LIB_NOM_PAT_IND": pa.array([names[n % len(names)] for n in ids]),
                "NOTE": pa.array([(n % 200) / 10 for n in ids], pa.float64()),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


SYLLABLES = ["BA", "DU", "RO", "MI", "LA", "TE", "NO", "VI", "SA", "CO", "PE", "GU", "ZA", "FO", "RI", "JO"]


def student(n: int) -> tuple[str, str, str]:
    """Student n's surname, first name and birth date, one identity per student (agent n when
    n % 5 == 2 is the same person)."""
    suffix, rest = "", n // len(SURNAMES)
    while rest:
        suffix, rest = SYLLABLES[rest % len(SYLLABLES)] + suffix, rest // len(SYLLABLES)
    surname = SURNAMES[n % len(SURNAMES)] + (f" {suffix}" if suffix else "")
    return surname, FIRST[(n // 7) % len(FIRST)], f"{1980 + n % 25}-{1 + n % 12:02d}-{1 + n % 28:02d}"


def write_persons(folder: Path, students: int) -> dict[str, Path]:
    import numpy as np

    paths = {name: folder / f"{name}.parquet" for name in ("etudiants_identite", "resultats_elements")}
    identity = []
    for n in range(students):
        surname, first, birth = student(n)
        identity.append((100001 + n, f"2{n:08d}", f"{n:09d}", "ABCDEFGHJK"[n % 10], surname, first, birth))
    columns = list(zip(*identity, strict=True))
    pq.write_table(
        pa.table(
            {
                "COD_IND": pa.array(columns[0], pa.int64()),
                "COD_ETU": pa.array(columns[1]),
                "COD_NNE_IND": pa.array(columns[2]),
                "COD_CLE_NNE_IND": pa.array(columns[3]),
                "LIB_NOM_PAT_IND": pa.array(columns[4]),
                "LIB_PR1_IND": pa.array(columns[5]),
                "DATE_NAI_IND": pa.array(columns[6]),
            }
        ),
        paths["etudiants_identite"],
        row_group_size=131_072,
    )
    elements = pa.array([f"E{k:07d}" for k in range(400)])
    writer = None
    per_chunk = 1_000_000 // ELP_PER_STUDENT
    rng = np.random.default_rng(7)
    for start in range(0, students, per_chunk):
        count = min(per_chunk, students - start)
        ids = np.repeat(np.arange(100001 + start, 100001 + start + count, dtype=np.int64), ELP_PER_STUDENT)
        codes = (np.arange(len(ids)) * 7919) % len(elements)
        table = pa.table(
            {
                "COD_IND": pa.array(ids),
                "COD_ELP": elements.take(pa.array(codes)),
                "COD_ANU": pa.array(["2023"] * len(ids)),
                "COD_SES": pa.array(["1"] * len(ids)),
                "NOT_ELP": pa.array(np.round(rng.uniform(0, 20, len(ids)), 3)),
                "COD_TRE": pa.array(np.where(rng.uniform(0, 1, len(ids)) < 0.8, "ADM", "AJ")),
            }
        )
        writer = writer or pq.ParquetWriter(paths["resultats_elements"], table.schema)
        writer.write_table(table, row_group_size=131_072)
    assert writer is not None
    writer.close()
    return paths


def write_agents(folder: Path, agents: int) -> dict[str, Path]:
    paths = {"agents_identite": folder / "agents_identite.parquet", "ref_personnels": folder / "ref_personnels.parquet"}
    people = [
        student(k) if k % 5 == 2 else (SURNAMES[k % 4], FIRST[k % 3], f"1970-01-{1 + k % 28:02d}")
        for k in range(agents)
    ]
    pq.write_table(
        pa.table(
            {
                "NO_DOSSIER_PERS": pa.array([10_001 + k for k in range(agents)], pa.int64()),
                "NOM_PATRONYMIQUE": pa.array([p[0] for p in people]),
                "PRENOM": pa.array([p[1] for p in people]),
                "D_NAISSANCE": pa.array([p[2] for p in people]),
            }
        ),
        paths["agents_identite"],
    )
    pq.write_table(
        pa.table(
            {
                "COD_PER": pa.array([f"P{k:05d}" for k in range(agents)]),
                "LIB_NOM_PAT_PER": pa.array([p[0] for p in people]),
                "LIB_PR1_PER": pa.array([p[1] for p in people]),
                "DAT_NAI_PER": pa.array([p[2] for p in people]),
                "NUM_DOS_HAR_PER": pa.array([10_001 + k for k in range(agents)], pa.int64()),
            }
        ),
        paths["ref_personnels"],
    )
    return paths


def spec_datasets(tool: str, paths: dict[str, Path]) -> list[Dataset]:
    from extractors.files import sha256_file
    from extractors.specs import load_tool
    from versement.pipeline import dataset_spec_record

    spec = load_tool(tool)
    datasets = []
    for name, path in paths.items():
        rows = pq.read_metadata(path).num_rows
        datasets.append(
            Dataset(
                name=name,
                source_table=name,
                path=str(path),
                rows=rows,
                source_count=rows,
                sha256=sha256_file(path),
                columns=[],
                query="",
                spec=dataset_spec_record(spec.dataset(name)),
            )
        )
    return datasets


def build(folder: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    ledger.migrate()
    parquet = folder / "resultats.parquet"
    write_dataset(parquet, ROWS)
    batch = ledger.create_batch("apogee", "2023-2024", "bench")
    dataset = Dataset(
        name="resultats",
        source_table="RESULTAT_VDI",
        path=str(parquet),
        rows=ROWS,
        source_count=ROWS,
        sha256="0" * 64,
        columns=[],
        query="",
        spec={"label": "Résultats", "columns": {}},
    )
    ledger.transition(batch.id, State.EXTRACTED, actor="bench", action="extract", datasets=[dataset])
    students = PERSON_ROWS // ELP_PER_STUDENT
    apogee = ledger.create_batch("apogee", "2022-2023", "bench")
    persons = write_persons(folder, students)
    persons.update({"ref_personnels": write_agents(folder, max(20, students // 50))["ref_personnels"]})
    ledger.transition(
        apogee.id, State.EXTRACTED, actor="bench", action="extract", datasets=spec_datasets("apogee", persons)
    )
    harpege = ledger.create_batch("harpege", "1970-2023", "bench")
    agents = {"agents_identite": folder / "agents_identite.parquet"}
    ledger.transition(
        harpege.id, State.EXTRACTED, actor="bench", action="extract", datasets=spec_datasets("harpege", agents)
    )
    Accounts(ledger, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add(
        "auditeur", "auditor", PASSWORD, actor="bench"
    )
    return ledger


def worker(ledger_url: str, index_path: str, port: int) -> None:
    """One server process of the browser on a shared port (SO_REUSEPORT): the kernel spreads the
    connections, as behind ``python -m browser --workers N``."""
    import socket

    ledger = Ledger(ledger_url)
    index = PersonIndex(Path(index_path), ledger)
    app = create_app(ledger, BrowserConfig(), secret_key="bench", person_index=index)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


def serve_workers(ledger_url: str, index_path: Path, count: int) -> tuple[str, list[Any]]:
    import multiprocessing
    import socket

    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker, args=(ledger_url, str(index_path), port), daemon=True) for _ in range(count)
    ]
    for process in processes:
        process.start()
    probe.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/sante", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the browser workers did not start"
        time.sleep(0.2)
    time.sleep(2)  # let every worker finish starting
    return base, processes


def serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/connexion").text)
    assert token
    answer = client.post("/connexion", data={"nom": "auditeur", "mot_de_passe": PASSWORD, "csrf": token.group(1)})
    assert answer.status_code in (200, 303), answer.status_code
    return client


def person_requests(students: int, count: int) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Searches by every criterion and files of students spread over the file (and student-agents)."""
    searches: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    for i in range(count):
        n = (i * 104_729) % students
        surname, first, birth = student(n)
        day, month, year = birth[8:], birth[5:7], birth[:4]
        kinds = [
            {"nom": surname.lower().replace("è", "é"), "prenom": first},  # the accent misspelt
            {"numero": f"2{n:08d}"},
            {"numero": f"{n:09d}{'ABCDEFGHJK'[n % 10]}"},
            {"nom": surname.split("-")[0].title(), "naissance": f"{day}/{month}/{year}"},
            {"numero": str(10_001 + (n % max(20, students // 50)))},
        ]
        searches.append(("/personnes", kinds[i % len(kinds)]))
        agent = 5 * ((i * 31) % max(1, students // 250)) + 2  # a student who is also an agent
        files.append((f"/personnes/apogee-{100001 + (agent if i % 4 == 0 else n)}", None))
    return searches, files


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        ledger = build(Path(folder))
        index = PersonIndex(Path(folder) / "staging" / "person-index.sqlite", ledger)
        started = time.perf_counter()
        index.refresh()
        index_seconds = time.perf_counter() - started
        print(f"person index: {index.counts()} built in {index_seconds:.1f} s", file=sys.stderr)
        app = create_app(ledger, BrowserConfig(), secret_key="bench", person_index=index)
        base, server, thread = serve(app)
        client = signed_in(base)
        students = PERSON_ROWS // ELP_PER_STUDENT
        searches, files = person_requests(students, REPEAT * 3)
        for path, params in searches[:3] + files[:3]:
            timed(client, path, params)  # warm
        search_p50, search_p95 = percentiles([timed(client, path, params) for path, params in searches])
        file_p50, file_p95 = percentiles([timed(client, path, params) for path, params in files])
        print(
            f"{'person search':<34} p50 {search_p50:8.1f} ms  p95 {search_p95:8.1f} ms  ({len(searches)} searches)",
            file=sys.stderr,
        )
        print(
            f"{'person file':<34} p50 {file_p50:8.1f} ms  p95 {file_p95:8.1f} ms  ({len(files)} files)",
            file=sys.stderr,
        )
        pages = {
            "baseline /sante": ("/sante", None),
            "dashboard": ("/", None),
            "batch": ("/lots/1", None),
            "dataset page 1": ("/lots/1/jeux/resultats", None),
            "dataset page 10000": ("/lots/1/jeux/resultats", {"page": "10000"}),
            "dataset filter contains, sorted": (
                "/lots/1/jeux/resultats",
                {
                    "colonne": "LIB_NOM_PAT_IND",
                    "operateur": "contient",
                    "valeur": "lefevre",
                    "tri": "NOTE",
                    "ordre": "desc",
                },
            ),
            "dataset filter equals": (
                "/lots/1/jeux/resultats",
                {"colonne": "COD_ETU", "operateur": "egal", "valeur": "E000123456"},
            ),
        }
        results = {}
        for name, (path, params) in pages.items():
            timed(client, path, params)  # warm
            results[name] = percentiles([timed(client, path, params) for _ in range(REPEAT)])
        baseline = results["baseline /sante"][1]
        for name, (p50, p95) in results.items():
            print(
                f"{name:<34} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  ({p95 / baseline:6.1f}× baseline p95)",
                file=sys.stderr,
            )

        mixed = [
            pages["dashboard"],
            pages["batch"],
            pages["dataset page 1"],
            pages["dataset filter contains, sorted"],
            searches[1],
            files[1],
        ]
        cookies = client.cookies
        load_base, workers = serve_workers(str(ledger.engine.url), index.path, WORKERS)

        def user(index: int, think: float = 0.0) -> list[tuple[int, float]]:
            with httpx.Client(base_url=load_base, timeout=300, cookies=cookies) as own:
                kinds = [(index + n) % len(mixed) for n in range(len(mixed))]
                found = []
                for kind in kinds:
                    found.append((kind, timed(own, *mixed[kind])))
                    time.sleep(think * (0.5 + (index * 7 + kind) % 10 / 10))  # reading the page
                return found

        with ThreadPoolExecutor(max_workers=USERS) as pool:  # a first round warms every server process
            list(pool.map(user, range(USERS)))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            timings = [t for chunk in pool.map(user, range(USERS)) for t in chunk]
        wall = time.perf_counter() - start
        samples = [elapsed for _kind, elapsed in timings]
        load_p50, load_p95 = percentiles(samples)
        names = ["dashboard", "batch", "dataset page 1", "dataset filter", "person search", "person file"]
        for kind, name in enumerate(names):
            p50, p95 = percentiles([elapsed for k, elapsed in timings if k == kind])
            print(f"  under load: {name:<20} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms", file=sys.stderr)
        # The same users reading each page about THINK seconds before the next, as people do.
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            reading = [t for chunk in pool.map(lambda i: user(i, THINK), range(USERS)) for t in chunk]
        think_p50, think_p95 = percentiles([elapsed for _kind, elapsed in reading])
        print(
            f"{USERS} users reading each page ~{THINK:.1f} s: p50 {think_p50:.1f} ms, p95 {think_p95:.1f} ms",
            file=sys.stderr,
        )
        for process in workers:
            process.terminate()
            process.join(timeout=30)
        print(
            f"{USERS} concurrent users on {WORKERS} server process(es), {len(samples)} requests in {wall:.1f} s: "
            f"p50 {load_p50:.1f} ms, "
            f"p95 {load_p95:.1f} ms",
            file=sys.stderr,
        )
        audited = len(ledger.events())
        intact = ledger.verify().ok
        server.should_exit = True
        thread.join(timeout=30)
        client.close()
        ledger.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rows": ROWS,
                "baseline_p95_ms": round(baseline, 1),
                "dataset_p95_ms": round(results["dataset page 1"][1], 1),
                "filter_p95_ms": round(results["dataset filter contains, sorted"][1], 1),
                "filter_vs_baseline": round(results["dataset filter contains, sorted"][1] / baseline, 1),
                "load_p95_ms": round(load_p95, 1),
                "users": USERS,
                "audit_events": audited,
                "audit_intact": intact,
                "peak_rss_mb": round(peak_mb),
                "index_seconds": round(index_seconds, 1),
                "load_with_reading_p95_ms": round(think_p95, 1),
                "workers": WORKERS,
                "search_p50_ms": round(search_p50, 1),
                "file_p50_ms": round(file_p50, 1),
            }
        )
    )
    # The line, last.
    print(
        json.dumps(
            {
                "rows": PERSON_ROWS,
                "search_p95_ms": round(search_p95, 1),
                "file_p95_ms": round(file_p95, 1),
                "load_p95_ms": round(load_p95, 1),
                "users": USERS,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
