"""The DAG factory: one DAG per configured source, its schedule and params from the configuration."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from versement.config import load

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    previous = os.environ.get("AIRFLOW_HOME")
    os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    spec = importlib.util.spec_from_file_location("versement_sources_dags", REPO / "dags" / "versement_sources.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    if previous is None:
        os.environ.pop("AIRFLOW_HOME", None)
    else:
        os.environ["AIRFLOW_HOME"] = previous


def test_the_demo_configuration_gives_one_dag_per_source(factory: ModuleType) -> None:
    dags = {name: value for name, value in vars(factory).items() if type(value).__name__ == "DAG"}
    assert set(dags) == {"versement_apogee", "versement_harpege"}
    dag = dags["versement_apogee"]
    assert set(dag.params) == {"scope", "datasets", "seda_version", "dry_run"}
    assert type(dag.task_dict["extract"]).__name__.endswith("MappedOperator")
    assert {"hold_snapshot", "record_extraction", "override", "approval", "transfer"} <= set(dag.task_dict)
    outlets = {a.uri for a in dag.task_dict["record_extraction"].outlets}
    assert "versement://apogee/inscriptions_administratives" in outlets
    assert dag.task_dict["transfer"].retries == 3  # safe: the operator asks the ledger and VITAM first
    # One retry, for Airflow's stale-exit race: a retried request finds the batch answered or asks again.
    assert dag.task_dict["approval"].retries == dag.task_dict["override"].retries == 1


def test_a_new_source_and_its_schedule_come_from_the_configuration(factory: ModuleType) -> None:
    settings = load(
        REPO / "config" / "demo.toml",
        environ={
            "VERSEMENT__SOURCES__SCOLARITE_IUT__TOOL": "apogee",
            "VERSEMENT__SOURCES__SCOLARITE_IUT__URL": "sqlite:///iut.sqlite",
            "VERSEMENT__SOURCES__SCOLARITE_IUT__SCHEDULE": "0 6 15 10 *",
        },
    )
    dag = factory.source_dag(settings, settings.source("scolarite_iut"))
    assert dag.dag_id == "versement_scolarite_iut"
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert "0 6 15 10 *" in repr(dag.timetable)


def test_a_wrong_schedule_is_a_named_configuration_error() -> None:
    from versement.config import ConfigError

    with pytest.raises(ConfigError, match=r"sources\.apogee\.schedule"):
        load(REPO / "config" / "demo.toml", environ={"VERSEMENT__SOURCES__APOGEE__SCHEDULE": "every year"})


def test_the_dry_run_param_routes_past_approval_and_transfer(factory: ModuleType) -> None:
    dag = factory.versement_apogee
    route = dag.task_dict["route"]
    assert route.python_callable(params={"dry_run": True}) == "dry_run"
    assert route.python_callable(params={"dry_run": False}) == "approval"
    assert route.python_callable(params={}) == "approval"
    # The dry-run branch leads nowhere near the transfer: nothing can be sent after a BLANK_TEST.
    assert "dry_run" not in dag.task_dict["transfer"].get_flat_relative_ids(upstream=True)
    assert "approval" in dag.task_dict["transfer"].get_flat_relative_ids(upstream=True)
    assert dag.params["dry_run"] is False


def test_the_datasets_param_offers_the_source_datasets_only(factory: ModuleType) -> None:
    dag = factory.versement_apogee
    names = [d.name for d in load(REPO / "config" / "demo.toml", environ={}).source("apogee").datasets]
    schema = dag.params.get_param("datasets").schema
    assert schema["items"]["enum"] == names and dag.params["datasets"] == []
    # The extraction is mapped over what plan returns for the run (the narrowed list), not the spec.
    assert dag.task_dict["to_extract"].python_callable({"datasets": ["ref_pays"]}) == [
        {"dataset": "ref_pays", "partition": None}
    ]


def test_a_reader_that_fails_for_good_records_it_on_the_batch(
    factory: ModuleType, tmp_path: Path, seda_schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from extractors.errors import ExtractionError
    from tests.versement.conftest import DEMO_YEAR_SCOPE, NO_SANDBOX, demo_settings
    from versement import airflow_integration, orchestration
    from versement.ledger import open_ledger

    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    ledger = open_ledger(settings)
    monkeypatch.setattr(airflow_integration, "deployment", lambda: (settings, ledger))
    batch = ledger.create_batch("apogee", DEMO_YEAR_SCOPE.label, "test", scope_detail=DEMO_YEAR_SCOPE.to_json())
    planned = {"batch_id": batch.id, "marker": None}
    extract = factory.versement_apogee.task_dict["extract"].python_callable
    failures: list[Exception] = []

    def reader(*args: object, **kwargs: object) -> dict[str, object]:
        raise failures[-1]

    monkeypatch.setattr(orchestration, "extract_dataset", reader)

    # A transient error with tries left: Airflow retries, nothing is recorded yet.
    failures.append(ExtractionError("dataset theses_hdr: connection refused (127.0.0.1:5432/apogee)", transient=True))
    with pytest.raises(ExtractionError):
        extract("theses_hdr", None, planned, params={}, ti=SimpleNamespace(try_number=1))
    assert [e.action for e in ledger.events(batch.id)] == ["batch.created"]

    # A terminal error fails the task at once: recorded on the batch, as versement status shows it.
    failures.append(ExtractionError('dataset theses_hdr: relation "these" does not exist (h/apogee)'))
    with pytest.raises(AirflowFailException):
        extract("theses_hdr", None, planned, params={}, ti=SimpleNamespace(try_number=1))
    (failed,) = [e for e in ledger.events(batch.id) if e.action == "extract.failed"]
    assert json.loads(failed.details)["dataset"] == "theses_hdr" and "does not exist" in failed.details
    assert set(ledger.open_failures()) == {batch.id}
    ledger.close()


def test_a_run_for_several_years_triggers_one_run_per_year_and_goes_no_further(factory: ModuleType) -> None:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    dag = factory.versement_apogee
    fan_out = dag.task_dict["run_each_year"]
    assert type(fan_out).__name__.endswith("MappedOperator") and fan_out.operator_class is TriggerDagRunOperator
    assert fan_out.partial_kwargs["trigger_dag_id"] == "versement_apogee"
    assert fan_out.partial_kwargs["skip_when_already_exists"] is True  # a retried task triggers nothing twice
    assert dag.task_dict["scopes"].task_id in fan_out.upstream_task_ids
    # The short circuit stops this run before plan when there are runs to trigger, and so everything after it.
    gate = dag.task_dict["one_scope"]
    assert "plan" in gate.downstream_task_ids and "transfer" in gate.get_flat_relative_ids(upstream=False)
    assert gate.python_callable([]) is True
    assert gate.python_callable([{"trigger_run_id": "r__2019", "conf": {"scope": "2019"}}]) is False
    runs = dag.task_dict["scopes"].python_callable(params={"scope": "2019-2020", "dry_run": False}, run_id="r")
    assert [run["conf"]["scope"] for run in runs] == ["2019", "2020"]
    assert dag.task_dict["scopes"].python_callable(params={"scope": "2023"}, run_id="r") == []


RUN_SEVERAL_YEARS = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("versement_sources_dags", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.versement_apogee.test(run_conf={"scope": "2021-2022", "datasets": ["ref_pays"]})
from airflow.models import DagRun
from airflow.utils.session import create_session
with create_session() as session:
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances(session=session)}
    found = DagRun.find(dag_id="versement_apogee", session=session)
    others = {r.run_id: r.conf for r in found if r.run_id != run.run_id}
print("RESULT", json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": states, "triggered": others}))
"""


