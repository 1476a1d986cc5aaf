"""Runs expectation suites in DuckDB, over the Parquet files themselves.

Nothing is loaded into pandas: each dataset is a DuckDB view over its Parquet files and every
column-level expectation of a dataset is one aggregate of a single scan (``count_if`` of its
unexpected condition); uniqueness, references and aggregates are one query each; only the
first failing rows are read back, as examples. DuckDB streams the files by row group and spills
to its temporary folder past its memory limit, so memory does not grow with the data.

The connection is locked down before any query: it may read the batch's Parquet files and
nothing else (``allowed_paths``, external access disabled, configuration locked), and it never
installs or loads an extension at run time (Parquet support is built into the wheel).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow.parquet as pq

from validation.identifiers import ine_sql_invalid, nir_sql_invalid
from validation.report import ExpectationOutcome, jsonable
from validation.suites import Expectation, Suite, SuiteError

EXAMPLES: Final = 5
MEMORY_LIMIT: Final = "768MB"
THREADS: Final = 2

# UTF-8 text decoded once more as Latin-1 or Windows-1252: 'Ã©' for 'é', 'Ã¨' for 'è', 'Â°' for
# '°', 'â€™' for '’'; and C1 control characters, which are Windows-1252 bytes read as Latin-1.
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE_PATTERN: Final = f"Ã[\\x{{80}}-\\x{{BF}}{_CP1252_HIGH}]|Â[\\x{{A0}}-\\x{{BF}}]|â€|[\\x{{80}}-\\x{{9F}}]"
# Characters XML 1.0 cannot carry (its production [2] Char), as seda.text refuses them.
XML_FORBIDDEN_PATTERN: Final = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{FFFE}\x{FFFF}]"
# What packaging does with such text (read by the report and the approval request).
PACKAGING_RULE_FR: Final = (
    "les valeurs sont versées telles quelles dans le fichier CSV (objet binaire pour VITAM) ; "
    "un caractère interdit par XML 1.0 qui devrait figurer dans le bordereau SEDA y est refusé "
    "(seda.text), jamais remplacé en silence"
)

_TEMPORAL = re.compile(r"^(DATE|TIMESTAMP.*|TIME.*)$")
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U.*INT|FLOAT|DOUBLE|DECIMAL.*)$")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any, sql_type: str | None = None) -> str:
    """``value`` as a DuckDB literal (typed like the column it is compared with)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and value == value):
        return str(value)
    text = "'" + str(value).replace("'", "''") + "'"
    if sql_type and _TEMPORAL.match(sql_type) and isinstance(value, str):
        return f"CAST({text} AS {'DATE' if sql_type == 'DATE' else 'TIMESTAMP'})"
    return text


def view_name(dataset: str) -> str:
    return quote(f"ds_{dataset}")


@dataclass(frozen=True)
class DatasetFiles:
    name: str
    files: tuple[Path, ...]
    key: tuple[str, ...]
    personal: frozenset[str]


def parquet_files(path: Path) -> tuple[Path, ...]:
    """One file, or every ``*.parquet`` of a folder of partitions."""
    if path.is_dir():
        return tuple(sorted(path.glob("*.parquet")))
    return (path,)


def parquet_columns(files: Sequence[Path]) -> dict[str, str]:
    """Column → DuckDB type, from the Parquet footer only (no data read)."""
    con = duckdb.connect(":memory:", config=_BASE_CONFIG)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_file_list(files)})").fetchall()
    finally:
        con.close()
    return {str(row[0]): str(row[1]) for row in described}


_BASE_CONFIG: Final[dict[str, str | bool | int | float | list[str]]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "threads": THREADS,
    "memory_limit": MEMORY_LIMIT,
}


def _file_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join(literal(str(f)) for f in files) + "]"


@contextmanager
def locked_connection(datasets: Sequence[DatasetFiles], temp_directory: Path | None = None) -> Iterator[Any]:
    """A DuckDB connection that can read these datasets' files, and nothing else."""
    config: dict[str, str | bool | int | float | list[str]] = dict(_BASE_CONFIG)
    created = temp_directory is not None and not temp_directory.exists()
    if temp_directory is not None:
        temp_directory.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(":memory:", config=config)
    try:
        files = [str(f.resolve()) for d in datasets for f in d.files]
        con.execute("SET allowed_paths = ?", [files])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        for dataset in datasets:
            resolved = [f.resolve() for f in dataset.files]
            con.execute(f"CREATE VIEW {view_name(dataset.name)} AS SELECT * FROM read_parquet({_file_list(resolved)})")
        yield con
    finally:
        con.close()
        if created and temp_directory is not None:  # DuckDB's spill files: nothing to keep
            shutil.rmtree(temp_directory, ignore_errors=True)


