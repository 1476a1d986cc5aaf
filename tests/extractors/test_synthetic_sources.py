"""Synthetic sources at any scale: the spec files' SQL runs on them, on SQLite and PostgreSQL alike.

The same small sources serve every test of the module (generated once per backend); each
dataset's SQL is run as the extraction will run it: through SQLAlchemy ``text()`` with the
scope's bound parameters, wrapped and ordered by its key.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Date, bindparam, create_engine, text
from sqlalchemy.engine import Engine

from extractors.scope import Scope
from extractors.specs import DatasetSpec, ToolSpec, available_tools, load_tool
from extractors.synthetic import NotSynthetic, SyntheticSourceError, generate, nasty
from extractors.synthetic.people import agent_number, is_student_agent

PG_ADMIN = os.environ.get("VERSEMENT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
YEARS = (2021, 2022, 2023)
SIZES = {"apogee": {"students": 60}, "harpege": {"agents": 40}, "pegase": {"students": 40}}
BACKENDS = {"apogee": ("sqlite", "postgresql"), "harpege": ("sqlite", "postgresql"), "pegase": ("postgresql",)}
CASES = [(tool, backend) for tool, backends in BACKENDS.items() for backend in backends]


def scopes(tool: str) -> list[Scope]:
    if load_tool(tool).scope == "period":
        return [Scope.period(date(y, 1, 1), date(y, 12, 31)) for y in YEARS]
    return [Scope.academic_year(y) for y in YEARS]


def empty_scope(tool: str) -> Scope:
    if load_tool(tool).scope == "period":
        return Scope.period(date(1950, 1, 1), date(1950, 12, 31))
    return Scope.academic_year(1999)


@pytest.fixture(scope="module")
def pg_databases() -> Iterator[Any]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"versement_synth_{uuid.uuid4().hex[:12]}"
        made.append(name)  # created by the generator itself, as a missing SQLite file is
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Source:
    def __init__(self, tool: str, url: str) -> None:
        self.tool = tool
        self.url = url
        self.spec: ToolSpec = load_tool(tool)
        self.engine: Engine = create_engine(url)

    def run(self, dataset: DatasetSpec, scope: Scope | None) -> list[dict[str, Any]]:
        statement = text(f"SELECT * FROM ({dataset.sql}) q ORDER BY {', '.join(dataset.key)}")
        parameters = scope.parameters() if dataset.scoped and scope is not None else {}
        if "period_start" in parameters:
            statement = statement.bindparams(bindparam("period_start", type_=Date), bindparam("period_end", type_=Date))
        with self.engine.connect() as conn:
            result = conn.execute(statement, parameters)
            # PostgreSQL folds unquoted names to lower case, Oracle and SQLite keep them: compare in upper case.
            return [{k.upper(): v for k, v in row._mapping.items()} for row in result]

    def rows(self, dataset: str, scope: Scope | None = None) -> list[dict[str, Any]]:
        return self.run(self.spec.dataset(dataset), scope)

    def table(self, name: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [{k.upper(): v for k, v in r._mapping.items()} for r in conn.execute(text(f"SELECT * FROM {name}"))]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, pg_databases: Any) -> Iterator[Any]:
    made: dict[tuple[str, str, bool], Source] = {}

    def get(tool: str, backend: str, nasty: bool = False) -> Source:
        key = (tool, backend, nasty)
        if key not in made:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp(tool) / f'{tool}-{nasty}.sqlite'}"
            else:
                url = pg_databases()
            generate(tool, url, years=YEARS, nasty=nasty, **SIZES[tool])
            made[key] = Source(tool, url)
        return made[key]

    yield get
    for source in made.values():
        source.engine.dispose()


def canonical(value: Any) -> Any:
    """One spelling per value across backends: SQLite hands text and floats, PostgreSQL Decimal and date."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        return str(int(number)) if number == number.to_integral_value() else str(number.normalize())
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def keys(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(canonical(r[c.upper()]) for c in columns) for r in rows]


# ---------------------------------------------------------------- the spec files


