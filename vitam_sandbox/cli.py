"""``versement vitam-sandbox`` (also ``python -m vitam_sandbox``): serve the VITAM sandbox, a test
and demo server that is NOT VITAM, until interrupted.

Plain HTTP unless ``--tls``. With ``--tls`` and ``--cert``/``--key`` the server uses that
certificate; without them it writes a throwaway CA, server and client certificate (under
``--tls-dir``, default ``<storage>/tls``) and prints their paths. Client certificates are
required, as on VITAM's external services, when ``--client-ca`` is given (certificates signed by
that CA) or when the material is generated (the generated client certificate).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument(
        "--referentials",
        type=Path,
        required=True,
        help="folder with ingest_contracts.json, agencies.csv, rules.csv (and optionally "
        "access_contracts.json, formats.xml), in VITAM's import formats",
    )
    parser.add_argument(
        "--storage", type=Path, help="folder keeping what was archived across restarts (default: memory)"
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=os.environ.get("VERSEMENT_SEDA_SCHEMAS"),
        help="folder with the SEDA schemas (2.1/, 2.2/, 2.3/); default $VERSEMENT_SEDA_SCHEMAS, else no XSD check",
    )
    parser.add_argument("--tenant", type=int, action="append", help="accepted tenant (repeatable; default 0)")
    parser.add_argument("--polls", type=int, default=1, help="status answers RUNNING before COMPLETED")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS")
    parser.add_argument("--cert", type=Path, help="server certificate (PEM), with --tls")
    parser.add_argument("--key", type=Path, help="server private key (PEM), with --tls")
    parser.add_argument("--client-ca", type=Path, help="require client certificates signed by this CA (PEM)")
    parser.add_argument("--tls-dir", type=Path, help="where to write throwaway TLS material")
    parser.add_argument("--test-endpoint", action="store_true", help="serve /sandbox-test/v1/faults (tests only)")


def run(args: argparse.Namespace) -> int:
    from vitam_sandbox import ReferentialError, SandboxConfig, create_app, load_referentials, serve
    from vitam_sandbox.tls import TlsMaterial, make_tls_material

    problem = _problem(args)
    if problem:
        print(f"vitam-sandbox: {problem}", file=sys.stderr)
        return 2
    try:
        referentials = load_referentials(args.referentials)
    except ReferentialError as exc:
        print(f"vitam-sandbox: referential refused: {exc}", file=sys.stderr)
        return 2
    tls: TlsMaterial | None = None
    if args.tls and args.cert:
        ca = args.client_ca or args.cert  # without --client-ca the CA file is loaded but never asked for
        tls = TlsMaterial(ca, args.cert, args.key, require_client_cert=args.client_ca is not None)
    elif args.tls:
        folder = args.tls_dir or (args.storage or Path(".")) / "tls"
        tls = make_tls_material(folder, client=True, require_client_cert=True)
    config = SandboxConfig(
        tenants=frozenset(args.tenant or [0]),
        referentials=referentials,
        schema_dir=args.schemas,
        storage_dir=args.storage,
        polls_before_completion=args.polls,
        test_endpoint=args.test_endpoint,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(create_app(config), host=args.host, port=args.port, tls=tls) as url:
        _announce(url, tls, args)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _problem(args: argparse.Namespace) -> str | None:
    if (args.cert is None) != (args.key is None):
        return "--cert and --key go together"
    if (args.cert or args.client_ca) and not args.tls:
        return "--cert, --key and --client-ca need --tls"
    if args.client_ca and not args.cert:
        return "--client-ca needs the server's --cert and --key"
    for name in ("cert", "key", "client_ca"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            return f"--{name.replace('_', '-')} {path}: no such file"
    if args.schemas is not None and not Path(args.schemas).is_dir():
        return f"--schemas {args.schemas}: no such folder"
    return None


def _announce(url: str, tls: object, args: argparse.Namespace) -> None:
    print("VITAM sandbox (a test and demo server, not VITAM) listening:", flush=True)
    for service in ("ingest-external", "admin-external", "access-external"):
        print(f"  {url}/{service}/v1", flush=True)
    ca = getattr(tls, "ca_path", None)
    client = getattr(tls, "client_cert", None)
    if tls is not None and not args.cert:
        print(f"  CA certificate: {ca}", flush=True)
    if client:
        print(f"  client certificate: {client[0]} (key {client[1]})", flush=True)
    print(f"  referentials: {args.referentials}", flush=True)
    print(f"  storage: {args.storage or 'memory'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vitam_sandbox",
        description="VITAM sandbox: a TEST AND DEMO server reproducing part of VITAM's API. Not VITAM.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
