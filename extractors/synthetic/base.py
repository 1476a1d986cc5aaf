"""What every synthetic generator shares: its parameters, its summary, its errors, its randomness."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from extractors.synthetic.schema import Table

Row = tuple[object, ...]
RowFactory = Callable[[], Iterator[Row]]


class SyntheticSourceError(ValueError):
    """A synthetic source that cannot be generated (bad parameters, bad target). Terminal: retrying is useless."""

    terminal = True


class NotSynthetic(SyntheticSourceError):
    """The target already holds data that this generator did not write: it is never replaced."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target} exists and is not a synthetic source ({reason}); refusing to replace it")
        self.target = target


@dataclass(frozen=True)
class Parameters:
    """One generation's parameters; stored in VERSEMENT_SYNTHETIC, they make it idempotent."""

    tool: str
    size: int  # students (Apogée, Pégase) or agents (Harpège)
    years: tuple[int, ...]  # academic years (Apogée, Pégase) or calendar years (Harpège), sorted
    seed: int
    nasty: bool
    generator: str  # the tool module's GENERATOR_VERSION

    def stored(self) -> dict[str, str]:
        return {
            "tool": self.tool,
            "generator": self.generator,
            "size": str(self.size),
            "years": ",".join(map(str, self.years)),
            "seed": str(self.seed),
            "nasty": str(self.nasty).lower(),
        }

    def rng(self, *parts: object) -> random.Random:
        """An independent, reproducible stream per (tool, purpose, index): rows never depend on table order."""
        return random.Random("/".join(map(str, (self.seed, *parts))))


@dataclass(frozen=True)
class SourceSummary:
    """What a generator produced, or found already there (``created`` False)."""

    tool: str
    url: str  # password hidden
    tables: Mapping[str, int]  # table → rows
    created: bool
    parameters: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    path: Path | None = None  # the file, for SQLite

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class ToolTables:
    """A tool's tables, in creation order, each with the factory streaming its rows."""

    tables: tuple[Table, ...]
    rows: Mapping[str, RowFactory]
