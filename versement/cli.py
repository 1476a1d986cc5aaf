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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.handler(args)
        return result
    except ConfigError as exc:
        _error(f"configuration: {exc}")
        return 2
    except Exception as exc:
        return _report_failure(exc)


def _report_failure(exc: Exception) -> int:
    from versement.ledger import IllegalTransition, LedgerError

    _error(str(exc) or type(exc).__name__)
    if isinstance(exc, LedgerError | FileNotFoundError):
        return 2
    if isinstance(exc, IllegalTransition):
        return 1
    if os.environ.get("VERSEMENT_DEBUG"):
        raise exc
    return 1


def _error(message: str) -> None:
    print(f"versement: error: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="versement", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        type=Path,
        help="deployment TOML file (default: $VERSEMENT_CONFIG, then config/demo.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = command("demo", _demo, "run the whole pipeline on the embedded default, then serve the browser")
    demo.add_argument("--no-serve", action="store_true", default=bool(os.environ.get("NO_SERVE")))
    demo.add_argument("--port", type=int, default=8000)

    extract = command("extract", _extract, "extract a source's datasets (one snapshot) into a new batch")
    extract.add_argument("source")
    for name, handler, text in (
        ("validate", _validate, "run the quality checks of an extracted batch"),
        ("package", _package, "build and check the SIP of a validated batch, and ask for approval"),
        ("transfer", _transfer, "send an approved batch to VITAM (exactly once), record the ATR, verify"),
        ("verify", _verify, "read an accepted batch back from VITAM and compare it with what was sent"),
    ):
        command(name, handler, text).add_argument("batch", type=int)
    commands.choices["transfer"].add_argument(
        "--dry-run",
        action="store_true",
        help="ingest with BLANK_TEST: VITAM checks the SIP and archives nothing; no state changes",
    )

    atr = command("atr", _atr_parse, "read an ArchiveTransferReply (ATR) file")
    atr.add_argument("action", choices=["parse"])
    atr.add_argument("path", type=Path)
    atr.add_argument("--json", action="store_true")

    approve = command("approve", _approve, "approve a batch awaiting approval (bound to its SIP's SHA-256)")
    approve.add_argument("batch", type=int)
    approve.add_argument("--by", required=True, help="the approving archivist's name")
    approve.add_argument("--sha256", help="the SIP digest you reviewed; refused if the SIP differs")
    approve.add_argument("--comment", default="")

    reject = command("reject", _reject, "reject a batch awaiting approval")
    reject.add_argument("batch", type=int)
    reject.add_argument("--by", required=True)
    reject.add_argument("--reason", required=True)

    status = command("status", _status, "list batches and their states")
    status.add_argument("--json", action="store_true")

    audit = command("audit", _audit_verify, "check the audit trail")
    audit.add_argument("action", choices=["verify"])

    sip = command("sip", _sip_validate, "check a SIP (zip) or a manifest against the SEDA and VITAM schemas")
    sip.add_argument("action", choices=["validate"])
    sip.add_argument("path", type=Path)
    sip.add_argument("--seda", choices=["2.1", "2.2", "2.3"])
    sip.add_argument("--json", action="store_true")
    sip.add_argument(
        "--schemas",
        type=Path,
        help="folder holding 2.1/ 2.2/ 2.3/ (default: from the configuration)",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load(config_path(args.config))


def _actor() -> str:
    return os.environ.get("VERSEMENT_ACTOR") or f"cli:{getpass.getuser()}"


def _ledger(settings: Settings) -> Any:
    from versement.ledger import open_ledger

    return open_ledger(settings)


# -- stage commands ---------------------------------------------------------------------------


def _extract(args: argparse.Namespace) -> int:
    from versement.demo import prepare_sources
    from versement.pipeline import run_extract

    settings = _settings(args)
    prepare_sources(settings)  # only sources marked synthetic, and only when missing
    batch = run_extract(settings, _ledger(settings), args.source, actor=_actor(), progress=progress.rows_extracted)
    progress.done()
    print(
        f"batch {batch.id}: {batch.state} "
        f"({sum(d.rows for d in batch.datasets)} rows in {len(batch.datasets)} datasets)"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from versement.pipeline import run_validate

    settings = _settings(args)
    batch = run_validate(settings, _ledger(settings), args.batch, actor=_actor())
    print(f"batch {batch.id}: {batch.state}")
    return 0 if batch.state == "validated" else 1


def _package(args: argparse.Namespace) -> int:
    from versement.pipeline import approval_request, run_package

    settings = _settings(args)
    batch = run_package(settings, _ledger(settings), args.batch, actor=_actor())
    print(approval_request(batch, settings))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from versement.pipeline import approve

    settings = _settings(args)
    batch = approve(_ledger(settings), args.batch, approver=args.by, sha256=args.sha256, comment=args.comment)
    print(f"Lot {batch.id} validé par {batch.approved_by} (SHA-256 {batch.approved_sha256}).")
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
        _error(f"{path}: no such file")
        return 2
    try:
        atr = parse_atr(path.read_bytes())
    except AtrError as exc:
        _error(f"{path}: {exc}")
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


def batch_summary(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "source": batch.source,
        "scope": batch.scope,
        "state": batch.state,
        "created_at": batch.created_at,
        "updated_at": batch.updated_at,
        "datasets": [
            {"name": d.name, "rows": d.rows, "sha256": d.sha256, "quality": d.quality_success} for d in batch.datasets
        ],
        "message_identifier": batch.message_identifier,
        "sip_path": batch.sip_path,
        "sip_sha256": batch.sip_sha256,
        "approved_by": batch.approved_by,
        "vitam_operation_id": batch.vitam_operation_id,
        "atr_path": batch.atr_path,
        "atr_reply_code": batch.atr_reply_code,
    }


def _status(args: argparse.Namespace) -> int:
    from versement.ledger import LABELS_FR, State

    settings = _settings(args)
    batches = [batch_summary(b) for b in _ledger(settings).batches()]
    if args.json:
        print(json.dumps({"batches": batches}, ensure_ascii=False, indent=2))
        return 0
    print(status_table(batches, LABELS_FR, State))
    return 0


def status_table(batches: list[dict[str, Any]], labels: dict[Any, str], state: Any) -> str:
    header = f"{'lot':>4}  {'source':<10} {'périmètre':<10} {'état':<32} {'lignes':>8}  {'opération VITAM':<36} ATR"
    lines = [header, "-" * len(header)]
    for b in batches:
        rows = sum(d["rows"] for d in b["datasets"])
        label = labels[state(b["state"])]
        lines.append(
            f"{b['id']:>4}  {b['source']:<10} {b['scope']:<10} {label:<32} {rows:>8}  "
            f"{b['vitam_operation_id'] or '-':<36} {b['atr_reply_code'] or '-'}"
        )
    if not batches:
        lines.append("(aucun lot)")
    return "\n".join(lines)


def _audit_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check = _ledger(settings).verify()
    if check.ok:
        print(f"audit trail intact: {check.events} events, every hash and link checked")
        return 0
    for problem in check.problems:
        print(f"TAMPERED: {problem}", file=sys.stderr)
    print(f"audit trail NOT intact: {len(check.problems)} problem(s) in {check.events} events")
    return 1


def _sip_validate(args: argparse.Namespace) -> int:
    from seda import validate_manifest, validate_sip

    schemas = args.schemas
    if schemas is None:
        try:
            schemas = _settings(args).seda_schemas
        except ConfigError:
            schemas = None
    path: Path = args.path
    if not path.exists():
        _error(f"{path}: no such file")
        return 2
    if path.suffix.lower() == ".xml":
        report = validate_manifest(path, schemas, version=args.seda)
    else:
        report = validate_sip(path, schemas, version=args.seda)
    if args.json:
        print(
            json.dumps(
                {"path": str(path), "valid": report.valid, **report.to_dict()},
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