def test_every_spec_file_loads_with_labels_keys_and_person_keys():
    assert set(available_tools()) >= {"apogee", "harpege", "pegase"}
    for tool in available_tools():
        spec = load_tool(tool)
        for dataset in spec.datasets:
            assert dataset.label and dataset.description, dataset.name
            if dataset.person_kind is not None:
                assert dataset.person_key in dataset.tagged("person_identifier"), dataset.name
            if dataset.record_type != "reference_tables":
                assert dataset.scoped and dataset.person_kind is not None, dataset.name
            for column in dataset.columns:
                assert column.upper() in dataset.sql.upper(), (dataset.name, column)


def test_record_types_cover_what_the_law_keeps():
    apogee = {d.record_type for d in load_tool("apogee").datasets}
    assert apogee == {
        "reference_tables",
        "registration_register",
        "jury_minutes",
        "diploma_register",
        "student_file",
        "theses",
    }
    harpege = {d.record_type for d in load_tool("harpege").datasets}
    assert harpege == {"reference_tables", "agent_career_file", "agent_contracts"}
    assert load_tool("harpege").dataset("agents_identite").person_key == "NO_DOSSIER_PERS"
    assert "cross_link" in load_tool("apogee").dataset("ref_personnels").columns["NUM_DOS_HAR_PER"].tags


# ---------------------------------------------------------------- specs and generators agree


@pytest.mark.parametrize(("tool", "backend"), CASES)
def test_every_dataset_returns_rows_with_a_unique_key(sources, tool, backend):
    if backend == "postgresql":
        pytest.importorskip("psycopg")
    source = sources(tool, backend)
    for dataset in source.spec.datasets:
        runs = scopes(tool) if dataset.scoped else [None]
        counts = []
        for scope in runs:
            rows = source.run(dataset, scope)
            counts.append(len(rows))
            found = keys(rows, dataset.key)
            assert len(found) == len(set(found)), f"{tool}.{dataset.name}: duplicate key in {scope}"
            assert all(None not in k for k in found), f"{tool}.{dataset.name}: NULL key"
            if dataset.person_key and rows:
                assert all(r[dataset.person_key.upper()] is not None for r in rows), dataset.name
        assert counts[-1] > 0, f"{tool}.{dataset.name} is empty on {backend} for the last year"


EXTRA_REFERENCES = {  # columns whose name differs from the referenced key
    "COD_PAY_NAT": ("ref_pays", "COD_PAY"),
    "COD_ETB_BAC": ("ref_etablissements", "COD_ETB"),
    "COD_DEP_BAC": ("ref_departements", "COD_DEP"),
    "C_PAYS_NAISSANCE": ("ref_pays", "C_PAYS"),
    "C_PAYS_NATIONNALITE": ("ref_pays", "C_PAYS"),
    "CODE_OBJET_FORMATION": ("ref_objets_maquette", "CODE"),
    "CODE_DIPLOME": ("ref_objets_maquette", "CODE"),
}


@pytest.mark.parametrize(("tool", "backend"), [c for c in CASES if c[1] == "sqlite"] + [("pegase", "postgresql")])
def test_reference_datasets_cover_every_code_used(sources, tool, backend):
    source = sources(tool, backend)
    spec = source.spec
    reference_rows = {d.name: source.run(d, None) for d in spec.datasets if not d.scoped}
    checked = 0
    for dataset in spec.datasets:
        runs = scopes(tool) if dataset.scoped else [None]
        rows = [row for scope in runs for row in source.run(dataset, scope)]
        columns = set(rows[0]) if rows else set()
        pairs: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        for name in dataset.references:
            reference = spec.dataset(name)
            wanted = tuple(c.upper() for c in reference.key)
            if set(wanted) <= columns and name != dataset.name:
                pairs.append((name, wanted, wanted))
        for column, (name, target) in EXTRA_REFERENCES.items():
            if column in columns and name in spec.names():
                pairs.append((name, (column,), (target,)))
        for name, used_columns, target_columns in pairs:
            known = {tuple(canonical(r[c]) for c in target_columns) for r in reference_rows[name]}
            used = {tuple(canonical(r[c]) for c in used_columns) for r in rows}
            used = {u for u in used if None not in u}
            assert used <= known, f"{dataset.name}: {used_columns} not in {name}: {sorted(used - known)[:5]}"
            checked += 1
    assert checked >= {"apogee": 20, "harpege": 8, "pegase": 2}[tool]


