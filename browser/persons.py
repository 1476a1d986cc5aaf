"""The person index: who appears in which rows of which batch, to find a file in milliseconds.

Built by the browser from the ledger's datasets and their Parquet files, not by the stages:
it is derived data, versement does not import the browser, and the extraction stays as it is.
Once a batch's local copy is purged (``versement purge``), though, the index is the only local
record of who is in its datasets: a rebuild (``rebuild``, ``python -m browser --rebuild-index``,
or a new index layout) re-reads every dataset that still has its file and keeps the rows of
the purged ones, whose pieces are then read from VITAM (``browser.vitam``). They are kept
rather than rebuilt from VITAM because VITAM holds a persons Series as one File per person:
re-deriving the index would download every person's JSON Items (one request each, hundreds of
thousands for an Apogée year) and the index rows are exactly what the verified files said. A
dataset purged before this index file ever had it (the file deleted by hand) cannot be found
by search; the search page says how many. The browser indexes on start and, at
most every ``interval`` seconds, the datasets that appeared since (new batches), in a
background thread: the cost of reading a large file is paid once, never on a request.

The index is one SQLite file in the staging area (``person-index.sqlite``, WAL journal):

- ``person``: one identity per source and person key (``apogee-123456`` is Apogée's COD_IND
  123456, the same across the yearly batches), with its names, first name, birth date, student
  number, INE and Harpège dossier number as the datasets tagged them (``extractors.specs``);
- ``name``: every name and first name of a person in its normalised forms (``browser.names``),
  searched by prefix through a B-tree index;
- ``piece``: the rows of a dataset that belong to a person, as runs of row numbers in the
  dataset's Parquet file (the row locator; one run per person when the file is sorted on the
  person key, as the extraction writes it);
- ``crossref``: rows of a dataset holding a cross-link (Apogée ``PERSONNEL.NUM_DOS_HAR_PER``,
  the Harpège dossier number of an Apogée staff member), with that row's identity;
- ``link``: two identities that are one person: same INE in two sources, or an agent whose
  Harpège dossier an Apogée PERSONNEL row names and whose name, first name and birth date are
  those of an Apogée student.

The Parquet files are read at build time by an in-memory DuckDB that may read only the file
being indexed (``allowed_paths``), with external access, extension installing and loading off
and its configuration locked. At query time the index is opened read-only (``mode=ro``), every
value is a bound parameter, and a person's rows are read from the Parquet file by their row
locator (``file_row_number``, through the explorer's DuckDB locked to that one file, which skips
the row groups outside the ranges), then checked against the person key.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from sqlalchemy import select

from browser import data, names
from browser.data import Column, quoted
from extractors.specs import SENSITIVE_CLASSES
from versement.ledger import AuditEvent, Batch, Dataset, Ledger
from versement.ledger.trail import PURGED

log = logging.getLogger(__name__)

FILENAME = "person-index.sqlite"
SCHEMA_VERSION = "1"
MAX_RESULTS = 50
MAX_PIECE_ROWS = 2000  # rows of one dataset shown in a person's file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indexed (
    dataset_id INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL, source TEXT NOT NULL, tool TEXT NOT NULL,
    scope TEXT NOT NULL, name TEXT NOT NULL, label TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, person_key TEXT, kind TEXT, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS person (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, source TEXT NOT NULL, tool TEXT NOT NULL, kind TEXT NOT NULL,
    value TEXT NOT NULL, surname TEXT, usage_name TEXT, first_name TEXT, birth TEXT, student_number TEXT,
    ine TEXT, dossier TEXT);
CREATE INDEX IF NOT EXISTS person_birth ON person (birth);
CREATE INDEX IF NOT EXISTS person_student_number ON person (student_number);
CREATE INDEX IF NOT EXISTS person_ine ON person (ine);
CREATE INDEX IF NOT EXISTS person_dossier ON person (dossier);
CREATE INDEX IF NOT EXISTS person_value ON person (value);
CREATE TABLE IF NOT EXISTS name (norm TEXT NOT NULL, person_id INTEGER NOT NULL, first INTEGER NOT NULL,
    PRIMARY KEY (first, norm, person_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS piece (person_id INTEGER NOT NULL, dataset_id INTEGER NOT NULL,
    row_from INTEGER NOT NULL, row_to INTEGER NOT NULL, rows INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS piece_person ON piece (person_id);
CREATE INDEX IF NOT EXISTS piece_dataset ON piece (dataset_id);
CREATE TABLE IF NOT EXISTS crossref (dataset_id INTEGER NOT NULL, row_number INTEGER NOT NULL,
    target TEXT NOT NULL, surname TEXT, first_name TEXT, birth TEXT);
CREATE INDEX IF NOT EXISTS crossref_target ON crossref (target);
CREATE TABLE IF NOT EXISTS link (a INTEGER NOT NULL, b INTEGER NOT NULL, basis TEXT NOT NULL,
    via_dataset INTEGER, via_row INTEGER, PRIMARY KEY (a, b, basis)) WITHOUT ROWID;
"""

