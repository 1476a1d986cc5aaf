"""The quality gate in the ledger: one transition, refusals that write nothing, the override."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from extractors.scope import Scope
from tests.validation.helpers import dataset, spec
from versement.ledger import Dataset, IllegalTransition, Ledger, State
from versement.pipeline import StageError, approval_request, run_package
from versement.quality import QualityRefused, override, validate, validate_table

YEAR = Scope.academic_year(2023)


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    instance = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    instance.migrate()
    yield instance
    instance.close()


def extracted_batch(ledger: Ledger, folder: Path, codes: list[str]) -> int:
    people = dataset(
        folder,
        "individus",
        {"COD_IND": [1, 2], "LIB_NOM": ["Zoé", "NoÃ©l"]},
        spec(["COD_IND"], person_key="COD_IND", person_kind="student", tags={"LIB_NOM": ["name"]}),
    )
    mentions = dataset(folder, "mentions", {"COD_MEN": codes}, spec(["COD_MEN"], scoped=False))
    batch = ledger.create_batch("apogee", YEAR.label, "test", scope_detail=YEAR.to_json(), spec={"tool": "apogee"})
    rows = [
        Dataset(
            name=d.name,
            source_table=d.name,
            path=str(d.path),
            rows=d.rows,
            source_count=d.source_count,
            sha256=d.sha256,
            columns=[],
            query="",
            spec=dict(d.spec),
            manifest=dict(d.manifest),
        )
        for d in (people, mentions)
    ]
    ledger.transition(batch.id, State.EXTRACTED, actor="test", action="extract", datasets=rows)
    return batch.id


def test_a_failed_gate_is_written_in_its_transition_and_blocks_packaging(ledger: Ledger, tmp_path: Path) -> None:
    batch_id = extracted_batch(ledger, tmp_path / "data", ["P", "P"])
    batch = validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "batch", actor="test")
    assert batch.state == State.QUALITY_FAILED
    stored = {d.name: d for d in ledger.batch(batch_id).datasets}
    assert stored["mentions"].quality_success is False and stored["individus"].quality_success is True
    assert stored["mentions"].quality is not None and stored["mentions"].quality["failed"] == 1
    assert stored["individus"].quality is not None and stored["individus"].quality["warnings"] == 1
    (event,) = [e for e in ledger.events(batch_id) if e.action == "validate"]
    assert (event.from_state, event.to_state) == ("extracted", "quality_failed")
    assert "clé unique (COD_MEN)" in event.details and "Noël" not in event.details  # no personal values
    report = tmp_path / "batch" / "quality" / "rapport-qualite.html"
    html = report.read_text("utf-8")
    assert "NON CONFORME" in html and "http://" not in html and "https://" not in html and "<script" not in html
    assert "NoÃ©l" not in html and "masqué" in html  # personal examples are not in the static page
    table = validate_table(ledger.batch(batch_id))
    assert "mentions" in table and "NON CONFORME" in table and "contrôle qualité en échec" in table
    with pytest.raises(StageError, match=r"seul un lot contrôlé \(validated\) peut être empaqueté"):
        run_package(cast(Any, None), ledger, batch_id, actor="test")
    for target in (State.PACKAGED, State.APPROVED, State.SUBMITTED):
        with pytest.raises(IllegalTransition):
            ledger.transition(batch_id, target, actor="test", action="sneak")


def test_the_override_is_audited_and_travels_to_the_approval_request(ledger: Ledger, tmp_path: Path) -> None:
    batch_id = extracted_batch(ledger, tmp_path / "data", ["P", "P"])
    validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "batch", actor="test")
    with pytest.raises(QualityRefused, match="justifiée"):
        override(ledger, batch_id, by="Camille Archiviste", reason="  ")
    batch = override(ledger, batch_id, by="Camille Archiviste", reason="doublon connu de la table MENTION, signalé")
    assert batch.state == State.VALIDATED and batch.active_key == f"apogee/{YEAR.label}"
    (event,) = [e for e in ledger.events(batch_id) if e.action == "quality.override"]
    assert (event.actor, event.from_state, event.to_state) == ("Camille Archiviste", "quality_failed", "validated")
    assert "doublon connu de la table MENTION" in event.details and "clé unique (COD_MEN)" in event.details
    assert ledger.verify().ok
    text = approval_request(ledger.batch(batch_id))
    assert "✗ mentions : clé unique (COD_MEN) — 2 ligne(s)" in text
    assert "⚠ individus : texte sans double encodage" in text
    assert "✎ mentions : dérogation de Camille Archiviste : doublon connu" in text
    with pytest.raises(QualityRefused, match="seul un lot en échec"):
        override(ledger, batch_id, by="Camille Archiviste", reason="encore")


def test_validating_a_batch_in_another_state_is_refused_and_changes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    batch_id = extracted_batch(ledger, tmp_path / "data", ["P", "AB"])
    assert validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "batch", actor="test").state == State.VALIDATED
    ledger.transition(batch_id, State.PACKAGED, actor="test", action="package")
    before = ledger.batch(batch_id)
    quality_before = [(d.quality, d.quality_success) for d in before.datasets]
    events_before = len(ledger.events())
    report = tmp_path / "batch" / "quality" / "rapport-qualite.html"
    stamp = report.stat().st_mtime_ns
    Path(before.datasets[1].path).unlink()  # would fail the checks if they ran
    with pytest.raises(QualityRefused, match="seul un lot extrait"):
        validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "batch", actor="test")
    after = ledger.batch(batch_id)
    assert after.state == State.PACKAGED and after.updated_at == before.updated_at
    assert [(d.quality, d.quality_success) for d in after.datasets] == quality_before
    assert len(ledger.events()) == events_before and report.stat().st_mtime_ns == stamp


def test_a_suite_error_leaves_the_batch_extracted_and_is_recorded(ledger: Ledger, tmp_path: Path) -> None:
    batch_id = extracted_batch(ledger, tmp_path / "data", ["P"])
    suites = tmp_path / "suites" / "apogee"
    suites.mkdir(parents=True)
    (suites / "mentions.json").write_text(
        '{"name": "m", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "X"}}]}'
    )
    from validation import SuiteError

    with pytest.raises(SuiteError, match="column X"):
        validate(ledger, batch_id, scope=YEAR, folder=tmp_path / "b", actor="test", suites_folder=tmp_path / "suites")
    assert ledger.batch(batch_id).state == State.EXTRACTED
    assert [e.action for e in ledger.events(batch_id)][-1] == "validate.error"


def test_dataset_updates_for_an_unknown_dataset_roll_everything_back(ledger: Ledger, tmp_path: Path) -> None:
    from versement.ledger import LedgerError

    batch_id = extracted_batch(ledger, tmp_path / "data", ["P"])
    with pytest.raises(LedgerError, match="no dataset 'nope'"):
        ledger.transition(
            batch_id, State.VALIDATED, actor="t", action="validate", dataset_updates={"nope": {"quality": {}}}
        )
    assert ledger.batch(batch_id).state == State.EXTRACTED


def test_the_cli_prints_the_french_table_and_overrides(
    ledger: Ledger, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from types import SimpleNamespace

    import versement.cli as cli

    batch_id = extracted_batch(ledger, tmp_path / "data", ["P", "P"])
    monkeypatch.setattr(cli, "_settings", lambda args: SimpleNamespace(staging=tmp_path / "staging"))
    monkeypatch.setattr(cli, "_ledger", lambda settings: ledger)
    assert cli.main(["validate", str(batch_id)]) == 1
    out = capsys.readouterr().out
    assert "jeu de données" in out and "NON CONFORME" in out and "✗ mentions : clé unique (COD_MEN)" in out
    assert "rapport-qualite.html" in out and f"Lot {batch_id} : contrôle qualité en échec" in out
    assert cli.main(["validate", str(batch_id)]) == 1  # refused: no longer extracted
    assert "seul un lot extrait (extracted) peut être contrôlé" in capsys.readouterr().err
    assert cli.main(["override", str(batch_id), "--by", "Camille Archiviste", "--reason", "doublon signalé"]) == 0
    assert "contrôle qualité levé par Camille Archiviste" in capsys.readouterr().out
    assert ledger.batch(batch_id).state == State.VALIDATED
    assert cli.main(["override", str(batch_id), "--by", "Camille Archiviste", "--reason", "encore"]) == 1


def test_checks_not_run_travel_to_the_approval_request() -> None:
    from types import SimpleNamespace

    from versement.quality import approval_lines

    quality = {
        "outcomes": [],
        "disabled": [
            {
                "type": "expect_column_values_to_be_valid_nir",
                "kwargs": {"column": "NO_INSEE"},
                "reason": "colonne NO_INSEE laissée de côté à l'extraction",
            }
        ],
    }
    batch = cast(Any, SimpleNamespace(datasets=[SimpleNamespace(name="agents_identite", quality=quality)]))
    lines = approval_lines(batch)
    assert "contrôles non effectués ○" in lines[0]
    assert lines[1] == (
        "    ○ agents_identite : NIR bien formé, clé exacte (NO_INSEE) non effectué"
        " — colonne NO_INSEE laissée de côté à l'extraction"
    )