@pytest.mark.parametrize(("tool", "backend"), CASES)
def test_a_scope_without_data_returns_no_rows(sources, tool, backend):
    source = sources(tool, backend)
    for dataset in source.spec.datasets:
        if dataset.scoped:
            assert source.run(dataset, empty_scope(tool)) == [], dataset.name


@pytest.mark.parametrize("tool", ["apogee", "harpege"])
def test_same_seed_gives_identical_rows_on_both_backends(sources, tool):
    lite, pg = sources(tool, "sqlite"), sources(tool, "postgresql")
    from extractors.synthetic import TOOLS

    for table in TOOLS[tool].TABLES:
        a = sorted((tuple(canonical(v) for v in r.values()) for r in lite.table(table.name)), key=repr)
        b = sorted((tuple(canonical(v) for v in r.values()) for r in pg.table(table.name)), key=repr)
        assert a == b, table.name
        assert a, table.name


def test_same_seed_same_file_other_seed_other_rows(tmp_path):
    first = generate("harpege", f"sqlite:///{tmp_path / 'a.sqlite'}", agents=20, years=2, seed=7)
    second = generate("harpege", f"sqlite:///{tmp_path / 'b.sqlite'}", agents=20, years=2, seed=7)
    other = generate("harpege", f"sqlite:///{tmp_path / 'c.sqlite'}", agents=20, years=2, seed=8)
    a, b, c = (Source("harpege", s.url) for s in (first, second, other))
    assert a.table("INDIVIDU") == b.table("INDIVIDU")
    assert a.table("ELEMENT_CARRIERE") == b.table("ELEMENT_CARRIERE")
    assert a.table("INDIVIDU") != c.table("INDIVIDU")


# ---------------------------------------------------------------- the awkward values


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_awkward_values_are_always_present(sources, backend):
    source = sources("apogee", backend)
    people = {canonical(r["COD_IND"]): r for r in source.table("INDIVIDU")}
    assert canonical(people["100001"]["NUM_IDT_EXT_IND"]) == nasty.WIDEST_NUMBER  # all 38 digits
    assert canonical(people["100002"]["DAT_CRE_IND"]) == "0001-01-01"
    assert canonical(people["100002"]["DATE_NAI_IND"]) == "1900-01-01"
    assert people["100003"]["LIB_NOM_PAT_IND"] == "CŒURDEROY" and people["100003"]["LIB_PR1_IND"] == "Lætitia"
    assert people["100004"]["LIB_NOM_PAT_IND"] == "O'BRIEN" and people["100004"]["LIB_NOM_USU_IND"] == "L’HÔTE"
    usage = [r["LIB_NOM_USU_IND"] for r in people.values()]
    assert "" in usage and None in usage  # the empty string is not NULL
    diplomas = source.rows("diplomes_delivres", Scope.academic_year(2023))
    assert "9999-12-31" in {canonical(r["DAT_OBT_VDI"]) for r in diplomas}
    theses = source.rows("theses_hdr", Scope.academic_year(2023))
    assert any(nasty.SCRIPT in r["LIB_THS"] for r in theses)
    elements = source.rows("ref_elements")
    comments = [r["LIB_CMT_ELP"] for r in elements]
    assert max(len(c or "") for c in comments) == 2000 and "" in comments and None in comments
    assert max(len(r["LIB_CMT_CMP"] or "") for r in source.rows("ref_composantes")) == 40_000
    names = " ".join(str(r["LIB_NOM_PAT_IND"]) + str(r["LIB_PR1_IND"]) for r in people.values())
    assert "Ã" not in names and not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in names)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nasty_apogee_holds_what_an_extraction_must_stop_on(sources, backend):
    source = sources("apogee", backend, nasty=True)
    year = Scope.academic_year(2023)
    spec = source.spec
    register = spec.dataset("inscriptions_administratives")
    registrations = keys(source.run(register, year), register.key)
    assert len(registrations) > len(set(registrations))  # IND_BAC duplicated: no key was ever enforced
    stages = keys(source.rows("resultats_etapes", year), spec.dataset("resultats_etapes").key)
    assert len(stages) > len(set(stages))
    exemptions = source.rows("dispenses", year)
    assert any(r["COD_ELP"] is None for r in exemptions)
    people = {canonical(r["COD_IND"]): r for r in source.table("INDIVIDU")}
    assert people["100009"]["LIB_NOM_PAT_IND"] == nasty.MOJIBAKE_SURNAME
    assert people["100009"]["LIB_PR1_IND"] == nasty.MOJIBAKE_FIRST_NAME
    assert people["100010"]["LIB_NOM_PAT_IND"] == nasty.CONTROL_SURNAME  # \x0b
    assert people["100010"]["LIB_PR1_IND"] == nasty.CONTROL_FIRST_NAME  # \x01 kept, not escaped
    assert people["100010"]["LIB_VIL_NAI_ETU"] == nasty.CONTROL_TOWN  # \x85
    comments = {r["COD_DIP"]: r["LIB_CMT_DIP"] for r in source.rows("ref_diplomes")}
    assert len(comments["LHAR"]) == nasty.HUGE_TEXT_CHARS
    bacs = keys(source.table("IND_BAC"), ("COD_IND", "COD_BAC"))
    assert len(bacs) - len(set(bacs)) == 1  # exactly one duplicated row
    texts = all_text(source)
    for planted in ("Ã", *CONTROL_CHARACTERS):
        assert any(planted in t for t in texts), repr(planted)


