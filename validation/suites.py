"""Expectation suites: a default derived from the dataset's specification, plus reviewed files.

Every dataset of a batch is checked against one suite made of two parts:

1. **The default suite**, derived from what the dataset's specification (as recorded with the
   batch) says its columns mean: the key is present and unique, the person key is present,
   birth and event dates are plausible, NIR and INE are well formed, grades lie within their
   scale (``NOT_x`` within ``0..BAR_NOT_x``), the academic year is the batch's, codes exist in
   the reference datasets it names, the person exists in the batch's person dataset, and text is
   neither double-encoded nor holding characters XML 1.0 forbids (warnings).
2. **A suite file** per dataset, ``extractors/specs/suites/<tool>/<dataset>.json``, kept beside
   the specifications and reviewed like code. It is a great-expectations 1.x suite in JSON
   (``{"name": ..., "expectations": [{"type": ..., "kwargs": {...}, "severity": ..., "meta": {...}}]}``).
   Its expectations are added to the default; one with the same *identity* as a default one
   (same type and same columns) replaces it, so a file can change a threshold or a severity;
   ``"meta": {"disabled": "why"}`` removes it (the reason is kept in the report).

Severity uses great-expectations' own field: ``critical`` blocks the batch, ``warning`` travels
with it to the approval request, ``info`` is only reported. A file that cannot be read, an
unknown type or key, or a column the dataset does not have is a :class:`SuiteError` naming the
file, the dataset and the column: never a passed check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from extractors.scope import Scope
from extractors.specs import SPECS_DIR, SpecError, load_tool, unknown_key_problem

SUITES_DIR = SPECS_DIR / "suites"
SEVERITIES: Final = ("critical", "warning", "info")
DEFAULT_ORIGIN: Final = "default"

# Tags whose values say who a row is about: their failing examples are personal data.
PERSONAL_TAGS: Final = frozenset(
    {
        "person_identifier",
        "student_number",
        "ine",
        "agent_number",
        "cross_link",
        "name",
        "first_name",
        "birth_date",
        "nir",
        "postal_address",
        "bank_details",
        "health",
    }
)
EARLIEST_BIRTH: Final = date(1900, 1, 1)
EARLIEST_EVENT: Final = date(1900, 1, 1)


class QualityError(Exception):
    """Root of the quality stage's errors. ``transient`` says whether a retry may succeed."""

    transient = False


class SuiteError(QualityError):
    """A suite that cannot run as written (configuration error): names file, dataset and column."""

    def __init__(self, origin: str, dataset: str, problem: str, *, column: str | None = None) -> None:
        where = f"{origin}: dataset {dataset}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}")
        self.origin = origin
        self.dataset = dataset
        self.column = column
        self.problem = problem


@dataclass(frozen=True)
class Kind:
    """What one expectation type needs: its column arguments and its other keyword arguments."""

    columns: tuple[str, ...]  # kwargs naming a column, or "column_list" for a list of them
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    table_level: bool = False

    def allowed(self) -> frozenset[str]:
        return frozenset(self.columns) | self.required | self.optional


_MAP_OPTIONS = frozenset({"mostly"})
KINDS: Final[dict[str, Kind]] = {
    # great-expectations built-ins (same names and arguments)
    "expect_table_row_count_to_equal": Kind((), frozenset({"value"}), table_level=True),
    "expect_column_to_exist": Kind(("column",)),
    "expect_column_values_to_not_be_null": Kind(("column",), optional=_MAP_OPTIONS),
    "expect_column_values_to_be_unique": Kind(("column",)),
    "expect_compound_columns_to_be_unique": Kind(("column_list",)),
    "expect_column_values_to_be_between": Kind(
        ("column",), optional=frozenset({"min_value", "max_value", "strict_min", "strict_max", "mostly"})
    ),
    "expect_column_values_to_be_in_set": Kind(("column",), frozenset({"value_set"}), _MAP_OPTIONS),
    "expect_column_values_to_not_be_in_set": Kind(("column",), frozenset({"value_set"}), _MAP_OPTIONS),
    "expect_column_values_to_match_regex": Kind(("column",), frozenset({"regex"}), _MAP_OPTIONS),
    "expect_column_values_to_not_match_regex": Kind(("column",), frozenset({"regex"}), _MAP_OPTIONS),
    "expect_column_value_lengths_to_be_between": Kind(
        ("column",), optional=frozenset({"min_value", "max_value", "mostly"})
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": Kind(
        ("column_A", "column_B"), optional=frozenset({"or_equal", "ignore_row_if", "mostly"})
    ),
    # versement's own (validation.gx_custom declares them to great-expectations too)
    "expect_column_values_to_be_valid_nir": Kind(("column", "key_column"), optional=_MAP_OPTIONS),
    "expect_column_values_to_be_valid_ine": Kind(("column", "key_column"), optional=_MAP_OPTIONS),
    "expect_column_values_to_be_within_scale": Kind(
        ("column", "scale_column"), optional=frozenset({"min_value", "mostly"})
    ),
    "expect_column_values_to_not_be_double_encoded": Kind(("column",), optional=_MAP_OPTIONS),
    "expect_column_values_to_be_xml_characters": Kind(("column",), optional=_MAP_OPTIONS),
    "expect_column_values_to_be_in_reference": Kind(
        ("column_list",), frozenset({"reference_dataset"}), frozenset({"reference_column_list"})
    ),
}
_OPTIONAL_COLUMNS: Final = frozenset({"key_column"})


