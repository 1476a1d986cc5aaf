"""The generated Apogée DAG under a real Airflow 3.3, end to end.

API server, scheduler, DAG processor and triggerer as processes, the LocalExecutor, Airflow's
metadata, the ledger and a synthetic Apogée in the local PostgreSQL, the VITAM sandbox over HTTPS.
Runs are triggered through the REST API and the approvals answered through it, signed in as the
configured archivist (Airflow's simple auth manager, not "everyone is admin"):

1. 2023-2024: approved → one ingest in the sandbox, batch ``verified``, the approval in the trail
   with the archivist's name, the transfer task deferred to the triggerer;
2. 2022-2023: rejected with a comment → nothing sent;
3. 2021-2022: left unanswered → the request expires (ledger event, failed task);
4. 2023-2024 again: the archived batch is reported, nothing is redone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extractors import generate
from tests.versement.test_airflow_scheduler import AirflowProcesses, airflow_env, free_port
from versement.config import load
from versement.ledger import State, open_ledger
from versement.pipeline import endpoint
from vitam_client import VitamClient

DAG_ID = "versement_apogee"
ARCHIVIST = "claire.dupre"
PASSWORDS = {"admin": "Admin-Airflow-1", ARCHIVIST: "Archiviste-Airflow-2"}
TIMEOUT_HOURS = "0.04"  # 144 s: run 3 waits it out


@pytest.fixture
def stack(
    tmp_path, postgres_databases, airflow_metadata_template, vitam_sandbox, seda_schemas
) -> Iterator[dict[str, Any]]:
    databases = {name: postgres_databases() for name in ("source", "ledger")}
    databases["airflow"] = postgres_databases(template=airflow_metadata_template)  # migrated once a session
    generate("apogee", databases["source"], years=(2021, 2022, 2023))
    port = free_port()
    env = airflow_env(tmp_path, databases, port, vitam_sandbox, seda_schemas)
    passwords = tmp_path / "airflow-passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    base_url, ca_path = vitam_sandbox
    env.update(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{ARCHIVIST}:user",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
            "AIRFLOW_CONN_VITAM_DEFAULT": json.dumps(
                {
                    "conn_type": "vitam",
                    "extra": {
                        "tenant": 0,
                        "ingest_url": f"{base_url}/ingest-external/v1",
                        "admin_url": f"{base_url}/admin-external/v1",
                        "access_url": f"{base_url}/access-external/v1",
                        "access_contract": "AC-000001",
                        "ca_bundle": str(ca_path),
                    },
                }
            ),
            "VERSEMENT__APPROVAL__ARCHIVISTS": json.dumps([ARCHIVIST]),
            "VERSEMENT__APPROVAL__TIMEOUT_HOURS": TIMEOUT_HOURS,
        }
    )
    processes = AirflowProcesses(
        env, tmp_path / "process-logs", commands=("api-server", "scheduler", "dag-processor", "triggerer")
    )
    processes.start()
    try:
        # Migrated here while Airflow starts, rather than by the first task (the ledger's own migrations).
        open_ledger(load(env["VERSEMENT_CONFIG"], environ=env)).close()
        clients = {}
        deadline = time.monotonic() + 300
        root = f"http://127.0.0.1:{port}"
        while True:
            processes.check_alive()
            try:
                for user, password in PASSWORDS.items():
                    if user not in clients:
                        token = httpx.post(f"{root}/auth/token", json={"username": user, "password": password})
                        token.raise_for_status()
                        clients[user] = httpx.Client(
                            base_url=f"{root}/api/v2",
                            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                            timeout=30,
                        )
                if clients["admin"].get(f"/dags/{DAG_ID}").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    "Airflow did not come up:\n" + processes.tail("api-server") + processes.tail("dag-processor")
                )
            time.sleep(2)
        yield {"api": clients["admin"], "archivist": clients[ARCHIVIST], "env": env, "processes": processes}
        for client in clients.values():
            client.close()
    finally:
        processes.stop()


def get(api: httpx.Client, path: str) -> httpx.Response:
    for _ in range(5):  # a busy machine slows the API server down
        try:
            return api.get(path)
        except httpx.TimeoutException:
            continue
    return api.get(path)


def wait_for(what: str, check: Any, processes: AirflowProcesses, timeout: float = 900) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        found = check()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"{what}: not after {timeout} s\n{processes.tail('scheduler')}")


def run_state(api: httpx.Client, run_id: str) -> str | None:
    state = get(api, f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
    return str(state) if state in ("success", "failed") else None


def hitl_request(api: httpx.Client, run_id: str) -> dict[str, Any] | None:
    """The approval request once the task waits for it.

    Airflow 3.3.2 fails a HITL task answered while the executor has not yet reported the exit of
    the process that parked it ("task state changed externally"): an archivist answers minutes
    later, this test waits a few seconds after the task is parked."""
    if task_state(api, run_id, "approval") != "awaiting_input":
        return None
    found = get(api, f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approval/-1/hitlDetails")
    if found.status_code != 200:
        return None
    time.sleep(15)
    return dict(found.json())


def task_state(api: httpx.Client, run_id: str, task_id: str) -> str:
    return str(get(api, f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}").json()["state"])


def task_log(api: httpx.Client, run_id: str, task_id: str, map_index: int = -1) -> str:
    params: dict[str, Any] = {"full_content": True}
    if map_index >= 0:
        params["map_index"] = map_index
    found = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1", params=params)
    return found.text if found.status_code == 200 else f"(no log for {task_id}: HTTP {found.status_code})"


def trigger(api: httpx.Client, run_id: str, scope: str) -> None:
    made = api.post(
        f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "dag_run_id": run_id, "conf": {"scope": scope}}
    )
    assert made.status_code == 200, made.text


@pytest.mark.airflow
@pytest.mark.postgres
def test_the_apogee_dag_approved_rejected_expired_and_resumed_through_the_rest_api(stack):
    api, archivist, env, processes = stack["api"], stack["archivist"], stack["env"], stack["processes"]
    settings = load(env["VERSEMENT_CONFIG"], environ=env)
    ledger = open_ledger(settings)
    assert api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
    for run_id, scope in (("approve", "2023"), ("reject", "2022"), ("expire", "2021")):
        trigger(api, run_id, scope)  # one at a time (max_active_runs = 1), in this order

    # 1. Approved by the archivist, through the REST API.
    request = wait_for("the approval request", lambda: hitl_request(api, "approve"), processes)
    (batch,) = ledger.batches()
    assert batch.state == State.AWAITING_APPROVAL
    assert request["assigned_users"] == [{"id": ARCHIVIST, "name": ARCHIVIST}]
    assert request["subject"].startswith(f"Validation du lot n° {batch.id} — ")
    assert batch.sip_sha256 and f"Empreinte SHA-256 du SIP : {batch.sip_sha256}" in request["body"]
    assert f"/lots/{batch.id}" in request["body"]
    answer = {
        "chosen_options": ["Valider le versement"],
        "params_input": {"empreinte_sha256": batch.sip_sha256, "commentaire": "conforme"},
    }
    path = f"/dags/{DAG_ID}/dagRuns/approve/taskInstances/approval/-1/hitlDetails"
    refused = api.patch(path, json=answer)  # an Airflow admin, but not a configured archivist
    assert refused.status_code == 403, refused.text
    answered = archivist.patch(path, json=answer)
    assert answered.status_code == 200, answered.text
    assert wait_for("run approve", lambda: run_state(api, "approve"), processes) == "success", task_log(
        api, "approve", "transfer"
    )
    batch = ledger.batch(batch.id)
    assert batch.state == State.VERIFIED and batch.atr_reply_code == "OK"
    with VitamClient(endpoint(settings)) as vitam:
        assert len(vitam.ingests_of_message(str(batch.message_identifier))) == 1
    trail = [(e.actor, e.action) for e in ledger.events(batch.id)]
    assert (f"airflow:{ARCHIVIST}", "approve") in trail and batch.approved_by == ARCHIVIST
    assert "Pausing task as DEFERRED" in task_log(api, "approve", "transfer")  # waited in the triggerer
    # The triggerer ran the VITAM trigger: its log beside the task's follows the operation to its end.
    home = Path(env["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}" / "run_id=approve" / "task_id=transfer"
    trigger_logs = [p.read_text(errors="replace") for p in home.glob("attempt=1.log.trigger.*.log")]
    assert any(f"VITAM operation {batch.vitam_operation_id}: COMPLETED/OK" in text for text in trigger_logs), (
        trigger_logs
    )
    # The logs say what each step did, in numbers, and the approval task shows the French request.
    approval_log = task_log(api, "approve", "approval")
    assert f"Demande de validation du lot n° {batch.id}" in approval_log and str(batch.sip_sha256) in approval_log
    mapped = get(
        api,
        f"/dags/{DAG_ID}/dagRuns/approve/taskInstances",
    ).json()["task_instances"]
    extracts = [ti for ti in mapped if ti["task_id"] == "extract"]
    assert len(extracts) == len(batch.datasets) and {ti["state"] for ti in extracts} == {"success"}
    assert "lignes (source :" in task_log(api, "approve", "extract", map_index=0)
    recorded = task_log(api, "approve", "record_extraction")
    assert "octets" in recorded and "lectures parallèles" in recorded, recorded[-3000:]  # one exported snapshot
    assert "exporté" in task_log(api, "approve", "hold_snapshot")
    assert "SHA-256" in task_log(api, "approve", "package")

    # 2. Rejected with a comment: nothing is sent.
    wait_for("the second request", lambda: hitl_request(api, "reject"), processes)
    rejected = next(b for b in ledger.batches() if b.scope == "2022-2023")
    no = {
        "chosen_options": ["Rejeter le lot"],
        "params_input": {"empreinte_sha256": rejected.sip_sha256, "commentaire": "effectifs incomplets"},
    }
    assert (
        archivist.patch(f"/dags/{DAG_ID}/dagRuns/reject/taskInstances/approval/-1/hitlDetails", json=no).status_code
        == 200
    )
    assert wait_for("run reject", lambda: run_state(api, "reject"), processes) == "success"
    assert ledger.batch(rejected.id).state == State.REJECTED
    assert task_state(api, "reject", "transfer") == "skipped"
    with VitamClient(endpoint(settings)) as vitam:
        assert vitam.ingests_of_message(str(rejected.message_identifier)) == []
    last = ledger.events(rejected.id)[-1]
    assert (last.actor, last.action) == (f"airflow:{ARCHIVIST}", "reject")
    assert json.loads(last.details)["reason"] == "effectifs incomplets"

    # 3. Unanswered: the request expires into a clear state.
    assert wait_for("run expire", lambda: run_state(api, "expire"), processes) == "failed"
    expired = next(b for b in ledger.batches() if b.scope == "2021-2022")
    assert ledger.batch(expired.id).state == State.AWAITING_APPROVAL
    assert ledger.events(expired.id)[-1].action == "approval.expired"
    assert task_state(api, "expire", "approval") == "failed" and task_state(api, "expire", "transfer") != "success"
    assert "a expiré" in task_log(api, "expire", "approval")

    # 4. The archived scope again: reported, nothing redone.
    trigger(api, "again", "2023")
    assert wait_for("run again", lambda: run_state(api, "again"), processes) == "success"
    assert len(ledger.batches()) == 3 and ledger.batch(batch.id).state == State.VERIFIED
    assert "déjà archivé" in task_log(api, "again", "plan")
    assert ledger.verify().ok
