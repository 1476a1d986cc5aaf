"""The statements sent for one dataset, built from its spec SQL and the result's column names.

For every dialect the dataset is read as::

    SELECT "A", "B", ... FROM (<spec sql>) q ORDER BY "K1", "K2"
    SELECT COUNT(*) FROM (<spec sql>) q

with the scope's values bound, never pasted. SQLite and Oracle take ``:name`` placeholders as
written in the spec. PostgreSQL reads through ``COPY``, which accepts no parameters: there each
``:name`` becomes ``(SELECT current_setting('versement.name'))`` (with a cast for dates and
numbers) and the value is bound into ``set_config('versement.name', $1, true)``, local to the
snapshot transaction. The scalar subquery is an InitPlan, evaluated once per statement: a bare
``current_setting()`` is a function call per row wherever the planner cannot use it as an index
condition (a sequential scan, a join filter), which cost the COUNT(*) and aggregates statement a
third of its time on 1M rows. Either way a value full of quotes or SQL is data, not code.

Kept apart from the connections so the statements of any dialect (Oracle included) can be
checked without a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from extractors.errors import ExtractionError

_TOKENS = re.compile(
    r"'(?:[^']|'')*'"  # string literal
    r"|\"(?:[^\"]|\"\")*\""  # quoted identifier
    r"|--[^\n]*"  # line comment
    r"|/\*.*?\*/"  # block comment
    r"|(?<![:\w]):([A-Za-z_]\w*)",  # :name, but not ::cast
    re.DOTALL,
)
SETTING_PREFIX = "versement."


def quote(name: str) -> str:
    """A column name exactly as the result spells it, quoted (same rule in the three dialects)."""
    return '"' + name.replace('"', '""') + '"'


def replace_parameters(sql: str, replace: Callable[[str], str]) -> str:
    """``sql`` with each ``:name`` outside literals, identifiers and comments replaced."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return replace(name) if name else match.group(0)

    return _TOKENS.sub(one, sql)


def parameter_names(sql: str) -> list[str]:
    found: list[str] = []

    def note(name: str) -> str:
        found.append(name)
        return name

    replace_parameters(sql, note)
    return found


def check_parameters(dataset: str, sql: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` uses, all of them given; extra scope parameters are ignored."""
    used = dict.fromkeys(parameter_names(sql))
    missing = [name for name in used if name not in parameters]
    if missing:
        raise ExtractionError(
            f"dataset {dataset}: its SQL uses parameter(s) {', '.join(':' + m for m in missing)} "
            "that the batch's scope does not give",
            dataset=dataset,
        )
    return {name: parameters[name] for name in used}


def select_sql(sql: str, columns: Sequence[str], key: Sequence[str]) -> str:
    cols = ", ".join(quote(c) for c in columns)
    order = ", ".join(quote(k) for k in key)
    return f"SELECT {cols} FROM ({sql}) q ORDER BY {order}"


def count_sql(sql: str, expressions: Sequence[str] = ()) -> str:
    """``COUNT(*)`` of the dataset, with the aggregates computed in the same pass (extractors.aggregates)."""
    return f"SELECT {', '.join(['COUNT(*)', *expressions])} FROM ({sql}) q"


def describe_sql(sql: str) -> str:
    """A statement returning no row but the result's columns and types."""
    return f"SELECT * FROM ({sql}) q WHERE 1 = 0"


def postgresql_settings_sql(sql: str, parameters: Mapping[str, Any]) -> str:
    """``sql`` with ``:name`` read from the transaction's settings (see the module docstring)."""

    def setting(name: str) -> str:
        cast = _pg_cast(parameters[name])
        return f"(SELECT current_setting('{SETTING_PREFIX}{name}'){cast})"

    return replace_parameters(sql, setting)


def postgresql_setting_value(value: Any) -> str:
    """The text a parameter is stored as in its setting (read back with the matching cast)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pg_cast(value: Any) -> str:
    if isinstance(value, bool):
        return "::boolean"
    if isinstance(value, datetime):
        return "::timestamptz" if value.tzinfo is not None else "::timestamp"
    if isinstance(value, date):
        return "::date"
    if isinstance(value, int):
        return "::bigint"
    if isinstance(value, Decimal | float):
        return "::numeric"
    if isinstance(value, str):
        return ""
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def null_parameters(sql: str) -> str:
    """``sql`` with every parameter replaced by NULL: for SQLite's type probe (a view takes none)."""
    return replace_parameters(sql, lambda _name: "NULL")
