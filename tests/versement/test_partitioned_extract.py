"""A source whose large datasets are read in partitions: one file per dataset, packaged as usual."""

from __future__ import annotations

from pathlib import Path

from tests.versement.conftest import DEMO_YEAR_SCOPE, NO_SANDBOX, demo_environ
from versement.config import Settings, load
from versement.demo import prepare_sources
from versement.ledger import Batch, Ledger, State, open_ledger
from versement.pipeline import batch_folder, run_extract, run_package, run_validate

PARTITIONED = '{"resultats_elements": 4, "inscriptions_administratives": 3}'


def extracted(tmp_path: Path, seda_schemas: Path, **overrides: str) -> tuple[Settings, Ledger, Batch]:
    environ = demo_environ(tmp_path, seda_schemas, NO_SANDBOX, **overrides)
    settings = load(Path(environ["VERSEMENT_CONFIG"]), environ=environ)
    ledger = open_ledger(settings)
    prepare_sources(settings, only="apogee")
    return settings, ledger, run_extract(settings, ledger, "apogee", DEMO_YEAR_SCOPE, actor="test")


def test_a_partitioned_dataset_is_extracted_validated_and_packaged_as_one_file(
    tmp_path: Path, seda_schemas: Path
) -> None:
    _, plain_ledger, plain = extracted(tmp_path / "plain", seda_schemas)
    settings, ledger, batch = extracted(
        tmp_path / "cut", seda_schemas, VERSEMENT__SOURCES__APOGEE__PARTITIONS=PARTITIONED
    )
    assert settings.source("apogee").partitions == {"resultats_elements": 4, "inscriptions_administratives": 3}
    assert batch.state == State.EXTRACTED
    files = sorted(p.name for p in (batch_folder(settings, batch.id) / "data").iterdir())
    assert not [f for f in files if ".part-" in f or f.endswith((".partial", ".partitions.json"))]
    cut = {d.name: d for d in batch.datasets}
    whole = {d.name: d for d in plain.datasets}
    assert list(cut) == list(whole)
    # Partitioned on COD_IND, the first key column of the results: the very file a single reader writes.
    assert cut["resultats_elements"].sha256 == whole["resultats_elements"].sha256
    # Partitioned on the person key COD_IND, after COD_ANU in the key: the same rows, cut by person.
    assert cut["inscriptions_administratives"].rows == whole["inscriptions_administratives"].rows > 0
    batch = run_validate(settings, ledger, batch.id, actor="test")
    assert batch.state == State.VALIDATED, [d.quality for d in ledger.batch(batch.id).datasets]
    batch = run_package(settings, ledger, batch.id, actor="test")
    assert batch.state == State.AWAITING_APPROVAL
    ledger.close()
    plain_ledger.close()
