"""The generated Apogée DAG with the CeleryExecutor and two workers, on the local Redis, as
docker-compose.yml runs it.

A real Airflow 3.3 (API server, scheduler, DAG processor) on its own PostgreSQL metadata database
(a copy of the session's migrated one), and two `airflow celery worker` processes with their own
names, log ports and hostnames, sharing one queue on a Redis database and key prefix of their own.
The DAG is ``versement_apogee`` of dags/versement_sources.py, triggered through the REST API for a
subset of the datasets (the ``datasets`` param) over a SQLite Apogée, the ledger in PostgreSQL. It
runs to the archivists' approval request, as far as it goes without an archivist (the answer and
the transfer are the LocalExecutor end-to-end test's, tests/versement/test_airflow_sources.py).
Each worker's first extraction waits (at most two minutes) until the other has one, as
minutes-long real extractions would, so that one worker cannot drain five one-second tasks before
the other polls. One dataset is read in two partitions, so the extraction is mapped over datasets
and partitions. Checked: the mapped extraction tasks ran on both workers (each task instance's
``hostname``), only the chosen datasets were extracted into the shared staging folder (the
partitions combined into their dataset's file) and recorded, and the request the archivist would
answer shows the digest of the SIP the workers built.
"""

from __future__ import annotations

import json
import os
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
from versement.config import load
from versement.ledger import State, open_ledger

pytest.importorskip("airflow.providers.celery", reason="the Celery provider (apache-airflow-providers-celery)")

