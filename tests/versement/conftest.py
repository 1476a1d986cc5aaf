"""Fixtures for the pipeline tests: the demo settings moved to tmp, a running VITAM sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractors.scope import Scope
from versement.config import Settings, load

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
DEMO_YEAR_SCOPE = Scope.academic_year(2023)  # the last year the synthetic Apogée holds


@pytest.fixture(scope="session")
def vitam_sandbox(tmp_path_factory, seda_schemas):
    """The project's VITAM sandbox over real HTTPS on loopback: (base URL, CA bundle path)."""
    from versement.demo import sandbox_config
    from vitam_sandbox import create_app, make_tls_material, serve

    folder = tmp_path_factory.mktemp("vitam-sandbox")
    settings = load(DEMO, environ={"VERSEMENT__SEDA__SCHEMAS": str(seda_schemas)})
    tls = make_tls_material(folder / "tls")
    with serve(create_app(sandbox_config(settings, folder / "storage")), tls=tls) as base_url:
        yield base_url, tls.ca_path


def demo_environ(tmp_path: Path, seda_schemas: Path, sandbox: tuple[str, Path], **overrides: str) -> dict[str, str]:
    """Variables pointing the embedded default at tmp_path and a running sandbox, for subprocesses."""
    base_url, ca_path = sandbox
    return {
        "VERSEMENT_CONFIG": str(DEMO),
        "VERSEMENT__LEDGER__URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "VERSEMENT__PATHS__STAGING": str(tmp_path / "staging"),
        "VERSEMENT__SOURCES__APOGEE__URL": f"sqlite:///{tmp_path / 'apogee.sqlite'}",
        "VERSEMENT__SOURCES__HARPEGE__URL": f"sqlite:///{tmp_path / 'harpege.sqlite'}",
        "VERSEMENT__SEDA__SCHEMAS": str(seda_schemas),
        "VERSEMENT__VITAM__SANDBOX": "false",
        "VERSEMENT__VITAM__INGEST_URL": f"{base_url}/ingest-external/v1",
        "VERSEMENT__VITAM__ADMIN_URL": f"{base_url}/admin-external/v1",
        "VERSEMENT__VITAM__ACCESS_URL": f"{base_url}/access-external/v1",
        "VERSEMENT__VITAM__CA_BUNDLE": str(ca_path),
        "VERSEMENT__VITAM__POLL_TIMEOUT": "180",  # the sandbox runs FIDO on every person document
        **overrides,
    }


def demo_settings(tmp_path: Path, seda_schemas: Path, sandbox: tuple[str, Path], **overrides: str) -> Settings:
    """The embedded default with every writable path under tmp_path, pointed at the sandbox."""
    return load(DEMO, environ=demo_environ(tmp_path, seda_schemas, sandbox, **overrides))


NO_SANDBOX = ("https://127.0.0.1:9", Path("/nonexistent-ca.pem"))  # packaging never calls VITAM


def package_demo(tmp_path: Path, seda_schemas: Path, monkeypatch, limits=None) -> tuple:
    """A batch of the embedded default extracted, checked and packaged (``limits``: the SIP limits),
    the CLI pointed at it: (settings, ledger, batch); the caller closes the ledger."""
    from versement.demo import prepare_sources
    from versement.ledger import open_ledger
    from versement.pipeline import run_extract, run_package, run_validate

    environ = demo_environ(tmp_path, seda_schemas, NO_SANDBOX)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = load(Path(environ["VERSEMENT_CONFIG"]), environ=environ)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")
    run_validate(settings, ledger, batch.id, actor="test")
    return settings, ledger, run_package(settings, ledger, batch.id, actor="test", limits=limits)


@pytest.fixture
def packaged(tmp_path, seda_schemas, monkeypatch):
    """A batch of the embedded default packaged and awaiting approval; the CLI pointed at it."""
    settings, ledger, batch = package_demo(tmp_path, seda_schemas, monkeypatch)
    yield settings, ledger, batch
    ledger.close()


@pytest.fixture(scope="session")
def airflow_metadata_template(tmp_path_factory) -> Iterator[str]:
    """A PostgreSQL database `airflow db migrate` ran on once per session; tests copy it.

    Each Airflow test gets its own metadata database with ``postgres_databases(template=...)``
    (PostgreSQL copies the files: a fraction of a second instead of a migration per test). The
    migration reads no setting of a test but the connection, so one copy serves them all.
    """
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("airflow")
    from tests.conftest import PG_ADMIN_URL

    name = f"versement_test_airflow_template_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VERSEMENT"))}
        env = {
            **environ,
            "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-template-home")),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": url.replace("+psycopg:", "+psycopg_async:"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        airflow = str(Path(sys.executable).with_name("airflow"))
        migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
