"""The source DAGs' params at the step level, without a scheduler: a ``datasets`` subset extracts,
records and packages only those datasets; ``dry_run`` sends a VITAM BLANK_TEST, archives nothing
and leaves the batch where it was. The DAG's own wiring of both params is checked on the DAG
object (tests/versement/test_airflow_sources_factory.py); the full runs are the e2e tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extractors.scope import Scope
from tests.versement.conftest import NO_SANDBOX, demo_settings
from versement import orchestration as steps
from versement.config import Settings
from versement.demo import prepare_sources
from versement.ledger import Ledger, State, open_ledger
from versement.pipeline import endpoint
from vitam_client import VitamClient

YEAR = Scope.academic_year(2023)
SUBSET = ["inscriptions_administratives", "ref_pays", "etudiants_identite"]  # not in the spec's order


def _run_to_package(settings: Settings, ledger: Ledger, datasets: list[str] | None) -> dict[str, Any]:
    """What the DAG's tasks do, one after the other, with the run's settings narrowed as the DAG does."""
    narrowed = steps.narrowed(settings, "apogee", datasets, None)
    prepare_sources(narrowed, only="apogee")
    planned = steps.plan(narrowed, ledger, "apogee", YEAR, actor="test")
    results = [
        steps.extract_dataset(narrowed, ledger, planned["batch_id"], name, planned.get("marker"))
        for name in planned["datasets"]
    ]
    steps.finish_extract(narrowed, ledger, planned, results, actor="test")
    steps.validate_step(narrowed, ledger, planned["batch_id"], actor="test")
    steps.package_step(narrowed, ledger, planned["batch_id"], actor="test")
    return planned


def test_a_datasets_subset_extracts_and_packages_only_those(tmp_path, seda_schemas) -> None:
    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    ledger = open_ledger(settings)
    try:
        planned = _run_to_package(settings, ledger, [*SUBSET, "ref_pays"])  # a name twice counts once
        # Planned in the order asked, each once: one mapped extraction task per dataset.
        assert planned["datasets"] == SUBSET
        batch = ledger.batch(planned["batch_id"])
        assert batch.state == State.AWAITING_APPROVAL
        assert sorted(d.name for d in batch.datasets) == sorted(SUBSET)
        assert all(d.rows > 0 for d in batch.datasets)
        written = sorted(p.stem for p in (settings.staging / "batches").rglob("*.parquet"))
        assert written == sorted(SUBSET)  # nothing else was read from the source
        # An unknown name is refused before anything is created, and says what exists.
        with pytest.raises(steps.StepRefused, match=r"pas_un_jeu.*disponibles : inscriptions_administratives"):
            steps.narrowed(settings, "apogee", ["ref_pays", "pas_un_jeu"], None)
        assert [b.id for b in ledger.batches()] == [batch.id]
    finally:
        ledger.close()


def test_no_datasets_param_means_every_dataset_of_the_source(tmp_path, seda_schemas) -> None:
    settings = demo_settings(tmp_path, seda_schemas, NO_SANDBOX)
    nothing: list[list[str] | None] = [None, []]
    for empty in nothing:
        assert steps.narrowed(settings, "apogee", empty, None).source("apogee") == settings.source("apogee")


@pytest.fixture
def packaged_subset(tmp_path: Path, seda_schemas: Path, vitam_sandbox: tuple[str, Path]) -> Any:
    settings = demo_settings(tmp_path, seda_schemas, vitam_sandbox)
    ledger = open_ledger(settings)
    planned = _run_to_package(settings, ledger, ["ref_pays", "ref_departements"])
    yield settings, ledger, planned["batch_id"]
    ledger.close()


def test_a_dry_run_sends_a_blank_test_and_leaves_the_batch_awaiting_approval(packaged_subset) -> None:
    settings, ledger, batch_id = packaged_subset
    before = ledger.batch(batch_id)
    events_before = len(ledger.events(batch_id))
    with VitamClient(endpoint(settings)) as vitam:  # the session's sandbox: other tests' batches share ids
        ingests_before = vitam.ingests_of_message(str(before.message_identifier))
    found = steps.dry_run_step(settings, ledger, batch_id, actor="airflow:versement_apogee")
    after = ledger.batch(batch_id)
    # The state and everything the approval is bound to are unchanged.
    assert found["state"] == State.AWAITING_APPROVAL == after.state
    assert (after.sip_sha256, after.sip_path, after.vitam_operation_id) == (
        before.sip_sha256,
        before.sip_path,
        None,
    )
    assert after.approved_by is None
    # One audit event, the BLANK_TEST's outcome, and nothing else.
    events = ledger.events(batch_id)
    assert len(events) == events_before + 1
    event = events[-1]
    assert (event.actor, event.action) == ("airflow:versement_apogee", "transfer.dry_run")
    recorded = json.loads(event.details)
    assert (recorded["operation_state"], recorded["reply_code"]) == ("COMPLETED", "Test OK"), recorded
    assert recorded["operation_id"] in found["dry_run"]
    # VITAM archived nothing: no new ingest of the SIP's message in its logbook.
    with VitamClient(endpoint(settings)) as vitam:
        ingests_after = vitam.ingests_of_message(str(after.message_identifier))
    assert ingests_after == ingests_before
    assert recorded["operation_id"] not in {op.operation_id for op in ingests_after}
    assert ledger.verify().ok


def test_a_dry_run_of_a_batch_not_awaiting_approval_does_nothing(packaged_subset) -> None:
    settings, ledger, batch_id = packaged_subset
    ledger.transition(batch_id, State.REJECTED, actor="test", action="reject", details={"reason": "essai"})
    count = len(ledger.events(batch_id))
    found = steps.dry_run_step(settings, ledger, batch_id, actor="test")
    assert found == {"batch_id": batch_id, "state": State.REJECTED}
    assert len(ledger.events(batch_id)) == count


def test_only_transient_errors_are_retried() -> None:
    import psycopg.errors
    import sqlalchemy.exc

    from extractors.errors import ExtractionError
    from versement.pipeline import StageError
    from vitam_client.errors import VitamBadRequest, VitamServerError, VitamTimeout

    retried = [
        ExtractionError("apogee: connection refused", transient=True),
        VitamServerError("503 Service Unavailable", http_code=503),
        VitamTimeout("operation still running", request_id="aeaaa", state="RUNNING", status="STARTED"),
        ConnectionResetError("connection reset by peer"),
        RuntimeError('(psycopg.OperationalError) connection to server at "10.0.0.1" failed: timeout expired'),
        # The ledger's connection, through SQLAlchemy: a server restart, a serialisation failure.
        sqlalchemy.exc.OperationalError(
            "SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        ),
        sqlalchemy.exc.OperationalError("UPDATE", {}, psycopg.errors.SerializationFailure("could not serialize")),
    ]
    failed_at_once = [
        ExtractionError("dataset etudiants_identite, column COD_ÉTU: no such column", dataset="etudiants_identite"),
        VitamBadRequest("400 Bad Request", http_code=400),
        steps.StepRefused("lot 3 : déjà archivé"),
        StageError("lot 3 : empreinte du SIP différente"),  # even if its words look transient
        StageError("lot 3 : timeout de VITAM dépassé"),
        KeyError("batch_id"),
        OSError(28, "No space left on device"),
        sqlalchemy.exc.ProgrammingError("SELECT X", {}, psycopg.errors.UndefinedColumn("column x does not exist")),
    ]
    assert [steps.retryable(e) for e in retried] == [True] * len(retried)
    assert [steps.retryable(e) for e in failed_at_once] == [False] * len(failed_at_once)


def test_a_scope_of_several_years_becomes_one_run_per_year() -> None:
    from versement.config import load

    settings = load(Path(__file__).resolve().parents[2] / "config" / "demo.toml", environ={})
    apogee, harpege = settings.source("apogee"), settings.source("harpege")
    params = {"scope": "2019-2021", "datasets": ["ref_pays"], "seda_version": "2.2", "dry_run": True}
    assert steps.scope_runs(apogee, params, "manual__1") == [
        {
            "trigger_run_id": f"manual__1__{year}",
            "conf": {"datasets": ["ref_pays"], "seda_version": "2.2", "dry_run": True, "scope": str(year)},
        }
        for year in (2019, 2020, 2021)
    ]
    assert steps.scope_runs(apogee, {"scope": " 2023 - 2023 "}, "r") == [
        {"trigger_run_id": "r__2023", "conf": {"scope": "2023"}}
    ]
    for one in ("2023", "", None):  # one scope (or the last closed one): the run goes on itself
        assert steps.scope_runs(apogee, {"scope": one}, "r") == []
    assert steps.scope_runs(harpege, {"scope": "2019-2021"}, "r") == []  # a period source: plan names the error
    with pytest.raises(steps.StepRefused, match="la dernière année précède la première"):
        steps.scope_runs(apogee, {"scope": "2022-2019"}, "r")
