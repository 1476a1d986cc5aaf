"""Provider info, found by Airflow through the ``apache_airflow_provider`` entry point
(pyproject.toml): the ``vitam`` connection type, its hook and the fields of its form.

Airflow 3.2+ builds the connection form from ``conn-fields`` (JSON-schema per field, stored in
the connection's extra) and ``ui-field-behaviour``; no wtforms import is needed.
"""

from __future__ import annotations

from typing import Any

_TEXT: dict[str, Any] = {"type": ["string", "null"]}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant": {"label": "Tenant (X-Tenant-Id)", "schema": {"type": ["integer", "null"], "default": 0}},
    "application_id": {"label": "Application id (X-Application-Id)", "schema": _TEXT},
    "ingest_contract": {"label": "Ingest contract (ArchivalAgreement)", "schema": _TEXT},
    "access_contract": {"label": "Access contract (X-Access-Contract-Id)", "schema": _TEXT},
    "ingest_url": {
        "label": "ingest-external URL",
        "schema": _TEXT,
        "description": "default: https://<host>:8443/ingest-external/v1",
    },
    "admin_url": {
        "label": "admin-external URL",
        "schema": _TEXT,
        "description": "default: https://<host>:8444/admin-external/v1",
    },
    "access_url": {
        "label": "access-external URL",
        "schema": _TEXT,
        "description": "default: https://<host>:8444/access-external/v1",
    },
    "ca_bundle": {"label": "CA bundle of VITAM's certificates (path)", "schema": _TEXT},
    "client_cert": {"label": "Client certificate (PEM path)", "schema": _TEXT},
    "client_key": {"label": "Client key (PEM path)", "schema": _TEXT},
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "versement",
        "name": "versement (VITAM)",
        "description": "VITAM transfers for versement: hook, deferrable operator and trigger.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "hook-class-name": "versement.airflow.hooks.vitam.VitamHook",
                "hook-name": "VITAM",
                "connection-type": "vitam",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port"],
                    "relabeling": {"host": "VITAM host", "password": "Client key password"},
                    "placeholders": {"host": "vitam.example.gouv.fr"},
                },
            }
        ],
        "hooks": [{"integration-name": "VITAM", "python-modules": ["versement.airflow.hooks.vitam"]}],
        "operators": [{"integration-name": "VITAM", "python-modules": ["versement.airflow.operators.transfer"]}],
        "triggers": [{"integration-name": "VITAM", "python-modules": ["versement.airflow.triggers.vitam"]}],
    }
