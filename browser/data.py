"""Reading a dataset's Parquet file for the explorer: DuckDB, read-only, nothing from outside.

Each query opens an in-memory DuckDB whose only reachable file is the dataset's Parquet file
(its path comes from the ledger, never from the request), then disables external access, the
automatic installing and loading of extensions, and locks the configuration, so no later
statement can read another file, write one or fetch code. Column names in a request are looked
up in the file's own schema and only the schema's spelling reaches the SQL (quoted); every value
a user types is a bound parameter.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow.parquet as pq

from extractors.specs import SENSITIVE_CLASSES

Operator = Literal["contient", "egal", "commence", "vide", "non_vide"]
OPERATORS_FR: dict[str, str] = {
    "contient": "contient",
    "egal": "est égal à",
    "commence": "commence par",
    "vide": "est vide",
    "non_vide": "n'est pas vide",
}
PAGE_SIZES = (25, 50, 100)
MAX_FILTERS = 3


class QueryError(ValueError):
    """A request the explorer refuses (unknown column, bad operator, bad page); shown in French."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: str = ""
    tags: tuple[str, ...] = ()

    @property
    def sensitive(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if t in SENSITIVE_CLASSES)


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    value: str = ""


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...] = ()
    sort: str | None = None
    descending: bool = False
    page: int = 1
    size: int = 50


@dataclass(frozen=True)
class Page:
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    total: int  # rows matching the filters
    query: Query
    hidden: tuple[Column, ...] = field(default=())

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.size))


def schema(path: Path, spec: Mapping[str, Any] | None) -> tuple[Column, ...]:
    """The file's columns, in file order, with labels and tags from the dataset's specification."""
    described = (spec or {}).get("columns") or {}
    columns = []
    for arrow_field in _arrow_schema(*version(path)):
        meta = described.get(arrow_field.name) or {}
        columns.append(
            Column(
                name=arrow_field.name,
                type=str(arrow_field.type),
                label=str(meta.get("label") or ""),
                tags=tuple(meta.get("tags") or ()),
            )
        )
    return tuple(columns)


def version(path: Path | str) -> tuple[str, int, int]:
    """The file as cache keys know it: path, size and modification time (a dataset file never
    changes once extracted; if it is replaced, the key changes with it)."""
    stat = Path(path).stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=1024)
def _arrow_schema(path: str, size: int, mtime_ns: int) -> Any:
    return pq.read_schema(path)


def visible_columns(
    columns: Sequence[Column], may_see_sensitive: bool
) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
    shown = tuple(c for c in columns if may_see_sensitive or not c.sensitive)
    hidden = tuple(c for c in columns if c not in shown)
    return shown, hidden


def parse_query(params: Mapping[str, Any], getlist: Any, columns: Sequence[Column]) -> Query:
    """The explorer's request parameters, checked against the visible columns."""
    known = {c.name: c for c in columns}
    names = getlist("colonne")[:MAX_FILTERS]
    operators = getlist("operateur")[:MAX_FILTERS]
    values = getlist("valeur")[:MAX_FILTERS]
    filters = []
    for index, name in enumerate(names):
        if not name:
            continue
        if name not in known:
            raise QueryError("colonne de filtre inconnue")
        operator = operators[index] if index < len(operators) else "contient"
        if operator not in OPERATORS_FR:
            raise QueryError("opérateur de filtre inconnu")
        value = values[index] if index < len(values) else ""
        if len(value) > 200:
            raise QueryError("valeur de filtre trop longue (200 caractères au plus)")
        if operator in ("contient", "egal", "commence") and value == "":
            continue
        filters.append(Filter(known[name].name, operator, value))
    sort = params.get("tri") or None
    if sort is not None and sort not in known:
        raise QueryError("colonne de tri inconnue")
    order = params.get("ordre", "asc")
    if order not in ("asc", "desc"):
        raise QueryError("ordre de tri inconnu (asc ou desc)")
    page = integer(params.get("page", "1"), "page")
    size = integer(params.get("taille", "50"), "taille")
    if size not in PAGE_SIZES:
        raise QueryError(f"taille de page non prévue ({', '.join(map(str, PAGE_SIZES))})")
    if page < 1 or page > 10_000_000:
        raise QueryError("numéro de page hors limites")
    return Query(tuple(filters), known[sort].name if sort else None, order == "desc", page, size)


def integer(text: Any, name: str) -> int:
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 9:
        raise QueryError(f"paramètre {name} : nombre entier attendu")
    return int(text)


