"""What versement's DAGs take from Airflow, in one place.

Besides ``dags/``, this is the only module that imports Airflow; every stage runs without it.
Under Airflow, passwords come from Airflow connections named ``versement_<secret>``
(``versement_ledger``, ``versement_source_apogee``, ``versement_vitam_key``: only the password
field is read), so a DSI keeps them in Airflow's secrets backend with its other credentials.
A secret without a connection falls back to its environment variable (``versement.secrets``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from versement.config import Settings, load
from versement.ledger import Ledger, open_ledger
from versement.secrets import SecretLookup, from_environment

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "VERSEMENT_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"


def connection_id(secret: str) -> str:
    """The Airflow connection that holds a secret: ``source_apogee`` → ``versement_source_apogee``."""
    return f"versement_{secret}"


def airflow_secrets(fallback: SecretLookup | None = None) -> SecretLookup:
    """Look secrets up in Airflow connections first, then in ``fallback`` (the environment)."""
    otherwise = fallback or from_environment()

    def lookup(secret: str) -> str | None:
        try:
            connection = Connection.get(connection_id(secret))
        except AirflowNotFoundException:
            return otherwise(secret)
        # Airflow masks a connection's password in task logs once it has been read.
        return connection.password or otherwise(secret)

    return lookup


def config_path() -> Path:
    """The deployment's configuration file: ``$VERSEMENT_CONFIG``, else the embedded demo."""
    return Path(os.environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG)


def load_settings() -> Settings:
    """The deployment's settings, with secrets from Airflow connections."""
    path = config_path()
    log.info("versement configuration: %s", path)
    return load(path, secrets=airflow_secrets())


def deployment() -> tuple[Settings, Ledger]:
    """Settings and the migrated ledger, as each task needs them."""
    settings = load_settings()
    return settings, open_ledger(settings)
