"""The Airflow side, tested the way Airflow's providers test theirs: provider info and connection
form, the hook's connection mapping, the trigger's serialisation round trip and its run against
the sandbox (mutual TLS), the operator's submit-then-defer and its terminal errors."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.versement.test_transfer import World, make_world
from tests.vitam_client.sips import build_sip
from versement.ledger import State
from versement.pipeline import endpoint
from vitam_client import VitamClient, VitamConfigurationError

pytestmark = pytest.mark.airflow

CONN_ID = "vitam_test"


@pytest.fixture(scope="module", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Airflow reads AIRFLOW_HOME when first imported: keep it out of the user's home."""
    previous = os.environ.get("AIRFLOW_HOME")
    os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    yield
    if previous is None:
        os.environ.pop("AIRFLOW_HOME", None)
    else:
        os.environ["AIRFLOW_HOME"] = previous


@pytest.fixture
def world(tmp_path: Path, seda_schemas: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A sandbox over mutual TLS and the ``vitam_test`` Airflow connection that reaches it."""
    for found in make_world(tmp_path, seda_schemas):
        vitam = found.settings.vitam
        connection = {
            "conn_type": "vitam",
            "host": "127.0.0.1",
            "extra": {
                "tenant": vitam.tenant,
                "ingest_url": vitam.ingest_url,
                "admin_url": vitam.admin_url,
                "access_url": vitam.access_url,
                "access_contract": vitam.access_contract,
                "application_id": "versement-airflow",
                "ca_bundle": vitam.ca_bundle,
                "client_cert": vitam.client_cert,
                "client_key": vitam.client_key,
            },
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
        yield found


def first_event(trigger: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger fired no event")

    return asyncio.run(asyncio.wait_for(run(), timeout=60))


# -- provider info and hook ---------------------------------------------------------------------


def test_the_provider_declares_the_vitam_connection_and_its_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "versement" in manager.providers  # validated against Airflow's provider-info schema
    hook = manager.hooks.get("vitam")
    assert hook is not None and hook.hook_class_name == "versement.airflow.hooks.vitam.VitamHook"
    widgets = manager.connection_form_widgets
    for name in ("tenant", "access_contract", "ingest_contract", "ca_bundle", "client_cert", "client_key"):
        assert f"extra__vitam__{name}" in widgets
    assert widgets["extra__vitam__tenant"].field["schema"]["type"] == ["integer", "null"]
    behaviour = manager.field_behaviours["vitam"]
    assert "login" in behaviour["hidden_fields"] and behaviour["relabeling"]["password"] == "Client key password"


def test_the_hook_maps_a_connection_to_an_endpoint() -> None:
    from airflow.sdk import Connection

    from versement.airflow.hooks.vitam import endpoint_from_connection

    extra = {"tenant": "3", "access_contract": "AC-000007", "client_cert": "/c.pem", "client_key": "/k.pem"}
    connection = Connection(
        conn_id="v", conn_type="vitam", host="vitam.example.gouv.fr", password="clé", extra=json.dumps(extra)
    )
    found = endpoint_from_connection(connection)
    assert found.ingest_url == "https://vitam.example.gouv.fr:8443/ingest-external/v1"
    assert found.admin_url == "https://vitam.example.gouv.fr:8444/admin-external/v1"
    assert found.access_url == "https://vitam.example.gouv.fr:8444/access-external/v1"
    assert (found.tenant, found.access_contract, found.client_cert) == (3, "AC-000007", ("/c.pem", "/k.pem"))
    assert found.client_key_password == "clé" and "clé" not in repr(found)
    # Fields saved by older forms carry a prefix; explicit URLs win over the host.
    prefixed = {"extra__vitam__tenant": 5, "ingest_url": "https://proxy.example/ingest-external/v1"}
    found = endpoint_from_connection(Connection(conn_id="w", conn_type="vitam", host="h", extra=json.dumps(prefixed)))
    assert found.tenant == 5 and found.ingest_url == "https://proxy.example/ingest-external/v1"


@pytest.mark.parametrize(
    ("host", "extra", "problem"),
    [
        ("h", {"tenant": "zéro"}, "tenant 'zéro' is not an integer"),
        (None, {}, "no host and no ingest_url"),
        ("h", {"client_cert": "/c.pem"}, "client_cert and client_key go together"),
    ],
)
def test_a_wrong_connection_is_named(host: str | None, extra: dict[str, Any], problem: str) -> None:
    from airflow.sdk import Connection

    from versement.airflow.hooks.vitam import endpoint_from_connection

    with pytest.raises(VitamConfigurationError, match=problem) as caught:
        endpoint_from_connection(Connection(conn_id="bad_vitam", conn_type="vitam", host=host, extra=json.dumps(extra)))
    assert "bad_vitam" in str(caught.value)


def test_the_connection_test_button(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from versement.airflow.hooks.vitam import VitamHook

    assert VitamHook(CONN_ID).test_connection() == (True, "VITAM answers")
    closed = "https://127.0.0.1:9"
    urls = {f"{name}_url": f"{closed}/{name}-external/v1" for name in ("ingest", "admin", "access")}
    monkeypatch.setenv("AIRFLOW_CONN_VITAM_CLOSED", json.dumps({"conn_type": "vitam", "extra": urls}))
    ok, message = VitamHook("vitam_closed").test_connection()
    assert not ok and "no answer" in message


# -- trigger ------------------------------------------------------------------------------------


def test_the_trigger_serialises_and_resumes_with_the_same_deadline() -> None:
    from airflow.sdk.module_loading import import_string

    from versement.airflow.triggers.vitam import VitamOperationTrigger

    trigger = VitamOperationTrigger(
        "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", vitam_conn_id=CONN_ID, poll_interval=5, timeout=60
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "versement.airflow.triggers.vitam.VitamOperationTrigger"
    json.dumps(kwargs)  # what the triggerer stores
    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert again.deadline == trigger.deadline  # a triggerer restart does not extend the wait


def test_the_trigger_follows_an_operation_in_the_sandbox(world: World, tmp_path: Path) -> None:
    from versement.airflow.triggers.vitam import VitamOperationTrigger

    with VitamClient(endpoint(world.settings)) as client:
        operation_id = client.ingest(build_sip(tmp_path))
    event = first_event(VitamOperationTrigger(operation_id, vitam_conn_id=CONN_ID, poll_interval=0.05))
    assert event == {
        "operation_id": operation_id,
        "status": "finished",
        "state": "COMPLETED",
        "operation_status": "OK",
        "needs_operator": False,
    }


def test_the_trigger_reports_a_terminal_error_and_a_timeout(world: World, tmp_path: Path) -> None:
    from versement.airflow.triggers.vitam import VitamOperationTrigger

    unknown = "aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    event = first_event(VitamOperationTrigger(unknown, vitam_conn_id=CONN_ID, poll_interval=0.05))
    assert event["status"] == "error" and event["error"] == "VitamNotFound"
    with VitamClient(endpoint(world.settings)) as client:
        operation_id = client.ingest(build_sip(tmp_path))
    expired = VitamOperationTrigger(operation_id, vitam_conn_id=CONN_ID, poll_interval=0.05, deadline=0)
    event = first_event(expired)
    assert (event["status"], event["state"], event["operation_status"]) == ("timeout", "RUNNING", "STARTED")


# -- operators ----------------------------------------------------------------------------------


def test_the_operator_submits_defers_then_completes(world: World) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from versement.airflow.operators.transfer import VitamTransferOperator
    from versement.airflow.triggers.vitam import VitamOperationTrigger

    batch_id = world.approved()
    operator = VitamTransferOperator(
        task_id="transfer",
        batch_id=batch_id,
        vitam_conn_id=CONN_ID,
        poll_interval=0.05,
        deployment=lambda: (world.settings, world.ledger),
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, VitamOperationTrigger) and deferred.value.method_name == "execute_complete"
    batch = world.ledger.batch(batch_id)
    assert batch.state == State.SUBMITTED and trigger.operation_id == batch.vitam_operation_id
    # No worker slot held from here: the triggerer runs the (serialised) trigger.
    _, kwargs = trigger.serialize()
    event = first_event(type(trigger)(**kwargs))
    result = operator.execute_complete(context={}, event=event)
    assert result == {"batch": batch_id, "state": "verified", "operation_id": batch.vitam_operation_id}
    assert world.ingests(batch_id) == [batch.vitam_operation_id]
    assert [e.actor for e in world.ledger.events(batch_id)][-1] == "airflow:transfer"


def test_a_split_batch_waits_in_the_triggerer_for_each_part_in_turn(world: World) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from tests.versement.test_sips import SMALL, validated
    from versement.airflow.operators.transfer import VitamTransferOperator
    from versement.ledger.sips import current_sips
    from versement.pipeline import approve, run_package

    batch_id = validated(world)
    run_package(world.settings, world.ledger, batch_id, actor="test", limits=SMALL)
    parts = current_sips(world.ledger.batch(batch_id))
    assert len(parts) >= 2
    approve(world.ledger, batch_id, approver="Camille Archiviste", sha256=[sip.sha256 for sip in parts])
    operator = VitamTransferOperator(
        task_id="transfer",
        batch_id=batch_id,
        vitam_conn_id=CONN_ID,
        poll_interval=0.05,
        deployment=lambda: (world.settings, world.ledger),
    )
    waited_for = []
    with pytest.raises(TaskDeferred) as raised:
        operator.execute(context={})
    deferred: TaskDeferred = raised.value
    while True:
        trigger, waited = deferred.trigger, (deferred.kwargs or {})["waited"]
        waited_for.append(trigger.operation_id)
        _, kwargs = trigger.serialize()
        event = first_event(type(trigger)(**kwargs))  # the triggerer, from the serialised form
        try:
            result = operator.execute_complete(context={}, event=event, waited=waited)
        except TaskDeferred as again:
            deferred = again
            continue
        break
    sent = [sip.vitam_operation_id for sip in current_sips(world.ledger.batch(batch_id))]
    assert waited_for == sent and len(set(sent)) == len(parts)  # each part's operation, once, in order
    assert result["state"] == "verified"
    for sip in current_sips(world.ledger.batch(batch_id)):
        with VitamClient(endpoint(world.settings)) as client:
            assert [op.operation_id for op in client.ingests_of_message(sip.message_identifier)] == [
                sip.vitam_operation_id
            ]


def test_terminal_errors_fail_without_retry_and_transient_ones_do_not(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from versement.airflow.operators.transfer import VitamTransferOperator, VitamVerifyOperator
    from vitam_client import UploadOutcomeUnknown

    batch_id = world.approved()
    deployment = lambda: (world.settings, world.ledger)  # noqa: E731
    sip = Path(str(world.ledger.batch(batch_id).sip_path))
    original = sip.read_bytes()
    sip.write_bytes(original + b"\0")
    operator = VitamTransferOperator(task_id="t", batch_id=batch_id, vitam_conn_id=CONN_ID, deployment=deployment)
    with pytest.raises(AirflowFailException, match="l'archiviste a validé"):
        operator.execute(context={})
    sip.write_bytes(original)

    unreachable = {"conn_type": "vitam", "host": "127.0.0.1", "extra": {"ingest_url": "https://127.0.0.1:9/i"}}
    monkeypatch.setenv("AIRFLOW_CONN_VITAM_DOWN", json.dumps(unreachable))
    down = VitamTransferOperator(task_id="t", batch_id=batch_id, vitam_conn_id="vitam_down", deployment=deployment)
    with pytest.raises(UploadOutcomeUnknown):  # transient: Airflow's retries apply
        down.execute(context={})
    assert world.ledger.batch(batch_id).state == State.SUBMITTING

    verify = VitamVerifyOperator(task_id="v", batch_id=batch_id, vitam_conn_id=CONN_ID, deployment=deployment)
    with pytest.raises(
        AirflowFailException, match=r"seul un lot accepté par VITAM \(accepted, verification_failed\) peut être vérifié"
    ):
        verify.execute(context={})


def test_a_connection_to_another_tenant_or_contract_sends_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from versement.airflow.hooks.vitam import VitamHook
    from versement.airflow.operators.transfer import VitamTransferOperator

    assert VitamHook(CONN_ID).mismatches(world.settings.vitam) == []  # the fixture's connection agrees
    batch_id = world.approved()
    connection = json.loads(os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"])
    vitam = world.settings.vitam
    for name, extra, problem in (
        ("vitam_other_tenant", {"tenant": vitam.tenant + 1}, f"tenant {vitam.tenant + 1}, la configuration"),
        ("vitam_no_tenant", {"tenant": None, "ingest_contract": vitam.ingest_contract}, None),
        ("vitam_other_contract", {"ingest_contract": "IC-999999"}, "contrat d'entrée IC-999999"),
    ):
        changed = {**connection, "extra": {**connection["extra"], **extra}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps(changed))
        if problem is None:  # no tenant in the connection: tenant 0, the demo's
            assert vitam.tenant == 0 and VitamHook(name).mismatches(vitam) == []
            continue
        operator = VitamTransferOperator(
            task_id="t", batch_id=batch_id, vitam_conn_id=name, deployment=lambda: (world.settings, world.ledger)
        )
        with pytest.raises(AirflowFailException, match=rf"connexion Airflow {name} ne correspond pas.*{problem}"):
            operator.execute(context={})
        assert world.ledger.batch(batch_id).state == State.APPROVED  # nothing recorded, nothing sent
    assert world.ingests(batch_id) == []


def test_the_transfer_dag_defers_through_the_operator() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "dags" / "versement_transfer.py"
    spec = importlib.util.spec_from_file_location("versement_transfer_dag", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from versement.airflow.operators.transfer import VitamTransferOperator

    dag = module.transfer_dag
    (task,) = dag.tasks
    assert isinstance(task, VitamTransferOperator) and task.batch_id == "{{ params.batch_id }}"
    assert task.retries == 3 and "batch_id" in task.template_fields
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):  # the batch number must be given when triggered
        dag.params.validate()


RUN_TRANSFER_DAG = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("versement_transfer_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.transfer_dag.test(run_conf={"batch_id": int(sys.argv[2])})
print("DAG-RUN-STATE", run.state)
"""


def test_the_transfer_dag_runs_an_approved_batch_to_verified(world: World, tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    batch_id = world.approved()
    env = {
        **os.environ,
        **world.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_VITAM_DEFAULT": os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"],
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    script = tmp_path / "run_transfer_dag.py"
    script.write_text(RUN_TRANSFER_DAG)
    done = subprocess.run(
        [sys.executable, script, repo / "dags" / "versement_transfer.py", str(batch_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "DAG-RUN-STATE success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    batch = world.ledger.batch(batch_id)
    assert batch.state == State.VERIFIED
    assert world.ingests(batch_id) == [batch.vitam_operation_id]
    actors = {e.actor for e in world.ledger.events(batch_id) if e.action.startswith(("transfer.", "verify"))}
    assert actors == {"airflow:versement_transfer.transfer"}
