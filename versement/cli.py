"""The ``versement`` command line: one subcommand per pipeline stage, plus status and audit.

Exit codes: 0 success, 1 the thing checked is not right (invalid SIP, broken audit chain, a
stage that failed), 2 the command itself cannot run (bad configuration, unknown batch).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from versement import progress
from versement.config import ConfigError, Settings, config_path, load
from versement.messages import FrenchArgumentParser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:
        if exc.code and "--json" in words:  # argparse has said why on stderr; --json still gets its object
            print(json.dumps({"ok": False, "error": "ligne de commande invalide (voir stderr)", "exit": exc.code}))
        raise
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return result
    except BrokenPipeError:
        return _broken_pipe()
    except ConfigError as exc:
        return _fail(args, f"configuration: {exc}", 2)
    except UsageError as exc:
        return _fail(args, str(exc), 2)
    except Exception as exc:
        return _report_failure(args, exc)


def _broken_pipe() -> int:
    """The reader went away (``versement status | head -1``): stop quietly, as shell tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would raise again otherwise
    return 141  # 128 + SIGPIPE, the shell's code for a writer whose pipe closed


def _report_failure(args: argparse.Namespace, exc: Exception) -> int:
    from seda import SchemaError
    from versement.ledger import IllegalTransition, LedgerError
    from versement.messages import archivist_text

    message = archivist_text(exc)
    if isinstance(exc, LedgerError | FileNotFoundError | SchemaError):
        return _fail(args, message, 2)
    if isinstance(exc, IllegalTransition) or not os.environ.get("VERSEMENT_DEBUG"):
        return _fail(args, message, 1)
    raise exc


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """The error on stderr, and with --json one JSON object on stdout as well."""
    _error(message)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message, "exit": code}, ensure_ascii=False))
    return code


