"""``versement sources generate``: synthetic Apogée, Harpège and Pégase sources at any scale.

Registered in ``versement.cli`` by :func:`add_commands`. Exit status 2, with one line naming the
problem (never a password), for an unknown tool, a bad URL or parameter, or a target that holds
something else than a synthetic source.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_commands(command: Command) -> None:
    sources = command("sources", _sources, "bases sources synthétiques (démonstration, tests, mesures)")
    actions = sources.add_subparsers(dest="sources_action", required=True)
    generate = actions.add_parser(
        "generate",
        help="generate a synthetic source (SQLite or PostgreSQL), deterministic from a seed",
        description="Generate a synthetic source holding exactly the tables and columns of the tool's "
        "specification (extractors/specs/TOOL.toml). Idempotent; never replaces a non-synthetic database.",
    )
    generate.add_argument("tool", help="apogee, harpege or pegase")
    generate.add_argument("--url", required=True, help="sqlite:///FILE or postgresql://USER@HOST/DATABASE")
    size = generate.add_mutually_exclusive_group()
    size.add_argument("--students", type=int, help="number of students (apogee, pegase)")
    size.add_argument("--agents", type=int, help="number of agents (harpege)")
    generate.add_argument(
        "--years", default="3", help="a number of years ending in 2023 (5), or a range (2019-2023) or list (2021,2023)"
    )
    generate.add_argument("--seed", type=int, default=None)
    generate.add_argument("--nasty", action="store_true", help="add the values an extraction must stop on or flag")


def parse_years(text: str) -> int | list[int]:
    text = text.strip()
    if re.fullmatch(r"\d{1,2}", text):
        return int(text)
    match = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", text)
    if match:
        first, last = int(match.group(1)), int(match.group(2))
        if last < first:
            raise ValueError(f"--years {text}: the range ends before it starts")
        return list(range(first, last + 1))
    if re.fullmatch(r"\d{4}(\s*,\s*\d{4})*", text):
        return [int(y) for y in text.split(",")]
    raise ValueError(f"--years {text!r}: expected a number of years (5), a range (2019-2023) or a list (2021,2023)")


def _sources(args: argparse.Namespace) -> int:
    from extractors.synthetic import DEFAULT_SEED, SyntheticSourceError, generate

    try:
        years = parse_years(args.years)
        options: dict[str, Any] = {"years": years, "seed": DEFAULT_SEED if args.seed is None else args.seed}
        if args.students is not None:
            options["students"] = args.students
        if args.agents is not None:
            options["agents"] = args.agents
        summary = generate(args.tool, args.url, nasty=args.nasty, **options)
    except (SyntheticSourceError, ValueError) as exc:
        print(f"versement: error: {exc}", file=sys.stderr)
        return 2
    tables = len(summary.tables)
    rows = f"{summary.rows:,}".replace(",", " ")
    if summary.created:
        print(f"Source synthétique {summary.tool} générée : {summary.url} — {tables} tables, {rows} lignes "
              f"en {summary.seconds:.1f} s")  # fmt: skip
    else:
        print(f"Source synthétique {summary.tool} déjà à jour : {summary.url} — {tables} tables, {rows} lignes")
    return 0
