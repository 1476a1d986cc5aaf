"""Dataset specification files: read strictly, parameters checked, overrides that cannot lie."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import extract, generate
from extractors.scope import Scope, ScopeError
from extractors.specs import SENSITIVE_CLASSES, SpecError, available_tools, extend_spec, load_spec_file, load_tool
from extractors.synthetic import SIZE_NAMES, TOOLS

GOOD = """
tool = "demo"
label = "Démo"
version = "1"
scope = "academic_year"

[[datasets]]
name = "inscriptions"
label = "Inscriptions"
record_type = "registration_register"
key = ["COD_ANU", "COD_IND"]
person_key = "COD_IND"
person_kind = "student"
references = ["pays"]
sql = '''
SELECT i.COD_ANU, i.COD_IND, i.COD_ETP, i.COD_THP, i.COD_NNI FROM INS i -- not :a_parameter
WHERE i.COD_ANU = :academic_year AND i.LIB <> ':not_one_either'
'''
[datasets.columns]
COD_ETP = { label = "Étape" }
COD_THP = { label = "Handicap", tags = ["health"] }
COD_NNI = { label = "NIR", tags = ["nir", "person_identifier"] }

[[datasets]]
name = "pays"
label = "Pays"
record_type = "reference_tables"
scoped = false
key = ["COD_PAY"]
table = "PAYS"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_its_digest_and_parameters(tmp_path):
    spec = load_spec_file(write(tmp_path, GOOD))
    assert spec.names() == ("inscriptions", "pays")
    assert spec.dataset("inscriptions").parameters == {"academic_year"}
    assert spec.dataset("pays").sql == "SELECT * FROM PAYS"
    assert len(spec.sha256) == 64


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        (
            'record_type = "registration_register"',
            'record_typ = "registration_register"',
            "record_typ",
            "did you mean 'record_type'?",
        ),
        ('record_type = "registration_register"', 'record_type = "registre"', "record_type", "unknown key 'registre'"),
        ('tags = ["health"]', 'tags = ["helth"]', "tags", "did you mean 'health'?"),
        ("= :academic_year", "= :academic_yr", "sql", "uses parameters ['academic_yr']"),
        ("scoped = false", "scoped = true", "sql", "uses parameters none"),
        ('references = ["pays"]', 'references = ["pay"]', "references", "did you mean 'pays'?"),
        ('person_kind = "student"', 'person_kind = "etudiant"', "person_kind", "unknown key"),
        ('person_kind = "student"\n', "", "inscriptions", "person_key and person_kind go together"),
        ('table = "PAYS"', 'table = "PAYS; DROP TABLE X"', "table", "is not a table name"),
        ('table = "PAYS"', 'table = "PAYS"\nsql = "SELECT 1"', "pays", "exactly one of sql or table"),
        ('key = ["COD_PAY"]', "key = []", "key", "a key is required"),
        ('name = "pays"', 'name = "inscriptions"', "datasets", "used twice"),
        ('name = "pays"', 'name = "Pays/../x"', "name", "lower-case"),
        ("WHERE i.COD_ANU", "WHERE 1=1 ORDER BY i.COD_IND --\nAND i.COD_ANU", "sql", "must not end with ORDER BY"),
        ('scope = "academic_year"', 'scope = "year"', "scope", "is not one of"),
        ('tool = "demo"', 'tool = "other"', "tool", "does not match the file name"),
    ],
)
def test_a_bad_file_names_file_key_and_problem(tmp_path, old, new, key, problem):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpecError) as caught:
        load_spec_file(path)
    assert caught.value.key.endswith(key)
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)


def test_sensitive_columns_are_left_out_unless_asked_for(tmp_path):
    spec = load_spec_file(write(tmp_path, GOOD))
    default = spec.select()[0]
    assert set(default.exclude_columns) == {"COD_THP", "COD_NNI"}
    assert spec.select(include_sensitive=["health"])[0].exclude_columns == ("COD_NNI",)
    assert spec.select(include_sensitive=["health", "nir"])[0].exclude_columns == ()


