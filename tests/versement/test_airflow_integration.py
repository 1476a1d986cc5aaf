"""Secrets under Airflow come from Airflow connections, resolved by a real Airflow 3.3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
from versement.airflow_integration import airflow_secrets, load_settings
from versement.config import config_path
lookup = airflow_secrets()
settings = load_settings()
print("PROBE", json.dumps({
    "ledger": lookup("ledger"),
    "source_apogee": lookup("source_apogee"),
    "vitam_key": lookup("vitam_key"),
    "settings_ledger": settings.secret("ledger"),
    "config": str(config_path()),
    "institution": settings.institution.identifier,
}))
"""


def probe(tmp_path: Path, **env: str) -> dict[str, str | None]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "VERSEMENT"))}
    environ.update(AIRFLOW_HOME=str(tmp_path / "airflow"), **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


@pytest.mark.airflow
def test_connections_come_first_then_the_environment(tmp_path):
    found = probe(
        tmp_path,
        AIRFLOW_CONN_VERSEMENT_LEDGER="postgresql://versement:s%40cr%C3%A9t@db.example/versement",
        AIRFLOW_CONN_VERSEMENT_SOURCE_APOGEE=json.dumps({"conn_type": "oracle", "password": "from-airflow"}),
        VERSEMENT_SOURCE_APOGEE_PASSWORD="from-env",
        VERSEMENT_VITAM_KEY_PASSWORD="key-from-env",
    )
    assert found["ledger"] == "s@crét" == found["settings_ledger"]
    assert found["source_apogee"] == "from-airflow"
    assert found["vitam_key"] == "key-from-env"  # no connection: the environment
    assert found["config"] == str(REPO / "config" / "demo.toml")


@pytest.mark.airflow
def test_a_connection_without_password_falls_back_and_the_config_is_a_setting(tmp_path):
    config = tmp_path / "site.toml"
    text = (REPO / "config" / "demo.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('identifier = "UNIV-DEMO"', 'identifier = "UNIV-TEST"'), encoding="utf-8")
    found = probe(
        tmp_path,
        VERSEMENT_CONFIG=str(config),
        AIRFLOW_CONN_VERSEMENT_LEDGER=json.dumps({"conn_type": "postgres", "host": "db"}),
        VERSEMENT_LEDGER_PASSWORD="ledger-from-env",
    )
    assert found["ledger"] == "ledger-from-env"
    assert found["source_apogee"] is None and found["vitam_key"] is None
    assert found["config"] == str(config) and found["institution"] == "UNIV-TEST"
