"""Datasets read in parallel within one exported PostgreSQL snapshot (extractors.parallel)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from extractors import ExtractionError, extract
from extractors.parallel import exported_snapshot, extract_dataset
from tests.extractors.helpers import table_spec

SPECS = [table_spec("a", "a", ("id",)), table_spec("b", "b", ("id",))]


@pytest.fixture
def source(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE a (id integer PRIMARY KEY, note numeric(5,2))")
        conn.exec_driver_sql("CREATE TABLE b (id integer PRIMARY KEY, label text)")
        conn.exec_driver_sql("INSERT INTO a SELECT i, i / 4.0 FROM generate_series(1, 500) i")
        conn.exec_driver_sql("INSERT INTO b SELECT i, 'élément ' || i FROM generate_series(1, 300) i")
    engine.dispose()
    return postgres_url


def insert_into_b(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO b VALUES (1000, 'inséré pendant le lot')")
    engine.dispose()


def test_datasets_read_in_parallel_share_the_exported_snapshot(source: str, tmp_path: Path) -> None:
    with exported_snapshot(source) as held:
        insert_into_b(source)  # committed after the export: no read of the batch may see it
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(extract_dataset, source, spec, tmp_path, snapshot_id=held.snapshot_id, parameters={})
                for spec in SPECS
            ]
            a, b = (f.result() for f in futures)
    assert a.marker == b.marker == held.marker
    for found in (a, b):  # each manifest names the export the reader joined
        assert json.loads(found.manifest.read_text())["source_details"] == {"imported_snapshot": held.snapshot_id}  # type: ignore[union-attr]
    assert (a.rows, a.source_count, b.rows, b.source_count) == (500, 500, 300, 300)
    assert 1000 not in pq.read_table(b.path).column("id").to_pylist()
    assert a.aggregates == {"sum:note": "31312.50"}  # computed by the side session, in the same snapshot
    # A snapshot opened now does see the row.
    (later,) = extract(source, [SPECS[1]], tmp_path / "later", parameters={}).datasets
    assert later.rows == 301 and later.marker != held.marker


def test_a_snapshot_no_longer_held_is_refused_not_replaced(source: str, tmp_path: Path) -> None:
    with exported_snapshot(source) as held:
        pass
    with pytest.raises(ExtractionError, match=r"dataset a: cannot open a snapshot of .*invalid snapshot identifier"):
        extract_dataset(source, SPECS[0], tmp_path, snapshot_id=held.snapshot_id, parameters={})
    assert not list(tmp_path.iterdir())


def test_a_malformed_snapshot_identifier_is_refused(source: str, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="is not a PostgreSQL exported snapshot identifier"):
        extract_dataset(source, SPECS[0], tmp_path, snapshot_id="1'; DROP TABLE a; --", parameters={})


def test_sqlite_has_no_exported_snapshot(tmp_path: Path, apogee_db: Path) -> None:
    url = f"sqlite:///{apogee_db}"
    with pytest.raises(ExtractionError, match="exported snapshots are a PostgreSQL feature"), exported_snapshot(url):
        pass
    spec = table_spec("mentions", "MENTION", ("COD_MEN",))
    with pytest.raises(ExtractionError, match="an exported snapshot is a PostgreSQL feature"):
        extract_dataset(url, spec, tmp_path, snapshot_id="00000003-00000002-1", parameters={})
    with pytest.raises(ExtractionError, match="reading AS OF a recorded SCN is an Oracle feature"):
        extract_dataset(url, spec, tmp_path, reuse_marker="oracle:flashback AS OF SCN 42", parameters={})
    assert not list(tmp_path.iterdir())