class SuiteRunner:
    """Runs one dataset's suite on a locked connection and returns one outcome per expectation."""

    def __init__(self, con: Any, dataset: DatasetFiles, columns: Mapping[str, str]) -> None:
        self.con = con
        self.dataset = dataset
        self.columns = columns
        self.view = view_name(dataset.name)

    def run(self, suite: Suite) -> tuple[int, list[ExpectationOutcome]]:
        maps = [e for e in suite.expectations if self._condition(e) is not None]
        rows, counts = self._scan(maps)
        outcomes = []
        for expectation in suite.expectations:
            if id(expectation) in counts:
                domain, unexpected = counts[id(expectation)]
                outcomes.append(self._map_outcome(expectation, rows, domain, unexpected))
            else:
                outcomes.append(self._other(expectation, rows))
        return rows, outcomes

    # -- column map expectations: one scan for all of them --------------------------------------

    def _condition(self, e: Expectation) -> tuple[str, str] | None:
        """(domain, unexpected) SQL conditions of a map expectation; None for the others."""
        k = e.kwargs
        c = quote(e.column) if e.column else ""
        not_null = f"{c} IS NOT NULL"
        sql_type = self.columns.get(e.column or "")
        match e.type:
            case "expect_column_values_to_not_be_null":
                return "TRUE", f"{c} IS NULL"
            case "expect_column_values_to_be_between" | "expect_column_value_lengths_to_be_between":
                value = f"length({c}::VARCHAR)" if "lengths" in e.type else c
                bound_type = None if "lengths" in e.type else sql_type
                parts = []
                if k.get("min_value") is not None:
                    op = "<=" if k.get("strict_min") else "<"
                    parts.append(f"{value} {op} {literal(k['min_value'], bound_type)}")
                if k.get("max_value") is not None:
                    op = ">=" if k.get("strict_max") else ">"
                    parts.append(f"{value} {op} {literal(k['max_value'], bound_type)}")
                return not_null, "(" + (" OR ".join(parts) or "FALSE") + ")"
            case "expect_column_values_to_be_in_set" | "expect_column_values_to_not_be_in_set":
                values = ", ".join(literal(v, sql_type) for v in k["value_set"]) or "NULL"
                inside = f"{c} IN ({values})"
                return not_null, (f"NOT ({inside})" if "not_be" not in e.type else inside)
            case "expect_column_values_to_match_regex":
                return not_null, f"NOT regexp_matches({c}::VARCHAR, {literal(k['regex'])})"
            case "expect_column_values_to_not_match_regex":
                return not_null, f"regexp_matches({c}::VARCHAR, {literal(k['regex'])})"
            case "expect_column_pair_values_a_to_be_greater_than_b":
                a, b = quote(k["column_A"]), quote(k["column_B"])
                op = ">=" if k.get("or_equal") else ">"
                # great-expectations' default: only rows missing both values are left out
                ignore = k.get("ignore_row_if", "both_values_are_missing")
                domain = {
                    "both_values_are_missing": f"NOT ({a} IS NULL AND {b} IS NULL)",
                    "either_value_is_missing": f"{a} IS NOT NULL AND {b} IS NOT NULL",
                }.get(ignore, "TRUE")
                return domain, f"NOT coalesce({a} {op} {b}, FALSE)"
            case "expect_column_values_to_be_valid_nir" | "expect_column_values_to_be_valid_ine":
                value = f"{c}::VARCHAR"
                if k.get("key_column"):
                    value = f"({value} || coalesce({quote(k['key_column'])}::VARCHAR, ''))"
                invalid = nir_sql_invalid(value) if e.type.endswith("nir") else ine_sql_invalid(value)
                return not_null, f"coalesce({invalid}, TRUE)"
            case "expect_column_values_to_be_within_scale":
                scale = quote(k["scale_column"])
                low = literal(k.get("min_value", 0))
                return f"{c} IS NOT NULL AND {scale} IS NOT NULL", f"({c} < {low} OR {c} > {scale})"
            case "expect_column_values_to_not_be_double_encoded":
                return not_null, f"regexp_matches({c}::VARCHAR, {literal(MOJIBAKE_PATTERN)})"
            case "expect_column_values_to_be_xml_characters":
                return not_null, f"regexp_matches({c}::VARCHAR, {literal(XML_FORBIDDEN_PATTERN)})"
        return None

    def _scan(self, maps: Sequence[Expectation]) -> tuple[int, dict[int, tuple[int, int]]]:
        """Row count, and (domain, unexpected) counts per map expectation (by ``id``), in one scan."""
        selects = ["count(*)"]
        for e in maps:
            domain, unexpected = self._condition(e) or ("TRUE", "FALSE")
            selects += [f"count_if({domain})", f"count_if(({domain}) AND ({unexpected}))"]
        try:
            row = self.con.execute(f"SELECT {', '.join(selects)} FROM {self.view}").fetchone()
        except duckdb.Error:
            for e in maps:  # find the expectation that cannot run, to name it
                domain, unexpected = self._condition(e) or ("TRUE", "FALSE")
                self._query(e, f"SELECT count_if(({domain}) AND ({unexpected})) FROM {self.view}")
            raise
        assert row is not None
        # DuckDB's count_if over no row is NULL, not 0 (an empty dataset of the scope).
        counts = {id(e): (int(row[1 + 2 * i] or 0), int(row[2 + 2 * i] or 0)) for i, e in enumerate(maps)}
        return int(row[0]), counts

    def _map_outcome(self, e: Expectation, rows: int, domain: int, unexpected: int) -> ExpectationOutcome:
        mostly = float(e.kwargs.get("mostly", 1.0))
        percent = 100.0 * unexpected / domain if domain else 0.0
        success = unexpected == 0 or (mostly < 1.0 and (domain - unexpected) / domain >= mostly)
        examples: list[dict[str, Any]] = []
        if unexpected:
            domain_sql, unexpected_sql = self._condition(e) or ("TRUE", "FALSE")
            examples = self._examples(e, f"({domain_sql}) AND ({unexpected_sql})")
        return self._outcome(
            e,
            success,
            unexpected,
            {"element_count": rows, "unexpected_percent": round(percent, 6), "missing_count": rows - domain},
            examples,
        )

    def _examples(self, e: Expectation, where: str) -> list[dict[str, Any]]:
        key = [c for c in self.dataset.key if c in self.columns]
        shown = list(dict.fromkeys(e.columns))
        select = ", ".join(f"d.{quote(c)}" for c in dict.fromkeys([*key, *shown])) or "*"
        order = f" ORDER BY {', '.join(f'd.{quote(c)}' for c in key)}" if key else ""
        rows = self._query(e, f"SELECT {select} FROM {self.view} d WHERE {where}{order} LIMIT {EXAMPLES}")
        names = list(dict.fromkeys([*key, *shown]))
        out = []
        for values in rows:
            record = dict(zip(names, values, strict=True))
            out.append(
                {
                    "key": {c: jsonable(record[c]) for c in key},
                    "values": {c: jsonable(record[c]) for c in shown},
                }
            )
        return out

    # -- the others: uniqueness, references, table level -----------------------------------------

    def _other(self, e: Expectation, rows: int) -> ExpectationOutcome:
        k = e.kwargs
        if e.type == "expect_table_row_count_to_equal":
            return self._outcome(e, rows == int(k["value"]), None, {"observed_value": rows}, [])
        if e.type == "expect_column_to_exist":
            return self._outcome(e, e.column in self.columns, None, {}, [])
        if e.type in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            return self._unique(e, rows)
        if e.type == "expect_column_values_to_be_in_reference":
            return self._reference(e, rows)
        raise SuiteError(e.origin, self.dataset.name, f"{e.type} has no implementation", column=e.column)

    def _unique(self, e: Expectation, rows: int) -> ExpectationOutcome:
        cols = ", ".join(quote(c) for c in e.columns)
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in e.columns)
        groups = f"SELECT {cols}, count(*) AS n FROM {self.view} WHERE {present} GROUP BY {cols} HAVING count(*) > 1"
        (found,) = self._query(e, f"SELECT coalesce(sum(n), 0) FROM ({groups})")
        unexpected = int(found[0])
        examples = []
        if unexpected:
            for values in self._query(e, f"{groups} ORDER BY {cols} LIMIT {EXAMPLES}"):
                examples.append(
                    {"values": {c: jsonable(v) for c, v in zip(e.columns, values, strict=False)}, "rows": values[-1]}
                )
        return self._outcome(e, unexpected == 0, unexpected, {"element_count": rows}, examples)

    def _reference(self, e: Expectation, rows: int) -> ExpectationOutcome:
        k = e.kwargs
        mine = list(k["column_list"])
        theirs = list(k.get("reference_column_list") or mine)
        if len(theirs) != len(mine):
            raise SuiteError(e.origin, self.dataset.name, "column_list and reference_column_list differ in length")
        ref = view_name(str(k["reference_dataset"]))
        present = " AND ".join(f"d.{quote(c)} IS NOT NULL" for c in mine)
        match = " AND ".join(f"r.{quote(t)} = d.{quote(m)}" for m, t in zip(mine, theirs, strict=True))
        where = f"{present} AND NOT EXISTS (SELECT 1 FROM {ref} r WHERE {match})"
        (found,) = self._query(e, f"SELECT count(*) FROM {self.view} d WHERE {where}")
        unexpected = int(found[0])
        examples = self._examples(e, where) if unexpected else []
        return self._outcome(e, unexpected == 0, unexpected, {"element_count": rows}, examples)

    # -- helpers -------------------------------------------------------------------------------

    def _query(self, e: Expectation, sql: str) -> list[tuple[Any, ...]]:
        try:
            return list(self.con.execute(sql).fetchall())
        except duckdb.CatalogException as exc:
            raise SuiteError(
                e.origin, self.dataset.name, f"{e.type} cannot run: {_first_line(exc)}", column=e.column
            ) from None
        except duckdb.Error as exc:
            raise SuiteError(
                e.origin, self.dataset.name, f"{e.type} cannot run on this data: {_first_line(exc)}", column=e.column
            ) from None

    def _outcome(
        self,
        e: Expectation,
        success: bool,
        unexpected: int | None,
        result: Mapping[str, Any],
        examples: list[dict[str, Any]],
    ) -> ExpectationOutcome:
        involved = set(e.columns) | set(self.dataset.key)
        return ExpectationOutcome(
            expectation=e.type,
            column=e.column,
            success=success,
            unexpected_count=unexpected,
            details={"kwargs": jsonable(dict(e.kwargs)), **result},
            severity=e.severity,
            origin=e.origin,
            examples=tuple(examples),
            personal=bool(examples) and bool(involved & self.dataset.personal),
        )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


