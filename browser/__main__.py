"""``python -m browser``: serve the read-only browser on the configured ledger."""

from __future__ import annotations

import argparse
import os

import uvicorn

from browser.app import create_app
from versement.config import load
from versement.ledger import open_ledger


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m browser")
    parser.add_argument("--config", default=os.environ.get("VERSEMENT_CONFIG", "config/demo.toml"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    ledger = open_ledger(load(args.config))
    uvicorn.run(create_app(ledger), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
