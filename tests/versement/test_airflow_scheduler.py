"""The demo DAG under a real Airflow 3.3: API server, scheduler and DAG processor as processes,
PostgreSQL as Airflow's metadata database, the run triggered through the REST API, tasks run by
the LocalExecutor through the Task SDK, and a connection created through the API read by the
task. The CLI then approves and transfers, as an archivist would."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from extractors import generate
from tests.versement.conftest import demo_environ
from versement.config import load
from versement.ledger import open_ledger

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "versement_apogee_demo"
PASSWORDS = {"versement_source_apogee": "Mot-de-passe-Apogée-42", "versement_ledger": "Registre#2026"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(
    tmp_path: Path, databases: dict[str, str], port: int, sandbox: tuple[str, Path], schemas: Path
) -> dict[str, str]:
    metadata_url = databases["airflow"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VERSEMENT"))}
    return {
        **environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url.replace("+psycopg:", "+psycopg_async:"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": Fernet.generate_key().decode(),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        **demo_environ(
            tmp_path,
            schemas,
            sandbox,
            VERSEMENT__LEDGER__URL=databases["ledger"],
            VERSEMENT__SOURCES__APOGEE__URL=databases["source"],
            VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false",
        ),
    }


class AirflowProcesses:
    """API server, scheduler and DAG processor (and any other ``commands``), each in its own process group."""

    def __init__(
        self, env: dict[str, str], logs: Path, commands: tuple[str, ...] = ("api-server", "scheduler", "dag-processor")
    ) -> None:
        self.env = env
        self.logs = logs
        self.commands = commands
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        self.logs.mkdir(parents=True, exist_ok=True)
        for command in self.commands:
            with (self.logs / f"{command}.log").open("wb") as out:
                self.processes[command] = subprocess.Popen(
                    [airflow, command], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )

    def check_alive(self) -> None:
        for command, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"airflow {command} exited ({process.returncode}):\n{self.tail(command)}")

    def tail(self, command: str) -> str:
        return (self.logs / f"{command}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def airflow_stack(
    tmp_path, postgres_databases, airflow_metadata_template, vitam_sandbox, seda_schemas
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """Airflow on PostgreSQL, over a PostgreSQL Apogée source and a PostgreSQL ledger."""
    databases = {name: postgres_databases() for name in ("source", "ledger")}
    databases["airflow"] = postgres_databases(template=airflow_metadata_template)  # migrated once a session
    generate("apogee", databases["source"], years=(2021, 2022, 2023))  # PostgreSQL, by COPY
    port = free_port()
    env = airflow_env(tmp_path, databases, port, vitam_sandbox, seda_schemas)
    stack = AirflowProcesses(env, tmp_path / "process-logs")
    stack.start()
    try:
        # Migrated here while Airflow starts, rather than by the first task (the ledger's own migrations).
        open_ledger(load(env["VERSEMENT_CONFIG"], environ=env)).close()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v2", timeout=10) as api:
            wait_until_healthy(api, stack)
            yield api, env
    finally:
        stack.stop()


def wait_until_healthy(api: httpx.Client, stack: AirflowProcesses, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            health = api.get("/monitor/health").json()
            dag = api.get(f"/dags/{DAG_ID}")
        except httpx.HTTPError:
            time.sleep(1)
            continue
        if health["scheduler"]["status"] == "healthy" and dag.status_code == 200:
            return
        time.sleep(1)
    raise AssertionError("Airflow did not become healthy:\n" + stack.tail("api-server") + stack.tail("scheduler"))


def wait_for_run(api: httpx.Client, run_id: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        try:
            state = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        except httpx.TimeoutException:  # a busy machine slows the API server; the deadline still holds
            continue
        if state in ("success", "failed"):
            return str(state)
        time.sleep(1)
    raise AssertionError(f"DAG run {run_id} still {state} after {timeout} s")


def task_log(api: httpx.Client, run_id: str, task_id: str) -> str:
    response = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1", params={"full_content": True})
    if response.status_code != 200:
        return f"(no log for {task_id}: HTTP {response.status_code})"
    return response.text


@pytest.mark.airflow
@pytest.mark.postgres
def test_scheduler_runs_the_dag_with_a_connection_then_the_cli_completes(airflow_stack):
    api, env = airflow_stack
    for conn_id, password in PASSWORDS.items():
        created = api.post(
            "/connections", json={"connection_id": conn_id, "conn_type": "postgres", "password": password}
        )
        assert created.status_code == 201, created.text
    assert api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
    triggered = api.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "dag_run_id": "e2e-1"})
    assert triggered.status_code == 200, triggered.text

    state = wait_for_run(api, "e2e-1")
    logs = {task: task_log(api, "e2e-1", task) for task in ("extract", "validate", "package")}
    assert state == "success", logs
    # Each task read the passwords from the connections created through the API, and never printed them.
    assert "secret source_apogee: password of the Airflow connection versement_source_apogee" in logs["extract"]
    for text in logs.values():
        assert "secret ledger: password of the Airflow connection versement_ledger" in text
        assert not any(password in text for password in PASSWORDS.values())

    versement = str(Path(sys.executable).with_name("versement"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([versement, *args], env=env, capture_output=True, text=True, timeout=300)

    (batch,) = json.loads(cli("status", "--json").stdout)["batches"]
    assert batch["state"] == "awaiting_approval"
    assert cli("approve", str(batch["id"]), "--by", "Claire Dupré", "--sha256", batch["sip_sha256"]).returncode == 0
    transferred = cli("transfer", str(batch["id"]))
    assert transferred.returncode == 0, transferred.stderr
    (batch,) = json.loads(cli("status", "--json").stdout)["batches"]
    assert batch["state"] == "verified" and batch["atr_reply_code"] == "OK"
    assert cli("audit", "verify").returncode == 0

    ledger = open_ledger(load(env["VERSEMENT_CONFIG"], environ=env))
    trail = [(event.actor, event.action) for event in ledger.events(batch["id"])]
    dag = "airflow:versement_apogee_demo"
    assert trail[:6] == [
        (dag, "batch.created"),
        (dag, "extract"),
        (dag, "validate"),  # with every dataset's quality result (row_quality)
        (dag, "package"),
        (dag, "approval.requested"),
        (f"os:{getpass.getuser()}", "approve"),  # the OS account; the declared name is kept beside it
    ], trail
    assert ledger.batch(batch["id"]).approved_by == "Claire Dupré"
