"""A large dataset read in partitions and combined into one file (extractors.partitions), on SQLite."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from extractors import ExtractionError, extract
from extractors import partitions as cuts
from extractors.extract import parquet_writer
from tests.extractors.helpers import table_spec

ROWS = 1000
# Partition column = first key column: the combined file is the single reader's, byte for byte.
BY_ID = replace(table_spec("notes", "notes", ("id",), where="year = :year"), person_key=None)
# Partition column = person key, not the first key column, with NULL person keys.
BY_PERSON = replace(BY_ID, name="notes_p", person_key="person")
PARAMETERS = {"year": 2023, "unused": "x"}


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = tmp_path / "source.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, year INTEGER, person TEXT, note NUMERIC(6,2))")
        conn.executemany(
            "INSERT INTO notes VALUES (?, ?, ?, ?)",
            [
                (i, 2023 if i % 10 else 2022, None if i % 13 == 0 else f"P{i % 37:03d}", round(i / 4, 2))
                for i in range(1, ROWS + 1)
            ],
        )
        conn.commit()
    return f"sqlite:///{path}"


def canonical(path: Path) -> str:
    """SHA-256 of the file's rows sorted on every column (the same rows, whatever their order)."""
    table = pq.read_table(path)
    rows = sorted(json.dumps(r, default=str, sort_keys=True) for r in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def manifest(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / f"{name}.manifest.json").read_text())
    return data


def test_the_combined_file_is_the_single_readers_file_byte_for_byte(source: str, tmp_path: Path) -> None:
    (single,) = extract(source, [BY_ID], tmp_path / "one", parameters=PARAMETERS, row_group_rows=64).datasets
    (cut,) = extract(
        source, [BY_ID], tmp_path / "cut", parameters=PARAMETERS, row_group_rows=64, partitions={"notes": 7}
    ).datasets
    assert cut.path.read_bytes() == single.path.read_bytes()
    assert (
        (cut.rows, cut.source_count, cut.sha256)
        == (single.rows, single.source_count, single.sha256)
        == (
            900,
            900,
            single.sha256,
        )
    )
    assert cut.aggregates == single.aggregates == {"sum:note": "112500.00"}
    assert pq.ParquetFile(cut.path).metadata.num_row_groups == pq.ParquetFile(single.path).metadata.num_row_groups
    recorded = manifest(tmp_path / "cut", "notes")
    parts = recorded["partitions"]["parts"]
    assert [p["file"] for p in parts] == [f"notes.part-{i:03d}-of-007.parquet" for i in range(1, 8)]
    assert sum(p["rows"] for p in parts) == 900 and all(p["rows"] > 0 for p in parts)
    # The boundaries were bound, never written into the statements.
    assert recorded["partitions"]["bounds"] == [p["parameters"]["versement_partition_low"] for p in parts[1:]]
    assert all(str(b["value"]) not in recorded["query"] for b in recorded["partitions"]["bounds"])
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["notes.manifest.json", "notes.parquet"]


def test_rows_without_a_partition_key_are_kept_and_aggregates_combined(source: str, tmp_path: Path) -> None:
    (single,) = extract(source, [BY_PERSON], tmp_path / "one", parameters=PARAMETERS).datasets
    (cut,) = extract(source, [BY_PERSON], tmp_path / "cut", parameters=PARAMETERS, partitions={"notes_p": 5}).datasets
    persons = pq.read_table(cut.path).column("person").to_pylist()
    assert persons.count(None) == sum(1 for i in range(1, ROWS + 1) if i % 10 and i % 13 == 0) > 0
    assert cut.rows == single.rows == 900
    assert canonical(cut.path) == canonical(single.path)
    # The person key's distinct count adds up across disjoint ranges; the exact sum too.
    assert cut.aggregates == single.aggregates == {"distinct:person": 37, "sum:note": "112500.00"}
    parts = manifest(tmp_path / "cut", "notes_p")["partitions"]["parts"]
    # SQLite orders NULL first: the first partition takes them.
    assert parts[0]["rows"] >= persons.count(None)


def test_more_partitions_than_distinct_values_leaves_the_last_ones_empty(source: str, tmp_path: Path) -> None:
    spec = replace(BY_ID, sql="SELECT * FROM notes WHERE id IN (3, 5)")
    (cut,) = extract(source, [spec], tmp_path, parameters={}, partitions={"notes": 4}).datasets
    assert pq.read_table(cut.path).column("id").to_pylist() == [3, 5]
    assert [p["rows"] for p in manifest(tmp_path, "notes")["partitions"]["parts"]] == [1, 1, 0, 0]


