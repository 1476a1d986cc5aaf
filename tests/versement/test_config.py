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
    assert [d.table for d in apogee.datasets] == ["INS_ADM_ETP", "INDIVIDU", "RESULTAT_VDI"]
    assert apogee.scope() == "2023-2024"
    assert apogee.datasets[0].filters == {"COD_ANU": "2023"}


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
        (("tenant = 0", 'tenant = "zero"'), "vitam.tenant", "expected int"),
        (("tenant = 0", "tenant = -1"), "vitam.tenant", "non-negative"),
        (('version = "2.1"', 'version = "2.0"'), "seda.version", "unsupported SEDA version"),
        (
            ('ingest_contract = "IC-000001"', 'ingest_contract = ""'),
            "vitam.ingest_contract",
            "must not be empty",
        ),
        (
            ('final_action = "Keep"', 'final_action = "Burn"'),
            "sources.apogee.datasets[0].final_action",
            "not Keep or Destroy",
        ),
        (
            ("academic_year = 2023", "academic_year = 1023"),
            "sources.apogee.academic_year",
            "plausible",
        ),
        (('key = ["COD_IND"]', "key = []"), "sources.apogee.datasets[1].key", "non-empty list"),
        (("[institution]", "[institution_typo]"), "institution", "missing table"),
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


def test_duplicate_dataset_names_are_refused(tmp_path):
    text = demo_text().replace('name = "individus"', 'name = "inscriptions"')
    with pytest.raises(ConfigError, match="dataset names must be unique"):
        load(write(tmp_path, text), environ={})


def test_unknown_source_lists_the_known_ones():
    settings = load(DEMO, environ={})
    with pytest.raises(ConfigError, match=r"no such source \(known: apogee\)"):
        settings.source("harpege")
