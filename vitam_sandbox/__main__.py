"""``python -m vitam_sandbox``: serve the VITAM sandbox (a test and demo server)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from vitam_sandbox import SandboxConfig, create_app, make_tls_material, serve


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    storage = Path(args.storage) if args.storage else None
    tls_folder = Path(args.tls_dir) if args.tls_dir else (storage or Path(".")) / "sandbox-tls"
    tls = make_tls_material(tls_folder, client=args.mutual_tls, require_client_cert=args.mutual_tls)
    config = SandboxConfig(
        tenants=frozenset(args.tenant or [0]),
        schema_dir=Path(args.schemas) if args.schemas else None,
        storage_dir=storage,
        polls_before_completion=args.polls,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(create_app(config), host=args.host, port=args.port, tls=tls) as url:
        _announce(url, tls.ca_path, tls.client_cert, storage)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vitam_sandbox",
        description="VITAM sandbox: a TEST AND DEMO server reproducing part of VITAM's API. Not VITAM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--storage", help="folder keeping operations across restarts (default: memory)")
    parser.add_argument(
        "--schemas",
        default=os.environ.get("VERSEMENT_SEDA_SCHEMAS"),
        help="folder with the SEDA schemas (2.1/, 2.2/, 2.3/); default $VERSEMENT_SEDA_SCHEMAS, else no XSD check",
    )
    parser.add_argument("--tls-dir", help="where to write the throwaway CA and certificates")
    parser.add_argument("--tenant", type=int, action="append", help="accepted tenant (repeatable)")
    parser.add_argument("--polls", type=int, default=1, help="status answers RUNNING before COMPLETED")
    parser.add_argument("--mutual-tls", action="store_true", help="require a client certificate")
    return parser


def _announce(url: str, ca: Path, client: tuple[str, str] | None, storage: Path | None) -> None:
    print("VITAM sandbox (test and demo server, not VITAM) listening:", flush=True)
    for service in ("ingest-external", "admin-external", "access-external"):
        print(f"  {url}/{service}/v1", flush=True)
    print(f"  CA certificate: {ca}", flush=True)
    if client:
        print(f"  client certificate: {client[0]} (key {client[1]})", flush=True)
    print(f"  storage: {storage or 'memory'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