def test_an_empty_dataset_is_cut_into_empty_partitions(source: str, tmp_path: Path) -> None:
    (cut,) = extract(source, [BY_ID], tmp_path, parameters={"year": 1999}, partitions={"notes": 3}).datasets
    assert (cut.rows, cut.source_count) == (0, 0)
    assert pq.read_table(cut.path).num_rows == 0


def test_an_interrupted_batch_keeps_its_finished_partitions(source: str, tmp_path: Path) -> None:
    opened: list[str] = []

    def failing_third(path: Path, schema: pa.Schema) -> Any:
        opened.append(path.name)
        if "part-003" in path.name and len(opened) == 3:
            raise OSError(28, "No space left on device")
        return parquet_writer(path, schema)

    with pytest.raises(ExtractionError, match=r"notes\.part-003-of-004"):
        extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, open_writer=failing_third, partitions={"notes": 4})
    assert (tmp_path / "notes.part-002-of-004.parquet").is_file()
    assert not (tmp_path / "notes.part-003-of-004.parquet").exists()
    opened.clear()
    snapshot = extract(
        source, [BY_ID], tmp_path, parameters=PARAMETERS, open_writer=failing_third, partitions={"notes": 4}
    )
    # Partitions 1 and 2 were kept, 3 and 4 read; then the combined file was written.
    assert opened == ["notes.part-003-of-004.parquet.partial", "notes.part-004-of-004.parquet.partial"]
    (single,) = extract(source, [BY_ID], tmp_path / "one", parameters=PARAMETERS).datasets
    assert snapshot.datasets[0].path.read_bytes() == single.path.read_bytes()
    assert len(snapshot.markers) == 1  # a SQLite marker: the same words each run


def test_an_interrupted_combine_is_redone_from_the_partitions(source: str, tmp_path: Path) -> None:
    for index in (1, 2, 3):  # three mapped readers, one partition each
        snapshot = extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 3}, only_part=index)
        (part,) = snapshot.datasets
        assert part.name == f"notes.part-{index:03d}-of-003"
    (tmp_path / "notes.parquet.partial").write_bytes(b"half a combined file")
    (tmp_path / "notes.parquet").write_bytes(b"a combined file its manifest does not describe")
    opened: list[str] = []

    def recording(path: Path, schema: pa.Schema) -> Any:
        opened.append(path.name)
        return parquet_writer(path, schema)

    (cut,) = extract(
        source, [BY_ID], tmp_path, parameters=PARAMETERS, open_writer=recording, partitions={"notes": 3}
    ).datasets
    assert opened == []  # no partition read again
    (single,) = extract(source, [BY_ID], tmp_path / "one", parameters=PARAMETERS).datasets
    assert cut.path.read_bytes() == single.path.read_bytes()
    assert not (tmp_path / "notes.parquet.partial").exists()
    # And a finished combined file is kept as it is on the next run.
    again = extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 3})
    assert again.resumed == ("notes",)


def test_a_partition_whose_file_changed_is_read_again(source: str, tmp_path: Path) -> None:
    for index in (1, 2):
        extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 2}, only_part=index)
    damaged = tmp_path / "notes.part-002-of-002.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    (cut,) = extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 2}).datasets
    assert cut.rows == 900 and not cut.resumed


@pytest.mark.parametrize("count", [1, 257, "8", True])
def test_a_bad_number_of_partitions_is_refused(source: str, tmp_path: Path, count: Any) -> None:
    with pytest.raises(ExtractionError, match="notes: cannot be read in partitions: expected a whole number"):
        extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": count})


def test_the_partition_column_is_the_person_key_else_the_first_key_column() -> None:
    assert cuts.partition_column(BY_PERSON) == "person"
    assert cuts.partition_column(BY_ID) == "id"
    assert cuts.partition_column(replace(BY_ID, key=())) is None


def test_the_partition_statements_compile_with_the_oracle_dialect_and_bind_the_boundaries() -> None:
    spec = replace(BY_ID, sql="SELECT COD_IND, NOT_ELP FROM APOGEE.RESULTAT_ELP WHERE COD_ANU = :academic_year")
    bounds = cuts.bounds_sql(spec.sql, "COD_IND", 8)
    compiled = sa.text(bounds).compile(dialect=oracle.dialect())
    assert list(compiled.params) == ["academic_year"]
    assert 'NTILE(8) OVER (ORDER BY q."COD_IND")' in bounds and " AS s " not in bounds
    plan = cuts.Plan("notes", 3, "COD_IND", nulls_first=False, bounds=(1000, 2000))
    sqls = [plan.spec(spec, i).sql for i in (1, 2, 3)]
    params = [list(sa.text(s).compile(dialect=oracle.dialect()).params) for s in sqls]
    assert params == [
        ["academic_year", "versement_partition_high"],
        ["academic_year", "versement_partition_low", "versement_partition_high"],
        ["academic_year", "versement_partition_low"],
    ]
    assert all("1000" not in s and "2000" not in s for s in sqls)
    # Oracle orders NULL last: the last partition takes the rows without a key.
    assert sqls[2].endswith('WHERE (p."COD_IND" >= :versement_partition_low) OR p."COD_IND" IS NULL')
    assert plan.parameters(2, {"academic_year": 2023}) == {
        "academic_year": 2023,
        "versement_partition_low": 1000,
        "versement_partition_high": 2000,
    }