BASIS_FR = {
    "ine": "même INE dans les deux outils",
    "cross_link": "dossier Harpège cité par Apogée (PERSONNEL.NUM_DOS_HAR_PER), même nom, prénom et date de naissance",
}
KIND_FR = {"student": "étudiant", "agent": "agent"}


class SearchError(ValueError):
    """A search the index refuses (nothing to search on, a malformed date); shown in French."""


@dataclass(frozen=True)
class Criteria:
    surname: str = ""
    first_name: str = ""
    birth: str = ""  # ISO date
    number: str = ""

    def described(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("nom", self.surname),
                ("prenom", self.first_name),
                ("naissance", self.birth),
                ("numero", self.number),
            )
            if v
        }


@dataclass(frozen=True)
class Identity:
    id: int
    key: str
    source: str
    tool: str
    kind: str
    value: str
    surname: str | None
    usage_name: str | None
    first_name: str | None
    birth: str | None
    student_number: str | None
    ine: str | None
    dossier: str | None

    @property
    def kind_fr(self) -> str:
        return KIND_FR.get(self.kind, self.kind)


@dataclass(frozen=True)
class Piece:
    """The rows of one dataset of one batch that belong to one identity of the file."""

    identity: Identity
    dataset_id: int
    batch_id: int
    source: str
    scope: str
    dataset: str
    label: str
    path: str
    row_ranges: tuple[tuple[int, int], ...]
    rows_count: int
    columns: tuple[Column, ...] = ()
    hidden: tuple[Column, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    problem: str | None = None  # the file is gone, changed since indexed, or no longer matches
    unit_id: str | None = None
    system_id: str | None = None
    batch_state: str | None = None
    truncated: bool = False
    from_vitam: tuple[str, ...] = ()  # the local file is purged: the VITAM units its rows were read from
    vitam_operation: str | None = None


@dataclass(frozen=True)
class Link:
    a: Identity
    b: Identity
    basis: str

    @property
    def basis_fr(self) -> str:
        return BASIS_FR.get(self.basis, self.basis)


@dataclass
class PersonFile:
    identity: Identity
    identities: list[Identity]
    links: list[Link]
    pieces: list[Piece] = field(default_factory=list)


# -- parsing the search form ---------------------------------------------------------------------

_DATE_FORMS = (
    re.compile(r"(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
)
_NUMBER = re.compile(r"[A-Za-z0-9]{1,40}")


def criteria(params: Mapping[str, Any]) -> Criteria:
    """The search form's values, checked; raises SearchError with a French message."""
    values = {k: str(params.get(k) or "").strip() for k in ("nom", "prenom", "naissance", "numero")}
    for key, value in values.items():
        if len(value) > names.MAX_LENGTH:
            raise SearchError(f"{key} : {names.MAX_LENGTH} caractères au plus")
    birth = ""
    if values["naissance"]:
        birth = iso_date(values["naissance"])
    number = re.sub(r"[\s.\-]", "", values["numero"])
    if number and not _NUMBER.fullmatch(number):
        raise SearchError("numéro : lettres et chiffres seulement (numéro d'étudiant, INE, dossier Harpège)")
    found = Criteria(names.normalise(values["nom"]), names.normalise(values["prenom"]), birth, number.upper())
    if values["nom"] and not found.surname:
        raise SearchError("nom : aucune lettre à rechercher")
    if values["prenom"] and not found.first_name:
        raise SearchError("prénom : aucune lettre à rechercher")
    return found


def iso_date(text: str) -> str:
    for form in _DATE_FORMS:
        matched = form.fullmatch(text)
        if matched:
            try:
                return date(int(matched["y"]), int(matched["m"]), int(matched["d"])).isoformat()
            except ValueError:
                raise SearchError(f"date de naissance : le {text} n'existe pas") from None
    raise SearchError("date de naissance : JJ/MM/AAAA attendu (par exemple 05/03/2001)")


# -- the index -----------------------------------------------------------------------------------


class PersonIndex:
    """The index file, its builder (one at a time, in the background) and its read-only queries."""

    def __init__(self, path: Path, ledger: Ledger, interval: float = 10.0) -> None:
        self.path = Path(path)
        self.ledger = ledger
        self.interval = interval
        self._build_lock = threading.Lock()
        self._local = threading.local()
        self._checked = 0.0
        self._built = False
        self.last_error: str | None = None
        self.building = False
        self._generation = 0
        self.purged_unindexed = 0  # datasets purged before this index file had them (lost from search)

    # -- building --------------------------------------------------------------------------

    def ensure_fresh(self) -> None:
        """Index what the ledger gained since the last look: synchronously the first time (a
        search must not miss what is there), in the background afterwards."""
        now = time.monotonic()
        if self._built and now - self._checked < self.interval:
            return
        self._checked = now
        if not self._built:
            self.refresh()
        elif not self.building:
            threading.Thread(target=self._refresh_quietly, name="person-index", daemon=True).start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a broken file must not take the browser down; shown on the search page
            log.exception("person index refresh failed")
            self.last_error = str(exc)

    def refresh(self) -> int:
        """Index every dataset of the ledger not indexed yet (and forget the ones gone); returns
        the number of datasets indexed."""
        with self._build_lock:
            self.building = True
            try:
                done = self._refresh()
                self._built = True
                self._checked = time.monotonic()
                return done
            finally:
                self.building = False

    def rebuild(self) -> int:
        """Index every dataset again from its local file, keeping the rows of the datasets whose
        local copy is purged (``versement purge``): their Parquet files are gone, so the index
        is what still says who is in them (the rows are then read from VITAM). Returns the
        number of datasets indexed again. Searches made meanwhile may miss the persons of the
        datasets being re-read (they come back as each is indexed)."""
        with self._build_lock:
            self.building = True
            try:
                wanted = self._wanted()
                connection = self._writer(wanted)
                try:
                    purged = self._purged(connection, wanted)
                    connection.execute("BEGIN")
                    for table in ("piece", "crossref", "indexed"):
                        marks = ",".join("?" * len(purged))
                        condition = f"dataset_id NOT IN ({marks})" if purged else "1"
                        connection.execute(f"DELETE FROM {table} WHERE {condition}", sorted(purged))
                    connection.execute("DELETE FROM link")
                    # The identities and names only the kept pieces still need; the others come back
                    # from the local files (with whatever a re-extracted file now says).
                    connection.execute("DELETE FROM person WHERE id NOT IN (SELECT person_id FROM piece)")
                    connection.execute("DELETE FROM name WHERE person_id NOT IN (SELECT id FROM person)")
                    connection.execute("COMMIT")
                finally:
                    connection.close()
                done = self._refresh(wanted, relink=True)
                self._built = True
                self._checked = time.monotonic()
                return done
            finally:
                self.building = False

    def _writer(self, wanted: Mapping[int, tuple[Dataset, str, str, str]] | None = None) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        stored = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if stored is not None and stored[0] != SCHEMA_VERSION:
            # Another layout: a new file, into which the purged datasets' rows are carried over
            # (their files are gone: the old index is the only place that still has them).
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
            previous = self.path.with_name(self.path.name + ".previous")
            self.path.replace(previous)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            fresh = self._writer()
            try:
                self._carry_over(fresh, previous, self._wanted() if wanted is None else wanted)
            except BaseException:
                fresh.close()
                self.path.unlink(missing_ok=True)
                previous.replace(self.path)  # nothing lost: the next refresh tries again
                raise
            previous.unlink()
            self._generation += 1  # the readers reopen the new file
            return fresh
        connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
        return connection

    def _wanted(self) -> dict[int, tuple[Dataset, str, str, str]]:
        """The ledger's datasets the index covers: id → (dataset, source, scope, tool)."""
        with self.ledger.reading() as session:
            rows = session.execute(
                select(Dataset, Batch.source, Batch.scope, Batch.spec).join(Batch, Dataset.batch_id == Batch.id)
            ).all()
            wanted = {
                d.id: (d, source, scope, (spec or {}).get("tool") or source)
                for d, source, scope, spec in rows
                if _indexable(d.spec)
            }
            for d, *_ in wanted.values():
                session.expunge(d)
        return wanted

    @staticmethod
    def _purged(connection: sqlite3.Connection, wanted: Mapping[int, tuple[Dataset, str, str, str]]) -> set[int]:
        """The indexed datasets the ledger still has, unchanged, whose local file is gone."""
        return {
            dataset_id
            for dataset_id, digest in connection.execute("SELECT dataset_id, sha256 FROM indexed")
            if dataset_id in wanted
            and wanted[dataset_id][0].sha256 == digest
            and not Path(wanted[dataset_id][0].path).is_file()
        }

    def _carry_over(
        self, connection: sqlite3.Connection, previous: Path, wanted: Mapping[int, tuple[Dataset, str, str, str]]
    ) -> None:
        """Copy the purged datasets' rows of the index file ``previous`` (an older layout) into
        the new one: the columns both layouts have, persons by key, under new ids."""
        connection.execute("ATTACH DATABASE ? AS previous", [f"{previous.resolve().as_uri()}?mode=ro"])
        try:
            old = {
                table: [r[1] for r in connection.execute(f"PRAGMA previous.table_info({table})")]
                for table in ("indexed", "person", "name", "piece", "crossref")
            }
            if not old["indexed"]:
                return
            kept = sorted(
                dataset_id
                for dataset_id, digest in connection.execute("SELECT dataset_id, sha256 FROM previous.indexed")
                if dataset_id in wanted
                and wanted[dataset_id][0].sha256 == digest
                and not Path(wanted[dataset_id][0].path).is_file()
            )
            if not kept:
                return
            connection.execute("BEGIN")
            connection.execute("CREATE TEMP TABLE kept (dataset_id INTEGER PRIMARY KEY)")
            connection.executemany("INSERT INTO kept VALUES (?)", [(k,) for k in kept])

            def common(table: str, *left_out: str) -> str:
                new = [r[1] for r in connection.execute(f"PRAGMA main.table_info({table})")]
                return ", ".join(c for c in new if c in old[table] and c not in left_out)

            listed = common("indexed")
            connection.execute(
                f"INSERT INTO main.indexed ({listed}) SELECT {listed} FROM previous.indexed "
                "WHERE dataset_id IN (SELECT dataset_id FROM kept)"
            )
            listed = common("person", "id")
            connection.execute(
                f"INSERT INTO main.person ({listed}) SELECT {listed} FROM previous.person WHERE id IN "
                "(SELECT person_id FROM previous.piece WHERE dataset_id IN (SELECT dataset_id FROM kept))"
            )
            # Old person ids → new ones, by their key (unique in both layouts).
            connection.execute(
                "CREATE TEMP TABLE moved AS SELECT o.id AS old, n.id AS new FROM previous.person o "
                "JOIN main.person n ON n.key = o.key"
            )
            connection.execute(
                "INSERT OR IGNORE INTO main.name (norm, person_id, first) SELECT m.norm, v.new, m.first "
                "FROM previous.name m JOIN moved v ON v.old = m.person_id"
            )
            listed = common("piece", "person_id")
            connection.execute(
                f"INSERT INTO main.piece (person_id, {listed}) SELECT v.new, {_prefixed(listed, 'p')} "
                "FROM previous.piece p JOIN moved v ON v.old = p.person_id "
                "WHERE p.dataset_id IN (SELECT dataset_id FROM kept)"
            )
            listed = common("crossref")
            connection.execute(
                f"INSERT INTO main.crossref ({listed}) SELECT {listed} FROM previous.crossref "
                "WHERE dataset_id IN (SELECT dataset_id FROM kept)"
            )
            connection.execute("DROP TABLE temp.kept")
            connection.execute("DROP TABLE temp.moved")
            connection.execute("COMMIT")
            log.info("person index: %d purged dataset(s) carried over to the new index layout", len(kept))
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.execute("DETACH DATABASE previous")

    def _purged_batches(self) -> set[int]:
        with self.ledger.reading() as session:
            found = session.scalars(select(AuditEvent.batch_id).where(AuditEvent.action == PURGED).distinct())
            return {int(b) for b in found if b is not None}

    def _refresh(self, wanted: Mapping[int, tuple[Dataset, str, str, str]] | None = None, relink: bool = False) -> int:
        wanted = self._wanted() if wanted is None else wanted
        connection = self._writer(wanted)
        try:
            known = {r[0]: r[1] for r in connection.execute("SELECT dataset_id, sha256 FROM indexed")}
            gone = [i for i, digest in known.items() if i not in wanted or wanted[i][0].sha256 != digest]
            for dataset_id in gone:
                self._forget(connection, dataset_id)
            done = 0
            for dataset_id, (dataset, source, scope, tool) in sorted(wanted.items()):
                if dataset_id in known and dataset_id not in gone:
                    continue
                if not Path(dataset.path).is_file():
                    continue  # purged or never written: indexed if it comes back
                started = time.perf_counter()
                self._index(connection, dataset, source, scope, tool)
                done += 1
                log.info(
                    "person index: %s of batch %s in %.1f s",
                    dataset.name,
                    dataset.batch_id,
                    time.perf_counter() - started,
                )
            if done or gone or relink:
                self._link(connection)
            missing = [d for d, *_ in wanted.values() if d.id not in known and not Path(d.path).is_file()]
            purged = self._purged_batches() if missing else set()
            absent = [d.id for d in missing if d.batch_id in purged]
            self.purged_unindexed = len(absent)
            if absent:
                log.warning(
                    "person index: %d dataset(s) purged locally were never indexed here (datasets %s): "
                    "their persons cannot be found by search",
                    len(absent),
                    ", ".join(map(str, absent[:20])),
                )
            return done
        finally:
            connection.close()

    @staticmethod
    def _forget(connection: sqlite3.Connection, dataset_id: int) -> None:
        connection.execute("BEGIN")
        for table in ("piece", "crossref"):
            connection.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])
        connection.execute("DELETE FROM link WHERE via_dataset = ?", [dataset_id])
        connection.execute("DELETE FROM indexed WHERE dataset_id = ?", [dataset_id])
        connection.execute("COMMIT")

    def _index(self, connection: sqlite3.Connection, dataset: Dataset, source: str, scope: str, tool: str) -> None:
        spec = dataset.spec or {}
        path = str(Path(dataset.path).resolve())
        present = set(pq.read_schema(path).names)
        tags = _tag_columns(spec, present)
        if "name" in tags:
            tags["name"] = _surnames(spec, tags["name"])
        person_key = spec.get("person_key") if spec.get("person_key") in present else None
        kind = spec.get("person_kind") or ""
        stat = Path(path).stat()
        duck = data.locked_duckdb(path)
        try:
            connection.execute("BEGIN")
            connection.execute(
                "INSERT OR REPLACE INTO indexed VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    dataset.id,
                    dataset.batch_id,
                    source,
                    tool,
                    scope,
                    dataset.name,
                    str(spec.get("label") or dataset.name),
                    path,
                    dataset.sha256,
                    stat.st_size,
                    stat.st_mtime_ns,
                    person_key,
                    kind,
                    dataset.rows,
                ],
            )
            if person_key:
                self._index_persons(connection, duck, dataset.id, path, source, tool, kind, person_key, tags)
            if tags.get("cross_link"):
                self._index_crossrefs(connection, duck, dataset.id, path, tags)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        finally:
            duck.close()

    def _index_persons(
        self,
        connection: sqlite3.Connection,
        duck: duckdb.DuckDBPyConnection,
        dataset_id: int,
        path: str,
        source: str,
        tool: str,
        kind: str,
        person_key: str,
        tags: Mapping[str, list[str]],
    ) -> None:
        key = f"CAST({quoted(person_key)} AS VARCHAR)"
        # The identities: one line per distinct identity the dataset holds.
        identity_columns = [*tags.get("name", []), *tags.get("first_name", [])]
        picked = {
            "birth": _first(tags.get("birth_date")),
            "student_number": _first(tags.get("student_number")),
            "dossier": _first(tags.get("agent_number")),
        }
        ine_columns = tags.get("ine", [])
        selects = [f"{key} AS v"]
        selects += [f"CAST({quoted(c)} AS VARCHAR) AS {quoted('n_' + c)}" for c in identity_columns]
        for alias, column in picked.items():
            selects.append(f"CAST({quoted(column)} AS VARCHAR) AS {alias}" if column else f"NULL AS {alias}")
        if ine_columns:
            selects.append(" || ".join(f"COALESCE(CAST({quoted(c)} AS VARCHAR), '')" for c in ine_columns) + " AS ine")
        else:
            selects.append("NULL AS ine")
        identities = duck.execute(
            f"SELECT DISTINCT {', '.join(selects)} FROM read_parquet(?) WHERE {quoted(person_key)} IS NOT NULL",
            [path],
        ).fetchall()
        # The identities this source already has (earlier years): one query, not one per person.
        ids: dict[str, int] = {
            value: person_id
            for value, person_id in connection.execute("SELECT value, id FROM person WHERE source = ?", [source])
        }
        fresh: set[str] = set()
        name_rows: list[tuple[str, int, int]] = []
        surnames, first_names = tags.get("name", []), tags.get("first_name", [])
        for row in identities:
            value = row[0]
            values = dict(zip(identity_columns, row[1 : 1 + len(identity_columns)], strict=True))
            birth, student_number, dossier, ine = row[1 + len(identity_columns) :]
            if kind == "agent" and dossier is None:
                dossier = value
            known = ids.get(value)
            if known is not None and value in fresh:
                person_id = known  # a second spelling of the same person in this dataset: names only
            else:
                person_id = self._person(
                    connection,
                    known,
                    source,
                    tool,
                    kind,
                    value,
                    surname=names.repaired(values[surnames[0]]) if surnames and values[surnames[0]] else None,
                    usage_name=names.repaired(values[surnames[1]])
                    if len(surnames) > 1 and values[surnames[1]]
                    else None,
                    first_name=names.repaired(values[first_names[0]])
                    if first_names and values[first_names[0]]
                    else None,
                    birth=(birth or "")[:10] or None,
                    student_number=student_number,
                    ine=(ine or "").upper() or None,
                    dossier=dossier,
                )
            ids[value] = person_id
            fresh.add(value)
            for column in surnames:
                name_rows += [(n, person_id, 0) for n in names.keys(values[column])]
            for column in first_names:
                name_rows += [(n, person_id, 1) for n in names.keys(values[column])]
        connection.executemany("INSERT OR IGNORE INTO name (norm, person_id, first) VALUES (?, ?, ?)", name_rows)
        # The row locator: runs of consecutive row numbers per person (gaps and islands).
        runs = duck.execute(
            f"""SELECT v, min(r), max(r), count(*) FROM (
                    SELECT {key} AS v, file_row_number AS r,
                           file_row_number - row_number() OVER (PARTITION BY {key} ORDER BY file_row_number) AS g
                    FROM read_parquet(?, file_row_number = true) WHERE {quoted(person_key)} IS NOT NULL)
                GROUP BY v, g""",
            [path],
        )
        while chunk := runs.fetchmany(100_000):
            pieces = []
            for value, first, last, count in chunk:
                known = ids.get(value)
                if known is None:
                    known = ids[value] = self._person(connection, None, source, tool, kind, value)
                pieces.append((known, dataset_id, first, last, count))
            connection.executemany("INSERT INTO piece VALUES (?, ?, ?, ?, ?)", pieces)

    @staticmethod
    def _person(
        connection: sqlite3.Connection,
        known: int | None,
        source: str,
        tool: str,
        kind: str,
        value: str,
        **identity: Any,
    ) -> int:
        """The person's id: a new row, or ``known`` with what it lacked filled in (never overwritten)."""
        key = f"{source}-{value}"
        if known is None:
            cursor = connection.execute(
                "INSERT INTO person (key, source, tool, kind, value, surname, usage_name, first_name, birth, "
                "student_number, ine, dossier) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [key, source, tool, kind, value, *(identity.get(k) for k in _IDENTITY_FIELDS)],
            )
            return int(cursor.lastrowid or 0)
        person_id = known
        if identity:  # fill what an earlier dataset did not tell; never overwrite
            sets = ", ".join(f"{k} = COALESCE({k}, ?)" for k in _IDENTITY_FIELDS)
            connection.execute(
                f"UPDATE person SET {sets} WHERE id = ?", [*(identity.get(k) for k in _IDENTITY_FIELDS), person_id]
            )
        return person_id

    @staticmethod
    def _index_crossrefs(
        connection: sqlite3.Connection,
        duck: duckdb.DuckDBPyConnection,
        dataset_id: int,
        path: str,
        tags: Mapping[str, list[str]],
    ) -> None:
        link = tags["cross_link"][0]
        surname, first, birth = _first(tags.get("name")), _first(tags.get("first_name")), _first(tags.get("birth_date"))

        def text(column: str | None) -> str:
            return f"CAST({quoted(column)} AS VARCHAR)" if column else "NULL"

        found = duck.execute(
            f"SELECT file_row_number, {text(link)}, {text(surname)}, {text(first)}, {text(birth)} "
            f"FROM read_parquet(?, file_row_number = true) WHERE {quoted(link)} IS NOT NULL",
            [path],
        ).fetchall()
        connection.executemany(
            "INSERT INTO crossref VALUES (?, ?, ?, ?, ?, ?)",
            [
                (dataset_id, r, target, names.normalise(s), names.normalise(f), (b or "")[:10] or None)
                for r, target, s, f, b in found
            ],
        )

    @staticmethod
    def _link(connection: sqlite3.Connection) -> None:
        """The links, recomputed from the persons and cross-references (small tables)."""
        connection.execute("BEGIN")
        connection.execute("DELETE FROM link")
        connection.execute(
            """INSERT OR IGNORE INTO link (a, b, basis)
               SELECT p.id, q.id, 'ine' FROM person p JOIN person q ON q.ine = p.ine AND q.source <> p.source
               WHERE p.ine IS NOT NULL AND p.ine <> ''"""
        )
        # agent ← PERSONNEL row (its dossier number) → student of the PERSONNEL row's source with
        # the same normalised name, first name and birth date.
        crossed = connection.execute(
            """SELECT a.id, c.dataset_id, c.row_number, i.source, c.surname, c.first_name, c.birth
               FROM crossref c JOIN indexed i ON i.dataset_id = c.dataset_id
               JOIN person a ON a.kind = 'agent' AND (a.dossier = c.target OR a.value = c.target)"""
        ).fetchall()
        for agent, dataset_id, row_number, source, surname, first, birth in crossed:
            if not (surname and first and birth):
                continue
            candidates = connection.execute(
                """SELECT p.id, p.surname, p.usage_name, p.first_name FROM person p
                   JOIN name n ON n.person_id = p.id AND n.first = 0 AND n.norm = ?
                   JOIN name m ON m.person_id = p.id AND m.first = 1 AND m.norm = ?
                   WHERE p.source = ? AND p.kind = 'student' AND p.birth = ?""",
                [surname, first, source, birth],
            ).fetchall()
            # The name index also holds each word of a name: keep only the whole names that match.
            students = [
                (student,)
                for student, own, usage, given in candidates
                if surname in (names.normalise(own), names.normalise(usage)) and names.normalise(given) == first
            ]
            if len(students) != 1:
                continue  # homonyms born the same day: no link rather than a wrong one
            for (student,) in students:
                for a, b in ((agent, student), (student, agent)):
                    connection.execute(
                        "INSERT OR IGNORE INTO link VALUES (?, ?, 'cross_link', ?, ?)", [a, b, dataset_id, row_number]
                    )
        connection.execute("INSERT OR IGNORE INTO link SELECT b, a, basis, via_dataset, via_row FROM link")
        connection.execute("COMMIT")

    # -- reading -----------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection | None:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        try:
            identity = self.path.stat().st_ino
        except OSError:
            identity = None
        # A new index file (another layout, written by this process or another worker): reopen.
        if connection is not None and (
            getattr(self._local, "generation", 0) != self._generation or self._local.inode != identity
        ):
            connection.close()
            connection = self._local.connection = None
        if connection is None:
            if identity is None:
                return None
            connection = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10, check_same_thread=True
            )
            connection.execute("PRAGMA query_only = true")
            self._local.connection = connection
            self._local.generation = self._generation
            self._local.inode = identity
        return connection

    def search(self, wanted: Criteria, limit: int = MAX_RESULTS) -> tuple[list[Identity], bool]:
        """The identities matching every criterion given (names by prefix), at most ``limit``;
        the flag says there were more."""
        if not (wanted.surname or wanted.first_name or wanted.birth or wanted.number):
            raise SearchError("indiquez au moins un critère : nom, prénom, date de naissance ou numéro")
        connection = self._reader()
        if connection is None:
            return [], False
        clauses, params = [], []
        for norm, first in ((wanted.surname, 0), (wanted.first_name, 1)):
            if norm:
                clauses.append("p.id IN (SELECT person_id FROM name WHERE first = ? AND norm >= ? AND norm < ?)")
                params += [first, norm, norm + "\uffff"]
        if wanted.birth:
            clauses.append("p.birth = ?")
            params.append(wanted.birth)
        if wanted.number:
            clauses.append("(p.student_number = ? OR p.ine = ? OR p.dossier = ? OR p.value = ?)")
            params += [wanted.number] * 4
        query = (
            f"SELECT {_PERSON_COLUMNS} FROM person p WHERE {' AND '.join(clauses)} "
            "ORDER BY p.surname, p.first_name, p.birth, p.key LIMIT ?"
        )
        found = [Identity(*row) for row in connection.execute(query, [*params, limit + 1])]
        return found[:limit], len(found) > limit

    def identity(self, key: str) -> Identity | None:
        connection = self._reader()
        if connection is None:
            return None
        row = connection.execute(f"SELECT {_PERSON_COLUMNS} FROM person p WHERE p.key = ?", [key]).fetchone()
        return Identity(*row) if row else None

    def person_file(self, key: str) -> PersonFile | None:
        """The identity, the identities linked to it (transitively), and the pieces of them all
        (their rows not read yet: ``read_pieces``)."""
        start = self.identity(key)
        connection = self._reader()
        if start is None or connection is None:
            return None
        seen = {start.id: start}
        links: list[Link] = []
        frontier = [start.id]
        while frontier and len(seen) < 20:
            marks = ",".join("?" * len(frontier))
            found = connection.execute(
                f"SELECT l.a, l.basis, {_PERSON_COLUMNS} FROM link l JOIN person p ON p.id = l.b "
                f"WHERE l.a IN ({marks}) ORDER BY p.key",
                frontier,
            ).fetchall()
            frontier = []
            for a, basis, *person in found:
                other = Identity(*person)
                if other.id not in seen:
                    seen[other.id] = other
                    frontier.append(other.id)
                    links.append(Link(seen[a], other, basis))
        identities = list(seen.values())
        marks = ",".join("?" * len(identities))
        ids = [i.id for i in identities]
        # A person's rows in a dataset: the runs of the row locator, and the Apogée PERSONNEL rows
        # that name an agent's dossier (pieces of the agent's file), as (first, last, rows) runs.
        located = connection.execute(
            f"SELECT pc.person_id, pc.dataset_id, pc.row_from, pc.row_to, pc.rows, {_INDEXED_COLUMNS} "
            f"FROM piece pc JOIN indexed i ON i.dataset_id = pc.dataset_id WHERE pc.person_id IN ({marks}) "
            "ORDER BY i.scope, i.batch_id, i.dataset_id, pc.row_from",
            ids,
        ).fetchall()
        located += connection.execute(
            f"SELECT p.id, c.dataset_id, c.row_number, c.row_number, 1, {_INDEXED_COLUMNS} "
            "FROM crossref c JOIN indexed i ON i.dataset_id = c.dataset_id JOIN person p ON p.kind = 'agent' "
            f"AND (p.dossier = c.target OR p.value = c.target) WHERE p.id IN ({marks})",
            ids,
        ).fetchall()
        pieces: dict[tuple[int, int], dict[str, Any]] = {}
        for person_id, dataset_id, row_from, row_to, count, batch_id, source, scope, name, label, path in located:
            entry = pieces.setdefault(
                (person_id, dataset_id),
                {
                    "identity": seen[person_id],
                    "dataset_id": dataset_id,
                    "batch_id": batch_id,
                    "source": source,
                    "scope": scope,
                    "dataset": name,
                    "label": label,
                    "path": path,
                    "ranges": [],
                    "count": 0,
                },
            )
            entry["ranges"].append((row_from, row_to))
            entry["count"] += count
        file = PersonFile(start, identities, links)
        for entry in sorted(pieces.values(), key=lambda e: (e["scope"], e["batch_id"], e["dataset_id"])):
            file.pieces.append(
                Piece(
                    identity=entry["identity"],
                    dataset_id=entry["dataset_id"],
                    batch_id=entry["batch_id"],
                    source=entry["source"],
                    scope=entry["scope"],
                    dataset=entry["dataset"],
                    label=entry["label"],
                    path=entry["path"],
                    row_ranges=tuple(entry["ranges"]),
                    rows_count=entry["count"],
                )
            )
        return file

    def indexed_file(self, dataset_id: int) -> tuple[int, int] | None:
        connection = self._reader()
        if connection is None:
            return None
        found = connection.execute("SELECT size, mtime_ns FROM indexed WHERE dataset_id = ?", [dataset_id]).fetchone()
        return (int(found[0]), int(found[1])) if found else None

    def counts(self) -> dict[str, int]:
        connection = self._reader()
        if connection is None:
            return {"persons": 0, "datasets": 0}
        persons = connection.execute("SELECT count(*) FROM person").fetchone()
        datasets = connection.execute("SELECT count(*) FROM indexed").fetchone()
        return {"persons": int(persons[0]), "datasets": int(datasets[0])}


