"""Where passwords come from: never the configuration file.

A secret has a short name: ``ledger``, ``vitam_key`` (the VITAM client key's passphrase) or
``source_<name>`` for a source database. By default a secret is read from the environment
variable ``VERSEMENT_<NAME>_PASSWORD`` (``VERSEMENT_SOURCE_APOGEE_PASSWORD``); under Airflow,
``versement.airflow_integration`` reads Airflow connections first and falls back to this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

SecretLookup = Callable[[str], str | None]

LEDGER = "ledger"
VITAM_KEY = "vitam_key"


def source_secret(source: str) -> str:
    """The secret name of a source's database password."""
    return f"source_{source}"


def environment_variable(secret: str) -> str:
    """``source_apogee`` → ``VERSEMENT_SOURCE_APOGEE_PASSWORD`` (other characters become ``_``)."""
    return f"VERSEMENT_{re.sub(r'[^A-Za-z0-9]', '_', secret).upper()}_PASSWORD"


def airflow_connection_id(secret: str) -> str:
    """The Airflow connection that may hold a secret: ``source_apogee`` → ``versement_source_apogee``."""
    return f"versement_{secret}"


def from_environment(environ: Mapping[str, str] | None = None) -> SecretLookup:
    """Read secrets from the environment; an unset or empty variable means no secret."""

    def lookup(secret: str) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(environment_variable(secret)) or None

    return lookup
