"""Fixtures: a sandbox app, a VitamClient wired to it through the TestClient transport."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx 0.28 is what the project pins.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from tests.vitam_client.asgi import InProcessTransport
from vitam_client import VitamClient, VitamEndpoint
from vitam_sandbox import DEMO_REFERENTIALS, SandboxConfig, create_app, load_referentials

BASE = "http://testserver"


def endpoint(base: str = BASE, **overrides: Any) -> VitamEndpoint:
    values: dict[str, Any] = {
        "ingest_url": f"{base}/ingest-external/v1",
        "admin_url": f"{base}/admin-external/v1",
        "access_url": f"{base}/access-external/v1",
        "tenant": 0,
        "access_contract": "AC-000001",
        "application_id": "versement-tests",
    }
    values.update(overrides)
    return VitamEndpoint(**values)


def no_sleep(seconds: float) -> None:
    """Polls and retries in tests never wait for real."""


@pytest.fixture
def sandbox_config(seda_schemas: Path) -> SandboxConfig:
    return SandboxConfig(
        tenants=frozenset({0, 1}), referentials=load_referentials(DEMO_REFERENTIALS), schema_dir=seda_schemas
    )


@pytest.fixture
def app(sandbox_config: SandboxConfig) -> Starlette:
    return create_app(sandbox_config)


@pytest.fixture
def http(app: Starlette) -> Iterator[TestClient]:
    """Raw HTTP access to the sandbox, in process."""
    with TestClient(app, base_url=BASE) as client:
        yield client


@pytest.fixture
def transport(app: Starlette) -> Iterator[InProcessTransport]:
    """The sandbox behind an httpx transport, in process."""
    in_process = InProcessTransport(app)
    yield in_process
    in_process.close()


@pytest.fixture
def make_client(transport: InProcessTransport) -> Iterator[Callable[..., VitamClient]]:
    """VitamClients going through the in-process transport."""

    def make(**overrides: Any) -> VitamClient:
        # Not closed afterwards: the fixture owns the transport they share.
        return VitamClient(endpoint(**overrides), transport=transport, sleep=no_sleep)

    yield make


@pytest.fixture
def client(make_client: Callable[..., VitamClient]) -> VitamClient:
    return make_client()
