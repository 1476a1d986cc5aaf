"""The sandbox tests reuse the client fixtures: a sandbox app and a VitamClient wired to it
through the in-process transport (tests/vitam_client/conftest.py)."""

from tests.vitam_client.conftest import app, client, http, make_client, sandbox_config, transport

__all__ = ["app", "client", "http", "make_client", "sandbox_config", "transport"]