@dataclass(frozen=True)
class Expectation:
    """One expectation as great-expectations would read it, plus where it came from."""

    type: str
    kwargs: Mapping[str, Any]
    severity: str = "critical"
    meta: Mapping[str, Any] = field(default_factory=dict)
    origin: str = DEFAULT_ORIGIN

    @property
    def identity(self) -> tuple[str, tuple[str, ...]]:
        """Type and columns: a file's expectation with the same identity replaces the default one."""
        return self.type, tuple(self.columns)

    @property
    def columns(self) -> list[str]:
        """Every column of this dataset the expectation reads, in argument order."""
        names: list[str] = []
        for argument in KINDS[self.type].columns:
            value = self.kwargs.get(argument)
            if isinstance(value, list):
                names.extend(value)
            elif isinstance(value, str):
                names.append(value)
        return names

    @property
    def column(self) -> str | None:
        """The column checked (one column of a list, as great-expectations names its domain)."""
        value = self.kwargs.get("column")
        if isinstance(value, str):
            return value
        listed = self.kwargs.get("column_list")
        return ", ".join(listed) if isinstance(listed, list) and len(listed) == 1 else None

    @property
    def blocking(self) -> bool:
        return self.severity == "critical"

    def to_gx(self) -> dict[str, Any]:
        """The expectation as it reads in a great-expectations 1.x suite file."""
        return {"type": self.type, "kwargs": dict(self.kwargs), "severity": self.severity, "meta": dict(self.meta)}


@dataclass(frozen=True)
class DatasetContext:
    """What the default suite of one dataset is derived from (all read from the batch)."""

    name: str
    spec: Mapping[str, Any]  # the ledger's copy (versement.records.dataset_spec_record)
    columns: Mapping[str, str]  # column → DuckDB type, read from the Parquet schema
    scope: Scope
    extraction_date: date
    batch_datasets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name → spec