_IDENTITY_FIELDS = ("surname", "usage_name", "first_name", "birth", "student_number", "ine", "dossier")
_INDEXED_COLUMNS = "i.batch_id, i.source, i.scope, i.name, i.label, i.path"
_PERSON_COLUMNS = (
    "p.id, p.key, p.source, p.tool, p.kind, p.value, p.surname, p.usage_name, p.first_name, p.birth, "
    "p.student_number, p.ine, p.dossier"
)


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _indexable(spec: Mapping[str, Any] | None) -> bool:
    spec = spec or {}
    if spec.get("person_key"):
        return True
    return any("cross_link" in (c or {}).get("tags", ()) for c in (spec.get("columns") or {}).values())


def _tag_columns(spec: Mapping[str, Any], present: set[str]) -> dict[str, list[str]]:
    """Columns by semantic tag, in the specification's order, present in the file."""
    tags: dict[str, list[str]] = {}
    for name, column in (spec.get("columns") or {}).items():
        if name not in present:
            continue
        for tag in (column or {}).get("tags", ()):
            tags.setdefault(tag, []).append(name)
    return tags


def _surnames(spec: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """The name columns, the birth name first: a column whose label says « usage » comes after."""
    described = spec.get("columns") or {}

    def usage(name: str) -> bool:
        return "usage" in str((described.get(name) or {}).get("label") or "").lower() or "USU" in name.upper()

    return sorted(columns, key=usage)


def _first(columns: Sequence[str] | None) -> str | None:
    return columns[0] if columns else None


# -- reading a person's rows ------------------------------------------------------------------------


def read_rows(
    path: str,
    ranges: Iterable[tuple[int, int]],
    columns: Sequence[str],
    limit: int = MAX_PIECE_ROWS,
) -> tuple[list[tuple[Any, ...]], bool]:
    """The rows at ``ranges`` (inclusive row numbers) of the Parquet file, only ``columns``, at
    most ``limit`` (flag: there were more). DuckDB locked to the file (``browser.data``) reads
    only the row groups whose row numbers overlap the ranges, and in them only the vectors that
    hold the rows."""
    wanted: list[tuple[int, int]] = []
    remaining = limit
    truncated = False
    for first, last in ranges:
        if remaining <= 0:
            truncated = True
            break
        last = min(last, first + remaining - 1)
        wanted.append((int(first), int(last)))
        remaining -= last - first + 1
    if not wanted or not columns:
        return [], truncated
    key = (*data.version(path), tuple(wanted), tuple(columns))
    with _ROWS_LOCK:
        found = _ROWS.get(key)
    if found is None:
        found = _read(path, wanted, columns)
        with _ROWS_LOCK:
            if len(_ROWS) >= _ROWS_CACHED:
                _ROWS.pop(next(iter(_ROWS)))
            _ROWS[key] = found
    return list(found), truncated


# A person's rows by file version, row ranges and columns: a dataset file never changes once
# extracted, and the same file asked by several users (or twice: page, then export) is read once.
_ROWS: dict[tuple[Any, ...], tuple[tuple[Any, ...], ...]] = {}
_ROWS_LOCK = threading.Lock()
_ROWS_CACHED = 2048


def _read(path: str, wanted: Sequence[tuple[int, int]], columns: Sequence[str]) -> tuple[tuple[Any, ...], ...]:
    listed = ", ".join(quoted(c) for c in columns)
    where = " OR ".join("file_row_number BETWEEN ? AND ?" for _ in wanted)
    sql = f"SELECT {listed} FROM read_parquet(?, file_row_number = true) WHERE {where} ORDER BY file_row_number"
    with data.connect(path) as connection:
        rows = connection.execute(sql, [path, *(n for pair in wanted for n in pair)]).fetchall()
    return tuple(tuple(row) for row in rows)


def sensitive(column: Column) -> bool:
    return any(t in SENSITIVE_CLASSES for t in column.tags)
