"""Extraction from the synthetic SQLite source."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import sqlite3
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import literal, select

from extractors import DatasetSpec, ExtractionError, Snapshot, extract
from extractors.query import DatasetQuery
from tests.extractors.helpers import sqlite_rows

# The package exports the function extract(), which hides the module of the same name.
extract_module = importlib.import_module("extractors.extract")

SPECS = (
    DatasetSpec("individus", "INDIVIDU", ("COD_IND",)),
    DatasetSpec("inscriptions", "INS_ADM_ETP", ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE")),
    DatasetSpec(
        "resultats_vdi", "RESULTAT_VDI", ("COD_IND", "COD_DIP", "COD_VRS_VDI", "COD_ANU", "COD_SES", "COD_ADM")
    ),
    DatasetSpec("etapes", "ETAPE", ("COD_ETP",)),
    DatasetSpec("diplomes", "DIPLOME", ("COD_DIP",)),
    DatasetSpec("composantes", "COMPOSANTE", ("COD_CMP",)),
    DatasetSpec("types_resultat", "TYP_RESULTAT", ("COD_TRE",)),
    DatasetSpec("mentions", "MENTION", ("COD_MEN",)),
    DatasetSpec("bacs", "IND_BAC", ("COD_IND", "COD_BAC")),
)


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def snapshot(apogee_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return extract(url(apogee_db), SPECS, tmp_path_factory.mktemp("out"))


def by_name(snapshot: Snapshot) -> dict[str, Any]:
    return {d.name: d for d in snapshot.datasets}


def expected_value(raw: object, arrow: pa.DataType) -> object:
    """What the Parquet file must hold for a value SQLite stores as ``raw``."""
    if raw is None:
        return None
    if pa.types.is_date32(arrow):
        return date.fromisoformat(str(raw))
    if pa.types.is_decimal(arrow):
        return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)  # type: ignore[arg-type]
    return raw


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_every_dataset_counts_and_writes_all_source_rows(snapshot: Snapshot, apogee_db: Path) -> None:
    assert [d.name for d in snapshot.datasets] == [s.name for s in SPECS]
    for dataset, spec in zip(snapshot.datasets, SPECS, strict=True):
        (count,) = sqlite_rows(apogee_db, f"SELECT count(*) FROM {spec.table}")[0]
        assert dataset.rows == dataset.source_count == count > 0
        assert pq.ParquetFile(dataset.path).metadata.num_rows == count
    assert snapshot.dialect == "sqlite"
    assert snapshot.marker.startswith("sqlite:BEGIN DEFERRED")
    assert snapshot.started_at <= snapshot.finished_at


def test_parquet_round_trip_equals_the_source_rows(snapshot: Snapshot, apogee_db: Path) -> None:
    for dataset, spec in zip(snapshot.datasets, SPECS, strict=True):
        table = pq.read_table(dataset.path)
        raw = sqlite_rows(apogee_db, f"SELECT * FROM {spec.table} ORDER BY {', '.join(spec.key)}")
        expected = [tuple(expected_value(v, f.type) for v, f in zip(row, table.schema, strict=True)) for row in raw]
        assert [tuple(r.values()) for r in table.to_pylist()] == expected, spec.table


def test_awkward_values_survive_exactly(snapshot: Snapshot) -> None:
    people = {r["COD_IND"]: r for r in pq.read_table(by_name(snapshot)["individus"].path).to_pylist()}
    widest = people[100001]["NUM_IDT_EXT_IND"]
    assert isinstance(widest, Decimal) and widest == Decimal("9" * 38)
    assert people[100002]["DATE_NAI_IND"] == date(1900, 1, 1)
    assert (people[100003]["LIB_NOM_PAT_IND"], people[100003]["LIB_VIL_NAI_ETU"]) == (
        "CŒURDEROY",
        "Vœuil-et-Giget",
    )
    assert people[100004]["LIB_NOM_PAT_IND"] == "N'DIAYE"
    assert people[100005]["COD_ETU"] is None
    results = pq.read_table(by_name(snapshot)["resultats_vdi"].path).to_pylist()
    forced = next(r for r in results if r["COD_IND"] == 100006)
    assert forced["DAT_OBT_VDI"] == date(9999, 12, 31)
    assert forced["NOT_VDI"] == Decimal("15.250")
    comments = pq.read_table(by_name(snapshot)["composantes"].path).column("LIB_CMT_CMP").to_pylist()
    assert max(len(c) for c in comments if c) == 40_000


def test_arrow_schema_follows_the_declared_types(snapshot: Snapshot) -> None:
    columns = dict(by_name(snapshot)["individus"].columns)
    assert columns["COD_IND"] == "int64"
    assert columns["NUM_IDT_EXT_IND"] == "decimal128(38, 0)"
    assert columns["DATE_NAI_IND"] == "date32[day]"
    assert columns["LIB_NOM_PAT_IND"] == "string"
    results = dict(by_name(snapshot)["resultats_vdi"].columns)
    assert results["NOT_VDI"] == "decimal128(8, 3)"
    assert results["NUM_OBT_VDI"] == "decimal128(38, 10)"  # NUMBER without precision


def test_declared_columns_are_what_the_files_hold(snapshot: Snapshot) -> None:
    for dataset in snapshot.datasets:
        schema = pq.read_schema(dataset.path)
        assert [(f.name, str(f.type)) for f in schema] == list(dataset.columns), dataset.name


def test_sha256_is_the_digest_of_the_final_file(snapshot: Snapshot) -> None:
    for dataset in snapshot.datasets:
        assert dataset.path.name == f"{dataset.name}.parquet"
        assert dataset.sha256 == hashlib.sha256(dataset.path.read_bytes()).hexdigest()
    assert not [p for p in snapshot.datasets[0].path.parent.iterdir() if p.suffix == ".partial"]


def test_rows_are_ordered_by_key(snapshot: Snapshot) -> None:
    dataset = by_name(snapshot)["inscriptions"]
    key = ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE")
    rows = [tuple(r[k] for k in key) for r in pq.read_table(dataset.path).to_pylist()]
    assert rows == sorted(rows)
    assert dataset.query.endswith(
        'ORDER BY "INS_ADM_ETP"."COD_ANU", "INS_ADM_ETP"."COD_IND", "INS_ADM_ETP"."COD_ETP", '
        '"INS_ADM_ETP"."COD_VRS_VET", "INS_ADM_ETP"."NUM_OCC_IAE"'
    )


def test_filters_are_bound_parameters(apogee_db: Path, tmp_path: Path) -> None:
    spec = DatasetSpec(
        "inscriptions_2023",
        "INS_ADM_ETP",
        ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE"),
        columns=("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE", "ETA_IAE"),
        filters={"COD_ANU": 2023, "ETA_IAE": "E"},  # an int for a VARCHAR2(4) column, as configs do
    )
    (dataset,) = extract(url(apogee_db), [spec], tmp_path).datasets
    assert "2023" not in dataset.query and "'E'" not in dataset.query
    assert dataset.query.count("?") == 2
    assert dataset.parameters == {"COD_ANU_1": "2023", "ETA_IAE_1": "E"}
    (expected,) = sqlite_rows(apogee_db, "SELECT count(*) FROM INS_ADM_ETP WHERE COD_ANU = '2023' AND ETA_IAE = 'E'")[0]
    table = pq.read_table(dataset.path)
    assert dataset.rows == dataset.source_count == expected == table.num_rows
    assert set(table.column("COD_ANU").to_pylist()) == {"2023"}
    assert table.column_names == list(spec.columns or ())


def test_names_are_matched_case_insensitively_and_may_be_schema_qualified(apogee_db: Path, tmp_path: Path) -> None:
    spec = DatasetSpec("mentions", "main.mention", ("cod_men",), columns=("cod_men", "lib_men"))
    (dataset,) = extract(url(apogee_db), [spec], tmp_path).datasets
    assert pq.read_table(dataset.path).column_names == ["COD_MEN", "LIB_MEN"]  # the source's names
    assert dataset.rows == 4


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (DatasetSpec("x", "NO_SUCH_TABLE", ("COD",)), "NO_SUCH_TABLE"),
        (DatasetSpec("x", "INDIVIDU", ("COD_IND",), columns=("COD_IND", "NO_SUCH_COLUMN")), "NO_SUCH_COLUMN"),
        (DatasetSpec("x", "INDIVIDU", ("NO_SUCH_KEY",)), "NO_SUCH_KEY"),
        (DatasetSpec("x", "INDIVIDU", ("COD_IND",), filters={"NO_SUCH_FILTER": "1"}), "NO_SUCH_FILTER"),
        (DatasetSpec("x", "INDIVIDU", ("COD_IND",), columns=("COD_ETU",)), "COD_IND"),
        (DatasetSpec("x", "INDIVIDU", ("COD_IND",), filters={"COD_IND": "abc"}), "COD_IND"),
        (DatasetSpec("x", "INDIVIDU", ()), "INDIVIDU"),
        (DatasetSpec("../x", "INDIVIDU", ("COD_IND",)), "../x"),
    ],
    ids=["table", "column", "key", "filter", "key-not-extracted", "filter-value", "no-key", "unsafe-name"],
)
def test_bad_specs_are_reported_by_name(apogee_db: Path, tmp_path: Path, spec: DatasetSpec, named: str) -> None:
    with pytest.raises(ExtractionError, match=named):
        extract(url(apogee_db), [spec], tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_duplicate_dataset_names_are_refused(apogee_db: Path, tmp_path: Path) -> None:
    spec = DatasetSpec("same", "MENTION", ("COD_MEN",))
    with pytest.raises(ExtractionError, match="'same' is used twice"):
        extract(url(apogee_db), [spec, spec], tmp_path)


def test_a_missing_sqlite_file_is_an_error_not_an_empty_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(ExtractionError, match="SQLite database not found"):
        extract(url(missing), [DatasetSpec("x", "INDIVIDU", ("COD_IND",))], tmp_path / "out")
    assert not missing.exists()


def test_impossible_date_names_table_column_and_key_and_leaves_no_file(nasty_db: Path, tmp_path: Path) -> None:
    specs = [SPECS[0], SPECS[2]]  # individus is fine and written first, then RESULTAT_VDI fails
    with pytest.raises(ExtractionError) as caught:
        extract(url(nasty_db), specs, tmp_path, batch_rows=7)
    error = caught.value
    assert (error.table, error.column) == ("RESULTAT_VDI", "DAT_OBT_VDI")
    assert error.key == {
        "COD_IND": 100007,
        "COD_DIP": "LDRT",
        "COD_VRS_VDI": 1,
        "COD_ANU": "2023",
        "COD_SES": "2",
        "COD_ADM": "1",
    }
    message = str(error)
    assert "RESULTAT_VDI" in message and "DAT_OBT_VDI" in message and "COD_IND=100007" in message
    assert "'0000-00-00'" in message
    assert files_in(tmp_path) == []  # neither the failed partial nor the finished first dataset


def test_control_characters_and_mojibake_are_kept(nasty_db: Path, tmp_path: Path) -> None:
    (dataset,) = extract(url(nasty_db), [SPECS[0]], tmp_path).datasets
    people = {r["COD_IND"]: r for r in pq.read_table(dataset.path).to_pylist()}
    assert people[100007]["LIB_PR1_IND"] == "HÃ©loÃ¯se"
    assert people[100008]["LIB_NOM_PAT_IND"] == "MARTIN\x0bDUPONT"
    assert people[100008]["LIB_PR1_IND"] == "Zoé\x01"
    assert people[100008]["LIB_VIL_NAI_ETU"] == "Orléans\x85"


def test_huge_text_is_extracted_whole(nasty_db: Path, tmp_path: Path) -> None:
    (dataset,) = extract(url(nasty_db), [SPECS[4]], tmp_path, batch_rows=2).datasets
    comments = pq.read_table(dataset.path).column("LIB_CMT_DIP").to_pylist()
    assert max(len(c) for c in comments if c) == 2 * 1024 * 1024


def test_batches_stream_with_progress(apogee_db: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    (dataset,) = extract(
        url(apogee_db), [SPECS[0]], tmp_path, batch_rows=50, progress=lambda n, r: calls.append((n, r))
    ).datasets
    assert calls == [("individus", 50), ("individus", 100), ("individus", 120)]
    assert pq.ParquetFile(dataset.path).metadata.num_row_groups == 3


def test_an_empty_selection_gives_an_empty_file(apogee_db: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    spec = DatasetSpec(
        "none", "INS_ADM_ETP", ("COD_ANU", "COD_IND"), filters={"COD_ANU": "1999"}, columns=("COD_ANU", "COD_IND")
    )
    (dataset,) = extract(url(apogee_db), [spec], tmp_path, progress=lambda n, r: calls.append((n, r))).datasets
    assert dataset.rows == dataset.source_count == 0
    assert pq.read_table(dataset.path).schema.names == ["COD_ANU", "COD_IND"]
    assert calls == [("none", 0)]


def test_rows_not_matching_the_count_fail_without_leaving_a_file(
    apogee_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = extract_module.build_query

    def wrong_count(*args: Any) -> DatasetQuery:
        return dataclasses.replace(build(*args), count=select(literal(999)))

    monkeypatch.setattr(extract_module, "build_query", wrong_count)
    with pytest.raises(ExtractionError, match=r"4 row\(s\) written but the same query counted 999"):
        extract(url(apogee_db), [SPECS[7]], tmp_path)
    assert files_in(tmp_path) == []


def make_source(path: Path, ddl: str, *rows: tuple[Any, ...]) -> str:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(ddl)
        conn.executemany(f"INSERT INTO T VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return url(path)


def test_a_wide_integer_sqlite_stored_as_real_is_refused(tmp_path: Path) -> None:
    # A plain NUMERIC(38,0) column: SQLite turns the 38-digit text into a REAL, losing digits.
    source = make_source(
        tmp_path / "s.sqlite",
        "CREATE TABLE T (ID NUMERIC(8,0), BIG NUMERIC(38,0))",
        (1, "12345678901234567890123456789012345678"),
    )
    with pytest.raises(ExtractionError, match=r"T, column BIG, row \(ID=1\).*binary floating point"):
        extract(source, [DatasetSpec("t", "T", ("ID",))], tmp_path / "out")


def test_a_number_beyond_its_declared_precision_is_refused(tmp_path: Path) -> None:
    source = make_source(
        tmp_path / "s.sqlite", "CREATE TABLE T (ID NUMERIC(8,0), N NUMERIC(3,0))", (1, 999), (2, 12345)
    )
    with pytest.raises(ExtractionError, match=r"column N, row \(ID=2\): value 12345.*3 digits"):
        extract(source, [DatasetSpec("t", "T", ("ID",))], tmp_path / "out")


def test_sqlite_snapshot_ignores_rows_committed_during_the_extraction(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")  # lets another connection write meanwhile
        conn.execute("CREATE TABLE A (ID NUMERIC(8,0) PRIMARY KEY)")
        conn.execute("CREATE TABLE B (ID NUMERIC(8,0) PRIMARY KEY)")
        conn.executemany("INSERT INTO A VALUES (?)", [(1,), (2,)])
        conn.executemany("INSERT INTO B VALUES (?)", [(1,), (2,)])

    def write_meanwhile(name: str, rows: int) -> None:
        if name == "a":
            with closing(sqlite3.connect(path)) as other, other:
                other.execute("INSERT INTO B VALUES (3)")

    snapshot = extract(
        url(path),
        [DatasetSpec("a", "A", ("ID",)), DatasetSpec("b", "B", ("ID",))],
        tmp_path / "out",
        progress=write_meanwhile,
    )
    b = snapshot.datasets[1]
    assert b.rows == b.source_count == 2
    assert sqlite_rows(path, "SELECT count(*) FROM B") == [(3,)]  # the write did happen
    assert "journal_mode=wal" in snapshot.marker


def test_a_password_for_a_sqlite_source_is_ignored_with_a_warning(
    apogee_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A secret set for every source (an Airflow connection, say) must not break a SQLite one.
    snapshot = extract(url(apogee_db), SPECS[:1], tmp_path, password="Mot-de-passe-ignoré")
    assert snapshot.datasets[0].rows > 0
    assert "SQLite has no passwords" in caplog.text
    assert "Mot-de-passe-ignoré" not in caplog.text
