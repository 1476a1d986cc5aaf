"""Synthetic sources at any scale, for the demo, the tests and the benchmarks.

``generate(tool, url, students=N | agents=N, years=Y, seed=S, nasty=False) -> SourceSummary``
creates, in a SQLite file or a PostgreSQL database, exactly the tables and columns that
``extractors/specs/<tool>.toml`` reads, with Oracle-like declared types on SQLite (VARCHAR2(n),
NUMBER(p,s), DATE) and their PostgreSQL equivalents. Rows are a pure function of the seed: the
same parameters give identical rows on both backends. See ``writer`` (idempotence, atomicity,
COPY), ``nasty`` (which awkward values are always present and which only with ``nasty=True``),
and one module per tool for its tables and scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from extractors.synthetic import apogee, harpege, pegase
from extractors.synthetic.base import NotSynthetic, Parameters, SourceSummary, SyntheticSourceError
from extractors.synthetic.writer import write

TOOLS: dict[str, ModuleType] = {"apogee": apogee, "harpege": harpege, "pegase": pegase}
SIZE_NAMES = {"apogee": "students", "harpege": "agents", "pegase": "students"}
LAST_YEAR = 2023
DEFAULT_SEED = 20240901


def generate(
    tool: str,
    url: str,
    *,
    students: int | None = None,
    agents: int | None = None,
    years: int | Sequence[int] = 3,
    seed: int = DEFAULT_SEED,
    nasty: bool = False,
) -> SourceSummary:
    """Generate (or find already there) the synthetic ``tool`` source at ``url``.

    ``years`` is a number of years ending in 2023, or the years themselves (academic years for
    Apogée and Pégase, calendar years for Harpège). Apogée and Pégase take ``students``, Harpège
    ``agents``.
    """
    params = parameters(tool, students=students, agents=agents, years=years, seed=seed, nasty=nasty)
    module = TOOLS[tool]
    try:
        content = module.tables(params)
    except ValueError as exc:
        raise SyntheticSourceError(str(exc)) from None
    return write(params, content, url)


def parameters(
    tool: str,
    *,
    students: int | None = None,
    agents: int | None = None,
    years: int | Sequence[int] = 3,
    seed: int = DEFAULT_SEED,
    nasty: bool = False,
) -> Parameters:
    if tool not in TOOLS:
        import difflib

        close = difflib.get_close_matches(tool, TOOLS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SyntheticSourceError(f"unknown tool {tool!r}{hint}; known: {', '.join(TOOLS)}")
    size_name = SIZE_NAMES[tool]
    given = {"students": students, "agents": agents}
    other = "agents" if size_name == "students" else "students"
    if given[other] is not None:
        raise SyntheticSourceError(f"{tool} is sized by {size_name}, not {other}")
    size = given[size_name]
    minimum = TOOLS[tool].MIN_SIZE
    if size is None:
        size = max(minimum, 120)
    if isinstance(size, bool) or not isinstance(size, int) or size < minimum:
        raise SyntheticSourceError(f"{size_name} must be an integer of at least {minimum}, got {size!r}")
    if isinstance(years, bool):
        raise SyntheticSourceError(f"years must be a number of years or a list of years, got {years!r}")
    if isinstance(years, int):
        if not 1 <= years <= 60:
            raise SyntheticSourceError(f"years must be between 1 and 60, got {years}")
        chosen = tuple(range(LAST_YEAR - years + 1, LAST_YEAR + 1))
    else:
        chosen = tuple(sorted(years))
        if not chosen or len(set(chosen)) != len(chosen) or not all(isinstance(y, int) for y in chosen):
            raise SyntheticSourceError(f"years must be distinct and not empty, got {list(years)}")
        if not all(1960 <= y <= 2100 for y in chosen):
            raise SyntheticSourceError(f"years must be plausible four-digit years (1960–2100), got {list(chosen)}")
    return Parameters(tool, size, chosen, int(seed), bool(nasty), TOOLS[tool].GENERATOR_VERSION)


__all__ = [
    "DEFAULT_SEED",
    "TOOLS",
    "NotSynthetic",
    "SourceSummary",
    "SyntheticSourceError",
    "generate",
    "parameters",
]
