"""The steps the source DAGs run, without Airflow: one exported PostgreSQL snapshot shared by the
per-dataset readers (a write committed meanwhile is not seen), the fallback when the readers did
not share one, and a re-run for a scope whose batch exists."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy

from extractors import generate
from extractors.scope import Scope
from tests.versement.conftest import NO_SANDBOX, demo_settings
from versement import orchestration as steps
from versement.demo import prepare_sources
from versement.ledger import State, open_ledger

YEAR = Scope.academic_year(2023)


@pytest.fixture
def pg_source(tmp_path, seda_schemas, postgres_databases) -> Any:
    url = postgres_databases()
    generate("apogee", url, years=(2022, 2023))
    settings = demo_settings(
        tmp_path,
        seda_schemas,
        NO_SANDBOX,
        VERSEMENT__SOURCES__APOGEE__URL=url,
        VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false",
    )
    ledger = open_ledger(settings)
    yield settings, ledger, url
    ledger.close()


def elp_rows(url: str) -> int:
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT COUNT(*) FROM RESULTAT_ELP WHERE COD_ANU = '2023'").scalar_one()
    engine.dispose()
    return int(found)


def delete_elp(url: str) -> None:
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM RESULTAT_ELP WHERE COD_ANU = '2023'")
    engine.dispose()


@pytest.mark.postgres
def test_mapped_readers_share_the_exported_snapshot(pg_source) -> None:
    settings, ledger, url = pg_source
    before = elp_rows(url)
    assert before > 0
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    names = planned["datasets"]
    assert planned["state"] == State.NEW and "resultats_elements" in names
    held: dict[str, Any] = {}
    holder = threading.Thread(target=lambda: held.update(steps.hold_snapshot(settings, ledger, planned, poll=0.1)))
    holder.start()
    folder = settings.staging / "batches" / f"{planned['batch_id']:06d}" / "data"
    deadline = time.monotonic() + 60
    while not (folder / steps.SNAPSHOT_FILE).exists():
        assert time.monotonic() < deadline and holder.is_alive(), held
        time.sleep(0.1)
    delete_elp(url)  # committed after the export: the readers must not see it
    results = [
        steps.extract_dataset(settings, ledger, planned["batch_id"], name, planned.get("marker")) for name in names
    ]
    holder.join(timeout=60)
    assert not holder.is_alive() and held["held"] and held["written"] == len(names)
    assert not (folder / steps.SNAPSHOT_FILE).exists()  # released
    assert len({r["marker"] for r in results}) == 1 and results[0]["marker"] == held["marker"]
    rows = {r["dataset"]: r["rows"] for r in results}
    assert rows["resultats_elements"] == before and elp_rows(url) == 0
    found = steps.finish_extract(settings, ledger, planned, results, actor="test")
    assert found["state"] == State.EXTRACTED and found["parallel"] is True
    assert {d.name: d.rows for d in ledger.batch(planned["batch_id"]).datasets} == rows


@pytest.mark.postgres
def test_readers_without_a_shared_snapshot_are_read_again_in_one(pg_source, monkeypatch) -> None:
    settings, ledger, _ = pg_source
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    first, second, *rest = planned["datasets"]
    results = [
        {"dataset": first, "marker": "postgresql:REPEATABLE READ READ ONLY snapshot=10:10:"},
        {"dataset": second, "marker": "postgresql:REPEATABLE READ READ ONLY snapshot=10:12:"},
        *({"dataset": name, "marker": "postgresql:REPEATABLE READ READ ONLY snapshot=10:10:"} for name in rest),
    ]
    found = steps.finish_extract(settings, ledger, planned, results, actor="test")
    assert found["state"] == State.EXTRACTED and found["parallel"] is False
    actions = [e.action for e in ledger.events(planned["batch_id"])]
    assert actions == ["batch.created", "extract.reread", "extract"]


@pytest.mark.postgres
def test_a_run_for_a_scope_in_progress_resumes_it(pg_source) -> None:
    settings, ledger, _ = pg_source
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    again = steps.plan(settings, ledger, "apogee", YEAR, actor="test")  # still new: the same batch, extracted
    assert again["batch_id"] == planned["batch_id"] and again["datasets"] == planned["datasets"]
    ledger.transition(planned["batch_id"], State.EXTRACTED, actor="test", action="extract")
    resumed = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    assert resumed == {"batch_id": planned["batch_id"], "state": "extracted", "datasets": [], "resumed": True}
    with pytest.raises(steps.StepRefused, match="inconnu"):
        steps.narrowed(settings, "apogee", ["pas_un_jeu"], None)


@pytest.mark.postgres
def test_a_batch_resumed_on_postgresql_is_read_again_whole_in_one_snapshot(pg_source) -> None:
    """The interrupted run's snapshot is gone: the datasets it finished are from an earlier state."""
    import json

    import pyarrow.parquet as pq

    from versement.pipeline import run_extract

    settings, ledger, url = pg_source

    class Crash(Exception):
        pass

    def crash(name: str, rows: int, elapsed: float) -> None:
        if name == "ref_pays":
            raise Crash("arrêt brutal")  # the run dies after the first datasets are complete

    with pytest.raises(Crash):
        run_extract(settings, ledger, "apogee", YEAR, actor="test", progress=crash)
    (batch,) = ledger.batches()
    data = next((settings.staging / "batches").iterdir()) / "data"
    assert (data / "inscriptions_administratives.manifest.json").exists()
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # the source changes between the two runs
        conn.exec_driver_sql("UPDATE INDIVIDU SET LIB_NOM_PAT_IND = 'NOUVEAU-NOM'")
    engine.dispose()

    extracted = run_extract(settings, ledger, "apogee", YEAR, actor="test")
    assert extracted.id == batch.id and extracted.state == State.EXTRACTED
    events = ledger.events(batch.id)
    assert [e.action for e in events] == ["batch.created", "extract.failed", "extract.reread", "extract"]
    reread = json.loads(events[2].details)
    assert "inscriptions_administratives" in reread["kept"] and len(reread["markers"]) == 2
    markers = {(d.manifest or {})["snapshot"] for d in extracted.datasets}
    assert markers == {extracted.snapshot_marker}  # one state of the source for the whole batch
    names = pq.read_table(data / "inscriptions_administratives.parquet", columns=["LIB_NOM_PAT_IND"])
    assert set(names.column(0).to_pylist()) == {"NOUVEAU-NOM"}


