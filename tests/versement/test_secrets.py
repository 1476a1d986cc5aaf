"""Secrets: named apart from the file, read from the environment unless a lookup is given."""

from __future__ import annotations

from pathlib import Path

from versement.config import load
from versement.secrets import (
    LEDGER,
    VITAM_KEY,
    airflow_connection_id,
    environment_variable,
    from_environment,
    source_secret,
)

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def test_environment_variable_names():
    assert environment_variable(LEDGER) == "VERSEMENT_LEDGER_PASSWORD"
    assert environment_variable(VITAM_KEY) == "VERSEMENT_VITAM_KEY_PASSWORD"
    assert environment_variable(source_secret("apogee")) == "VERSEMENT_SOURCE_APOGEE_PASSWORD"
    # TOML keys may hold characters a variable name cannot.
    assert environment_variable(source_secret("harpège-rh")) == "VERSEMENT_SOURCE_HARP_GE_RH_PASSWORD"
    assert airflow_connection_id(source_secret("apogee")) == "versement_source_apogee"
    assert airflow_connection_id(LEDGER) == "versement_ledger"


def test_settings_read_secrets_from_the_given_environment_only():
    env = {"VERSEMENT_SOURCE_APOGEE_PASSWORD": "pw-àé", "VERSEMENT_LEDGER_PASSWORD": ""}
    settings = load(DEMO, environ=env)
    assert settings.secret(source_secret("apogee")) == "pw-àé"
    assert settings.secret(LEDGER) is None  # empty means unset
    assert settings.secret(VITAM_KEY) is None


def test_a_given_lookup_replaces_the_environment():
    asked: list[str] = []

    def vault(name: str) -> str | None:
        asked.append(name)
        return {"ledger": "from-vault"}.get(name)

    settings = load(DEMO, environ={"VERSEMENT_LEDGER_PASSWORD": "from-env"}, secrets=vault)
    assert settings.secret(LEDGER) == "from-vault"
    assert asked == ["ledger"]


def test_secrets_stay_out_of_the_settings_repr():
    settings = load(DEMO, environ={}, secrets=lambda name: "hunter2")
    assert "hunter2" not in repr(settings)


def test_from_environment_reads_the_process_environment_at_lookup_time(monkeypatch):
    lookup = from_environment()
    assert lookup("source_nowhere") is None
    monkeypatch.setenv("VERSEMENT_SOURCE_NOWHERE_PASSWORD", "late")
    assert lookup("source_nowhere") == "late"
