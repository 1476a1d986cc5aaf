"""``make bench-browser``: how fast the browser's pages answer, alone and under concurrent users.

A synthetic dataset of ROWS rows (Parquet, written here) and a ledger are served by uvicorn on
loopback. Each page is timed beside the health probe measured in the same run (the baseline:
the cost of HTTP, the session and the middleware), then USERS users load the main pages at
once. Person search is not measured yet: it waits for the person index (issue 12). The last line
is one JSON object.
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
from versement.config import BrowserConfig
from versement.ledger import Dataset, Ledger, State
from versement.ledger.accounts import Accounts

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
USERS = int(os.environ.get("BENCH_USERS", "50"))
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
    Accounts(ledger, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add(
        "auditeur", "auditor", PASSWORD, actor="bench"
    )
    return ledger


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
        app = create_app(ledger, BrowserConfig(), secret_key="bench")
        base, server, thread = serve(app)
        client = signed_in(base)
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

        mixed = [pages["dashboard"], pages["batch"], pages["dataset page 1"], pages["dataset filter contains, sorted"]]
        cookies = client.cookies

        def user(index: int) -> list[float]:
            with httpx.Client(base_url=base, timeout=300, cookies=cookies) as own:
                return [timed(own, *mixed[(index + n) % len(mixed)]) for n in range(4)]

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            samples = [s for chunk in pool.map(user, range(USERS)) for s in chunk]
        wall = time.perf_counter() - start
        load_p50, load_p95 = percentiles(samples)
        print(
            f"{USERS} concurrent users, {len(samples)} requests in {wall:.1f} s: p50 {load_p50:.1f} ms, "
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
                "search_p95_ms": None,  # person search: not built yet
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