def quoted(name: str) -> str:
    """A column name from the file's schema as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def locked_duckdb(path: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read ``path`` and nothing else, nothing from outside."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET allowed_paths = ?", [[path]])
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


@functools.lru_cache(maxsize=256)
def _database(path: str) -> duckdb.DuckDBPyConnection:
    """One locked DuckDB per dataset file, kept (opening one costs ~100 ms); a person's file
    reads a few files of each batch, hence room for many."""
    return locked_duckdb(path)


@contextmanager
def connect(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on a DuckDB that can read ``path`` and nothing else (one cursor per thread)."""
    cursor = _database(str(path)).cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _folded(sql: str) -> str:
    """Text compared as the person search compares names: case and accents dropped, the ligatures
    œ and æ spelt out, typographic apostrophes as plain ones (« Œuvre » matches "oeuvre")."""
    lowered = f"lower({sql})"
    for ligature, spelt in (("œ", "oe"), ("æ", "ae"), ("’", "''")):  # '' : a quote in an SQL literal
        lowered = f"replace({lowered}, '{ligature}', '{spelt}')"
    return f"strip_accents({lowered})"


def _where(filters: Sequence[Filter]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for item in filters:
        text = _folded(f"CAST({quoted(item.column)} AS VARCHAR)")
        if item.operator == "contient":
            clauses.append(f"contains({text}, {_folded('?')})")
            params.append(item.value)
        elif item.operator == "commence":
            clauses.append(f"starts_with({text}, {_folded('?')})")
            params.append(item.value)
        elif item.operator == "egal":
            clauses.append(f"CAST({quoted(item.column)} AS VARCHAR) = ?")
            params.append(item.value)
        elif item.operator == "vide":
            clauses.append(f"({quoted(item.column)} IS NULL OR CAST({quoted(item.column)} AS VARCHAR) = '')")
        else:
            clauses.append(f"({quoted(item.column)} IS NOT NULL AND CAST({quoted(item.column)} AS VARCHAR) <> '')")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _select(columns: Sequence[Column], query: Query) -> tuple[str, list[Any]]:
    where, params = _where(query.filters)
    listed = ", ".join(quoted(c.name) for c in columns)
    order = ""
    if query.sort is not None:
        order = f" ORDER BY {quoted(query.sort)} {'DESC' if query.descending else 'ASC'} NULLS LAST"
    return f"SELECT {listed} FROM read_parquet(?){where}{order}", params


class _PageCache:
    """Pages already answered, by file version, columns and query: a dataset file never changes
    once extracted (its digest is checked at every hand-off), so the same page asked by many
    users is computed once; a request for a page being computed waits for it (single flight)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: dict[tuple[Any, ...], Page] = {}
        self._computing: dict[tuple[Any, ...], threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Any) -> Page:
        while True:
            with self._lock:
                if key in self._pages:
                    return self._pages[key]
                waiting = self._computing.get(key)
                if waiting is None:
                    self._computing[key] = threading.Event()
                    break
            waiting.wait(timeout=60)
        try:
            found: Page = compute()
            with self._lock:
                if len(self._pages) >= self.size:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[key] = found
            return found
        finally:
            with self._lock:
                self._computing.pop(key).set()


PAGES = _PageCache()


def page(path: Path, columns: Sequence[Column], query: Query, hidden: Sequence[Column] = ()) -> Page:
    try:
        stat = Path(path).stat()
    except OSError:
        return _page(path, columns, query, hidden)  # raises as before
    key = (str(path), stat.st_size, stat.st_mtime_ns, tuple(columns), query, tuple(hidden))
    return PAGES.get(key, lambda: _page(path, columns, query, hidden))


def _page(path: Path, columns: Sequence[Column], query: Query, hidden: Sequence[Column] = ()) -> Page:
    where, where_params = _where(query.filters)
    sql, params = _select(columns, query)
    with connect(path) as connection:
        total = _count(connection, path, where, where_params)
        offset = (query.page - 1) * query.size
        rows = connection.execute(f"{sql} LIMIT ? OFFSET ?", [str(path), *params, query.size, offset]).fetchall()
    return Page(tuple(columns), rows, total, query, tuple(hidden))


def count(path: Path, query: Query) -> int:
    where, params = _where(query.filters)
    with connect(path) as connection:
        return _count(connection, path, where, params)


def _count(connection: duckdb.DuckDBPyConnection, path: Path, where: str, params: list[Any]) -> int:
    found = connection.execute(f"SELECT count(*) FROM read_parquet(?){where}", [str(path), *params]).fetchone()
    return int(found[0]) if found else 0


def export_rows(
    path: Path, columns: Sequence[Column], query: Query, batch_rows: int = 5000
) -> Iterator[list[tuple[Any, ...]]]:
    """Every row matching the filters, in chunks, so memory does not grow with the dataset."""
    sql, params = _select(columns, query)
    with connect(path) as connection:
        result = connection.execute(sql, [str(path), *params])
        while chunk := result.fetchmany(batch_rows):
            yield chunk
