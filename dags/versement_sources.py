"""One DAG per configured source tool: ``versement_<source>`` (``versement_apogee``, ``versement_harpege``...).

Generated from the deployment's configuration (``$VERSEMENT_CONFIG``, else ``config/demo.toml``):
adding a source to the file adds its DAG, with no code. Each run works on one scope:

plan → extract (mapped, one task per dataset, or per partition of a dataset read in partitions:
``sources.<name>.partitions``) → record_extraction (which combines the partitions) → quality → override
(human-in-the-loop, only for a ``quality_failed`` batch) → package → approval (human-in-the-loop,
the configured archivists) → transfer (deferrable: submits once, waits in the triggerer) → report.

A run for several academic years (``scope`` ``2019-2022``) triggers one run per year and stops there.
Every task calls ``versement.orchestration`` and checks where the batch stands first, so a run
for a scope whose batch exists resumes where it stopped, or reports that it is archived. Params:
``scope`` (academic year ``2023``, or a period; empty: the last one closed at the run's date),
``datasets`` (a subset; empty: all), ``seda_version``, ``dry_run`` (stop after a VITAM test at
blank, no approval asked). Schedule: ``sources.<name>.schedule`` (none: manual runs only).
Loading the DAGs reads the configuration file and the shipped specifications only (no database).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Asset, Param, task
from airflow.sdk.exceptions import AirflowFailException

from seda.versions import SUPPORTED_VERSIONS
from versement.airflow.operators.approval import BatchApprovalOperator, QualityOverrideOperator
from versement.airflow.operators.transfer import VitamTransferOperator
from versement.config import Settings, SourceConfig, config_path, load

log = logging.getLogger(__name__)
BATCH = "{{ ti.xcom_pull(task_ids='plan')['batch_id'] }}"
TRANSFERABLE = ("approved", "submitting", "submitted", "accepted")


def dataset_asset(source: SourceConfig, dataset: str) -> Asset:
    """The Airflow Asset of one extracted dataset (its Parquet files, batch after batch)."""
    return Asset(name=f"versement_{source.name}_{dataset}", uri=f"versement://{source.name}/{dataset}")


def _settings(params: dict[str, Any], source_name: str) -> Any:
    from versement.airflow_integration import deployment
    from versement.orchestration import narrowed

    settings, ledger = deployment()
    chosen = params.get("datasets") or None
    return _fail_on_refusal(lambda: narrowed(settings, source_name, chosen, params.get("seda_version"))), ledger


def _fail_on_refusal(call: Any) -> Any:
    """Run a step; Airflow retries only what ``orchestration.retryable`` says may pass next time."""
    from versement.orchestration import StepRefused, retryable
    from versement.pipeline import StageError

    try:
        return call()
    except AirflowFailException:
        raise
    except Exception as exc:
        if retryable(exc):
            raise  # the task's retries, if it has any
        refusal = isinstance(exc, StepRefused | StageError)  # already a French sentence saying why
        raise AirflowFailException(str(exc) if refusal else f"{type(exc).__name__}: {exc}") from exc


def source_dag(settings: Settings, source: SourceConfig) -> DAG:
    actor = f"airflow:versement_{source.name}"
    names = [d.name for d in source.datasets]
    assets = [dataset_asset(source, name) for name in names]
    scope_help = (
        "année universitaire (2023 = 2023-2024), ou plusieurs (2019-2022 : une exécution et un lot par année)"
        if source.spec.scope == "academic_year"
        else "période AAAA-MM-JJ..AAAA-MM-JJ ou année civile"
    )
    with DAG(
        dag_id=f"versement_{source.name}",
        schedule=source.schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
        catchup=False,
        max_active_runs=1,
        tags=["versement", source.tool],
        doc_md=f"**{source.title}** ({source.tool}).\n\n" + (__doc__ or ""),
        params={
            "scope": Param("", type="string", description=f"{scope_help} ; vide : le dernier périmètre clos"),
            "datasets": Param([], type="array", items={"type": "string", "enum": names}, description="vide : tous"),
            "seda_version": Param(settings.seda_version, type="string", enum=list(SUPPORTED_VERSIONS)),
            "dry_run": Param(False, type="boolean", description="test à blanc VITAM, sans validation ni transfert"),
        },
        default_args={"retries": 0},
    ) as dag:

        @task
        def scopes(params: dict[str, Any] | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
            from versement.orchestration import scope_runs

            return _fail_on_refusal(lambda: scope_runs(source, params or {}, str(run_id)))

        @task.short_circuit
        def one_scope(runs: Any) -> bool:
            # Several years: this run only triggers one run per year (run_each_year) and goes no further.
            return not runs

        @task(retries=2, retry_delay=timedelta(minutes=1), execution_timeout=timedelta(minutes=10))
        def plan(params: dict[str, Any] | None = None, logical_date: Any = None) -> dict[str, Any]:
            from versement.demo import prepare_sources
            from versement.orchestration import plan as plan_batch
            from versement.orchestration import run_scope

            p = params or {}
            settings, ledger = _settings(p, source.name)
            prepare_sources(settings, only=source.name)  # synthetic demo sources only
            run_date = (logical_date or pendulum.now("Europe/Paris")).date()
            scope = _fail_on_refusal(lambda: run_scope(settings.source(source.name), p.get("scope"), run_date))
            return _fail_on_refusal(lambda: plan_batch(settings, ledger, source.name, scope, actor=actor))

        @task
        def to_extract(planned: Any) -> list[dict[str, Any]]:
            # One reader per dataset, or per partition of a dataset read in partitions
            # (sources.<name>.partitions); empty for a resumed batch: no extraction task.
            if not planned["datasets"]:
                return []
            units = planned.get("units") or [{"dataset": name, "partition": None} for name in planned["datasets"]]
            return [{"dataset": u["dataset"], "partition": u["partition"]} for u in units]

        # Runs beside the readers (a slot each): holds the batch's PostgreSQL snapshot open until they are done.
        @task(retries=0, execution_timeout=timedelta(hours=7))
        def hold_snapshot(planned: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
            from versement.orchestration import hold_snapshot as hold

            settings, ledger = _settings(params or {}, source.name)
            return _fail_on_refusal(lambda: hold(settings, ledger, planned, hold_seconds=6 * 3600))

        # A read is safe to retry (it writes to .partial files, renamed when complete); only a transient error is.
        @task(
            retries=3,
            retry_delay=timedelta(seconds=30),
            execution_timeout=timedelta(hours=6),
            max_active_tis_per_dagrun=4,
        )
        def extract(
            dataset: str,
            partition: int | None,
            planned: Any,
            params: dict[str, Any] | None = None,
            ti: Any = None,
        ) -> dict[str, Any]:
            from versement.orchestration import extract_dataset, reader_failed, unit_name

            settings, ledger = _settings(params or {}, source.name)
            batch_id = int(planned["batch_id"])
            try:
                return _fail_on_refusal(
                    lambda: extract_dataset(
                        settings, ledger, batch_id, dataset, planned.get("marker"), partition=partition
                    )
                )
            except Exception as exc:
                final = isinstance(exc, AirflowFailException) or ti is None or ti.try_number > 3
                if final:  # no try after this one: recorded, and the snapshot holder lets go
                    name = unit_name(settings.source(source.name), dataset, partition)
                    reader_failed(settings, ledger, batch_id, name, exc, actor=actor)
                raise

        @task(trigger_rule="none_failed", outlets=assets, retries=1)
        def record_extraction(
            planned: Any, results: Any, params: dict[str, Any] | None = None, outlet_events: Any = None
        ) -> dict[str, Any]:
            from versement.orchestration import finish_extract

            settings, ledger = _settings(params or {}, source.name)
            found = _fail_on_refusal(
                lambda: finish_extract(settings, ledger, planned, list(results or []), actor=actor)
            )
            for name, numbers in (found.get("datasets") or {}).items():
                if outlet_events is not None:
                    outlet_events[dataset_asset(source, name)].extra = {"batch": found["batch_id"], **numbers}
            return found

        @task(trigger_rule="none_failed", retries=1)
        def quality(planned: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
            from versement.orchestration import validate_step

            settings, ledger = _settings(params or {}, source.name)
            return _fail_on_refusal(lambda: validate_step(settings, ledger, int(planned["batch_id"]), actor=actor))

        override = QualityOverrideOperator(
            task_id="override", batch_id=BATCH, timeout_hours=settings.approval.timeout_hours
        )

        @task(trigger_rule="none_failed")
        def package(planned: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
            from versement.orchestration import package_step

            settings, ledger = _settings(params or {}, source.name)
            return _fail_on_refusal(lambda: package_step(settings, ledger, int(planned["batch_id"]), actor=actor))

        @task.branch(trigger_rule="none_failed")
        def route(params: dict[str, Any] | None = None) -> str:
            # A batch in any state goes to the approval task, which asks only for one awaiting approval.
            return "dry_run" if (params or {}).get("dry_run") else "approval"

        @task
        def dry_run(planned: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
            from versement.orchestration import dry_run_step

            settings, ledger = _settings(params or {}, source.name)
            return _fail_on_refusal(lambda: dry_run_step(settings, ledger, int(planned["batch_id"]), actor=actor))

        approval = BatchApprovalOperator(
            task_id="approval", batch_id=BATCH, timeout_hours=settings.approval.timeout_hours
        )

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def approved(planned: Any) -> bool:
            from versement.airflow_integration import deployment

            _, ledger = deployment()
            state = ledger.batch(int(planned["batch_id"])).state
            if state not in TRANSFERABLE:
                log.info("lot %s : %s ; il n'est pas transféré", planned["batch_id"], state)
            return state in TRANSFERABLE

        # No blind retry of the upload: the operator asks the ledger (and VITAM's logbook) first.
        transfer = VitamTransferOperator(task_id="transfer", batch_id=BATCH, retries=3, poll_interval=5.0)

        @task(trigger_rule="none_failed_min_one_success")
        def report(planned: Any) -> dict[str, Any]:
            from versement.airflow_integration import deployment
            from versement.ledger import LABELS_FR, State

            _, ledger = deployment()
            batch = ledger.batch(int(planned["batch_id"]))
            log.info(
                "lot %d : %s%s",
                batch.id,
                LABELS_FR[State(batch.state)],
                f", opération VITAM {batch.vitam_operation_id} ({batch.atr_reply_code})"
                if batch.vitam_operation_id
                else "",
            )
            if batch.state == "verification_failed":
                raise AirflowFailException(f"lot {batch.id} : VÉRIFICATION EN ÉCHEC")
            return {"batch_id": batch.id, "state": batch.state}

        runs = scopes()
        planned = plan()
        one_scope(runs) >> planned
        # One run per academic year of a range, queued (max_active_runs = 1); a retry finds them triggered.
        TriggerDagRunOperator.partial(
            task_id="run_each_year", trigger_dag_id=dag.dag_id, skip_when_already_exists=True
        ).expand_kwargs(runs)
        extracted = extract.partial(planned=planned).expand_kwargs(to_extract(planned))
        held = hold_snapshot(planned)
        recorded = record_extraction(planned, extracted)
        held >> recorded
        checked = quality(planned)
        packaged = package(planned)
        routed = route()
        gate = approved(planned)
        done = report(planned)
        recorded >> checked >> override >> packaged >> routed
        routed >> [dry_run(planned), approval]
        approval >> gate >> transfer
        [approval, transfer] >> done
    return dag


def _load() -> Settings:
    try:
        return load(config_path())
    except Exception as exc:  # a broken file is an import error Airflow shows, named
        raise RuntimeError(f"versement: cannot read the configuration {config_path()}: {exc}") from exc


_settings_at_parse = _load()
for _source in _settings_at_parse.sources.values() if _settings_at_parse else ():
    globals()[f"versement_{_source.name}"] = source_dag(_settings_at_parse, _source)
