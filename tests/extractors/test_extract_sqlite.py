"""Extraction from the synthetic SQLite source (``extractors.synthetic.generate``)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sqlite3
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extractors import ExtractionError, Snapshot, extract
from extractors.readers import SqliteReader
from tests.extractors.helpers import sqlite_rows, table_spec

# The package exports the function extract(), which hides the module of the same name.
extract_module = importlib.import_module("extractors.extract")

YEAR = {"academic_year": "2023"}
IAE_KEY = ("COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE")
SPECS = (
    table_spec("individus", "INDIVIDU", ("COD_IND",)),
    table_spec("inscriptions", "INS_ADM_ETP", IAE_KEY),
    table_spec("resultats_vdi", "RESULTAT_VDI", ("COD_IND", "COD_DIP", "COD_VRS_VDI", "COD_ANU", "COD_SES", "COD_ADM")),
    table_spec("etapes", "ETAPE", ("COD_ETP",)),
    table_spec("diplomes", "DIPLOME", ("COD_DIP",)),
    table_spec("composantes", "COMPOSANTE", ("COD_CMP",)),
    table_spec("types_resultat", "TYP_RESULTAT", ("COD_TRE",)),
    table_spec("mentions", "MENTION", ("COD_MEN",)),
    table_spec("bacs", "IND_BAC", ("COD_IND", "COD_BAC")),
)
TABLES = {"individus": "INDIVIDU", "inscriptions": "INS_ADM_ETP", "resultats_vdi": "RESULTAT_VDI"}


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def snapshot(apogee_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return extract(url(apogee_db), SPECS, tmp_path_factory.mktemp("out"), parameters={})


def by_name(snapshot: Snapshot) -> dict[str, Any]:
    return {d.name: d for d in snapshot.datasets}


def table_of(spec: Any) -> str:
    return str(spec.sql).split("FROM ")[1].split()[0]


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
        (count,) = sqlite_rows(apogee_db, f"SELECT count(*) FROM {table_of(spec)}")[0]
        assert dataset.rows == dataset.source_count == count > 0
        assert pq.ParquetFile(dataset.path).metadata.num_rows == count
    assert snapshot.dialect == "sqlite"
    assert snapshot.marker.startswith("sqlite:BEGIN DEFERRED")
    assert snapshot.markers == (snapshot.marker,) and snapshot.resumed == ()
    assert snapshot.started_at <= snapshot.finished_at


def test_parquet_round_trip_equals_the_source_rows(snapshot: Snapshot, apogee_db: Path) -> None:
    for dataset, spec in zip(snapshot.datasets, SPECS, strict=True):
        table = pq.read_table(dataset.path)
        raw = sqlite_rows(apogee_db, f"SELECT * FROM {table_of(spec)} ORDER BY {', '.join(spec.key)}")
        expected = [tuple(expected_value(v, f.type) for v, f in zip(row, table.schema, strict=True)) for row in raw]
        assert [tuple(r.values()) for r in table.to_pylist()] == expected, spec.name


def test_awkward_values_survive_exactly(snapshot: Snapshot) -> None:
    people = {r["COD_IND"]: r for r in pq.read_table(by_name(snapshot)["individus"].path).to_pylist()}
    widest = people[100001]["NUM_IDT_EXT_IND"]
    assert isinstance(widest, Decimal) and widest == Decimal("9" * 38)
    assert people[100002]["DATE_NAI_IND"] == date(1900, 1, 1)
    assert (people[100003]["LIB_NOM_PAT_IND"], people[100003]["LIB_VIL_NAI_ETU"]) == (
        "CŒURDEROY",
        "Vœuil-et-Giget",
    )
    assert (people[100004]["LIB_NOM_PAT_IND"], people[100004]["LIB_NOM_USU_IND"]) == ("O'BRIEN", "L’HÔTE")
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


def test_each_dataset_has_a_manifest_describing_its_file(snapshot: Snapshot, apogee_db: Path) -> None:
    dataset = by_name(snapshot)["individus"]
    assert dataset.manifest is not None
    manifest = json.loads(dataset.manifest.read_text(encoding="utf-8"))
    assert manifest["dataset"] == "individus"
    assert manifest["source"] == url(apogee_db)
    assert manifest["sql"] == "SELECT * FROM INDIVIDU"
    assert manifest["query"] == dataset.query
    assert manifest["count_query"] == "SELECT COUNT(*) FROM (SELECT * FROM INDIVIDU) q"
    assert manifest["snapshot"] == snapshot.marker
    assert manifest["rows"] == manifest["source_count"] == dataset.rows
    assert manifest["sha256"] == dataset.sha256
    assert manifest["columns"] == [list(c) for c in dataset.columns]
    assert "NUM_IDT_EXT_IND: decimal128(38, 0)" in manifest["arrow_schema"]
    assert manifest["started_at"] <= manifest["finished_at"]
    assert manifest["rows_per_second"] > 0
    assert len(manifest["spec_identity"]) == 64


def test_rows_are_ordered_by_key(snapshot: Snapshot) -> None:
    dataset = by_name(snapshot)["inscriptions"]
    rows = [tuple(r[k] for k in IAE_KEY) for r in pq.read_table(dataset.path).to_pylist()]
    assert rows == sorted(rows)
    assert dataset.query.endswith(
        'FROM (SELECT * FROM INS_ADM_ETP) q ORDER BY "COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE"'
    )


def test_the_scope_is_a_bound_parameter(apogee_db: Path, tmp_path: Path) -> None:
    spec = table_spec("inscriptions_2023", "INS_ADM_ETP", IAE_KEY, where="COD_ANU = :academic_year AND ETA_IAE = 'E'")
    (dataset,) = extract(url(apogee_db), [spec], tmp_path, parameters={**YEAR, "unused": 1}).datasets
    assert ":academic_year" in dataset.query and "2023" not in dataset.query
    assert dataset.parameters == YEAR  # only the parameters its SQL uses
    (expected,) = sqlite_rows(apogee_db, "SELECT count(*) FROM INS_ADM_ETP WHERE COD_ANU = '2023' AND ETA_IAE = 'E'")[0]
    table = pq.read_table(dataset.path)
    assert dataset.rows == dataset.source_count == expected == table.num_rows > 0
    assert set(table.column("COD_ANU").to_pylist()) == {"2023"}


def test_a_hostile_parameter_value_is_data_not_sql(apogee_db: Path, tmp_path: Path) -> None:
    spec = table_spec("inscriptions", "INS_ADM_ETP", IAE_KEY, where="COD_ANU = :academic_year")
    hostile = {"academic_year": "2023' OR '1'='1'; DROP TABLE INS_ADM_ETP; --"}
    (dataset,) = extract(url(apogee_db), [spec], tmp_path, parameters=hostile).datasets
    assert dataset.rows == dataset.source_count == 0
    assert sqlite_rows(apogee_db, "SELECT count(*) FROM INS_ADM_ETP")[0][0] > 0


def test_a_parameter_the_scope_does_not_give_is_refused(apogee_db: Path, tmp_path: Path) -> None:
    spec = table_spec("inscriptions", "INS_ADM_ETP", IAE_KEY, where="COD_ANU = :academic_year")
    with pytest.raises(ExtractionError, match=r"dataset inscriptions: .*:academic_year"):
        extract(url(apogee_db), [spec], tmp_path / "out", parameters={"period_start": date(2023, 1, 1)})
    assert files_in(tmp_path / "out") == []


def test_excluded_columns_are_left_out_and_joins_are_allowed(apogee_db: Path, tmp_path: Path) -> None:
    sql = (
        "SELECT iae.COD_ANU, iae.COD_IND, iae.COD_ETP, iae.COD_VRS_VET, iae.NUM_OCC_IAE, ind.LIB_NOM_PAT_IND, "
        "ind.DATE_NAI_IND FROM INS_ADM_ETP iae JOIN INDIVIDU ind ON ind.COD_IND = iae.COD_IND "
        "WHERE iae.COD_ANU = :academic_year"
    )
    spec = table_spec("iae", "", IAE_KEY, sql=sql, exclude=["date_nai_ind"])  # matched case-insensitively
    (dataset,) = extract(url(apogee_db), [spec], tmp_path, parameters=YEAR).datasets
    table = pq.read_table(dataset.path)
    assert table.column_names == [*IAE_KEY, "LIB_NOM_PAT_IND"]
    assert dataset.query.startswith(
        'SELECT "COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE", "LIB_NOM_PAT_IND" FROM ('
    )
    (expected,) = sqlite_rows(apogee_db, "SELECT count(*) FROM INS_ADM_ETP WHERE COD_ANU = '2023'")[0]
    assert dataset.rows == expected


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (table_spec("x", "NO_SUCH_TABLE", ("COD",)), "no such table: NO_SUCH_TABLE"),
        (table_spec("x", "", ("COD_IND",), sql="SELECT COD_IND, NO_SUCH_COLUMN FROM INDIVIDU"), "NO_SUCH_COLUMN"),
        (table_spec("x", "INDIVIDU", ("NO_SUCH_KEY",)), "key column 'NO_SUCH_KEY' is not in the result"),
        (table_spec("x", "INDIVIDU", ("COD_IND",), exclude=["NO_SUCH"]), "excluded column 'NO_SUCH'"),
        (table_spec("x", "INDIVIDU", ("COD_IND",), exclude=["COD_IND"]), "COD_IND cannot be left out"),
        (table_spec("x", "", ("COD_IND",), sql="SELECT COD_IND, COD_IND + 1 AS N FROM INDIVIDU"), "column N"),
        (table_spec("x", "INDIVIDU", ()), "a key is required"),
        (table_spec("../x", "INDIVIDU", ("COD_IND",)), "not a safe file name"),
        (table_spec("x", "", ("COD_IND",), sql="SELEC COD_IND FROM INDIVIDU"), "syntax error"),
    ],
    ids=["table", "column", "key", "excluded", "key-excluded", "expression", "no-key", "unsafe-name", "bad-sql"],
)
def test_bad_specs_are_reported_by_name(apogee_db: Path, tmp_path: Path, spec: Any, named: str) -> None:
    with pytest.raises(ExtractionError, match=named) as caught:
        extract(url(apogee_db), [spec], tmp_path / "out", parameters={})
    assert caught.value.dataset == spec.name and not caught.value.transient
    assert f"dataset {spec.name}" in str(caught.value)
    assert not [n for n in files_in(tmp_path / "out") if n.endswith((".parquet", ".partial", ".json"))]


def test_duplicate_dataset_names_are_refused(apogee_db: Path, tmp_path: Path) -> None:
    spec = table_spec("same", "MENTION", ("COD_MEN",))
    with pytest.raises(ExtractionError, match="'same' is used twice"):
        extract(url(apogee_db), [spec, spec], tmp_path, parameters={})


def test_a_missing_sqlite_file_is_an_error_not_an_empty_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(ExtractionError, match="SQLite database not found"):
        extract(url(missing), [table_spec("x", "INDIVIDU", ("COD_IND",))], tmp_path / "out", parameters={})
    assert not missing.exists()


def test_impossible_date_names_dataset_column_and_key_and_leaves_no_file(apogee_db: Path, tmp_path: Path) -> None:
    # SQLite (and MySQL-born data loaded into it) can hold a '0000-00-00' DATE; PostgreSQL and
    # Oracle cannot, so the synthetic sources, identical on both backends, do not plant it.
    rows = [(100001 + i, "LDRT", 1, "2023", "2", "1", f"2024-07-{10 + i:02d}") for i in range(12)]
    rows[9] = (*rows[9][:6], "0000-00-00")
    source = make_source(
        tmp_path / "impossible.sqlite",
        "CREATE TABLE T (COD_IND NUMBER(8,0), COD_DIP VARCHAR2(7), COD_VRS_VDI NUMBER(3,0), COD_ANU VARCHAR2(4), "
        "COD_SES VARCHAR2(1), COD_ADM VARCHAR2(1), DAT_OBT_VDI DATE)",
        *rows,
    )
    with closing(sqlite3.connect(tmp_path / "impossible.sqlite")) as conn, conn:
        conn.execute("CREATE TABLE OK (ID NUMBER(8,0))")
        conn.execute("INSERT INTO OK VALUES (1)")
    key = ("COD_IND", "COD_DIP", "COD_VRS_VDI", "COD_ANU", "COD_SES", "COD_ADM")
    specs = [table_spec("correcte", "OK", ("ID",)), table_spec("resultats_vdi", "T", key)]  # the first is fine
    out = tmp_path / "out"
    with pytest.raises(ExtractionError) as caught:
        extract(source, specs, out, parameters={}, batch_rows=7)  # the bad value is in the second batch
    error = caught.value
    assert (error.dataset, error.column) == ("resultats_vdi", "DAT_OBT_VDI")
    assert error.key == {
        "COD_IND": 100010,
        "COD_DIP": "LDRT",
        "COD_VRS_VDI": 1,
        "COD_ANU": "2023",
        "COD_SES": "2",
        "COD_ADM": "1",
    }
    assert not error.transient
    message = str(error)
    assert "resultats_vdi" in message and "DAT_OBT_VDI" in message and "COD_IND=100010" in message
    assert "'0000-00-00'" in message
    # The finished dataset stays, described by its manifest, for a resumed run; the failed one
    # leaves neither file nor partial nor manifest.
    assert files_in(out) == ["correcte.manifest.json", "correcte.parquet"]


def test_control_characters_and_mojibake_are_kept(nasty_db: Path, tmp_path: Path) -> None:
    (dataset,) = extract(url(nasty_db), [SPECS[0]], tmp_path, parameters={}).datasets
    people = {r["COD_IND"]: r for r in pq.read_table(dataset.path).to_pylist()}
    assert (people[100009]["LIB_NOM_PAT_IND"], people[100009]["LIB_PR1_IND"]) == ("FRANÃ‡OIS", "HÃ©loÃ¯se")
    assert people[100010]["LIB_NOM_PAT_IND"] == "MARTIN\x0bDUPONT"
    assert people[100010]["LIB_PR1_IND"] == "Zoé\x01"
    assert people[100010]["LIB_VIL_NAI_ETU"] == "Orléans\x85"


def test_huge_text_is_extracted_whole(nasty_db: Path, tmp_path: Path) -> None:
    (dataset,) = extract(url(nasty_db), [SPECS[4]], tmp_path, parameters={}, batch_rows=2).datasets
    comments = pq.read_table(dataset.path).column("LIB_CMT_DIP").to_pylist()
    assert max(len(c) for c in comments if c) == 2 * 1024 * 1024


def test_batches_stream_with_progress_into_fixed_row_groups(apogee_db: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    (dataset,) = extract(
        url(apogee_db),
        [SPECS[0]],
        tmp_path,
        parameters={},
        batch_rows=50,
        row_group_rows=40,
        progress=lambda n, r, elapsed: calls.append((n, r)) if elapsed >= 0 else None,
    ).datasets
    assert calls == [("individus", 50), ("individus", 100), ("individus", 120)]
    metadata = pq.ParquetFile(dataset.path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [40, 40, 40]


def test_an_empty_selection_gives_an_empty_file(apogee_db: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    spec = table_spec(
        "none",
        "",
        ("COD_ANU", "COD_IND"),
        sql="SELECT COD_ANU, COD_IND FROM INS_ADM_ETP WHERE COD_ANU = :academic_year",
    )
    (dataset,) = extract(
        url(apogee_db),
        [spec],
        tmp_path,
        parameters={"academic_year": "1999"},
        progress=lambda n, r, e: calls.append((n, r)),
    ).datasets
    assert dataset.rows == dataset.source_count == 0
    assert pq.read_table(dataset.path).schema.names == ["COD_ANU", "COD_IND"]
    assert calls == [("none", 0)]


def test_rows_not_matching_the_count_fail_without_leaving_a_file(
    apogee_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteReader, "count", lambda self, sql, parameters, expressions=(): (999, ()))
    with pytest.raises(ExtractionError, match=r"4 row\(s\) written but the same query counted 999"):
        extract(url(apogee_db), [SPECS[7]], tmp_path, parameters={})
    assert files_in(tmp_path) == []


def test_a_full_disk_is_one_clear_error_and_leaves_nothing_marked_done(apogee_db: Path, tmp_path: Path) -> None:
    class FullDisk:
        def __init__(self, path: Path, schema: pa.Schema) -> None:
            self.inner = pq.ParquetWriter(path, schema)

        def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self.inner.close()

    with pytest.raises(ExtractionError) as caught:
        extract(url(apogee_db), SPECS[:2], tmp_path, parameters={}, open_writer=FullDisk)
    message = str(caught.value)
    assert "dataset individus" in message and "no space left on the disk" in message and str(apogee_db) in message
    assert f"into {tmp_path} (" in message and "bytes free there" in message
    assert not caught.value.transient
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
    with pytest.raises(ExtractionError, match=r"t, column BIG, row \(ID=1\).*binary floating point"):
        extract(source, [table_spec("t", "T", ("ID",))], tmp_path / "out", parameters={})


def test_a_number_beyond_its_declared_precision_is_refused(tmp_path: Path) -> None:
    source = make_source(
        tmp_path / "s.sqlite", "CREATE TABLE T (ID NUMERIC(8,0), N NUMERIC(3,0))", (1, 999), (2, 12345)
    )
    with pytest.raises(ExtractionError, match=r"column N, row \(ID=2\): value 12345.*3 digits"):
        extract(source, [table_spec("t", "T", ("ID",))], tmp_path / "out", parameters={})


def test_null_keys_and_mixed_storage_classes(tmp_path: Path) -> None:
    # SQLite lets text sit in a NUMERIC column and a NULL in a key: the first is refused by
    # name, the second is extracted (the quality checks report NULL keys).
    source = make_source(
        tmp_path / "s.sqlite", "CREATE TABLE T (ID NUMERIC(8,0), N NUMERIC(8,2))", (None, 1.5), (2, 2), (3, "abc")
    )
    with pytest.raises(ExtractionError, match=r"column N, row \(ID=3\): value 'abc'"):
        extract(source, [table_spec("t", "T", ("ID",))], tmp_path / "out", parameters={})
    ok = make_source(tmp_path / "ok.sqlite", "CREATE TABLE T (ID NUMERIC(8,0), N NUMERIC(8,2))", (None, 1.5), (2, 2))
    (dataset,) = extract(ok, [table_spec("t", "T", ("ID",))], tmp_path / "ok", parameters={}).datasets
    assert pq.read_table(dataset.path).to_pylist() == [
        {"ID": None, "N": Decimal("1.50")},
        {"ID": 2, "N": Decimal("2.00")},
    ]


def test_sqlite_snapshot_ignores_rows_committed_during_the_extraction(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")  # lets another connection write meanwhile
        conn.execute("CREATE TABLE A (ID NUMERIC(8,0) PRIMARY KEY)")
        conn.execute("CREATE TABLE B (ID NUMERIC(8,0) PRIMARY KEY)")
        conn.executemany("INSERT INTO A VALUES (?)", [(1,), (2,)])
        conn.executemany("INSERT INTO B VALUES (?)", [(1,), (2,)])

    def write_meanwhile(name: str, rows: int, elapsed: float) -> None:
        if name == "a":
            with closing(sqlite3.connect(path)) as other, other:
                other.execute("INSERT INTO B VALUES (3)")

    snapshot = extract(
        url(path),
        [table_spec("a", "A", ("ID",)), table_spec("b", "B", ("ID",))],
        tmp_path / "out",
        parameters={},
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
    snapshot = extract(url(apogee_db), SPECS[:1], tmp_path, parameters={}, password="Mot-de-passe-ignoré")
    assert snapshot.datasets[0].rows > 0
    assert "SQLite has no passwords" in caplog.text
    assert "Mot-de-passe-ignoré" not in caplog.text
