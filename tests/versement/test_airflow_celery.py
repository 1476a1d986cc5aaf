"""The CeleryExecutor with two workers, on the local Redis, as docker-compose.yml runs it.

A real Airflow 3.3 (API server, scheduler, DAG processor) on a fresh PostgreSQL metadata
database, and two `airflow celery worker` processes with their own names, log ports and
hostnames, sharing one queue on a Redis database and key prefix of their own. The DAG
(tests/versement/airflow_dags/versement_celery_probe.py) maps the extraction stage over a source's
datasets; the test checks that the mapped tasks ran on both workers (each task instance's
``hostname``) and that each wrote its Parquet file in the shared staging folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from extractors import generate
from tests.versement.conftest import NO_SANDBOX
from tests.versement.test_airflow_scheduler import AirflowProcesses, airflow_env, free_port

pytest.importorskip("airflow.providers.celery", reason="the Celery provider (apache-airflow-providers-celery)")

HERE = Path(__file__).resolve().parent
DAG_ID = "versement_celery_probe"
REDIS_URL = os.environ.get("VERSEMENT_TEST_REDIS", "redis://127.0.0.1:6379/13")  # a database of our own
DATASETS = 8  # enough tasks for two workers, few enough for a shared machine
IDENTITY = '''
import os
import socket


def hostname() -> str:
    """A worker's name as its tasks' hostname (both workers run on this one machine)."""
    return os.environ.get("CELERY_TEST_WORKER") or socket.getfqdn()
'''


def _redis_reachable(url: str) -> bool:
    import socket

    host_port = url.split("//", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=2):
            return True
    except OSError:
        return False


def _wait_for(what: str, check, stack: AirflowProcesses, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    logs = "".join(f"\n--- {name}\n{stack.tail(name)}" for name in stack.processes)
    raise AssertionError(f"{what} not reached after {timeout} s:{logs}")


@pytest.mark.airflow
@pytest.mark.postgres
def test_mapped_extraction_runs_on_both_celery_workers(tmp_path, postgres_databases, seda_schemas):
    if not _redis_reachable(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL} (set VERSEMENT_TEST_REDIS)")
    source = f"sqlite:///{tmp_path / 'apogee.sqlite'}"
    generate("apogee", source, years=(2023,))
    databases = {"airflow": postgres_databases(), "ledger": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "source": source}
    port = free_port()
    env = airflow_env(tmp_path, databases, port, NO_SANDBOX, seda_schemas)
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(HERE / "airflow_dags" / f"{DAG_ID}.py", dags)
    identity = tmp_path / "identity"
    identity.mkdir()
    (identity / "celery_test_identity.py").write_text(IDENTITY)
    tag = uuid.uuid4().hex[:10]
    queue = f"versement-test-{tag}"
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + databases["airflow"],
            # Our keys and queue only, whatever else uses this Redis.
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{queue}:",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "celery_test_identity.hostname",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(identity), env.get("PYTHONPATH")])),
        }
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]

    stack = AirflowProcesses(env, tmp_path / "process-logs")
    workers = {f"worker-a-{tag}": free_port(), f"worker-b-{tag}": free_port()}
    try:
        stack.start()
        for name, log_port in workers.items():
            worker_env = {**env, "CELERY_TEST_WORKER": name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}
            with (stack.logs / f"{name}.log").open("wb") as out:
                stack.processes[name] = subprocess.Popen(
                    [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue],
                    env=worker_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v2", timeout=20) as api:
            _wait_for(
                "a healthy scheduler and the DAG parsed",
                lambda: (
                    api.get("/monitor/health").json()["scheduler"]["status"] == "healthy"
                    and api.get(f"/dags/{DAG_ID}").status_code == 200
                ),
                stack,
                240,
            )
            _wait_for(
                "both Celery workers ready",
                lambda: all(" ready." in stack.tail(name) for name in workers),
                stack,
                240,
            )
            from versement.config import load

            chosen = [d.name for d in load(env["VERSEMENT_CONFIG"], environ=env).source("apogee").datasets][:DATASETS]
            assert api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
            triggered = api.post(
                f"/dags/{DAG_ID}/dagRuns",
                json={"logical_date": None, "dag_run_id": "celery-1", "conf": {"datasets": chosen}},
            )
            assert triggered.status_code == 200, triggered.text
            _wait_for(
                "the DAG run finished",
                lambda: api.get(f"/dags/{DAG_ID}/dagRuns/celery-1").json()["state"] in ("success", "failed"),
                stack,
                600,
            )
            run = api.get(f"/dags/{DAG_ID}/dagRuns/celery-1").json()
            instances = api.get(f"/dags/{DAG_ID}/dagRuns/celery-1/taskInstances", params={"limit": 100}).json()
    finally:
        stack.stop()

    by_task: dict[str, list[dict]] = {}
    for instance in instances["task_instances"]:
        by_task.setdefault(instance["task_id"], []).append(instance)
    states = {(i["task_id"], i["map_index"]): i["state"] for i in instances["task_instances"]}
    assert run["state"] == "success", states
    mapped = by_task["extract_dataset"]
    assert sorted(i["map_index"] for i in mapped) == list(range(len(chosen)))
    assert all(i["state"] == "success" for i in mapped), states
    # The mapped extraction was spread over both workers, and only theirs.
    assert {i["hostname"] for i in mapped} == set(workers), [(i["map_index"], i["hostname"]) for i in mapped]
    staged = tmp_path / "staging" / "celery-probe"
    for name in chosen:
        assert list((staged / name).rglob("*.parquet")), f"no Parquet file for {name} in {staged / name}"