def test_a_reader_that_fails_for_good_is_recorded_and_shown_by_status(tmp_path, seda_schemas, capsys) -> None:
    import json

    from extractors.errors import ExtractionError
    from versement.cli import batch_summary

    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    ledger = open_ledger(settings)
    batch = ledger.create_batch("apogee", YEAR.label, "test", scope_detail=YEAR.to_json())
    data = steps.pipeline.batch_folder(settings, batch.id) / "data"
    data.mkdir(parents=True)
    error = ExtractionError('dataset theses_hdr: relation "these" does not exist (reading from postgresql://h/apogee)')
    steps.reader_failed(settings, ledger, batch.id, "theses_hdr", error, actor="airflow:versement_apogee")
    assert (data / steps.RELEASE_FILE).exists()  # the snapshot holder lets go
    (failed,) = [e for e in ledger.events(batch.id) if e.action == "extract.failed"]
    assert json.loads(failed.details) == {"dataset": "theses_hdr", "error": str(error)}
    summary = batch_summary(ledger.batch(batch.id), ledger.open_failures().get(batch.id))
    assert summary["failure"]["error"] == str(error) and summary["state"] == "new"

    # A reader refused because the batch is already extracted records nothing against the batch.
    ledger.transition(batch.id, State.EXTRACTED, actor="test", action="extract", changes={"snapshot_marker": "m"})
    steps.reader_failed(settings, ledger, batch.id, "theses_hdr", RuntimeError("déjà extrait"), actor="a")
    assert [e.action for e in ledger.events(batch.id)].count("extract.failed") == 1
    assert ledger.open_failures() == {}
    ledger.close()