CONTROL_CHARACTERS = ("\x01", "\x0b", "\x85")


def all_text(source: Source) -> list[str]:
    from extractors.synthetic import TOOLS

    tables = [t.name for t in TOOLS[source.tool].TABLES]
    return [v for name in tables for row in source.table(name) for v in row.values() if isinstance(v, str)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_clean_apogee_has_none_of_the_nasty_values(sources, backend):
    source = sources("apogee", backend)
    texts = all_text(source)
    assert not [t for t in texts if "Ã" in t or any(c in t for c in CONTROL_CHARACTERS)]
    assert max(len(t) for t in texts) < nasty.HUGE_TEXT_CHARS
    bacs = keys(source.table("IND_BAC"), ("COD_IND", "COD_BAC"))
    assert len(bacs) == len(set(bacs)) and all(None not in k for k in bacs)
    assert all(r["COD_ELP"] is not None for r in source.table("IND_DISPENSE_ELP"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nasty_harpege_holds_a_duplicate_and_a_null_key(sources, backend):
    source = sources("harpege", backend, nasty=True)
    period = Scope.period(date(2023, 1, 1), date(2023, 12, 31))
    addresses = keys(source.rows("agents_adresses", period), source.spec.dataset("agents_adresses").key)
    assert len(addresses) > len(set(addresses))
    assert any(r["NO_SEQ_AFFE_RECH"] is None for r in source.rows("affectations_recherche", period))
    names = {canonical(r["NO_INDIVIDU"]): r["NOM_PATRONYMIQUE"] for r in source.table("INDIVIDU")}
    assert names[str(agent_number(6))] == nasty.MOJIBAKE_SURNAME
    assert names[str(agent_number(7))] == nasty.CONTROL_SURNAME


def test_apogee_teachers_link_to_harpege_agents_some_of_whom_are_students(sources):
    apogee, harpege = sources("apogee", "sqlite"), sources("harpege", "sqlite")
    agents = {canonical(r["NO_INDIVIDU"]): r for r in harpege.table("INDIVIDU")}
    students = {canonical(r["COD_IND"]): r for r in apogee.table("INDIVIDU")}
    links = [r for r in apogee.rows("ref_personnels") if r["NUM_DOS_HAR_PER"] is not None]
    assert links
    both = 0
    for teacher in links:
        agent = agents[canonical(teacher["NUM_DOS_HAR_PER"])]
        if int(canonical(teacher["NUM_DOS_HAR_PER"])) - agent_number(0) < 10:
            continue  # Harpège's fixed agents carry planted names
        assert agent["NOM_PATRONYMIQUE"] == teacher["LIB_NOM_PAT_PER"]
        assert canonical(agent["D_NAISSANCE"]) == canonical(teacher["DAT_NAI_PER"])
        k = int(canonical(teacher["NUM_DOS_HAR_PER"])) - agent_number(0)
        if is_student_agent(k) and k >= 12:  # the fixed individuals below 12 carry planted names
            student = students[str(100_001 + k)]
            assert (student["LIB_NOM_PAT_IND"], canonical(student["DATE_NAI_IND"])) == (
                agent["NOM_PATRONYMIQUE"],
                canonical(agent["D_NAISSANCE"]),
            )
            both += 1
    assert both >= 1


# ---------------------------------------------------------------- sensitive classes


@pytest.mark.parametrize(
    ("tool", "dataset", "column", "sensitive_class"),
    [
        ("apogee", "etudiants_identite", "COD_THP", "health"),
        ("apogee", "etudiants_adresses", "LIB_AD1", "postal_address"),
        ("harpege", "agents_identite", "NO_INSEE", "nir"),
        ("harpege", "agents_adresses", "NOM_VOIE", "postal_address"),
        ("harpege", "agents_coordonnees_bancaires", "NO_COMPTE", "bank_details"),
    ],
)
def test_sensitive_columns_are_left_out_unless_asked(sources, tool, dataset, column, sensitive_class):
    source = sources(tool, "sqlite")
    rows = [r for scope in scopes(tool) for r in source.rows(dataset, scope)]
    assert any(r[column] is not None for r in rows)  # the source does hold them
    default = {d.name: d for d in source.spec.select()}
    asked = {d.name: d for d in source.spec.select(include_sensitive=[sensitive_class])}
    assert column not in asked[dataset].exclude_columns
    if dataset in source.spec.left_out_sensitive():
        # Every column but its keys is sensitive: left out whole, not extracted as a key-only file.
        assert dataset not in default
        assert source.spec.left_out_sensitive()[dataset] == (sensitive_class,)
        assert dataset not in source.spec.left_out_sensitive([sensitive_class])
        return
    assert column in default[dataset].exclude_columns
    assert default[dataset].key == asked[dataset].key


# ---------------------------------------------------------------- idempotent, atomic, refuses real sources


def test_sqlite_generation_is_idempotent_and_refuses_other_files(tmp_path):
    path = tmp_path / "apogee.sqlite"
    first = generate("apogee", f"sqlite:///{path}", students=15, years=2)
    mtime = path.stat().st_mtime_ns
    again = generate("apogee", f"sqlite:///{path}", students=15, years=2)
    assert first.created and not again.created and again.tables == first.tables
    assert path.stat().st_mtime_ns == mtime
    bigger = generate("apogee", f"sqlite:///{path}", students=30, years=2)
    assert bigger.created and bigger.tables["INDIVIDU"] == 30
    other = tmp_path / "real.sqlite"
    other.write_bytes(b"not a database at all")
    with pytest.raises(NotSynthetic, match="not a synthetic source"):
        generate("apogee", f"sqlite:///{other}", students=15)
    assert other.read_bytes() == b"not a database at all"
    assert not list(tmp_path.glob(".*.tmp"))


def test_pegase_needs_postgresql(tmp_path):
    with pytest.raises(SyntheticSourceError, match="PostgreSQL only"):
        generate("pegase", f"sqlite:///{tmp_path / 'p.sqlite'}", students=10)


def test_postgresql_generation_is_idempotent_atomic_and_refuses_real_databases(pg_databases, monkeypatch):
    url = pg_databases()
    first = generate("harpege", url, agents=12, years=2)
    again = generate("harpege", url, agents=12, years=2)
    assert first.created and not again.created and again.tables == first.tables

    from extractors.synthetic import harpege

    original = harpege.tables

    def broken(params):
        content = original(params)

        entities = content.entities
        assert entities is not None

        def failing():
            yield from itertools.islice(entities(), 20)
            raise RuntimeError("disk full")

        return dataclasses.replace(content, entities=failing)

    monkeypatch.setattr(harpege, "tables", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate("harpege", url, agents=25, years=2)
    monkeypatch.undo()
    assert generate("harpege", url, agents=12, years=2).created is False  # the previous content is intact

    real = pg_databases()
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{real.rsplit("/", 1)[1]}"')
    engine.dispose()
    target = create_engine(real)
    with target.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ins_adm_etp (cod_anu varchar(4))")
    target.dispose()
    with pytest.raises(NotSynthetic, match="1 table"):
        generate("apogee", real, students=15)


def test_postgresql_copy_keeps_tabs_backslashes_and_newlines():
    from extractors.synthetic.writer import copy_text

    rows = [("a\tb", None, "c\\d\ne\r", 5, ""), ("\\N", "x\x0by", None, "", 0)]
    assert copy_text(rows) == "a\\tb\t\\N\tc\\\\d\\ne\\r\t5\t\n\\\\N\tx\x0by\t\\N\t\t0\n"


# ---------------------------------------------------------------- the command line


def run_cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from versement.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sources", "generate", *args])
    return code, out.getvalue(), err.getvalue()


def test_cli_generates_then_finds_the_source_up_to_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    code, out, _ = run_cli("harpege", "--url", url, "--agents", "12", "--years", "2022-2023", "--seed", "3")
    assert code == 0 and "générée" in out
    code, out, _ = run_cli("harpege", "--url", url, "--agents", "12", "--years", "2022-2023", "--seed", "3")
    assert code == 0 and "déjà à jour" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("apogée", "--url", "sqlite:///x.sqlite"), "did you mean 'apogee'"),
        (("apogee", "--url", "postgresql://bob:s3cr3t@127.0.0.1:1/db", "--students", "20"), "cannot connect"),
        (("apogee", "--url", "postgresql://bob:s3cr3t@host:port/db"), "is not a database URL"),
        (("apogee", "--url", "mysql://bob:s3cr3t@host/db"), "SQLite or PostgreSQL"),
        (("apogee", "--url", "sqlite:///x.sqlite", "--agents", "20"), "sized by students"),
        (("apogee", "--url", "sqlite:///x.sqlite", "--students", "3"), "at least 12"),
        (("apogee", "--url", "sqlite:///x.sqlite", "--years", "2023-2019"), "ends before it starts"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2_and_no_password(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(*args)
    assert code == 2
    assert message in err
    assert "s3cr3t" not in err
    assert not Path("x.sqlite").exists()


def test_cli_refuses_a_non_synthetic_target(tmp_path):
    real = tmp_path / "apogee.sqlite"
    real.write_text("production")
    code, _, err = run_cli("apogee", "--url", f"sqlite:///{real}", "--students", "20")
    assert code == 2 and "refusing to replace it" in err
    assert real.read_text() == "production"


VENDOR_ONLY = re.compile(
    r"\b(NVL|NVL2|DECODE|SYSDATE|SYSTIMESTAMP|ROWNUM|TO_CHAR|TO_DATE|TO_NUMBER|TRUNC|LIMIT|ILIKE|IFNULL|"
    r"STRFTIME|DATE_TRUNC|NOW|CONNECT\s+BY)\b|::|\bFROM\s+\w+\s+AS\s+\w+|\bJOIN\s+\S+\s+AS\s+\w+|\"",
    re.IGNORECASE,
)


def test_spec_sql_is_portable_across_oracle_postgresql_and_sqlite():
    """Standard joins, COALESCE and || only: no vendor function, no cast syntax, no quoted names, no
    ``AS`` before a table alias (Oracle refuses it), dates compared with bound parameters only."""
    for tool in available_tools():
        for dataset in load_tool(tool).datasets:
            found = VENDOR_ONLY.search(dataset.sql)
            assert found is None, f"{tool}.{dataset.name}: {found.group(0)!r} is not portable"
            assert not re.search(r"'\d{4}-\d{2}-\d{2}'", dataset.sql), f"{tool}.{dataset.name}: literal date"


def test_rows_do_not_depend_on_the_process(tmp_path):
    """Seeds are folded arithmetically, never from ``hash()`` (randomised per process for strings)."""
    import subprocess
    import sys

    here = generate("apogee", f"sqlite:///{tmp_path / 'here.sqlite'}", students=15, years=2, seed=11)
    script = (
        "import sys; from extractors.synthetic import generate; "
        "generate('apogee', 'sqlite:///' + sys.argv[1], students=15, years=2, seed=11)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "there.sqlite")], check=True, env=env)
    there = Source("apogee", f"sqlite:///{tmp_path / 'there.sqlite'}")
    mine = Source("apogee", here.url)
    for table in ("INDIVIDU", "RESULTAT_ELP", "PERSONNEL"):
        assert mine.table(table) == there.table(table), table
