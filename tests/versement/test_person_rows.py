"""person_rows: the persons of several datasets merged in one key order, each person's rows in
one order whatever the order of the Parquet file, whether the key space is sorted in one range
or cut into many (the ranges bound the sort's memory, never change the result)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import GeneratorType

import pyarrow as pa
import pyarrow.parquet as pq

from versement import packaging
from versement.ledger import Dataset
from versement.packaging import person_rows


def _dataset(folder: Path, name: str, table: pa.Table, person_key: str) -> Dataset:
    path = folder / f"{name}.parquet"
    pq.write_table(table, path, row_group_size=2)  # several row groups: order must not depend on them
    return Dataset(name=name, path=str(path), rows=table.num_rows, spec={"person_key": person_key})


def _people(folder: Path, reverse: bool) -> list[Dataset]:
    rows = [
        (10, "Zoé", date(2001, 5, 6)),
        (2, "Œdipe \u0007 l'ancien", None),
        (None, "sans clé", date(1999, 1, 1)),
        (2, "Ægir", date(2000, 1, 2)),
        (10, "Åsa", date(2001, 5, 6)),
    ]
    if reverse:
        rows.reverse()
    people = pa.table(
        {
            "COD_IND": pa.array([r[0] for r in rows], pa.int64()),
            "NOM": [r[1] for r in rows],
            "NE_LE": pa.array([r[2] for r in rows], pa.date32()),
        }
    )
    moments = [datetime(2023, 9, 1, 8, 30, tzinfo=UTC), datetime(2022, 9, 1, 8, 30, tzinfo=UTC)]
    registrations = pa.table(
        {
            # text keys, padded: they meet the integer keys of the other file as the same persons
            "COD_IND": [" 2", "10 ", "3"][:: -1 if reverse else 1],
            "INSCRIT": pa.array(
                [moments[0], moments[1], moments[0]][:: -1 if reverse else 1], pa.timestamp("us", "UTC")
            ),
        }
    )
    return [
        _dataset(folder, "etudiants", people, "COD_IND"),
        _dataset(folder, "inscriptions", registrations, "COD_IND"),
    ]


def test_persons_are_merged_in_key_order_with_rows_in_one_order(tmp_path):
    results = []
    for reverse in (False, True):
        folder = tmp_path / f"reverse-{reverse}"
        folder.mkdir()
        without: dict[str, int] = {}
        found = list(person_rows(_people(folder, reverse), folder, without))
        assert without == {"etudiants": 1}
        assert not (folder / "duckdb-spill").exists()  # sorted copies and spill removed
        results.append(found)
    assert results[0] == results[1]  # the file's row order does not matter
    keys = [person for person, _ in results[0]]
    assert keys == ["10", "2", "3"]  # as text, alike in every file
    by_key = dict(results[0])
    assert [row["NOM"] for row in by_key["2"]["etudiants"]] == ["Ægir", "Œdipe \u0007 l'ancien"]
    assert by_key["2"]["etudiants"][1]["NE_LE"] is None
    assert [row["NOM"] for row in by_key["10"]["etudiants"]] == sorted(["Zoé", "Åsa"])
    assert by_key["10"]["etudiants"][0]["NE_LE"] == date(2001, 5, 6)
    assert by_key["3"] == {"inscriptions": [{"COD_IND": "3", "INSCRIT": datetime(2023, 9, 1, 8, 30, tzinfo=UTC)}]}
    assert by_key["10"]["inscriptions"][0]["INSCRIT"] == datetime(2022, 9, 1, 8, 30, tzinfo=UTC)


def test_cutting_the_keys_into_ranges_gives_the_same_persons_and_rows(tmp_path, monkeypatch):
    for name in ("whole", "cut"):
        (tmp_path / name).mkdir()
    whole = list(person_rows(_people(tmp_path / "whole", True), tmp_path / "whole"))
    monkeypatch.setattr(packaging, "_CHUNK_CELLS", 3)  # one range per few rows
    ranges = packaging._key_ranges
    seen: list[int] = []

    def counted(con, sources):
        found = ranges(con, sources)
        seen.append(len(found))
        return found

    monkeypatch.setattr(packaging, "_key_ranges", counted)
    cut = list(person_rows(_people(tmp_path / "cut", True), tmp_path / "cut"))
    assert seen and seen[0] > 2  # really cut
    assert cut == whole
    assert [person for person, _ in cut] == ["10", "2", "3"]


def test_persons_grouped_by_initial_come_out_alike_in_one_range_or_many(tmp_path, monkeypatch):
    """Grouped (initials=), the ranges cut the grouped keys: same persons, groups and rows, whatever
    the order of the file's rows (a person named twice gets one group)."""
    initials = {"etudiants": ["NOM"]}
    for name in ("whole", "cut"):
        (tmp_path / name).mkdir()
    whole = list(person_rows(_people(tmp_path / "whole", False), tmp_path / "whole", initials=initials))
    monkeypatch.setattr(packaging, "_CHUNK_CELLS", 3)
    cut = list(person_rows(_people(tmp_path / "cut", True), tmp_path / "cut", initials=initials))
    assert cut == whole
    groups = [packaging._initial_and_key(key) for key, _ in cut]
    # Ægir and Œdipe (2) fold to A and O: A, whatever the row order; Zoé and Åsa (10): A; 3 has no name
    assert groups == [("A", "10"), ("A", "2"), ("~", "3")]


def test_a_reader_that_stops_early_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(packaging, "_CHUNK_CELLS", 3)
    stream = person_rows(_people(tmp_path, False), tmp_path)
    first, _ = next(stream)
    assert first == "10"
    assert isinstance(stream, GeneratorType)
    stream.close()  # as a for loop left by break does
    assert not (tmp_path / "duckdb-spill").exists()
