"""Tables and columns of the synthetic sources: exactly what the spec files read.

One compact description per table (``NAME TYPE [NOT NULL]`` per column) renders to the DDL
of each backend:

========  ==========================  ===========================
type      SQLite (Oracle-like names)  PostgreSQL
========  ==========================  ===========================
VC(n)     VARCHAR2(n)                 varchar(n)
N(p)      NUMBER(p,0)                 numeric(p,0)
N(p,s)    NUMBER(p,s)                 numeric(p,s)
N         NUMBER                      numeric
N38       NUMBER(38,0 /* TEXT */)     numeric(38,0)
D         DATE                        date
TS        TIMESTAMP                   timestamp
CLOB      CLOB                        text
========  ==========================  ===========================

SQLite gives a declared type its *affinity* from the words it contains: ``VARCHAR2`` holds
CHAR (text), ``NUMBER`` and ``DATE`` get numeric affinity (ISO dates stay text, they are not
numbers). A 38-digit integer does not fit SQLite's 64-bit integers and would be stored as a
REAL, losing digits: the ``/* TEXT */`` comment gives that one column text affinity (the value
keeps all its digits) while reflection still reads ``NUMBER(38,0)`` (the comment holds neither
INT nor digits).

A table declared with ``primary_key=()`` has no key enforced, like the extraction views real
extracts are taken through: only there can duplicate or NULL keys be planted (``nasty``).
PostgreSQL primary keys are added after the COPY (faster, same result).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Backend = Literal["sqlite", "postgresql"]

METADATA_TABLE = "VERSEMENT_SYNTHETIC"

_TYPE = re.compile(r"(VC|N|D|TS|CLOB|N38)(?:\((\d+)(?:,(\d+))?\))?")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the compact notation above
    not_null: bool = False

    def render(self, backend: Backend) -> str:
        match = _TYPE.fullmatch(self.type)
        if match is None:
            raise ValueError(f"column {self.name}: unknown type notation {self.type!r}")
        kind, first, second = match.groups()
        if kind == "VC":
            declared = f"VARCHAR2({first})" if backend == "sqlite" else f"varchar({first})"
        elif kind == "N38":
            declared = "NUMBER(38,0 /* TEXT */)" if backend == "sqlite" else "numeric(38,0)"
        elif kind == "N":
            name = "NUMBER" if backend == "sqlite" else "numeric"
            declared = f"{name}({first},{second or 0})" if first else name
        else:
            declared = {
                "D": ("DATE", "date"),
                "TS": ("TIMESTAMP", "timestamp"),
                "CLOB": ("CLOB", "text"),
            }[kind][0 if backend == "sqlite" else 1]
        return f"{self.name} {declared}{' NOT NULL' if self.not_null else ''}"


@dataclass(frozen=True)
class Table:
    name: str  # may be schema-qualified (Pégase: schema_ins.inscription)
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def schema(self) -> str | None:
        return self.name.split(".")[0] if "." in self.name else None

    def create(self, backend: Backend) -> str:
        parts = [c.render(backend) for c in self.columns]
        if backend == "sqlite" and self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE {self.name} (\n    " + ",\n    ".join(parts) + "\n)"

    def add_primary_key(self) -> str | None:
        """PostgreSQL: the key, added once the rows are in."""
        if not self.primary_key:
            return None
        return f"ALTER TABLE {self.name} ADD PRIMARY KEY ({', '.join(self.primary_key)})"


def table(name: str, spec: str, key: Sequence[str] = ()) -> Table:
    """``table("PAYS", "COD_PAY VC(3) NOT NULL; LIB_PAY VC(50)", ["COD_PAY"])``."""
    columns = []
    for item in (part.strip() for part in spec.split(";")):
        if not item:
            continue
        words = item.split()
        columns.append(Column(words[0], words[1], not_null=words[2:] == ["NOT", "NULL"]))
    names = {c.name for c in columns}
    for column in key:
        if column not in names:
            raise ValueError(f"table {name}: key column {column} is not declared")
    return Table(name, tuple(columns), tuple(key))


METADATA = table(METADATA_TABLE, "PARAMETER VC(40) NOT NULL; VALUE CLOB NOT NULL", ["PARAMETER"])
