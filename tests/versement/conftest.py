"""Fixtures for the pipeline tests: the demo settings moved to tmp, a running VITAM sandbox."""

from __future__ import annotations

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


@pytest.fixture
def packaged(tmp_path, seda_schemas, monkeypatch):
    """A batch of the embedded default packaged and awaiting approval; the CLI pointed at it."""
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
    batch = run_package(settings, ledger, batch.id, actor="test")
    yield settings, ledger, batch
    ledger.close()