@dataclass(frozen=True)
class Suite:
    dataset: str
    expectations: tuple[Expectation, ...]
    disabled: tuple[tuple[Expectation, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (path, sha256) of the files read


def tagged(spec: Mapping[str, Any], tag: str) -> list[str]:
    """Columns carrying ``tag`` that the extraction kept (sensitive ones may have been left out)."""
    left_out = set(spec.get("exclude_columns") or ())
    return [
        name
        for name, column in (spec.get("columns") or {}).items()
        if tag in (column.get("tags") or ()) and name not in left_out
    ]


def personal_columns(spec: Mapping[str, Any]) -> frozenset[str]:
    """Columns whose values identify or describe a person (examples shown to authorised roles only)."""
    names = {
        name for name, column in (spec.get("columns") or {}).items() if PERSONAL_TAGS & set(column.get("tags") or ())
    }
    if spec.get("person_key"):
        names.add(str(spec["person_key"]))
    return frozenset(names)


def default_suite(context: DatasetContext) -> list[Expectation]:
    """The expectations the specification implies for one dataset (see the module docstring)."""
    spec, columns = context.spec, context.columns
    key = [str(c) for c in spec.get("key") or ()]
    out: list[Expectation] = []

    def add(type_: str, severity: str = "critical", **kwargs: Any) -> None:
        out.append(Expectation(type_, kwargs, severity))

    person_key = spec.get("person_key")
    for column in dict.fromkeys([*key, *([person_key] if person_key else [])]):
        add("expect_column_values_to_not_be_null", column=column)
    if len(key) == 1:
        add("expect_column_values_to_be_unique", column=key[0])
    elif key:
        add("expect_compound_columns_to_be_unique", column_list=key)
    today = context.extraction_date.isoformat()
    for column in tagged(spec, "birth_date"):
        add("expect_column_values_to_be_between", column=column, min_value=EARLIEST_BIRTH.isoformat(), max_value=today)
    # Event dates include planned ends (a contract ending next year) and the placeholders sources
    # use for "no end" (9999-12-31, 0001-01-01): implausible ones are flagged, never blocking.
    for column in tagged(spec, "event_date"):
        add(
            "expect_column_values_to_be_between",
            "warning",
            column=column,
            min_value=EARLIEST_EVENT.isoformat(),
            max_value=today,
        )
    # Apogée binds the academic year to COD_ANU: every row of a scoped dataset is of that year.
    if spec.get("scoped", True) and context.scope.kind == "academic_year" and "COD_ANU" in columns:
        add("expect_column_values_to_be_in_set", column="COD_ANU", value_set=[str(context.scope.year)])
    for tag, type_ in (
        ("nir", "expect_column_values_to_be_valid_nir"),
        ("ine", "expect_column_values_to_be_valid_ine"),
    ):
        out.extend(_identifier(type_, tagged(spec, tag)))
    for column in columns:
        if column.startswith("BAR_NOT_") and f"NOT_{column[8:]}" in columns:
            add("expect_column_values_to_be_within_scale", column=f"NOT_{column[8:]}", scale_column=column, min_value=0)
    for column, sql_type in columns.items():
        if sql_type == "VARCHAR":
            add("expect_column_values_to_not_be_double_encoded", "warning", column=column)
            add("expect_column_values_to_be_xml_characters", "warning", column=column)
    for reference in spec.get("references") or ():
        ref_spec = context.batch_datasets.get(reference)
        ref_key = [str(c) for c in (ref_spec or {}).get("key") or ()]
        if ref_key and all(c in columns for c in ref_key):
            add("expect_column_values_to_be_in_reference", column_list=ref_key, reference_dataset=reference)
    if person_key:
        for name, other in context.batch_datasets.items():
            same_kind = other.get("person_kind") == spec.get("person_kind")
            if name != context.name and same_kind and list(other.get("key") or ()) == [person_key]:
                add("expect_column_values_to_be_in_reference", column_list=[person_key], reference_dataset=name)
                break
    return out


def _identifier(type_: str, names: Sequence[str]) -> list[Expectation]:
    """One check per identifier; a tagged column named ``*CLE*`` is the key of the other one."""
    keys = [n for n in names if "CLE" in n.upper()]
    bodies = [n for n in names if n not in keys]
    if len(keys) == 1 and len(bodies) == 1:
        return [Expectation(type_, {"column": bodies[0], "key_column": keys[0]})]
    return [Expectation(type_, {"column": n}) for n in names]


# -- files ------------------------------------------------------------------------------------

_SUITE_KEYS = frozenset({"name", "id", "expectations", "meta", "notes"})
_EXPECTATION_KEYS = frozenset({"type", "kwargs", "meta", "severity", "id", "notes", "description", "rendered_content"})


def suite_path(tool: str, dataset: str, folder: Path | None = None) -> Path:
    return (folder or SUITES_DIR) / tool / f"{dataset}.json"


def read_suite_file(path: Path, dataset: str) -> list[Expectation]:
    """The expectations of one suite file, checked strictly (types, arguments, severities)."""
    origin = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(origin, dataset, f"not a readable JSON suite: {exc}") from None
    if not isinstance(raw, dict):
        raise SuiteError(origin, dataset, "expected a JSON object (a great-expectations suite)")
    for name in raw:
        if name not in _SUITE_KEYS:
            raise SuiteError(origin, dataset, unknown_key_problem(name, _SUITE_KEYS))
    items = raw.get("expectations")
    if not isinstance(items, list):
        raise SuiteError(origin, dataset, "'expectations' must be a list")
    return [_read_expectation(item, origin, dataset, i) for i, item in enumerate(items)]


def _read_expectation(item: Any, origin: str, dataset: str, index: int) -> Expectation:
    where = f"expectations[{index}]"
    if not isinstance(item, dict):
        raise SuiteError(origin, dataset, f"{where}: expected an object")
    for name in item:
        if name not in _EXPECTATION_KEYS:
            raise SuiteError(origin, dataset, f"{where}: {unknown_key_problem(name, _EXPECTATION_KEYS)}")
    type_ = item.get("type")
    if not isinstance(type_, str) or type_ not in KINDS:
        problem = unknown_key_problem(str(type_), KINDS) + ": no such expectation type"
        raise SuiteError(origin, dataset, f"{where}.type: {problem}")
    kind = KINDS[type_]
    kwargs = item.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(origin, dataset, f"{where}.kwargs: expected an object")
    for name in kwargs:
        if name not in kind.allowed():
            raise SuiteError(origin, dataset, f"{where}.kwargs ({type_}): {unknown_key_problem(name, kind.allowed())}")
    for name in (*kind.required, *(c for c in kind.columns if c not in _OPTIONAL_COLUMNS)):
        if name not in kwargs:
            raise SuiteError(origin, dataset, f"{where}.kwargs ({type_}): {name!r} is required")
    for name in kind.columns:
        value = kwargs.get(name)
        if value is None and name in _OPTIONAL_COLUMNS:
            continue
        ok = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        if not (ok if name.endswith("_list") else isinstance(value, str)):
            expected = "a non-empty list of column names" if name.endswith("_list") else "a column name"
            raise SuiteError(origin, dataset, f"{where}.kwargs.{name}: expected {expected}")
    severity = item.get("severity", "critical")
    if severity not in SEVERITIES:
        raise SuiteError(origin, dataset, f"{where}.severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    meta = item.get("meta", {})
    if not isinstance(meta, dict):
        raise SuiteError(origin, dataset, f"{where}.meta: expected an object")
    if "disabled" in meta and not (isinstance(meta["disabled"], str) and meta["disabled"].strip()):
        raise SuiteError(origin, dataset, f"{where}.meta.disabled: give the reason as text")
    return Expectation(type_, kwargs, severity, meta, origin)


def build_suite(context: DatasetContext, *, tool: str | None, folder: Path | None = None) -> Suite:
    """Default suite merged with the dataset's suite file (when there is one)."""
    expectations = {e.identity: e for e in default_suite(context)}
    disabled: list[tuple[Expectation, str]] = []
    files: list[tuple[str, str]] = []
    path = suite_path(tool, context.name, folder) if tool else None
    if path is not None and path.is_file():
        files.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
        for expectation in read_suite_file(path, context.name):
            reason = expectation.meta.get("disabled")
            if reason:
                if expectation.identity not in expectations:
                    raise SuiteError(
                        str(path),
                        context.name,
                        f"disables {expectation.type} on {', '.join(expectation.columns) or 'the table'}, "
                        "which the default suite does not hold",
                    )
                disabled.append((expectations.pop(expectation.identity), str(reason)))
            elif (skipped := _not_extracted(expectation, context, tool)) is not None:
                disabled.append((expectation, skipped))
            else:
                expectations[expectation.identity] = expectation
    suite = Suite(context.name, tuple(expectations.values()), tuple(disabled), tuple(files))
    check_columns(suite, context.columns)
    return suite


def _not_extracted(expectation: Expectation, context: DatasetContext, tool: str | None) -> str | None:
    """Why a file's expectation cannot apply to this batch by the deployment's choice, or None.

    A column the deployment left out (``exclude_columns``, sensitive classes) or a dataset of the
    tool's specification the deployment did not extract: the expectation is reported as not run,
    with the reason. Any other missing column or dataset stays a configuration error.
    """
    left_out = set(context.spec.get("exclude_columns") or ())
    for column in expectation.columns:
        if column in left_out and column not in context.columns:
            return f"colonne {column} laissée de côté à l'extraction"
    reference = expectation.kwargs.get("reference_dataset")
    if isinstance(reference, str) and reference not in context.batch_datasets and tool:
        try:
            known: tuple[str, ...] = load_tool(tool).names()
        except (SpecError, OSError):  # a tool without a shipped specification: nothing is known absent
            known = ()
        if reference in known:
            return f"jeu de données {reference} non extrait dans ce lot"
    return None


def check_columns(suite: Suite, columns: Mapping[str, str]) -> None:
    """Every column an expectation names exists in the dataset (configuration error otherwise).

    ``expect_column_to_exist`` is the exception: a missing column is its failure, not an error.
    """
    for expectation in suite.expectations:
        if expectation.type == "expect_column_to_exist":
            continue
        for column in expectation.columns:
            if column not in columns:
                raise SuiteError(
                    expectation.origin,
                    suite.dataset,
                    f"{expectation.type} names a column the dataset does not have (columns: {', '.join(columns)})",
                    column=column,
                )