def test_a_run_for_several_years_under_airflow_triggers_a_run_per_year(tmp_path: Path) -> None:
    """dag.test() of the generated DAG for 2021-2022: the runs are triggered, nothing else is done."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VERSEMENT"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # An extraction would need these, and fail: none must run.
            "VERSEMENT__LEDGER__URL": "postgresql+psycopg://versement@127.0.0.1:1/versement",
            "VERSEMENT__PATHS__STAGING": str(tmp_path / "absent"),
        }
    )
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    script = tmp_path / "run_several_years.py"
    script.write_text(RUN_SEVERAL_YEARS)
    done = subprocess.run(
        [sys.executable, script, REPO / "dags" / "versement_sources.py"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["state"] == "success", result
    tasks = result["tasks"]
    assert tasks["scopes[-1]"] == "success" and tasks["one_scope[-1]"] == "success"
    assert tasks["run_each_year[0]"] == tasks["run_each_year[1]"] == "success"
    assert {tasks[name] for name in ("plan[-1]", "approval[-1]", "transfer[-1]", "report[-1]")} == {"skipped"}
    run_id = result["run_id"]
    assert result["triggered"] == {
        f"{run_id}__{year}": {"scope": str(year), "datasets": ["ref_pays"], "seda_version": "2.1", "dry_run": False}
        for year in (2021, 2022)
    }
    assert not (tmp_path / "absent").exists()


def test_a_dataset_read_in_partitions_maps_one_extract_task_per_partition(factory: ModuleType) -> None:
    from versement.orchestration import units

    settings = load(
        REPO / "config" / "demo.toml", environ={"VERSEMENT__SOURCES__APOGEE__PARTITIONS": '{"resultats_elements": 4}'}
    )
    source = settings.source("apogee")
    dag = factory.source_dag(settings, source)
    extract = dag.task_dict["extract"]
    # Mapped over (dataset, partition) pairs, not over dataset names.
    assert type(extract.op_kwargs_expand_input).__name__ == "ListOfDictsExpandInput"
    to_extract = dag.task_dict["to_extract"].python_callable
    planned = {"datasets": [d.name for d in source.datasets], "units": units(source)}
    pairs = to_extract(planned)
    assert [p for p in pairs if p["dataset"] == "resultats_elements"] == [
        {"dataset": "resultats_elements", "partition": i} for i in (1, 2, 3, 4)
    ]
    assert {"dataset": "etudiants_identite", "partition": None} in pairs
    assert len(pairs) == len(source.datasets) + 3
    assert to_extract({"datasets": [], "resumed": True}) == []  # a resumed batch: no reader
    # A plan recorded before partitions existed still maps one reader per dataset.
    assert to_extract({"datasets": ["ref_pays"]}) == [{"dataset": "ref_pays", "partition": None}]