# -- aggregates (reconciliation with the source) ----------------------------------------------


def parquet_aggregate(con: Any, dataset: DatasetFiles, columns: Mapping[str, str], name: str) -> int | Decimal | float:
    """The value of one aggregate (``sum:COL``, ``distinct:COL`` or ``distinct:A,B``) on the files.

    Sums are exact: integers and decimals are added as such; a DECIMAL(38) sum that DuckDB
    cannot hold (past 38 digits) is added again in Python, row group by row group.
    """
    function, _, argument = name.partition(":")
    names = [c.strip() for c in argument.split(",") if c.strip()]
    for column in names:
        if column not in columns:
            raise SuiteError("manifest aggregates", dataset.name, f"{name}: no such column", column=column)
    view = view_name(dataset.name)
    if function == "distinct":
        cols = ", ".join(quote(c) for c in names)
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in names)
        row = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {view} WHERE {present})").fetchone()
        return int(row[0])
    if function != "sum" or len(names) != 1:
        raise SuiteError("manifest aggregates", dataset.name, f"{name!r}: expected sum:COL or distinct:COL[,COL]")
    column = names[0]
    sql_type = columns[column]
    if not _NUMERIC.match(sql_type):
        raise SuiteError("manifest aggregates", dataset.name, f"{name}: {sql_type} is not numeric", column=column)
    value = f"{quote(column)}::HUGEINT" if "INT" in sql_type else quote(column)
    try:
        row = con.execute(f"SELECT coalesce(sum({value}), 0) FROM {view}").fetchone()
        return row[0]
    except duckdb.OutOfRangeException:
        return _python_sum(dataset.files, column)


def _python_sum(files: Sequence[Path], column: str) -> Decimal:
    total = Decimal(0)
    with localcontext(prec=200):  # exact: far beyond 38 digits times any row count
        for path in files:
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                values = parquet.read_row_group(group, columns=[column]).column(0).to_pylist()
                total += sum((Decimal(v) for v in values if v is not None), Decimal(0))
    return total
