"""``make bench-transfer``: upload a big SIP to the sandbox over mutual TLS with the client, and
with ``curl`` as the baseline, in the same run; report the client's peak RSS and its throughput
relative to curl's.

The SIP is BENCH_TRANSFER_BYTES bytes (default 2 GiB) of incompressible data, not a zip: the
sandbox stores the whole body, answers 202 (as VITAM does, only once everything is received) and
refuses it asynchronously at CHECK_CONTAINER, so the time measured is the upload's. Each
uploader runs in its own process, twice, alternating; the faster run of each counts. The
client's peak RSS is its process's ``ru_maxrss``, next to the same process's RSS before
uploading (imports). Last line: one JSON object ``{"bytes", "peak_rss_mb", "ratio_vs_curl"}``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vitam_sandbox.config import DEMO_REFERENTIALS

CHUNK = 1024 * 1024
CLIENT = """
import json, resource, sys, time
from pathlib import Path

from vitam_sandbox.config import DEMO_REFERENTIALS
from vitam_client import VitamClient, VitamEndpoint
base, ca, cert, key, sip = sys.argv[1:6]
endpoint = VitamEndpoint(
    ingest_url=base + "/ingest-external/v1", admin_url=base + "/admin-external/v1",
    access_url=base + "/access-external/v1", tenant=0, verify=ca, client_cert=(cert, key),
)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with VitamClient(endpoint) as client:
    start = time.perf_counter()
    operation = client.ingest(Path(sip))
    elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "rss_before_kb": before, "peak_rss_kb": peak, "operation": operation}))
"""


def make_sip(path: Path, size: int) -> None:
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        remaining = size
        while remaining > 0:
            out.write(block[: min(CHUNK, remaining)])
            remaining -= CHUNK


def start_sandbox(folder: Path) -> tuple[subprocess.Popen[str], str, Path]:
    command = [
        sys.executable,
        "-m",
        "vitam_sandbox",
        "--port",
        "0",
        "--referentials",
        str(DEMO_REFERENTIALS),
        "--tls",  # throwaway material, client certificates required
        "--tls-dir",
        str(folder / "tls"),
        "--storage",
        str(folder / "storage"),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        found = re.search(r"(https://[0-9.]+:[0-9]+)/ingest-external/v1", line)
        if found:
            return server, found.group(1), folder / "tls"
    server.kill()
    raise RuntimeError("the sandbox did not start")


def run_curl(base: str, tls: Path, sip: Path) -> float:
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{time_total}",
        "--cacert",
        str(tls / "ca.pem"),
        "--cert",
        str(tls / "client.pem"),
        "--key",
        str(tls / "client-key.pem"),
        "--tlsv1.2",
        "-H",
        "X-Tenant-Id: 0",
        "-H",
        "X-Context-Id: DEFAULT_WORKFLOW",
        "-H",
        "X-Action: RESUME",
        "-H",
        "Content-Type: application/octet-stream",
        "-H",
        "Expect:",
        "-X",
        "POST",
        "--upload-file",  # streamed from the file (--data-binary would read it all into memory)
        str(sip),
        f"{base}/ingest-external/v1/ingests",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    code, seconds = done.stdout.split()
    if code != "202":
        raise RuntimeError(f"curl got HTTP {code}: {done.stderr}")
    return float(seconds)


def run_client(base: str, tls: Path, sip: Path) -> dict[str, float]:
    command = [
        sys.executable,
        "-c",
        CLIENT,
        base,
        str(tls / "ca.pem"),
        str(tls / "client.pem"),
        str(tls / "client-key.pem"),
        str(sip),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    size = int(os.environ.get("BENCH_TRANSFER_BYTES", str(2 * 1024**3)))
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as scratch:
        folder = Path(scratch)
        sip = folder / "big-sip.bin"
        make_sip(sip, size)
        server, base, tls = start_sandbox(folder)
        try:
            curl_times, client_runs = [], []
            for attempt in (1, 2):
                curl_times.append(run_curl(base, tls, sip))
                client_runs.append(run_client(base, tls, sip))
                print(
                    f"run {attempt}: curl {size / curl_times[-1] / 1e6:.0f} MB/s, "
                    f"client {size / client_runs[-1]['seconds'] / 1e6:.0f} MB/s, "
                    f"client peak RSS {client_runs[-1]['peak_rss_kb'] / 1024:.0f} MB "
                    f"(before upload {client_runs[-1]['rss_before_kb'] / 1024:.0f} MB)",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    curl_best = min(curl_times)
    client_best = min(run["seconds"] for run in client_runs)
    peak = max(run["peak_rss_kb"] for run in client_runs) / 1024
    print(
        f"{size} bytes: curl {size / curl_best / 1e6:.0f} MB/s (baseline), client {size / client_best / 1e6:.0f} MB/s, "
        f"client peak RSS {peak:.0f} MB (target < 150 MB, ratio target >= 0.8)"
    )
    ratio = round(curl_best / client_best, 3)
    print(json.dumps({"bytes": size, "peak_rss_mb": round(peak, 1), "ratio_vs_curl": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
