"""Test DAG of the CeleryExecutor test (tests/versement/test_airflow_celery.py), not shipped in dags/.

One source's datasets, each extracted by its own mapped task with the extraction stage function
(``extractors.extract``) into the shared staging folder, then gathered. Each task returns the
host it ran on, so the test can check that the work was spread over the Celery workers.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="versement_celery_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    tags=["versement", "test"],
    params={
        "source": Param("apogee", type="string"),
        "year": Param(2023, type="integer"),
        "datasets": Param([], type="array", description="a subset of the source's datasets (empty: all)"),
    },
)
def versement_celery_probe() -> None:
    @task
    def datasets(params: dict[str, Any] | None = None) -> list[str]:
        from versement.airflow_integration import load_settings

        chosen = (params or {})["datasets"]
        names = [d.name for d in load_settings().source((params or {})["source"]).datasets]
        return [name for name in names if not chosen or name in chosen]

    @task(retries=0)
    def extract_dataset(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from extractors import Scope, extract
        from versement.airflow_integration import load_settings
        from versement.secrets import source_secret

        settings = load_settings()
        source = settings.source((params or {})["source"])
        (spec,) = (d for d in source.datasets if d.name == name)
        snapshot = extract(
            source.url,
            [spec],
            settings.staging / "celery-probe" / name,
            parameters=Scope.academic_year(int((params or {})["year"])).parameters(),
            password=settings.secret(source_secret(source.name)),
        )
        (extracted,) = snapshot.datasets
        hostname = get_current_context()["ti"].hostname
        print(f"dataset {name}: {extracted.rows} rows, sha256 {extracted.sha256}, on {hostname}")
        return {"dataset": name, "rows": extracted.rows, "sha256": extracted.sha256, "hostname": hostname}

    @task
    def gather(results: list[dict[str, Any]]) -> dict[str, Any]:
        hosts = sorted({r["hostname"] for r in results})
        total = sum(int(r["rows"]) for r in results)
        print(f"{len(results)} datasets, {total} rows, on {', '.join(hosts)}")
        return {"datasets": len(results), "rows": total, "hosts": hosts}

    gather(extract_dataset.expand(name=datasets()))  # type: ignore[arg-type]


celery_probe_dag = versement_celery_probe()