def test_a_dataset_whose_every_column_but_its_keys_is_sensitive_is_left_out_whole(tmp_path):
    bank = GOOD.replace('COD_ETP = { label = "Étape" }\n', "", 1)
    spec = load_spec_file(write(tmp_path, bank))
    assert [d.name for d in spec.select()] == ["pays"]  # not a file of keys alone
    assert spec.left_out_sensitive() == {"inscriptions": ("nir", "health")}
    # One class asked for is enough for a column other than the keys to be kept.
    (asked, _) = spec.select(include_sensitive=["health"])
    assert asked.name == "inscriptions" and asked.exclude_columns == ("COD_NNI",)
    assert spec.left_out_sensitive(["health"]) == {}
    # With one column to keep, the dataset is extracted, its sensitive columns left out.
    assert load_spec_file(write(tmp_path, GOOD)).left_out_sensitive() == {}


def test_selection_overrides_are_checked(tmp_path):
    spec = load_spec_file(write(tmp_path, GOOD))
    assert [d.name for d in spec.select(only=["inscriptions"])] == ["inscriptions", "pays"]
    assert [d.name for d in spec.select(drop=["pays"])] == ["inscriptions"]
    assert spec.select(exclude_columns={"pays": ["LIB_PAY"]})[1].exclude_columns == ("LIB_PAY",)
    for kwargs, key in (
        ({"drop": ["pay"]}, "drop_datasets"),
        ({"only": ["inscription"]}, "only_datasets"),
        ({"exclude_columns": {"pay": ["X"]}}, "exclude_columns"),
        ({"include_sensitive": ["helth"]}, "include_sensitive"),
    ):
        with pytest.raises(SpecError) as caught:
            spec.select(**kwargs)
        assert caught.value.key == key
    with pytest.raises(SpecError, match="cannot leave out key column") as caught:
        spec.select(exclude_columns={"pays": ["COD_PAY"]})
    assert caught.value.key == "exclude_columns.pays"  # the deployment's setting, as the configuration names it


ADDED = """
[[datasets]]
name = "bourses_locales"
label = "Bourses (table locale)"
record_type = "registration_register"
key = ["COD_ANU", "COD_IND"]
person_key = "COD_IND"
person_kind = "student"
references = ["pays"]
sql = "SELECT COD_ANU, COD_IND, MONTANT, COD_NNI FROM BOURSE_LOCALE WHERE COD_ANU = :academic_year"
[datasets.columns]
MONTANT = { label = "Montant" }
COD_NNI = { label = "NIR", tags = ["nir"] }
"""


