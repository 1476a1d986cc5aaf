"""What versement's DAGs take from Airflow, in one place.

Besides ``dags/``, this is the only module that imports Airflow; every stage runs without it.
Under Airflow, passwords come from Airflow connections named ``versement_<secret>``
(``versement_ledger``, ``versement_source_apogee``, ``versement_vitam_key``: only the password
field is read), so a DSI keeps them in Airflow's secrets backend with its other credentials.
A secret without a connection falls back to its environment variable (``versement.secrets``).
"""

from __future__ import annotations

import logging

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from versement.config import Settings, config_path, load
from versement.ledger import Ledger, open_ledger
from versement.secrets import SecretLookup, airflow_connection_id, from_environment

log = logging.getLogger(__name__)


def airflow_secrets(fallback: SecretLookup | None = None) -> SecretLookup:
    """Look secrets up in Airflow connections first, then in ``fallback`` (the environment)."""
    otherwise = fallback or from_environment()

    def lookup(secret: str) -> str | None:
        conn_id = airflow_connection_id(secret)
        try:
            connection = Connection.get(conn_id)
        except AirflowNotFoundException:
            connection = None
        # Airflow masks a connection's password in task logs once it has been read.
        if connection is not None and connection.password:
            log.info("secret %s: password of the Airflow connection %s", secret, conn_id)
            return str(connection.password)
        found = otherwise(secret)
        # Says where a password came from (never what it is): the first question when a login fails.
        log.info("secret %s: %s", secret, "environment" if found else "none (no connection, no variable)")
        return found

    return lookup


def load_settings() -> Settings:
    """The deployment's settings, with secrets from Airflow connections."""
    path = config_path()
    log.info("versement configuration: %s", path)
    return load(path, secrets=airflow_secrets())


def deployment() -> tuple[Settings, Ledger]:
    """Settings and the migrated ledger, as each task needs them."""
    settings = load_settings()
    return settings, open_ledger(settings)