# -- PostgreSQL -------------------------------------------------------------------------------

PG_SPEC = replace(table_spec("grades", "grades", ("person", "id"), where="year = :year"), person_key="person")


@pytest.fixture
def pg_source(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE grades (id integer PRIMARY KEY, year integer, person varchar(8), note numeric(6,2))"
        )
        conn.exec_driver_sql(
            "INSERT INTO grades SELECT i, 2023 - (mod(i, 5) = 0)::int, "
            "CASE WHEN mod(i, 11) = 0 THEN NULL ELSE 'P' || lpad(mod(i, 53)::text, 3, '0') END, i / 4.0 "
            "FROM generate_series(1, 2000) i"
        )
    engine.dispose()
    return postgres_url


def test_postgresql_partitions_read_by_mapped_readers_in_one_exported_snapshot(pg_source: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from extractors.parallel import exported_snapshot, extract_dataset

    out = tmp_path / "cut"
    with exported_snapshot(pg_source) as held:
        engine = sa.create_engine(pg_source)
        with engine.begin() as conn:  # committed after the export: no read of the batch sees it
            conn.exec_driver_sql("INSERT INTO grades VALUES (5000, 2023, 'P001', 1.25), (5001, 2023, NULL, 2)")
        engine.dispose()
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [
                pool.submit(
                    extract_dataset,
                    pg_source,
                    PG_SPEC,
                    out,
                    parameters=PARAMETERS,
                    snapshot_id=held.snapshot_id,
                    partition=(i, 6),
                )
                for i in range(1, 7)
            ]
            parts = [f.result() for f in futures]
        assert {p.marker for p in parts} == {held.marker}
        combined = extract(
            pg_source, [PG_SPEC], out, parameters=PARAMETERS, partitions={"grades": 6}, snapshot_id=held.snapshot_id
        )
        (single,) = extract(
            pg_source, [PG_SPEC], tmp_path / "one", parameters=PARAMETERS, snapshot_id=held.snapshot_id
        ).datasets
    (cut,) = combined.datasets
    assert combined.markers == (held.marker,) and cut.marker == held.marker
    assert cut.rows == single.rows == 1600
    # PostgreSQL orders NULL last: the last partition takes the rows without a person key, and
    # the combined file is the single reader's byte for byte.
    assert cut.path.read_bytes() == single.path.read_bytes()
    assert cut.aggregates == single.aggregates and set(cut.aggregates) == {"distinct:person", "sum:note"}
    parts_recorded = manifest(out, "grades")["partitions"]["parts"]
    assert all(p["rows"] > 0 for p in parts_recorded) and sum(p["rows"] for p in parts_recorded) == 1600
    assert 5000 not in pq.read_table(cut.path).column("id").to_pylist()


def test_partitions_that_do_not_add_up_to_the_datasets_count_are_refused(source: str, tmp_path: Path) -> None:
    for index in (1, 2):
        extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 2}, only_part=index)
    plan = tmp_path / "notes.partitions.json"
    recorded = json.loads(plan.read_text())
    assert recorded["source_count"] == 900
    recorded["source_count"] = 901  # as if a range had lost a row
    plan.write_text(json.dumps(recorded))
    with pytest.raises(ExtractionError, match=r"its 2 partitions hold 900 row\(s\) but the dataset counted 901"):
        extract(source, [BY_ID], tmp_path, parameters=PARAMETERS, partitions={"notes": 2})
    assert not (tmp_path / "notes.parquet").exists() and not (tmp_path / "notes.manifest.json").exists()


def test_an_aggregate_that_cannot_be_combined_is_left_out_and_listed(source: str, tmp_path: Path) -> None:
    spec = replace(BY_PERSON, aggregates=("distinct:note", "distinct:person", "sum:note"))
    (single,) = extract(source, [spec], tmp_path / "one", parameters=PARAMETERS).datasets
    (cut,) = extract(source, [spec], tmp_path / "cut", parameters=PARAMETERS, partitions={"notes_p": 4}).datasets
    # Distinct notes may repeat across person ranges: their count is not the sum of the partitions'.
    assert cut.aggregates == {k: v for k, v in single.aggregates.items() if k != "distinct:note"}
    assert manifest(tmp_path / "cut", "notes_p")["aggregates_not_combined"] == ["distinct:note"]
