"""Fixtures shared by every test package: repository paths, SEDA schemas, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _schema_dir() -> Path | None:
    configured = os.environ.get("VERSEMENT_SEDA_SCHEMAS")
    candidate = Path(configured) if configured else REPO.parent / "shared" / "seda"
    return candidate if (candidate / "2.1" / "seda-2.1-main.xsd").is_file() else None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def seda_schemas() -> Path:
    """The folder holding the official SEDA schemas (2.1/, 2.2/, 2.3/)."""
    folder = _schema_dir()
    if folder is None:
        pytest.skip("SEDA schemas not found: set VERSEMENT_SEDA_SCHEMAS or place shared/seda beside the repo")
    return folder


PG_ADMIN_URL = os.environ.get("VERSEMENT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_databases() -> Iterator[Callable[..., str]]:
    """Make fresh PostgreSQL databases on demand; all are dropped after the test."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def create(template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (a database name, e.g. a migrated Airflow one)."""
        name = f"versement_test_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        except sqlalchemy.exc.OperationalError as exc:  # pragma: no cover - environment problem
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
        made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield create
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_databases: Callable[[], str]) -> str:
    """A fresh PostgreSQL database, created for one test and dropped after it."""
    return postgres_databases()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``make test`` (pytest-xdist, ``--dist loadgroup``), Airflow runs one stack at a time.

    The Airflow tests start a scheduler, a DAG processor, an API server and workers each; they
    share one xdist group, so one worker runs them in turn while the others take the rest.
    """
    for item in items:
        if item.get_closest_marker("airflow"):
            item.add_marker(pytest.mark.xdist_group("airflow"))
