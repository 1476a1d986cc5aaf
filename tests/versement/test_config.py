"""Configuration: the demo file loads, overrides apply, every bad file names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from versement.config import ConfigError, load

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def demo_text() -> str:
    return DEMO.read_text(encoding="utf-8")


def test_demo_configuration_loads_with_paths_relative_to_the_file():
    settings = load(DEMO, environ={})
    assert settings.institution.identifier == "UNIV-DEMO"
    assert settings.vitam.tenant == 0
    assert settings.vitam.ingest_url.endswith("/ingest-external/v1")
    assert settings.staging == (DEMO.parent.parent / "var" / "staging").resolve()
    assert settings.ledger_url == f"sqlite:///{(DEMO.parent.parent / 'var' / 'ledger.sqlite').resolve()}"
    apogee = settings.source("apogee")
    assert apogee.tool == "apogee"
    assert apogee.spec.scope == "academic_year"
    assert [d.name for d in apogee.datasets] == list(apogee.spec.names())
    assert settings.source("harpege").spec.scope == "period"


def test_every_commented_example_of_the_demo_file_loads_once_uncommented(tmp_path):
    """A DSI starts from config/demo.toml: each `# key = value` example in it, uncommented, is valid."""
    import re
    import shutil

    shutil.copytree(DEMO.parent, tmp_path / "config")
    (tmp_path / "config" / "profiles").mkdir(exist_ok=True)  # the example's folder of the institution's profiles
    lines = demo_text().splitlines()
    examples = [i for i, line in enumerate(lines) if re.fullmatch(r"# [a-z_]+ = \S.*", line)]
    assert len(examples) >= 7
    for index in examples:
        changed = [*lines]
        changed[index] = changed[index].removeprefix("# ")
        path = tmp_path / "config" / "site.toml"
        path.write_text("\n".join(changed), encoding="utf-8")
        settings = load(path, environ={})  # raises, naming the key, if the example is wrong
        apogee = settings.source("apogee")
        for dataset in apogee.datasets:  # a column left out by name is one the dataset reads
            for column in dataset.exclude_columns:
                assert re.search(rf"\b{column}\b", dataset.sql), (lines[index], dataset.name, column)


def test_sensitive_columns_are_left_out_unless_the_deployment_asks_for_them():
    default = load(DEMO, environ={}).source("apogee")
    hidden = {c for d in default.datasets for c in d.exclude_columns}
    tagged = {name for d in default.spec.datasets for name in d.sensitive_columns()}
    assert tagged, "the Apogée specification tags sensitive columns"
    assert hidden == tagged
    wanted = load(
        DEMO,
        environ={
            "VERSEMENT__SOURCES__APOGEE__INCLUDE_SENSITIVE": '["nir", "postal_address", "bank_details", "health"]'
        },
    )
    assert not any(d.exclude_columns for d in wanted.source("apogee").datasets)


def test_overrides_drop_and_narrow_datasets_with_their_references():
    spec = load(DEMO, environ={}).source("apogee").spec
    scoped = next(d for d in spec.datasets if d.references)
    only = load(DEMO, environ={"VERSEMENT__SOURCES__APOGEE__ONLY_DATASETS": f'["{scoped.name}"]'}).source("apogee")
    needed, pending = set(), [scoped.name]
    while pending:  # references are followed transitively: a reference table may need another
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(spec.dataset(name).references)
    assert {d.name for d in only.datasets} == needed
    assert len(needed) > 1
    dropped = load(DEMO, environ={"VERSEMENT__SOURCES__APOGEE__DROP_DATASETS": f'["{scoped.name}"]'}).source("apogee")
    assert scoped.name not in {d.name for d in dropped.datasets}


def test_environment_overrides_typed_values_and_nested_keys():
    env = {
        "VERSEMENT__VITAM__TENANT": "7",
        "VERSEMENT__SEDA__VERSION": "2.2",
        "VERSEMENT__PATHS__STAGING": "/tmp/x",
    }
    settings = load(DEMO, environ=env)
    assert settings.vitam.tenant == 7
    assert settings.seda_version == "2.2"
    assert settings.staging == Path("/tmp/x")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found") as caught:
        load(tmp_path / "absent.toml", environ={})
    assert str(tmp_path / "absent.toml") in str(caught.value)


def test_toml_syntax_error_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        load(write(tmp_path, "[vitam\ntenant = 1"), environ={})


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (("tenant = 0", 'tenant = "zero"'), "vitam.tenant", "valid integer"),
        (("tenant = 0", "tenant = -1"), "vitam.tenant", "greater than or equal to 0"),
        (("poll_timeout = 120", "poll_timeout = 0"), "vitam.poll_timeout", "greater than 0"),
        (('version = "2.1"', 'version = "2.0"'), "seda.version", "unsupported SEDA version"),
        (
            ('ingest_contract = "IC-000001"', 'ingest_contract = ""'),
            "vitam.ingest_contract",
            "at least 1 character",
        ),
        (("sandbox = true\n", 'sandbox = "perhaps"\n'), "vitam.sandbox", "valid boolean"),
        (("[institution]", "[institution_typo]"), "institution_typo", "did you mean 'institution'?"),
        (("tenant = 0", "tennant = 0"), "vitam.tennant", "did you mean 'tenant'?"),
        (('rules = "rules.csv"', 'rules = "rules.csv"\nmax_items = 0'), "seda.max_items", "greater than 0"),
        (('rules = "rules.csv"', 'rules = "rules.csv"\nmax_bytes = "1 Go"'), "seda.max_bytes", "valid integer"),
        (('rules = "rules.csv"', 'rules = "rules.csv"\nmax_itmes = 10'), "seda.max_itmes", "did you mean 'max_items'?"),
        (("synthetic = true ", "synthtic = true "), "sources.apogee.synthtic", "did you mean 'synthetic'?"),
        (('tool = "apogee"', 'tool = "apogée"'), "sources.apogee.tool", "did you mean 'apogee'?"),
        (("[sources.apogee]", "[sources.Apogee]"), "sources.Apogee", "should match pattern"),
        (
            ("[sources.apogee]", "[sources.apogee]\nfiltres = { COD_ANU = '2023' }"),
            "sources.apogee.filtres",
            "unknown key",
        ),
        (("[sources.apogee]", "[sources.apogee]\nacadmic_year = 2023"), "sources.apogee.acadmic_year", "unknown key"),
        (
            ("[sources.apogee]", "[sources.apogee]\ninclude_sensitive = ['nir', 'nir']"),
            "sources.apogee.include_sensitive",
            "must not repeat",
        ),
        (
            ("[sources.apogee]", "[sources.apogee]\npartitions = { resultats_elemnts = 8 }"),
            "sources.apogee.partitions.resultats_elemnts",
            "did you mean 'resultats_elements'?",
        ),
        (
            ("[sources.apogee]", "[sources.apogee]\npartitions = { resultats_elements = 1 }"),
            "sources.apogee.partitions.resultats_elements",
            "from 2 to 256, got 1",
        ),
        (
            ("[sources.apogee]", "[sources.apogee]\npartitions = { resultats_elements = 300 }"),
            "sources.apogee.partitions.resultats_elements",
            "from 2 to 256, got 300",
        ),
        (
            ("[sources.apogee]", "[sources.apogee]\npartitions = { resultats_elements = '8' }"),
            "sources.apogee.partitions.resultats_elements",
            "valid integer",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, edit, key, problem):
    old, new = edit
    assert old in demo_text()
    path = write(tmp_path, demo_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    assert caught.value.key == key
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_dataset_read_in_partitions_is_a_setting_of_its_source(tmp_path):
    text = demo_text().replace("[sources.apogee]", "[sources.apogee]\npartitions = { resultats_elements = 8 }", 1)
    source = load(write(tmp_path, text), environ={}).source("apogee")
    assert source.partitions == {"resultats_elements": 8}
    assert load(DEMO, environ={}).source("apogee").partitions == {}
    dropped = text.replace("[sources.apogee]", '[sources.apogee]\ndrop_datasets = ["resultats_elements"]', 1)
    with pytest.raises(ConfigError, match="not a dataset this source extracts") as caught:
        load(write(tmp_path, dropped), environ={})
    assert caught.value.key == "sources.apogee.partitions.resultats_elements"


@pytest.mark.parametrize(
    ("variable", "value", "key", "problem"),
    [
        ("VERSEMENT__VITAM__TENANTT", "3", "vitam.tenantt", "did you mean 'tenant'?"),
        ("VERSEMENT__VITAMM__TENANT", "3", "vitamm", "did you mean 'vitam'?"),
        ("VERSEMENT__VITAM__TENANT", "trois", "vitam.tenant", "valid integer"),
        ("VERSEMENT__SEDA__MAX_BYTES", "-1", "seda.max_bytes", "greater than 0"),
        ("VERSEMENT__SEDA__MAX_ITEM", "10", "seda.max_item", "did you mean 'max_items'?"),
        ("VERSEMENT__SOURCES__APOGEE__FILTRES", "x", "sources.apogee.filtres", "unknown key"),
        (
            "VERSEMENT__SOURCES__APOGEE__INCLUDE_SENSITIVE",
            '["helth"]',
            "sources.apogee.include_sensitive.0",
            "did you mean 'health'?",
        ),
        (
            "VERSEMENT__SOURCES__APOGEE__DROP_DATASETS",
            '["nope_dataset"]',
            "sources.apogee.drop_datasets",
            "no such dataset",
        ),
        ("VERSEMENT__SOURCES__APOGE__URL", "sqlite:///x", "sources.apoge.tool", "no such tool"),
    ],
)
def test_bad_overrides_blame_the_variable_not_the_file(variable, value, key, problem):
    with pytest.raises(ConfigError) as caught:
        load(DEMO, environ={variable: value})
    assert caught.value.key == key
    assert problem in str(caught.value)
    assert caught.value.origin == f"environment variable {variable}"
    assert str(DEMO) not in str(caught.value)


def test_a_password_in_a_url_is_refused_and_not_echoed(tmp_path):
    text = demo_text().replace(
        'url = "sqlite:///../var/ledger.sqlite"',
        'url = "postgresql+psycopg://versement:S3cr3t-pw@db/versement"',
    )
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text), environ={})
    assert caught.value.key == "ledger.url"
    assert "VERSEMENT_LEDGER_PASSWORD" in str(caught.value)
    assert "connection versement_ledger" in str(caught.value)
    assert "S3cr3t-pw" not in str(caught.value)


def test_secret_keys_in_the_vitam_table_are_refused(tmp_path):
    text = demo_text().replace("[vitam]\n", '[vitam]\nkey_password = "hunter2"\n')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text), environ={})
    assert caught.value.key == "vitam.key_password"
    assert "hunter2" not in str(caught.value)


def test_override_into_a_scalar_is_refused():
    with pytest.raises(ConfigError, match="cannot override inside"):
        load(DEMO, environ={"VERSEMENT__VITAM__TENANT__X": "1"})


def test_unknown_source_suggests_the_closest():
    settings = load(DEMO, environ={})
    with pytest.raises(ConfigError, match=r"unknown key 'harpeg' \(did you mean 'harpege'\?\): no such source"):
        settings.source("harpeg")


def test_added_datasets_are_read_from_a_file_beside_the_configuration(tmp_path):
    from tests.versement.test_extract_records import LOCAL_DATASET

    (tmp_path / "apogee-local.toml").write_text(LOCAL_DATASET, encoding="utf-8")
    text = demo_text().replace('tool = "apogee"', 'tool = "apogee"\nadd_datasets = "apogee-local.toml"', 1)
    apogee = load(write(tmp_path, text), environ={}).source("apogee")
    assert apogee.spec.extension == tmp_path / "apogee-local.toml" and apogee.spec.added == ("dispenses_notees",)
    assert "dispenses_notees" in [d.name for d in apogee.datasets]
    dropped = load(write(tmp_path, text), environ={"VERSEMENT__SOURCES__APOGEE__DROP_DATASETS": '["dispenses_notees"]'})
    assert "dispenses_notees" not in [d.name for d in dropped.source("apogee").datasets]

    (tmp_path / "apogee-local.toml").write_text(
        LOCAL_DATASET.replace("dispenses_notees", "dispenses"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text), environ={})
    assert caught.value.key == "sources.apogee.add_datasets"
    assert str(tmp_path / "apogee-local.toml") in str(caught.value) and "shipped with apogee" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load(DEMO, environ={"VERSEMENT__SOURCES__APOGEE__ADD_DATASETS": str(tmp_path / "absent.toml")})
    assert caught.value.key == "sources.apogee.add_datasets" and "cannot be read" in str(caught.value)
    assert caught.value.origin == "environment variable VERSEMENT__SOURCES__APOGEE__ADD_DATASETS"