@pytest.mark.postgres
def test_partitions_of_a_dataset_are_mapped_readers_of_the_held_snapshot_then_combined(
    tmp_path, seda_schemas, postgres_databases
) -> None:
    url = postgres_databases()
    generate("apogee", url, years=(2022, 2023))
    settings = demo_settings(
        tmp_path,
        seda_schemas,
        NO_SANDBOX,
        VERSEMENT__SOURCES__APOGEE__URL=url,
        VERSEMENT__SOURCES__APOGEE__SYNTHETIC="false",
        VERSEMENT__SOURCES__APOGEE__PARTITIONS='{"resultats_elements": 3}',
    )
    ledger = open_ledger(settings)
    before = elp_rows(url)
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    parts = [u for u in planned["units"] if u["dataset"] == "resultats_elements"]
    assert parts == [{"dataset": "resultats_elements", "partition": i} for i in (1, 2, 3)]
    assert len(planned["units"]) == len(planned["datasets"]) + 2
    held: dict[str, Any] = {}
    holder = threading.Thread(target=lambda: held.update(steps.hold_snapshot(settings, ledger, planned, poll=0.1)))
    holder.start()
    folder = settings.staging / "batches" / f"{planned['batch_id']:06d}" / "data"
    deadline = time.monotonic() + 60
    while not (folder / steps.SNAPSHOT_FILE).exists():
        assert time.monotonic() < deadline and holder.is_alive(), held
        time.sleep(0.1)
    delete_elp(url)  # committed after the export: no partition's reader may see it
    results = [
        steps.extract_dataset(
            settings, ledger, planned["batch_id"], u["dataset"], planned.get("marker"), partition=u["partition"]
        )
        for u in planned["units"]
    ]
    holder.join(timeout=60)
    # The holder waited for every reader's manifest, each partition's included.
    assert not holder.is_alive() and held["held"] and held["written"] == len(planned["units"])
    assert {r["marker"] for r in results} == {held["marker"]}
    assert sum(r["rows"] for r in results if r["dataset"] == "resultats_elements") == before
    assert (folder / "resultats_elements.part-002-of-003.parquet").is_file()
    found = steps.finish_extract(settings, ledger, planned, results, actor="test")
    assert found["state"] == State.EXTRACTED and found["parallel"] is True
    batch = ledger.batch(planned["batch_id"])
    assert batch.snapshot_marker == held["marker"]  # the combine opened no snapshot of its own for the record
    assert {d.name: d.rows for d in batch.datasets}["resultats_elements"] == before
    assert not list(folder.glob("*.part-*")) and elp_rows(url) == 0
    ledger.close()


def test_a_partition_missing_from_the_readers_results_has_the_batch_read_again(tmp_path, seda_schemas) -> None:
    settings = demo_settings(
        tmp_path, seda_schemas, NO_SANDBOX, VERSEMENT__SOURCES__APOGEE__PARTITIONS='{"resultats_elements": 3}'
    )
    prepare_sources(settings, only="apogee")
    ledger = open_ledger(settings)
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    units = [u for u in planned["units"] if u != {"dataset": "resultats_elements", "partition": 2}]
    results = [
        steps.extract_dataset(settings, ledger, planned["batch_id"], u["dataset"], None, partition=u["partition"])
        for u in units
    ]
    found = steps.finish_extract(settings, ledger, planned, results, actor="test")
    assert found["state"] == State.EXTRACTED and found["parallel"] is False
    assert [e.action for e in ledger.events(planned["batch_id"])] == ["batch.created", "extract.reread", "extract"]
    assert found["datasets"]["resultats_elements"]["rows"] > 0
    ledger.close()


def test_a_partition_refused_for_a_dataset_read_whole(tmp_path, seda_schemas) -> None:
    settings = demo_settings(
        tmp_path, seda_schemas, NO_SANDBOX, VERSEMENT__SOURCES__APOGEE__PARTITIONS='{"resultats_elements": 3}'
    )
    prepare_sources(settings, only="apogee")
    ledger = open_ledger(settings)
    planned = steps.plan(settings, ledger, "apogee", YEAR, actor="test")
    with pytest.raises(steps.StepRefused, match="se lit en une seule lecture, pas la partition 2"):
        steps.extract_dataset(settings, ledger, planned["batch_id"], "etudiants_identite", None, partition=2)
    with pytest.raises(steps.StepRefused, match="se lit en 3 partitions, pas la partition 4"):
        steps.extract_dataset(settings, ledger, planned["batch_id"], "resultats_elements", None, partition=4)
    with pytest.raises(steps.StepRefused, match="se lit en 3 partitions, pas la partition None"):
        steps.extract_dataset(settings, ledger, planned["batch_id"], "resultats_elements", None)
    ledger.close()
