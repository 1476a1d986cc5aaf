"""Apogée demo DAG: extract → validate → package, stopping at ``awaiting_approval``.

The tasks call the same stage functions as the CLI. The archivist then approves on the command
line (``versement approve``), and ``versement transfer`` completes the batch. The whole pipeline,
with the archivists' approval in Airflow and the deferrable transfer, resuming a scope already
started, is ``versement_<source>`` (dags/versement_sources.py). Configuration: ``$VERSEMENT_CONFIG``, else the
embedded default ``config/demo.toml``; passwords from the Airflow connections
``versement_ledger`` and ``versement_source_apogee`` (or the environment).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

SOURCE = "apogee"
ACTOR = "airflow:versement_apogee_demo"


@dag(
    dag_id="versement_apogee_demo",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    tags=["versement", "apogee"],
    doc_md=__doc__,
    params={
        "year": Param(
            2023, type="integer", minimum=1960, maximum=2100, description="année universitaire (2023 = 2023-2024)"
        )
    },
)
def versement_apogee_demo() -> None:
    @task
    def extract(params: dict[str, Any] | None = None) -> int:
        from extractors.scope import Scope
        from versement.airflow_integration import deployment
        from versement.demo import prepare_sources
        from versement.pipeline import run_extract

        settings, ledger = deployment()
        prepare_sources(settings, only=SOURCE)
        scope = Scope.academic_year(int((params or {})["year"]))
        return run_extract(settings, ledger, SOURCE, scope, actor=ACTOR).id

    @task
    def validate(batch_id: int) -> int:
        from versement.airflow_integration import deployment
        from versement.ledger import State
        from versement.pipeline import run_validate

        settings, ledger = deployment()
        batch = run_validate(settings, ledger, batch_id, actor=ACTOR)
        if batch.state != State.VALIDATED:
            raise RuntimeError(f"batch {batch_id} failed its quality checks ({batch.state})")
        return batch_id

    @task
    def package(batch_id: int) -> str:
        from versement.airflow_integration import deployment
        from versement.pipeline import run_package

        settings, ledger = deployment()
        batch = run_package(settings, ledger, batch_id, actor=ACTOR)
        return str(batch.state)

    # The task decorator passes XCom references where the functions declare plain values.
    package(validate(extract()))  # type: ignore[arg-type]


apogee_demo_dag = versement_apogee_demo()