DAG_ID = "versement_apogee"
RUN_ID = "celery-1"
REDIS_URL = os.environ.get("VERSEMENT_TEST_REDIS", "redis://127.0.0.1:6379/13")  # a database of our own
# Four mapped tasks, queued at once (the DAG runs up to four at a time): two each for two single-slot
# workers, few enough for a shared machine; not in the specification's order, a reference table too.
CHOSEN = ["inscriptions_administratives", "etudiants_identite", "resultats_diplomes", "ref_pays"]
PARTITIONS = {"inscriptions_administratives": 2}  # mapped over partitions too: five extract tasks
IDENTITY = '''
import json
import os
import socket
import time
from pathlib import Path

from celery.signals import task_prerun

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# Airflow's Celery settings, plus this module imported by each worker before it forks its pool.
CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": ("celery_test_identity",)}


def hostname() -> str:
    """A worker's name as its tasks' hostname (both workers run on this one machine)."""
    return os.environ.get("CELERY_TEST_WORKER") or socket.getfqdn()


def _task_id(args) -> str | None:
    """The Airflow task of a Celery message (``execute_workload`` takes the workload as JSON)."""
    try:
        return json.loads(args[0])["ti"]["task_id"]
    except (IndexError, KeyError, TypeError, ValueError):
        return None


@task_prerun.connect
def hold_until_every_worker_has_an_extraction(args=(), **_) -> None:
    """Hold each worker's first extraction until every worker has started one.

    Real extractions take minutes, so a free worker always takes the next queued one; these take
    a second, and one worker could drain the queue before the other's next poll of Redis. Holding
    (at most two minutes) makes the test about where tasks go, not about who polls first. Only the
    mapped ``extract`` tasks are held: the DAG's single tasks (the plan, the snapshot holder, ...)
    run on whichever worker takes them, and holding one of those would only wait for a task that
    cannot be queued before it ends. A worker that never receives an extraction still fails the
    test, after the hold.
    """
    barrier, name = os.environ.get("CELERY_TEST_BARRIER"), os.environ.get("CELERY_TEST_WORKER")
    if not barrier or not name or _task_id(args) != "extract":
        return
    if Path(barrier, name).exists():
        return  # not this worker's first extraction
    Path(barrier, name).touch()
    expected = int(os.environ["CELERY_TEST_WORKERS"])
    deadline = time.monotonic() + 120
    while len(list(Path(barrier).iterdir())) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
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
        time.sleep(0.5)
    logs = "".join(f"\n--- {name}\n{stack.tail(name)}" for name in stack.processes)
    raise AssertionError(f"{what} not reached after {timeout} s:{logs}")


@pytest.mark.airflow
@pytest.mark.postgres
def test_the_apogee_dag_maps_its_extraction_over_both_celery_workers(
    tmp_path, postgres_databases, airflow_metadata_template, seda_schemas
):
    if not _redis_reachable(REDIS_URL):
        pytest.skip(f"no Redis at {REDIS_URL} (set VERSEMENT_TEST_REDIS)")
    source = f"sqlite:///{tmp_path / 'apogee.sqlite'}"
    generate("apogee", source, years=(2023,))
    databases = {
        "airflow": postgres_databases(template=airflow_metadata_template),
        "ledger": postgres_databases(),  # both workers write to it
        "source": source,
    }
    port = free_port()
    env = airflow_env(tmp_path, databases, port, NO_SANDBOX, seda_schemas)
    identity = tmp_path / "identity"
    identity.mkdir()
    (identity / "celery_test_identity.py").write_text(IDENTITY)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    tag = uuid.uuid4().hex[:10]
    queue = f"versement-test-{tag}"
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + databases["airflow"],
            # Our keys and queue only, whatever else uses this Redis.
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{queue}:",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "celery_test_identity.hostname",
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "celery_test_identity.CONFIG",
            "VERSEMENT__SOURCES__APOGEE__PARTITIONS": json.dumps(PARTITIONS),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(identity), env.get("PYTHONPATH")])),
        }
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    stack = AirflowProcesses(env, tmp_path / "process-logs")
    workers = {f"worker-a-{tag}": free_port(), f"worker-b-{tag}": free_port()}
    base = f"/dags/{DAG_ID}/dagRuns/{RUN_ID}"
    settings = load(env["VERSEMENT_CONFIG"], environ=env)
    try:
        stack.start()
        for name, log_port in workers.items():
            worker_env = {
                **env,
                "CELERY_TEST_WORKER": name,
                "CELERY_TEST_BARRIER": str(barrier),
                "CELERY_TEST_WORKERS": str(len(workers)),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            }
            with (stack.logs / f"{name}.log").open("wb") as out:
                stack.processes[name] = subprocess.Popen(
                    [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue],
                    env=worker_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        # Migrated here while Airflow starts, rather than by the first task (the ledger's own migrations).
        open_ledger(settings).close()
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
            assert api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
            triggered = api.post(
                f"/dags/{DAG_ID}/dagRuns",
                json={"logical_date": None, "dag_run_id": RUN_ID, "conf": {"scope": "2023", "datasets": CHOSEN}},
            )
            assert triggered.status_code == 200, triggered.text

            def parked_or_failed() -> bool:
                if api.get(base).json()["state"] == "failed":
                    return True
                return bool(api.get(f"{base}/taskInstances/approval").json()["state"] == "awaiting_input")

            _wait_for("the approval request (or a failed run)", parked_or_failed, stack, 600)
            run = api.get(base).json()
            instances = api.get(f"{base}/taskInstances", params={"limit": 100}).json()["task_instances"]
            request = api.get(f"{base}/taskInstances/approval/-1/hitlDetails")
    finally:
        stack.stop()

    states = {(i["task_id"], i["map_index"]): i["state"] for i in instances}
    assert run["state"] == "running" and states[("approval", -1)] == "awaiting_input", states
    mapped = [i for i in instances if i["task_id"] == "extract"]
    readers = len(CHOSEN) - len(PARTITIONS) + sum(PARTITIONS.values())
    assert sorted(i["map_index"] for i in mapped) == list(range(readers))
    assert all(i["state"] == "success" for i in mapped), states
    # The mapped extraction was spread over both workers, and only theirs.
    assert sorted(p.name for p in barrier.iterdir()) == sorted(workers), "a worker never started an extraction"
    assert {i["hostname"] for i in mapped} == set(workers), [(i["map_index"], i["hostname"]) for i in mapped]
    # Only the chosen datasets were read, written to the shared staging folder and recorded.
    ledger = open_ledger(settings)
    try:
        (batch,) = ledger.batches()
        assert batch.state == State.AWAITING_APPROVAL and batch.scope == "2023-2024"
        assert sorted(d.name for d in batch.datasets) == sorted(CHOSEN)
        assert all(d.rows > 0 for d in batch.datasets)
        # The partitions were combined into their dataset's one file, and removed.
        staged = sorted(p.stem for p in (settings.staging / "batches").rglob("*.parquet"))
        assert staged == sorted(CHOSEN)
        (cut,) = [d for d in batch.datasets if d.name in PARTITIONS]
        assert cut.rows == cut.source_count
        actors = {e.actor for e in ledger.events(batch.id)}
        assert actors == {f"airflow:{DAG_ID}"}, actors  # every step so far was the DAG's
    finally:
        ledger.close()
    # The request the configured archivists would answer, bound to the SIP the workers built.
    assert request.status_code == 200, request.text
    shown = request.json()
    assert shown["assigned_users"] == [{"id": user, "name": user} for user in settings.approval.archivists]
    assert shown["subject"].startswith(f"Validation du lot n° {batch.id} — ")
    assert f"Empreinte SHA-256 du SIP : {batch.sip_sha256}" in shown["body"]
    assert shown["response_received"] is False
