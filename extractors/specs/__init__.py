"""Dataset specifications shipped with the product: one TOML file per source tool.

A specification says, for every dataset that the law keeps from a tool (Apogée, Harpège,
Pégase...), the SQL that reads it (joins allowed, the batch's scope as bound parameters only),
its key, the person it belongs to, the record type that decides its packaging profile and
retention rules, and the meaning of its columns (semantic tags, sensitive classes). A
deployment only chooses the tools, their connections and optional overrides; what to extract
is reviewed here, like code.

The files are read strictly: an unknown key is an error naming the file and the key, with the
closest known key suggested. ``load_tool("apogee")`` reads ``extractors/specs/apogee.toml``.

File layout::

    tool = "apogee"
    label = "Apogée"
    version = "2026.12"                 # bumped on every change; recorded with each batch
    scope = "academic_year"             # academic_year | period | all (extractors.scope)

    [[datasets]]
    name = "inscriptions_administratives"
    label = "Inscriptions administratives aux étapes"
    description = "..."
    record_type = "registration_register"
    scoped = true                       # the SQL uses the scope's parameters
    key = ["COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE"]
    person_key = "COD_IND"              # optional: reference tables belong to no person
    person_kind = "student"             # student | agent
    references = ["ref_etapes"]         # datasets of the same tool needed to read this one
    sql = '''
    SELECT iae.COD_ANU, iae.COD_IND, ... FROM INS_ADM_ETP iae JOIN INDIVIDU ind ON ...
    WHERE iae.COD_ANU = :academic_year
    '''
    [datasets.columns]
    COD_NNE_IND = { label = "INE", tags = ["ine"] }
    COD_THP = { label = "Type de handicap", tags = ["health"] }   # sensitive: left out by default
    COD_INE = { label = "INE", tags = ["ine"], type = "VARCHAR2(11)" }  # computed: its type is given

Every column the SQL returns is declared with its French label: packaging writes it as the
« libellé » of the data dictionary archived with each SIP (``tests/extractors/test_specs.py``
extracts every shipped dataset and names any column without one).

A dataset may list the aggregates its source computes for the reconciliation
(``aggregates = ["sum:NOT_ELP", "distinct:COD_IND"]``, ``[]`` for none); without the key the
extraction takes the defaults of ``extractors.aggregates``. A dataset whose every declared column
other than its keys is sensitive is left out whole unless the deployment asks for those classes:
declare at least one column that must survive (``ToolSpec.left_out_sensitive``).

A deployment adds datasets of its own with a file of ``[[datasets]]`` in this layout
(``extend_spec``, the setting ``sources.<name>.add_datasets``).

Instead of ``sql``, a dataset may give ``table = "PAYS"`` for a whole table. The extraction
adds the ORDER BY on the key and wraps the SQL to leave out columns; the SQL itself must not
end with ORDER BY.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from extractors.scope import SCOPE_KINDS, ScopeKind

SPECS_DIR = Path(__file__).resolve().parent

RecordType = Literal[
    "reference_tables",  # course offer and nomenclatures (Apogée), HR reference tables (Harpège)
    "registration_register",  # annual registration registers
    "jury_minutes",  # jury results per stage/diploma and session, with the ELP detail
    "diploma_register",  # diplomas awarded
    "student_file",  # pieces of the individual student file (identity, contracts, exemptions)
    "theses",  # theses and HDR
    "agent_career_file",  # the agent's individual career file (identity, careers, positions, assignments)
    "agent_contracts",  # contracts and amendments of contract staff
]
RECORD_TYPES: tuple[str, ...] = get_args(RecordType)

PersonKind = Literal["student", "agent"]
PERSON_KINDS: tuple[str, ...] = get_args(PersonKind)

SensitiveClass = Literal["nir", "postal_address", "bank_details", "health"]
SENSITIVE_CLASSES: tuple[str, ...] = get_args(SensitiveClass)
"""Left out of every extraction unless the deployment asks for them (sources.md §3.2)."""

SemanticTag = Literal[
    "person_identifier",  # the tool's internal person key (COD_IND, NO_DOSSIER_PERS)
    "student_number",  # COD_ETU
    "ine",  # national student identifier (INE/BEA)
    "agent_number",  # Harpège dossier number as other tools cite it
    "cross_link",  # a key into another tool (Apogée PERSONNEL.NUM_DOS_HAR_PER → Harpège NO_DOSSIER_PERS)
    "name",
    "first_name",
    "birth_date",
    "event_date",  # a date that starts a retention or access rule (deliberation, obtention, end of contract)
    "nir",
    "postal_address",
    "bank_details",
    "health",
]
SEMANTIC_TAGS: tuple[str, ...] = get_args(SemanticTag)

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*(\.[A-Za-z_][A-Za-z0-9_$#]*)?")
_SQL_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9 ]*(\(\s*\d+\s*(,\s*-?\d+\s*)?\))?")
_AGGREGATE = re.compile(r"sum:[A-Za-z_][A-Za-z0-9_$#]*|distinct:[A-Za-z_][A-Za-z0-9_$#]*(,[A-Za-z_][A-Za-z0-9_$#]*)*")
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SCOPE_PARAMETERS: dict[str, frozenset[str]] = {
    "academic_year": frozenset({"academic_year"}),
    "period": frozenset({"period_start", "period_end"}),
    "all": frozenset(),
}


class SpecError(ValueError):
    """A specification file that cannot be used, named by file and dotted key."""

    def __init__(self, origin: str, key: str, problem: str) -> None:
        super().__init__(f"{origin}: {key}: {problem}")
        self.origin = origin
        self.key = key
        self.problem = problem


def unknown_key_problem(key: str, known: Iterable[str]) -> str:
    """``unknown key 'filtres' (did you mean 'filters'?)``: one wording for every strict reader."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
    return f"unknown key {key!r}{hint}"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    label: str = ""
    tags: frozenset[str] = frozenset()
    type: str = ""  # the SQL type of a computed column, where the source cannot tell it (SQLite)

    @property
    def sensitive(self) -> frozenset[str]:
        return self.tags & frozenset(SENSITIVE_CLASSES)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a tool: what to read, how it is keyed, what its columns mean."""

    name: str
    label: str
    record_type: str
    sql: str
    key: tuple[str, ...]
    description: str = ""
    scoped: bool = True
    person_key: str | None = None
    person_kind: str | None = None
    references: tuple[str, ...] = ()
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    exclude_columns: tuple[str, ...] = ()  # decided by the deployment (sensitive classes, overrides)
    aggregates: tuple[str, ...] | None = None  # sum:COL, distinct:COL[,COL]; None: the defaults (extractors.aggregates)

    @property
    def parameters(self) -> frozenset[str]:
        """Names of the bound parameters the SQL uses (``:academic_year``...)."""
        return frozenset(_PARAMETER.findall(_without_literals(self.sql)))

    def tagged(self, tag: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns.values() if tag in c.tags)

    def sensitive_columns(self) -> dict[str, frozenset[str]]:
        return {c.name: c.sensitive for c in self.columns.values() if c.sensitive}

    def wholly_sensitive(self, include_sensitive: Iterable[str] = ()) -> frozenset[str]:
        """The excluded sensitive classes that hide *every* column of this dataset but its keys.

        Empty when at least one declared column other than the key and the person key would be
        kept. Such a dataset (Harpège's bank details, say) is not extracted at all unless
        ``include_sensitive`` asks for its classes: what would remain is its key alone.
        """
        included = frozenset(include_sensitive)
        keys = {n.casefold() for n in (*self.key, self.person_key or "")}
        data = [c for c in self.columns.values() if c.name.casefold() not in keys]
        if not data or any(c.sensitive <= included for c in data):
            return frozenset()
        return frozenset().union(*(c.sensitive - included for c in data))


@dataclass(frozen=True)
class ToolSpec:
    """Every dataset of one source tool, as shipped; ``sha256`` identifies the exact file used."""

    tool: str
    label: str
    version: str
    scope: ScopeKind
    datasets: tuple[DatasetSpec, ...]
    path: Path
    sha256: str
    # A deployment's own datasets added to the shipped ones (``extend_spec``): their file, its SHA-256, their names.
    extension: Path | None = None
    extension_sha256: str = ""
    added: tuple[str, ...] = ()

    def dataset(self, name: str) -> DatasetSpec:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        raise SpecError(str(self.path), f"datasets.{name}", unknown_key_problem(name, self.names()))

    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.datasets)

    def select(
        self,
        *,
        include_sensitive: Iterable[str] = (),
        drop: Iterable[str] = (),
        only: Sequence[str] | None = None,
        exclude_columns: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[DatasetSpec, ...]:
        """The datasets a deployment extracts, sensitive columns left out unless asked for.

        ``only`` keeps the named datasets plus the reference datasets they depend on. A dataset
        whose every column but its keys is in an excluded sensitive class is left out whole
        (:meth:`left_out_sensitive` says which, for the batch's record).
        """
        included = frozenset(include_sensitive)
        for name in included - frozenset(SENSITIVE_CLASSES):
            raise SpecError(str(self.path), "include_sensitive", unknown_key_problem(name, SENSITIVE_CLASSES))
        dropped = set(drop)
        for key, names in (
            ("drop_datasets", dropped),
            ("only_datasets", only or ()),
            ("exclude_columns", exclude_columns or {}),
        ):
            for name in names:  # an unknown name is an error, never ignored
                if name not in self.names():
                    raise SpecError(str(self.path), key, unknown_key_problem(name, self.names()) + ": no such dataset")
        wanted = set(self.names()) if only is None else _with_references(self, only)
        chosen = []
        for dataset in self.datasets:
            if dataset.name not in wanted or dataset.name in dropped or dataset.wholly_sensitive(included):
                continue
            extra = tuple((exclude_columns or {}).get(dataset.name, ()))
            hidden = [n for n, classes in dataset.sensitive_columns().items() if not classes <= included]
            leave_out = tuple(dict.fromkeys([*hidden, *extra]))
            if set(leave_out) & set(dataset.key):
                asked = set(extra) & set(dataset.key)  # by the deployment, else by a sensitive tag of the spec
                raise SpecError(
                    str(self.path),
                    f"exclude_columns.{dataset.name}" if asked else f"datasets.{dataset.name}",
                    f"cannot leave out key column(s) {', '.join(sorted(set(leave_out) & set(dataset.key)))}",
                )
            chosen.append(replace(dataset, exclude_columns=leave_out))
        return tuple(chosen)

    def left_out_sensitive(self, include_sensitive: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
        """The datasets :meth:`select` leaves out whole, with the excluded classes that hide them."""
        return {
            d.name: tuple(c for c in SENSITIVE_CLASSES if c in classes)
            for d in self.datasets
            if (classes := d.wholly_sensitive(include_sensitive))
        }


def available_tools() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in SPECS_DIR.glob("*.toml")))


def load_tool(tool: str, folder: Path | None = None) -> ToolSpec:
    """The specification of ``tool`` (``apogee``...), from the shipped folder unless told otherwise."""
    path = (folder or SPECS_DIR) / f"{tool}.toml"
    if not path.is_file():
        raise SpecError(str(path), "tool", unknown_key_problem(tool, available_tools()) + ": no such specification")
    return load_spec_file(path)


def _read(path: Path) -> tuple[dict[str, Any], str]:
    """A specification file's TOML and the SHA-256 of its bytes (a batch records it)."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise SpecError(str(path), "(file)", f"cannot be read: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(str(path), "(syntax)", f"not valid UTF-8 TOML: {exc}") from None
    return raw, hashlib.sha256(raw_bytes).hexdigest()


def load_spec_file(path: Path) -> ToolSpec:
    raw, sha256 = _read(path)
    return _Reader(str(path)).tool(raw, path, sha256)


def extend_spec(spec: ToolSpec, path: Path) -> ToolSpec:
    """``spec`` with a deployment's own datasets added (``sources.<name>.add_datasets``).

    The file holds ``[[datasets]]`` entries only, in the layout of the shipped files and read as
    strictly: for tables or columns an institution added to its tool (a column of a shipped
    dataset is added by a dataset of its own that joins it). An added dataset takes a name of its
    own (a shipped name is refused) and may reference shipped datasets. The shipped file's digest
    is kept as it is; the added file's is carried beside it, so a batch records both."""
    raw, sha256 = _read(path)
    reader = _Reader(str(path))
    reader.strict(raw, frozenset({"datasets"}), "")
    items = raw.get("datasets")
    if not isinstance(items, list) or not items:
        raise reader.fail("datasets", "at least one [[datasets]] entry is required")
    added = tuple(reader.dataset(item, f"datasets[{i}]", spec.scope) for i, item in enumerate(items))
    names = list(spec.names())
    for dataset in added:
        if dataset.name in names:
            known = "shipped with" if dataset.name in spec.names() else "already added to"
            raise reader.fail(
                f"datasets.{dataset.name}.name", f"a dataset {known} {spec.tool}: give yours its own name"
            )
        names.append(dataset.name)
    for dataset in added:
        for reference in dataset.references:
            if reference not in names:
                raise reader.fail(f"datasets.{dataset.name}.references", unknown_key_problem(reference, names))
    return replace(
        spec,
        datasets=(*spec.datasets, *added),
        extension=path,
        extension_sha256=sha256,
        added=tuple(d.name for d in added),
    )


_TOOL_KEYS = frozenset({"tool", "label", "version", "scope", "datasets"})
_DATASET_KEYS = frozenset(
    {
        "name",
        "label",
        "description",
        "record_type",
        "scoped",
        "key",
        "person_key",
        "person_kind",
        "references",
        "sql",
        "table",
        "columns",
        "aggregates",
    }
)
_COLUMN_KEYS = frozenset({"label", "tags", "type"})


class _Reader:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(self.origin, key, problem)

    def strict(self, node: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        for key in node:
            if key not in known:
                raise self.fail(f"{where}.{key}" if where else key, unknown_key_problem(key, known))

    def text(self, node: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = node.get(key, default)
        if not isinstance(value, str) or (not value.strip() and default is None):
            raise self.fail(f"{where}.{key}" if where else key, "expected a non-empty string")
        return value

    def names(self, node: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        value = node.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
            raise self.fail(f"{where}.{key}", "expected a list of names")
        return tuple(value)

    def tool(self, raw: Mapping[str, Any], path: Path, sha256: str) -> ToolSpec:
        self.strict(raw, _TOOL_KEYS, "")
        tool = self.text(raw, "tool", "")
        if tool != path.stem:
            raise self.fail("tool", f"{tool!r} does not match the file name {path.name}")
        scope = self.text(raw, "scope", "")
        if scope not in SCOPE_KINDS:
            raise self.fail("scope", f"{scope!r} is not one of {', '.join(SCOPE_KINDS)}")
        items = raw.get("datasets")
        if not isinstance(items, list) or not items:
            raise self.fail("datasets", "at least one [[datasets]] entry is required")
        datasets = tuple(self.dataset(item, f"datasets[{i}]", scope) for i, item in enumerate(items))
        names = [d.name for d in datasets]
        for name in names:
            if names.count(name) > 1:
                raise self.fail("datasets", f"dataset name {name!r} is used twice")
        for dataset in datasets:
            for reference in dataset.references:
                if reference not in names:
                    raise self.fail(f"datasets.{dataset.name}.references", unknown_key_problem(reference, names))
        return ToolSpec(
            tool=tool,
            label=self.text(raw, "label", ""),
            version=self.text(raw, "version", ""),
            scope=scope,
            datasets=datasets,
            path=path,
            sha256=sha256,
        )

    def dataset(self, node: Any, where: str, scope: str) -> DatasetSpec:
        if not isinstance(node, dict):
            raise self.fail(where, "expected a table")
        self.strict(node, _DATASET_KEYS, where)
        name = self.text(node, "name", where)
        if not _NAME.fullmatch(name):
            raise self.fail(f"{where}.name", f"{name!r} must be lower-case letters, digits and _ (it names files)")
        where = f"datasets.{name}"
        record_type = self.text(node, "record_type", where)
        if record_type not in RECORD_TYPES:
            raise self.fail(f"{where}.record_type", unknown_key_problem(record_type, RECORD_TYPES))
        sql = self.sql(node, where)
        key = self.names(node, "key", where, _COLUMN)
        if not key:
            raise self.fail(f"{where}.key", "a key is required to order the rows reproducibly")
        person_key = node.get("person_key")
        person_kind = node.get("person_kind")
        if (person_key is None) != (person_kind is None):
            raise self.fail(where, "person_key and person_kind go together")
        if person_kind is not None and person_kind not in PERSON_KINDS:
            raise self.fail(f"{where}.person_kind", unknown_key_problem(str(person_kind), PERSON_KINDS))
        scoped = node.get("scoped", True)
        if not isinstance(scoped, bool):
            raise self.fail(f"{where}.scoped", "expected true or false")
        dataset = DatasetSpec(
            name=name,
            label=self.text(node, "label", where),
            description=self.text(node, "description", where, ""),
            record_type=record_type,
            sql=sql,
            key=key,
            scoped=scoped,
            person_key=self.text(node, "person_key", where) if person_key is not None else None,
            person_kind=person_kind,
            references=self.names(node, "references", where, _NAME),
            columns=self.columns(node.get("columns", {}), where),
            aggregates=self.aggregates(node, where),
        )
        expected = _SCOPE_PARAMETERS[scope] if scoped else frozenset()
        if dataset.parameters != expected:
            raise self.fail(
                f"{where}.sql",
                f"uses parameters {sorted(dataset.parameters) or 'none'}; a "
                f"{'scoped' if scoped else 'unscoped'} {scope} dataset uses {sorted(expected) or 'none'}",
            )
        return dataset

    def sql(self, node: Mapping[str, Any], where: str) -> str:
        if ("sql" in node) == ("table" in node):
            raise self.fail(where, "give exactly one of sql or table")
        if "table" in node:
            table = self.text(node, "table", where)
            if not _TABLE.fullmatch(table):
                raise self.fail(f"{where}.table", f"{table!r} is not a table name")
            return f"SELECT * FROM {table}"
        sql = self.text(node, "sql", where).strip().rstrip(";").strip()
        if re.search(r"\border\s+by\b[^()]*$", _without_literals(sql), re.IGNORECASE):
            raise self.fail(f"{where}.sql", "must not end with ORDER BY (the extraction orders by the key)")
        return sql

    def aggregates(self, node: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
        if "aggregates" not in node:
            return None
        value = node["aggregates"]
        if not isinstance(value, list) or not all(isinstance(v, str) and _AGGREGATE.fullmatch(v) for v in value):
            raise self.fail(f"{where}.aggregates", 'expected a list such as ["sum:NOT_ELP", "distinct:COD_IND"]')
        return tuple(value)

    def columns(self, node: Any, where: str) -> dict[str, ColumnSpec]:
        if not isinstance(node, dict):
            raise self.fail(f"{where}.columns", "expected a table of columns")
        columns = {}
        for name, item in node.items():
            key = f"{where}.columns.{name}"
            if not _COLUMN.fullmatch(name) or not isinstance(item, dict):
                raise self.fail(key, "expected COLUMN = { label = ..., tags = [...] }")
            self.strict(item, _COLUMN_KEYS, key)
            tags = self.names(item, "tags", key, re.compile(r"[a-z_]+"))
            for tag in tags:
                if tag not in SEMANTIC_TAGS:
                    raise self.fail(f"{key}.tags", unknown_key_problem(tag, SEMANTIC_TAGS))
            column_type = self.text(item, "type", key, "")
            if column_type and not _SQL_TYPE.fullmatch(column_type):
                raise self.fail(f"{key}.type", f"{column_type!r} is not a SQL type such as VARCHAR2(11) or NUMBER(8)")
            columns[name] = ColumnSpec(name, self.text(item, "label", key, ""), frozenset(tags), column_type)
        return columns


def _without_literals(sql: str) -> str:
    """The SQL with string literals and comments blanked, so ``':x'`` or ``-- :x`` is no parameter."""
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    sql = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL)


def _with_references(spec: ToolSpec, names: Sequence[str]) -> set[str]:
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending.extend(spec.dataset(name).references)
    return wanted
