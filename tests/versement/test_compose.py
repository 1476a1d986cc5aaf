"""docker-compose.yml, read by the docker client itself (`docker compose config`).

The docker client is installed from Debian's packages when it is missing and we may
(root with apt-get); the test is skipped only when it cannot be had."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "REDIS_PASSWORD": "redis-secret",
    "VERSEMENT_LEDGER_PASSWORD": "ledger-secret",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
    "AIRFLOW_FERNET_KEY": "fernet-key",
}
AIRFLOW_SERVICES = (
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    command = _compose_command()
    if command is None and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=quiet, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker-compose"], env=quiet, capture_output=True, timeout=600
        )
        command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client, and Debian's docker-compose could not be installed")
    return command


def _environ(**overrides: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k not in SECRETS and k != "AIRFLOW_USERS" and not k.startswith(("VERSEMENT", "COMPOSE"))
    }
    return {**keep, **SECRETS, **overrides}


def _config(compose: list[str], *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args, "config"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _volumes(service: dict[str, Any]) -> dict[str, str]:
    """target → source, from the short (docker-compose 1) or long (compose 2) syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found[target] = source
    return found


def test_compose_file_is_accepted_with_the_worker_count_one_setting(compose):
    yaml = pytest.importorskip("yaml")
    done = _config(compose, "--profile", "sandbox", env=_environ(VERSEMENT_WORKERS="5"))
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert set(services) == {*AIRFLOW_SERVICES, "airflow-init", "postgres", "redis", "browser", "vitam-sandbox"}
    assert int(services["airflow-worker"]["deploy"]["replicas"]) == 5
    assert services["airflow-worker"]["command"] in (["celery", "worker"], "celery worker")

    for name in (*AIRFLOW_SERVICES, "airflow-init", "browser"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:redis-secret@redis:6379/0", name
        # Airflow's metadata and the ledger: one server, two databases, two roles.
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("airflow:pg-secret@postgres/airflow"), name
        assert env["VERSEMENT__LEDGER__URL"] == "postgresql+psycopg://versement@postgres/versement", name
        # Every process that runs a stage sees the same staging volume and the same configuration.
        volumes = _volumes(services[name])
        assert volumes["/opt/versement/var"].endswith("staging"), (name, volumes)
        assert env["VERSEMENT__PATHS__STAGING"].startswith("/opt/versement/var/"), name

    sandbox = services["vitam-sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert "vitam-sandbox" in sandbox["entrypoint"]
    assert "ports" not in sandbox  # reached inside the compose network only


def test_the_archivists_airflow_users_are_one_setting(compose):
    """approval.archivists must be Airflow users: the compose file's auth manager takes them from AIRFLOW_USERS."""
    yaml = pytest.importorskip("yaml")
    for given, expected in ((None, "admin:admin"), ("admin:admin,claire.dupre:user", "admin:admin,claire.dupre:user")):
        env = _environ() if given is None else _environ(AIRFLOW_USERS=given)
        done = _config(compose, env=env)
        assert done.returncode == 0, done.stderr
        services = yaml.safe_load(done.stdout)["services"]
        assert services["airflow-api-server"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == expected


def test_compose_defaults_to_two_workers_and_leaves_the_sandbox_out(compose):
    yaml = pytest.importorskip("yaml")
    done = _config(compose, env=_environ())
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert int(services["airflow-worker"]["deploy"]["replicas"]) == 2
    # Compose 2 leaves a profile's services out; docker-compose 1 lists them with their profile.
    assert services.get("vitam-sandbox", {"profiles": ["sandbox"]})["profiles"] == ["sandbox"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(compose, missing):
    env = _environ()
    del env[missing]
    done = _config(compose, env=env)
    assert done.returncode != 0
    assert missing in done.stderr
