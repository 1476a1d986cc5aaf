"""What every synthetic generator shares: its parameters, its summary, its errors, its randomness."""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from extractors.synthetic.schema import Table

Row = tuple[object, ...]
RowFactory = Callable[[], Iterator[Row]]


_MASK = (1 << 64) - 1


@functools.cache
def _word(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


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

    def rng(self, *parts: int | str) -> random.Random:
        """An independent, reproducible stream per (tool, purpose, index): rows never depend on table order.

        The seed is folded arithmetically (CRC-32 for the words): seeding from a string hashes it
        with SHA-512, several times slower, and ``hash()`` of a string changes between processes.
        """
        folded = self.seed & _MASK
        for part in parts:
            value = part if isinstance(part, int) else _word(part)
            folded = (folded * 1_000_003 + value + 1) & _MASK
        return random.Random(folded)


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


EntityRows = Mapping[str, Iterable[Row]]


@dataclass(frozen=True)
class ToolTables:
    """A tool's tables, in creation order, and how their rows are streamed.

    Small tables have a factory in ``rows``. The per-person tables (``per_entity``) are filled in
    one pass over the people: ``entities()`` yields, for each student or agent, that person's rows
    of every such table, so a career is computed once however many tables it feeds.
    """

    tables: tuple[Table, ...]
    rows: Mapping[str, RowFactory]
    per_entity: tuple[str, ...] = ()
    entities: Callable[[], Iterator[EntityRows]] | None = None

    def all_rows(self, name: str) -> Iterator[Row]:
        """One table's rows alone (tests, tools): per-person tables are walked for that table only."""
        if name in self.rows:
            yield from self.rows[name]()
            return
        assert self.entities is not None
        for entity in self.entities():
            yield from entity.get(name, ())