def test_a_deployment_adds_its_own_datasets_beside_the_shipped_ones(tmp_path):
    spec = load_spec_file(write(tmp_path, GOOD))
    added = tmp_path / "local.toml"
    added.write_text(ADDED, encoding="utf-8")
    extended = extend_spec(spec, added)
    assert extended.names() == ("inscriptions", "pays", "bourses_locales")
    assert extended.added == ("bourses_locales",) and extended.extension == added
    assert extended.sha256 == spec.sha256 and len(extended.extension_sha256) == 64
    assert extended.extension_sha256 != spec.sha256
    # The added datasets go through the same overrides: sensitive columns left out, dropped by name.
    chosen = {d.name: d for d in extended.select()}
    assert chosen["bourses_locales"].exclude_columns == ("COD_NNI",)
    assert [d.name for d in extended.select(drop=["bourses_locales"])] == ["inscriptions", "pays"]


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('name = "bourses_locales"', 'name = "pays"', "datasets.pays.name", "shipped with demo"),
        ('label = "Bourses', 'labl = "Bourses', "datasets[0].labl", "did you mean 'label'?"),
        ("[[datasets]]", 'tool = "demo"\n[[datasets]]', "tool", "unknown key 'tool'"),
        (":academic_year", ":year", "datasets.bourses_locales.sql", "uses parameters ['year']"),
        ('references = ["pays"]', 'references = ["pay"]', "datasets.bourses_locales.references", "'pays'"),
        ('tags = ["nir"]', 'tags = ["nirr"]', "datasets.bourses_locales.columns.COD_NNI.tags", "'nir'"),
    ],
)
def test_a_bad_added_dataset_names_its_file_key_and_problem(tmp_path, old, new, key, problem):
    spec = load_spec_file(write(tmp_path, GOOD))
    assert old in ADDED
    added = tmp_path / "local.toml"
    added.write_text(ADDED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        extend_spec(spec, added)
    assert caught.value.origin == str(added) and caught.value.key == key
    assert problem in caught.value.problem


def test_a_missing_or_twice_named_added_dataset_is_refused(tmp_path):
    spec = load_spec_file(write(tmp_path, GOOD))
    with pytest.raises(SpecError, match=r"local\.toml: \(file\): cannot be read"):
        extend_spec(spec, tmp_path / "local.toml")
    twice = tmp_path / "twice.toml"
    twice.write_text(ADDED + ADDED, encoding="utf-8")
    with pytest.raises(SpecError, match="already added to demo"):
        extend_spec(spec, twice)


def test_every_shipped_specification_loads():
    assert {"apogee", "harpege"} <= set(available_tools())
    for tool in available_tools():
        spec = load_tool(tool)
        assert spec.tool == tool
        assert spec.datasets


@pytest.mark.parametrize("tool", available_tools())
def test_every_column_of_every_shipped_dataset_has_a_label(tool, tmp_path, postgres_databases):
    """The data dictionary archived with each SIP takes each column's « libellé » from the specification.

    The columns are those the extraction writes: each dataset is extracted from the tool's smallest
    synthetic source (PostgreSQL, where every tool runs), sensitive classes included, and every
    column of every Parquet file must have a non-empty label. A label on a column that no dataset
    returns is a misspelt name, and is refused too.
    """
    spec = load_tool(tool)
    url = postgres_databases()
    generate(tool, url, years=1, **{SIZE_NAMES[tool]: TOOLS[tool].MIN_SIZE})
    scope = Scope.parse(spec.scope, "2023")
    datasets = spec.select(include_sensitive=SENSITIVE_CLASSES)
    snapshot = extract(url, datasets, tmp_path, parameters=scope.parameters())
    assert [d.name for d in snapshot.datasets] == list(spec.names())  # every dataset, none left out
    unlabelled, unknown = [], []
    for dataset, extracted in zip(datasets, snapshot.datasets, strict=True):
        returned = [name for name, _ in extracted.columns]
        assert returned, (tool, dataset.name)
        for name in returned:
            column = dataset.columns.get(name)
            if column is None or not column.label.strip():
                unlabelled.append(f"{tool}.toml: datasets.{dataset.name}.columns.{name}")
        unknown += [f"{tool}.toml: datasets.{dataset.name}.columns.{n}" for n in dataset.columns if n not in returned]
    assert not unlabelled, "columns without a label (empty « libellé » in the data dictionary):\n" + "\n".join(
        unlabelled
    )
    assert not unknown, "labels of columns the dataset does not return:\n" + "\n".join(unknown)


def test_an_unknown_tool_suggests_the_closest():
    with pytest.raises(SpecError, match="did you mean 'apogee'"):
        load_tool("apoge")


@pytest.mark.parametrize(
    ("kind", "text", "label", "parameters"),
    [
        ("academic_year", "2023", "2023-2024", {"academic_year": "2023"}),
        ("period", "2020", "2020-01-01..2020-12-31", None),
        ("period", "2000-01-01..2023-12-31", "2000-01-01..2023-12-31", None),
        ("all", "", "all", {}),
    ],
)
def test_scopes_parse_label_and_round_trip(kind, text, label, parameters):
    scope = Scope.parse(kind, text)
    assert scope.label == label
    if parameters is not None:
        assert scope.parameters() == parameters
    assert Scope.from_json(scope.to_json()) == scope


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("academic_year", "1850"),
        ("academic_year", "2023-2024"),
        ("academic_year", "20x3"),
        ("period", "2023-12-31..2000-01-01"),
        ("period", "2023-02-30..2024-01-01"),
    ],
)
def test_bad_scopes_are_refused(kind, text):
    with pytest.raises(ScopeError):
        Scope.parse(kind, text)
