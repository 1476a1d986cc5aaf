"""The hand-off check: counts agree and the Parquet file is the one that was written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from extractors import ExtractedDataset, extract, generate_apogee
from tests.extractors.helpers import table_spec
from validation import reconcile


@pytest.fixture
def dataset(tmp_path: Path) -> ExtractedDataset:
    source = generate_apogee(tmp_path / "apogee.sqlite", students=10)
    spec = table_spec("individus", "INDIVIDU", ("COD_IND",))
    (extracted,) = extract(f"sqlite:///{source.path}", [spec], tmp_path / "out", parameters={}).datasets
    return extracted


def test_an_untouched_dataset_reconciles(dataset: ExtractedDataset) -> None:
    outcome = reconcile(dataset)
    assert outcome.success
    assert outcome.details["sha256_actual"] == dataset.sha256
    assert outcome.details["rows"] == outcome.details["source_count"] == 10


def test_one_changed_byte_is_detected(dataset: ExtractedDataset) -> None:
    content = bytearray(dataset.path.read_bytes())
    content[len(content) // 2] ^= 0x01
    dataset.path.write_bytes(bytes(content))
    outcome = reconcile(dataset)
    assert not outcome.success
    assert outcome.details["digest_match"] is False and outcome.details["counts_match"] is True
    assert outcome.details["sha256_actual"] != dataset.sha256


def test_a_count_mismatch_is_detected(dataset: ExtractedDataset) -> None:
    outcome = reconcile(dataclasses.replace(dataset, source_count=dataset.rows + 1))
    assert not outcome.success
    assert outcome.details["counts_match"] is False and outcome.details["digest_match"] is True


def test_a_missing_file_is_detected(dataset: ExtractedDataset) -> None:
    dataset.path.unlink()
    outcome = reconcile(dataset)
    assert not outcome.success and outcome.details["sha256_actual"] is None
