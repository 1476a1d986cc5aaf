"""The synthetic Apogée source: deterministic, idempotent, atomic, and holding its nasties."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from extractors import generate_apogee
from extractors.synthetic.legacy_schema import APOGEE_TABLES
from tests.extractors.helpers import sqlite_rows

CONTROL_CHARACTERS = ("\x01", "\x0b", "\x85")


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    return {t: sqlite_rows(path, f"SELECT * FROM {t} ORDER BY rowid") for t in APOGEE_TABLES}


def all_text(path: Path) -> list[str]:
    return [v for rows in dump(path).values() for row in rows for v in row if isinstance(v, str)]


def test_same_parameters_give_the_same_content(tmp_path: Path, apogee_db: Path) -> None:
    again = generate_apogee(tmp_path / "again.sqlite")
    assert again.created
    assert dump(again.path) == dump(apogee_db)
    assert again.tables == {t: len(rows) for t, rows in dump(apogee_db).items()}


def test_seed_and_size_change_the_content(tmp_path: Path, apogee_db: Path) -> None:
    other = generate_apogee(tmp_path / "other.sqlite", seed=1)
    smaller = generate_apogee(tmp_path / "smaller.sqlite", students=20, years=(2023,))
    assert dump(other.path)["INDIVIDU"] != dump(apogee_db)["INDIVIDU"]
    assert smaller.tables["INDIVIDU"] == 20
    assert {row[0] for row in sqlite_rows(smaller.path, "SELECT COD_ANU FROM INS_ADM_ETP")} == {"2023"}


def test_second_call_with_same_parameters_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    first = generate_apogee(path, students=30)
    stamp, content = path.stat().st_mtime_ns, path.read_bytes()
    second = generate_apogee(path, students=30)
    assert not second.created
    assert second.tables == first.tables
    assert path.stat().st_mtime_ns == stamp
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.sqlite"]  # no temporary left


def test_other_parameters_regenerate_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    generate_apogee(path, students=30)
    summary = generate_apogee(path, students=40)
    assert summary.created
    assert sqlite_rows(path, "SELECT count(*) FROM INDIVIDU") == [(40,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.sqlite"]


def test_refuses_to_replace_a_file_it_did_not_make(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all")
    real = tmp_path / "real.sqlite"
    with closing(sqlite3.connect(real)) as conn:
        conn.execute("CREATE TABLE INDIVIDU (COD_IND NUMERIC(8,0))")
    for path in (garbage, real):
        content = path.read_bytes()
        with pytest.raises(ValueError, match=f"{path.name} exists and is not a synthetic"):
            generate_apogee(path)
        assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"students": 3}, "at least 8"), ({"years": ()}, "not empty"), ({"years": (2021, 2021)}, "distinct")],
)
def test_rejects_unusable_parameters(tmp_path: Path, arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_apogee(tmp_path / "x.sqlite", **arguments)
    assert not list(tmp_path.iterdir())


def test_declared_types_carry_precision_for_the_type_mapping(apogee_db: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{apogee_db}")
    columns: dict[str, Any] = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("INDIVIDU")}
    results: dict[str, Any] = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("RESULTAT_VDI")}
    engine.dispose()
    assert (columns["COD_IND"].precision, columns["COD_IND"].scale) == (8, 0)
    assert (columns["NUM_IDT_EXT_IND"].precision, columns["NUM_IDT_EXT_IND"].scale) == (38, 0)
    assert columns["LIB_NOM_PAT_IND"].length == 30
    assert isinstance(columns["DATE_NAI_IND"], sa.Date)
    assert (results["NOT_VDI"].precision, results["NOT_VDI"].scale) == (8, 3)
    assert results["NUM_OBT_VDI"].precision is None  # Apogée's NUMBER without precision


def test_realistic_awkward_values_are_always_present(apogee_db: Path) -> None:
    texts = all_text(apogee_db)
    assert any("Œ" in t for t in texts) and any("œ" in t for t in texts)
    assert any("'" in t for t in texts) and any("ï" in t for t in texts)
    assert "Licence 1 Droit" in texts and "Master 2 Histoire de l'art" in texts
    assert max(len(t) for t in texts) == 40_000
    # The 38-digit identifier keeps every digit (stored as text, see synthetic_schema).
    assert sqlite_rows(
        apogee_db,
        "SELECT NUM_IDT_EXT_IND, typeof(NUM_IDT_EXT_IND) FROM INDIVIDU WHERE COD_IND = 100001",
    ) == [("9" * 38, "text")]
    assert sqlite_rows(apogee_db, "SELECT count(*) FROM INDIVIDU WHERE COD_ETU IS NULL")[0][0] > 0
    assert sqlite_rows(apogee_db, "SELECT COD_IND FROM INDIVIDU WHERE DATE_NAI_IND = '1900-01-01'")
    assert sqlite_rows(apogee_db, "SELECT 1 FROM RESULTAT_VDI WHERE DAT_OBT_VDI = '9999-12-31'")


def test_clean_mode_has_none_of_the_nasties(apogee_db: Path) -> None:
    texts = all_text(apogee_db)
    assert not [t for t in texts if "Ã" in t or any(c in t for c in CONTROL_CHARACTERS)]
    assert not sqlite_rows(apogee_db, "SELECT 1 FROM RESULTAT_VDI WHERE DAT_OBT_VDI LIKE '0000%'")
    bac_keys = sqlite_rows(apogee_db, "SELECT COD_IND, COD_BAC FROM IND_BAC")
    assert len(set(bac_keys)) == len(bac_keys) and all(None not in k for k in bac_keys)


def test_nasty_mode_adds_what_must_be_caught(nasty_db: Path) -> None:
    texts = all_text(nasty_db)
    assert "HÃ©loÃ¯se" in texts
    for character in CONTROL_CHARACTERS:
        assert any(character in t for t in texts), repr(character)
    assert max(len(t) for t in texts) == 2 * 1024 * 1024
    assert sqlite_rows(nasty_db, "SELECT count(*) FROM RESULTAT_VDI WHERE DAT_OBT_VDI = '0000-00-00'")[0][0] == 1
    assert sqlite_rows(nasty_db, "SELECT count(*) FROM IND_BAC WHERE COD_IND IS NULL") == [(1,)]
    duplicates = sqlite_rows(nasty_db, "SELECT COD_IND, COD_BAC FROM IND_BAC GROUP BY 1, 2 HAVING count(*) > 1")
    assert len(duplicates) == 1