def _error(message: str) -> None:
    print(f"versement : erreur : {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = FrenchArgumentParser(prog="versement", description="versement des lots d'une source dans VITAM")
    parser.add_argument(
        "--config",
        type=Path,
        help="fichier TOML du déploiement (par défaut : $VERSEMENT_CONFIG, puis config/demo.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = command(
        "demo", _demo, "dérouler tout le versement sur la configuration embarquée, puis servir le navigateur"
    )
    demo.add_argument("--no-serve", action="store_true", default=bool(os.environ.get("NO_SERVE")))
    demo.add_argument("--port", type=int, default=8000)

    extract = command(
        "extract",
        _extract,
        "extraire les jeux de données d'une source (un instantané) dans un nouveau lot par périmètre",
    )
    extract.add_argument("source", help="la source, par son nom dans la configuration (apogee, harpege…)")
    scope = extract.add_mutually_exclusive_group()
    scope.add_argument(
        "--year", metavar="ANNÉE", help="année universitaire par sa première année (2023 = 2023-2024), ou année civile"
    )
    scope.add_argument(
        "--years", metavar="ANNÉES", help="une suite d'années universitaires, un lot par année : 2005-2023"
    )
    scope.add_argument(
        "--period", metavar="PÉRIODE", help="une période, pour les outils extraits par période : 2000-01-01..2023-12-31"
    )
    scope.add_argument("--all", action="store_true", help="tout (outils extraits sans périmètre)")
    extract.add_argument("--supersede", type=int, metavar="N", help="le lot archivé de ce périmètre à remplacer")
    extract.add_argument(
        "--reason", metavar="MOTIF", help="pourquoi le lot archivé est remplacé (obligatoire avec --supersede)"
    )
    for name, handler, text in (
        ("validate", _validate, "lancer le contrôle qualité d'un lot extrait"),
        ("package", _package, "construire et contrôler le SIP d'un lot contrôlé, puis demander sa validation"),
        ("transfer", _transfer, "verser un lot validé dans VITAM (une seule fois), enregistrer l'ATR, vérifier"),
        ("verify", _verify, "relire dans VITAM un lot accepté et le comparer avec ce qui a été envoyé"),
    ):
        sub = command(name, handler, text)
        sub.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
        if name == "package":
            sub.add_argument(
                "--no-schemas", action="store_true", help="passer les contrôles de schéma du SIP (consigné)"
            )
    commands.choices["transfer"].add_argument(
        "--dry-run",
        action="store_true",
        help="essai à blanc (BLANK_TEST) : VITAM contrôle le SIP sans rien archiver ; l'état ne change pas",
    )

    atr = command("atr", _atr_parse, "lire un fichier ArchiveTransferReply (ATR)")
    atr.add_argument("action", choices=["parse"])
    atr.add_argument("path", type=Path)
    atr.add_argument("--json", action="store_true")

    approve = command(
        "approve", _approve, "valider un lot en attente de validation (liée à l'empreinte SHA-256 de son SIP)"
    )
    approve.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
    approve.add_argument("--by", required=True, metavar="NOM", help="le nom de l'archiviste qui valide")
    approve.add_argument(
        "--sha256",
        action="append",
        metavar="EMPREINTE",
        help="l'empreinte du SIP examiné (obligatoire) ; refusée si le SIP diffère ; "
        "un lot de plusieurs SIP : une fois par partie",
    )
    approve.add_argument("--comment", metavar="TEXTE", default="", help="un commentaire, gardé au journal")

    withdraw = command("withdraw", _withdraw, "retirer la validation d'un lot pas encore transféré")
    withdraw.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
    withdraw.add_argument("--by", required=True, metavar="NOM", help="le nom de l'archiviste")
    withdraw.add_argument("--reason", required=True, metavar="MOTIF", help="le motif, gardé au journal d'audit")
    override = command("override", _override, "lever par écrit un contrôle qualité en échec (archiviste)")
    override.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
    override.add_argument("--by", required=True, metavar="NOM", help="le nom de l'archiviste")
    override.add_argument(
        "--reason", required=True, metavar="MOTIF", help="la justification, gardée au journal d'audit"
    )

    repackage = command(
        "repackage",
        _repackage,
        "empaqueter de nouveau un lot refusé, rejeté ou altéré, comme une nouvelle tentative (journalisée)",
    )
    repackage.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
    repackage.add_argument("--by", required=True, metavar="NOM", help="le nom de l'archiviste")
    repackage.add_argument("--reason", required=True, metavar="MOTIF", help="le motif, gardé au journal d'audit")

    reject = command("reject", _reject, "refuser un lot en attente de validation")
    reject.add_argument("batch", type=int, metavar="LOT", help="le numéro du lot")
    reject.add_argument("--by", required=True, metavar="NOM", help="le nom de l'archiviste")
    reject.add_argument("--reason", required=True, metavar="MOTIF", help="le motif, gardé au journal d'audit")

    command(
        "purge",
        _purge,
        "supprimer la copie locale (Parquet, rendus CSV, SIP) des lots vérifiés depuis "
        "[retention] purge_local_after_days jours ; le navigateur les relit alors dans VITAM",
    )

    status = command("status", _status, "lister les lots et leur état")
    status.add_argument("--json", action="store_true")

    audit = command("audit", _audit_verify, "vérifier le journal d'audit")
    audit.add_argument("action", choices=["verify"])
    audit.add_argument(
        "--vitam",
        action="store_true",
        help="comparer aussi les lots transférés avec le journal des opérations de VITAM (joint VITAM)",
    )

    from versement.sources_cli import add_commands as add_sources_commands

    add_sources_commands(command)

    sip = command("sip", _sip_validate, "contrôler un SIP (zip) ou un bordereau sur les schémas SEDA et VITAM")
    sip.add_argument("action", choices=["validate"])
    sip.add_argument("path", type=Path)
    sip.add_argument("--seda", choices=["2.1", "2.2", "2.3"])
    sip.add_argument("--json", action="store_true")
    sip.add_argument(
        "--schemas",
        type=Path,
        help="folder holding 2.1/ 2.2/ 2.3/ (default: from the configuration)",
    )
    sip.add_argument("--no-schemas", action="store_true", help="skip the schema checks, saying so in the report")
    sip.add_argument("--rules", type=Path, help="VITAM rules referential (CSV) every rule id is checked against")

    from vitam_sandbox.cli import add_arguments, run

    add_arguments(
        command("vitam-sandbox", run, "servir le bac à sable VITAM, serveur de test et de démonstration (pas VITAM)")
    )
    from versement.browse import add_commands  # browse, accounts

    add_commands(command, _settings)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load(config_path(args.config))


def _label(state: str) -> str:
    """A batch state as archivists read it (French)."""
    from versement.ledger import LABELS_FR, State

    return LABELS_FR[State(state)]


def _actor() -> str:
    return os.environ.get("VERSEMENT_ACTOR") or f"cli:{getpass.getuser()}"


def _ledger(settings: Settings) -> Any:
    from versement.ledger import open_ledger

    return open_ledger(settings)


# -- stage commands ---------------------------------------------------------------------------


def _extract(args: argparse.Namespace) -> int:
    from versement.demo import prepare_sources
    from versement.pipeline import EmptyScope, run_extract

    settings = _settings(args)
    source = settings.source(args.source)
    scopes = requested_scopes(args, source.spec.scope)
    if args.supersede is not None and len(scopes) > 1:
        raise UsageError("--supersede remplace un seul lot archivé : donnez une seule --year ou --period")
    prepare_sources(settings, only=source.name)  # only sources marked synthetic, and only when missing
    ledger = _ledger(settings)
    empty = []
    for scope in scopes:
        done = ledger.live_batch(source.name, scope.label) if len(scopes) > 1 else None
        if done is not None and done.state != "new":
            # A range run again (after an interruption, say) goes on where it stopped.
            print(f"lot {done.id} : {source.name} {scope.label} déjà {_label(done.state)}, laissé tel quel")
            continue
        try:
            batch = run_extract(
                settings,
                ledger,
                source.name,
                scope,
                actor=_actor(),
                progress=progress.rows_extracted,
                supersede=args.supersede,
                reason=args.reason,
            )
        except EmptyScope as exc:
            progress.done()
            if len(scopes) == 1:
                raise
            _error(str(exc))  # recorded on its batch; the other years of the range are still extracted
            empty.append(scope.label)
            continue
        progress.done()
        print(
            f"lot {batch.id} : {source.name} {scope.label} {_label(batch.state)} "
            f"({sum(d.rows for d in batch.datasets)} lignes dans {len(batch.datasets)} jeux de données)"
        )
        for name, note in ((batch.spec or {}).get("left_out_datasets") or {}).items():
            print(f"  {name} : {note}")
    if empty:
        _error(
            f"{len(empty)} périmètre(s) sur {len(scopes)} sans aucune donnée, donc sans lot extrait : "
            + ", ".join(empty)
        )
        return 1
    return 0


def requested_scopes(args: argparse.Namespace, kind: str) -> list[Any]:
    """The scopes the command line asks for, checked against what the tool is extracted by."""
    from extractors.scope import Scope, ScopeError

    try:
        if args.all:
            if kind != "all":
                raise ScopeError(f"cet outil s'extrait par {kind} : donnez --year, --years ou --period")
            return [Scope.everything()]
        if kind == "all":
            if args.year or args.years or args.period:
                raise ScopeError("cet outil s'extrait en entier : donnez --all ou rien")
            return [Scope.everything()]
        if args.years:
            first, sep, last = args.years.partition("-")
            if not (sep and first.strip().isdigit() and last.strip().isdigit()) or int(last) < int(first):
                raise ScopeError(f"--years {args.years!r} : attendu PREMIÈRE-DERNIÈRE, par exemple 2005-2023")
            return [Scope.parse(kind, str(year)) for year in range(int(first), int(last) + 1)]  # type: ignore[arg-type]
        text = args.year or args.period
        if text is None:
            flag = "--year" if kind == "academic_year" else "--period (ou --year pour une année civile)"
            raise ScopeError(f"à préciser ({flag})")
        return [Scope.parse(kind, text)]  # type: ignore[arg-type]
    except ScopeError as exc:
        raise UsageError(f"périmètre : {exc}") from None


class UsageError(Exception):
    """The command line itself is wrong (exit 2)."""


def _validate(args: argparse.Namespace) -> int:
    from versement.pipeline import batch_folder, run_validate
    from versement.quality import REPORT_NAME, validate_table

    settings = _settings(args)
    batch = run_validate(settings, _ledger(settings), args.batch, actor=_actor())
    print(validate_table(batch))
    print(f"Rapport détaillé (HTML, hors ligne) : {batch_folder(settings, batch.id) / REPORT_NAME}")
    return 0 if batch.state == "validated" else 1


def _override(args: argparse.Namespace) -> int:
    from versement.quality import override

    settings = _settings(args)
    batch = override(_ledger(settings), args.batch, by=args.by, reason=args.reason)
    print(f"Lot {batch.id} : contrôle qualité levé par {args.by} ({args.reason}) ; il peut être empaqueté.")
    return 0


def _package(args: argparse.Namespace) -> int:
    # Arrow picks its allocator once per process, when it is first imported: the packaging's
    # (versement.renditions.use_system_allocator) only takes full effect if chosen before.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from versement.pipeline import run_package

    settings = _settings(args)
    ledger = _ledger(settings)
    batch = run_package(settings, ledger, args.batch, actor=_actor(), skip_schemas=args.no_schemas)
    (request,) = [e for e in ledger.events(batch.id) if e.action == "approval.requested"][-1:]
    print(json.loads(request.details)["message"])
    return 0


def _approve(args: argparse.Namespace) -> int:
    from versement.pipeline import approve

    settings = _settings(args)
    batch = approve(_ledger(settings), args.batch, approver=args.by, sha256=args.sha256, comment=args.comment)
    print(
        f"Lot {batch.id} validé par {batch.approved_by} ({batch.approver_identity}) (SHA-256 {batch.approved_sha256})."
    )
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    from versement.pipeline import withdraw

    settings = _settings(args)
    batch = withdraw(_ledger(settings), args.batch, by=args.by, reason=args.reason)
    print(
        f"Validation du lot {batch.id} retirée par {args.by} : {args.reason} (lot de nouveau en attente de validation)"
    )
    return 0


def _repackage(args: argparse.Namespace) -> int:
    from versement.attempts import repackage
    from versement.ledger import State
    from versement.pipeline import vitam_client

    settings = _settings(args)
    ledger = _ledger(settings)
    if ledger.batch(args.batch).state != State.SUBMITTING:
        batch = repackage(ledger, args.batch, by=args.by, reason=args.reason)
    else:  # the SIP may be in VITAM already: its logbook is asked first
        with vitam_client(settings) as vitam:
            batch = repackage(ledger, args.batch, by=args.by, reason=args.reason, vitam=vitam)
    print(
        f"Lot {batch.id} : nouvel empaquetage demandé par {args.by} ({args.reason}) ; la tentative précédente "
        f"reste au registre. Lancez « versement package {batch.id} »."
    )
    return 0


def _reject(args: argparse.Namespace) -> int:
    from versement.pipeline import reject

    settings = _settings(args)
    batch = reject(_ledger(settings), args.batch, approver=args.by, reason=args.reason)
    print(f"Lot {batch.id} refusé par {args.by} : {args.reason}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from versement.demo import sandbox
    from versement.pipeline import run_dry_run, run_transfer
    from versement.transfer import outcome_text

    # With vitam.sandbox = true (the embedded default) the test and demo server runs for the
    # length of the command, keeping its operations in the staging folder.
    with sandbox(_settings(args)) as settings:
        ledger = _ledger(settings)
        if args.dry_run:
            report = run_dry_run(settings, ledger, args.batch, actor=_actor(), on_status=progress.operation_status)
            print(report.text())
            return 0 if report.outcome in ("OK", "WARNING") else 1
        batch = run_transfer(settings, ledger, args.batch, actor=_actor(), on_status=progress.operation_status)
        print(outcome_text(ledger, batch))
    return 0 if batch.state == "verified" else 1


def _verify(args: argparse.Namespace) -> int:
    from versement.demo import sandbox
    from versement.pipeline import run_verify
    from versement.transfer import outcome_text

    with sandbox(_settings(args)) as settings:
        ledger = _ledger(settings)
        batch = run_verify(settings, ledger, args.batch, actor=_actor())
        print(outcome_text(ledger, batch))
    return 0 if batch.state == "verified" else 1


def _atr_parse(args: argparse.Namespace) -> int:
    from versement.vitam_reasons import reason_lines
    from vitam_client import AtrError, parse_atr

    path: Path = args.path
    if not path.is_file():
        _error(f"{path} : fichier introuvable")
        return 2
    try:
        atr = parse_atr(path.read_bytes())
    except AtrError as exc:
        _error(f"{path} : ATR illisible : {exc}")
        return 1
    if args.json:
        print(
            json.dumps(
                {"path": str(path), **atr.to_dict(), "reasons_fr": reason_lines(atr)}, ensure_ascii=False, indent=2
            )
        )
        return 0
    verdict = {"OK": "accepté", "WARNING": "accepté avec avertissements", "KO": "refusé", "FATAL": "erreur technique"}
    lines = [
        f"{path}: ATR SEDA {atr.seda_version}, ReplyCode {atr.reply_code or '(absent)'}"
        f" — {'essai à blanc, ' if atr.is_test else ''}{verdict.get(atr.outcome, 'réponse inconnue')}",
        f"  opération VITAM      {atr.operation_id or '-'}",
        f"  versement (SIP)      {atr.message_request_identifier or '-'}",
        f"  date d'acceptation   {atr.grant_date or '-'}",
        f"  unités d'archives    {len(atr.units)}",
        f"  objets               {len(atr.objects)}",
    ]
    lines += [f"  • {line}" for line in reason_lines(atr)]
    print("\n".join(lines))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from versement.demo import run_demo

    return run_demo(_settings(args), serve=not args.no_serve, port=args.port)


# -- reading commands -------------------------------------------------------------------------


# What a batch's last stage failure is called in ``versement status`` (ledger.STAGE_FAILURES).
FAILURE_LABELS = {
    "extract.failed": "échec de l'extraction",
    "validate.error": "contrôle qualité impossible",
    "package.failed": "échec de la constitution du SIP",
}


def batch_summary(batch: Any, failure: Any = None) -> dict[str, Any]:
    """One batch for ``versement status``; ``failure``: its last stage failure no state change has
    followed (``Ledger.open_failures``), if any."""
    from versement.attempts import attempts_json

    return {
        "id": batch.id,
        "source": batch.source,
        "scope": batch.scope,
        "scope_detail": batch.scope_detail,
        "spec": batch.spec,
        "state": batch.state,
        "created_at": batch.created_at,
        "updated_at": batch.updated_at,
        "datasets": [
            {
                "name": d.name,
                "label": (d.spec or {}).get("label"),
                "record_type": (d.spec or {}).get("record_type"),
                "rows": d.rows,
                "source_count": d.source_count,
                "sha256": d.sha256,
                "quality": d.quality_success,
            }
            for d in batch.datasets
        ],
        "message_identifier": batch.message_identifier,
        "sip_path": batch.sip_path,
        "sip_sha256": batch.sip_sha256,
        "approved_by": batch.approved_by,
        "approver_identity": batch.approver_identity,
        "approved_sha256": batch.approved_sha256,
        "supersedes": batch.supersedes,
        "superseded_by": batch.superseded_by,
        "vitam_operation_id": batch.vitam_operation_id,
        "atr_path": batch.atr_path,
        "atr_reply_code": batch.atr_reply_code,
        **attempts_json(batch),
        "failure": None
        if failure is None
        else {"action": failure.action, "at": failure.at, "error": json.loads(failure.details).get("error")},
    }


def _purge(args: argparse.Namespace) -> int:
    from versement.retention import PurgeError, purge

    settings = _settings(args)
    try:
        done = purge(settings, _ledger(settings), actor=_actor())
    except PurgeError as exc:
        return _fail(args, str(exc), 2 if settings.purge_local_after_days is None else 1)
    for item in done:
        print(
            f"lot {item.batch_id} : copie locale purgée ({len(item.files)} fichier(s)), vérifié dans VITAM le "
            f"{item.verified_at:%d/%m/%Y} ; ses pièces seront relues dans VITAM"
        )
    if not done:
        print(f"aucun lot à purger (lots vérifiés depuis au moins {settings.purge_local_after_days} jour(s))")
    return 0


def _status(args: argparse.Namespace) -> int:
    from versement.ledger import LABELS_FR, State

    settings = _settings(args)
    ledger = _ledger(settings)
    failures = ledger.open_failures()
    batches = [batch_summary(b, failures.get(b.id)) for b in ledger.batches()]
    if args.json:
        print(json.dumps({"batches": batches}, ensure_ascii=False, indent=2))
        return 0
    print(status_table(batches, LABELS_FR, State))
    return 0


def status_table(batches: list[dict[str, Any]], labels: dict[Any, str], state: Any) -> str:
    wide = max([10, *(len(b["scope"]) for b in batches)])  # a period (2019-01-01..2023-12-31) is wider than a year
    header = f"{'lot':>4}  {'source':<10} {'périmètre':<{wide}} {'état':<32} {'lignes':>8}  {'opération VITAM':<36} ATR"
    lines = [header, "-" * len(header)]
    for b in batches:
        rows = sum(d["rows"] for d in b["datasets"])
        label = labels[state(b["state"])]
        lines.append(
            f"{b['id']:>4}  {b['source']:<10} {b['scope']:<{wide}} {label:<32} {rows:>8}  "
            f"{b['vitam_operation_id'] or '-':<36} {b['atr_reply_code'] or '-'}"
        )
    if not batches:
        lines.append("(aucun lot)")
    for b in batches:
        if b["state"] == "awaiting_approval":
            lines.append(f"lot {b['id']} en attente de validation : empreinte SHA-256 du SIP {b['sip_sha256']}")
        if failed := b.get("failure"):
            what = FAILURE_LABELS.get(failed["action"], failed["action"])
            when = failed["at"][:19].replace("T", " ")
            lines.append(f"lot {b['id']} : {what} le {when} UTC : {failed['error']}")
    from versement.attempts import status_lines

    lines += status_lines(batches)
    return "\n".join(lines)


def _audit_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ledger = _ledger(settings)
    check = ledger.verify()
    if args.vitam:
        from dataclasses import replace

        from versement.demo import sandbox
        from versement.pipeline import vitam_client
        from versement.transfer import logbook_mismatches

        with sandbox(settings) as live, vitam_client(live) as client:
            outside = logbook_mismatches(ledger, client)
        check = replace(check, ok=check.ok and not outside, problems=(*check.problems, *outside))
        if check.ok:
            print(
                "journal des opérations de VITAM conforme : chaque lot transféré y figure, pour son SIP, avec "
                "l'issue que le registre a enregistrée"
            )
    if check.ok:
        anchored = (
            f", et comparés au journal d'ancrage {check.anchor}" if check.anchor else " (pas de journal d'ancrage)"
        )
        print(
            f"journal d'audit intègre : {check.events} événements, chaque empreinte et chaque chaînage vérifiés, "
            f"chaque ligne de lot et de jeu de données conforme à ses événements{anchored}"
        )
        return 0
    for problem in check.problems:
        print(f"ALTÉRATION : {problem}", file=sys.stderr)
    print(f"journal d'audit ALTÉRÉ : {len(check.problems)} problème(s) dans {check.events} événements")
    return 1


def _sip_validate(args: argparse.Namespace) -> int:
    from seda import SipError, validate_manifest, validate_sip
    from seda.validation import SKIPPED_ON_REQUEST

    path: Path = args.path
    if not path.is_file():
        return _fail(args, f"{path}: no such file" if not path.exists() else f"{path}: not a file", 2)
    schemas = None if args.no_schemas else args.schemas or _settings(args).seda_schemas
    if schemas is None and not args.no_schemas:
        return _fail(
            args,
            "no SEDA schemas folder: give --schemas FOLDER or set seda.schemas, "
            "or skip the schema checks explicitly with --no-schemas",
            2,
        )
    rules = None
    if args.rules is not None:
        from seda.rules import load_rules

        try:
            rules = load_rules(args.rules)
        except SipError as exc:
            return _fail(args, str(exc), 2)
    validate = validate_manifest if path.suffix.lower() == ".xml" else validate_sip
    report = validate(path, schemas, version=args.seda, skip_reason=SKIPPED_ON_REQUEST, rules=rules)
    if args.json:
        extra = {"schema_checks": SKIPPED_ON_REQUEST if args.no_schemas else "run"}
        print(
            json.dumps(
                {"path": str(path), "valid": report.valid, "ok": report.valid, **report.to_dict(), **extra},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for issue in report.issues:
            where = f"line {issue.line}" if issue.line else "-"
            print(f"{path}:{where}: [{issue.check}] {issue.message}")
        for skipped in report.checks_skipped:
            print(f"SKIPPED: {skipped}", file=sys.stderr)
        verdict = "valid" if report.valid else "INVALID"
        print(f"{path}: {verdict} (SEDA {report.version}; checks: {', '.join(report.checks_run)})")
    return 0 if report.valid else 1


if __name__ == "__main__":
    raise SystemExit(main())
