"""``python -m browser``: serve the consultation browser on the configured ledger.

``versement browse`` and ``versement demo`` start this program; the configuration is found as
the CLI finds it (``--config``, then ``$VERSEMENT_CONFIG``, then the embedded default).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from dataclasses import replace
from typing import Any

import uvicorn

from browser.app import create_app
from browser.vitam import VitamReader
from versement.config import CONFIG_VARIABLE, ConfigError, Settings, config_path, load
from versement.ledger import LedgerError, open_ledger
from versement.pipeline import endpoint as pipeline_endpoint
from vitam_client import RetryPolicy, VitamClient

VITAM_READ_SECONDS = 20.0
SESSION_SECRET = "browser_session"  # VERSEMENT_BROWSER_SESSION_PASSWORD signs the session cookies

log = logging.getLogger("browser")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m browser", description="serve the consultation browser")
    parser.add_argument("--config", help="deployment TOML file (default: $VERSEMENT_CONFIG, then the embedded default)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (one per core; needs the session secret set)"
    )
    parser.add_argument(
        "--rebuild-index",
        action="store_true",
        help="rebuild the person index from the local files (keeping the purged batches' rows) and exit",
    )
    args = parser.parse_args(argv)
    try:
        settings = load(config_path(args.config))
        ledger = open_ledger(settings)
    except (ConfigError, LedgerError) as exc:
        print(f"versement browse : erreur : {exc}", file=sys.stderr)
        return 2
    if args.rebuild_index:
        index = create_app(ledger, settings.browser).state.persons
        done = index.rebuild()
        counts = index.counts()
        print(
            f"index des personnes reconstruit : {done} jeu(x) de données relu(s), {counts['datasets']} indexé(s), "
            f"{counts['persons']} personne(s)",
            file=sys.stderr,
        )
        ledger.close()
        return 0
    secret = settings.secret(SESSION_SECRET)
    if secret is None:
        print(
            "versement browse : VERSEMENT_BROWSER_SESSION_PASSWORD n'est pas défini : les sessions sont signées "
            "d'une clé aléatoire et prennent fin à l'arrêt du navigateur",
            file=sys.stderr,
        )
    if args.workers > 1:
        if secret is None:
            print(
                "versement browse : --workers demande VERSEMENT_BROWSER_SESSION_PASSWORD : chaque processus doit "
                "signer les sessions de la même clé",
                file=sys.stderr,
            )
            return 2
        ledger.close()
        os.environ[CONFIG_VARIABLE] = str(config_path(args.config))
        uvicorn.run(
            "browser.__main__:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="warning",
            proxy_headers=False,
        )
        return 0
    app = create_app(ledger, settings.browser, secret_key=secret, vitam=vitam_reader(settings))
    # The person index catches up with the ledger in the background from the start (a large
    # batch takes seconds to index), rather than on the first search.
    threading.Thread(target=app.state.persons.ensure_fresh, name="person-index", daemon=True).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=False)
    return 0


def vitam_reader(settings: Settings) -> VitamReader | None:
    """Read-back from VITAM's access-external for purged batches, when an access contract is
    configured. A page waits for VITAM at most VITAM_READ_SECONDS per call, retried once."""
    if not settings.vitam.access_contract:
        return None
    endpoint = replace(pipeline_endpoint(settings), timeout=VITAM_READ_SECONDS)
    retry = RetryPolicy(attempts=2, first_delay=0.5, max_delay=0.5)
    return VitamReader(lambda: VitamClient(endpoint, retry=retry))


def worker_app() -> Any:
    """The app of one server process under ``--workers`` (the configuration found as ``main`` found it)."""
    settings = load(config_path(None))
    app = create_app(
        open_ledger(settings),
        settings.browser,
        secret_key=settings.secret(SESSION_SECRET),
        vitam=vitam_reader(settings),
    )
    threading.Thread(target=app.state.persons.ensure_fresh, name="person-index", daemon=True).start()
    return app


if __name__ == "__main__":
    raise SystemExit(main())
