"""``versement browse`` and ``versement accounts``: serve the consultation browser, manage its accounts.

The browser is an application on top of the ledger: versement starts it as its own program
(``python -m browser``) and never imports it. Accounts live in the ledger database
(``versement.ledger.accounts``); a password is read from the terminal without echo, or from
standard input with ``--password-stdin``, never from the command line where ``ps`` shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from versement.config import Settings

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]

ROLES = ("auditor", "archivist", "admin")  # versement.ledger.accounts.ROLES, without importing argon2 here
DEMO_ACCOUNTS = (("auditeur", "auditor"), ("archiviste", "archivist"), ("admin", "admin"))


def add_commands(command: Command, settings: Callable[[argparse.Namespace], Settings]) -> None:
    """Register ``browse`` and ``accounts`` on the CLI's sub-command helper."""
    browse = command(
        "browse",
        lambda args: serve_browser(settings(args), args.host, args.port, args.workers, args.rebuild_index),
        "servir le navigateur de consultation",
    )
    browse.add_argument("--host", default="127.0.0.1", metavar="ADRESSE", help="l'adresse d'écoute (127.0.0.1)")
    browse.add_argument("--port", type=int, default=8000, help="le port d'écoute (8000)")
    browse.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="le nombre de processus serveurs, un par cœur (plus d'un : VERSEMENT_BROWSER_SESSION_PASSWORD requis)",
    )
    browse.add_argument(
        "--rebuild-index",
        action="store_true",
        help="reconstruire l'index des personnes (en gardant les lignes des lots purgés), puis s'arrêter",
    )

    accounts = command(
        "accounts", lambda args: _accounts(settings(args), args), "gérer les comptes locaux du navigateur"
    )
    accounts.add_argument("action", choices=["add", "list"], help="add : ajouter un compte ; list : les lister")
    accounts.add_argument("name", nargs="?", metavar="NOM", help="le nom du compte (add)")
    accounts.add_argument(
        "--role", choices=ROLES, help="auditor (auditeur), archivist (archiviste) ou admin (administrateur)"
    )
    accounts.add_argument(
        "--password-stdin",
        action="store_true",
        help="lire le mot de passe sur l'entrée standard (sinon : demandé deux fois, sans écho)",
    )
    accounts.add_argument(
        "--replace", action="store_true", help="changer le rôle et le mot de passe d'un compte existant"
    )


def serve_browser(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, rebuild_index: bool = False
) -> int:
    """Serve the browser until Ctrl+C, as its own program, on this deployment's configuration
    (or, ``rebuild_index``, rebuild its person index and return)."""
    if not rebuild_index:
        print(f"Navigateur des versements : http://{host}:{port}/ (Ctrl+C pour arrêter)", file=sys.stderr)
    command = [
        sys.executable,
        "-m",
        "browser",
        "--config",
        str(settings.source_file),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(["--rebuild-index"] if rebuild_index else []),
    ]
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.run(command, check=False).returncode
    return 0


def _accounts(settings: Settings, args: argparse.Namespace) -> int:
    from versement.cli import UsageError, _actor, _ledger
    from versement.ledger.accounts import AccountError, Accounts

    store = Accounts(_ledger(settings))
    if args.action == "list":
        for account in store.all():
            print(f"{account.name}\t{account.role}\t{'actif' if account.active else 'inactif'}")
        return 0
    if not args.name or not args.role:
        raise UsageError("accounts add : donnez le NOM du compte et --role auditor|archivist|admin")
    password = _read_password(args.password_stdin)
    try:
        store.add(args.name, args.role, password, actor=_actor(), replace=args.replace)
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    print(f"compte {args.name} ({args.role}) enregistré")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Confirmez le mot de passe : ") != first:
        from versement.cli import UsageError

        raise UsageError("accounts add : les deux mots de passe diffèrent")
    return first


def demo_accounts(settings: Settings, ledger: Any) -> list[tuple[str, str, str]]:
    """One account per role with a fresh random password, only where the configuration asks
    (``browser.demo_accounts``, set by config/demo.toml alone). Returns (name, role, password)."""
    if not settings.browser.demo_accounts:
        return []
    from versement.ledger.accounts import Accounts

    store = Accounts(ledger)
    made = []
    for name, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        store.add(name, role, password, actor="demo", replace=True)
        made.append((name, role, password))
    return made


def describe_demo_accounts(made: list[tuple[str, str, str]]) -> str:
    lines = ["Comptes de démonstration du navigateur (mots de passe renouvelés à chaque démonstration) :"]
    lines += [f"  {role:<10} nom : {name:<11} mot de passe : {password}" for name, role, password in made]
    return "\n".join(lines)
