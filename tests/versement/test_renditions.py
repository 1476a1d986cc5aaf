"""CSV renditions (RFC 4180) and data dictionaries from Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io

import pyarrow as pa
import pyarrow.parquet as pq

from versement.renditions import data_dictionary, parquet_to_csv


def _table(path):
    table = pa.table(
        {
            "COD_ETU": pa.array([1, 2, 3], pa.int64()),
            "NOM": ['Dupont, "dit" Jean', "Zoé\r\nsur deux lignes", None],
            "PRENOM": ["", "Ève", "Ôscar"],
            "DATE_NAI": [dt.date(2001, 2, 3), None, dt.date(1999, 12, 31)],
            "NUM": pa.array([decimal.Decimal("12345678901234567890123456789012345678")] * 3, pa.decimal128(38, 0)),
        }
    )
    pq.write_table(table, path, row_group_size=2)
    return table


def test_csv_is_rfc4180_utf8_crlf_with_header_and_round_trips(tmp_path):
    _table(tmp_path / "t.parquet")

    out = parquet_to_csv(tmp_path / "t.parquet", tmp_path / "csv" / "t.csv", batch_rows=1)

    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    lines = data.split(b"\r\n")
    assert lines[0] == b'"COD_ETU","NOM","PRENOM","DATE_NAI","NUM"'
    assert lines[-1] == b""  # every record ends with CRLF
    assert b'"Dupont, ""dit"" Jean"' in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == ["1", 'Dupont, "dit" Jean', "", "2001-02-03", "12345678901234567890123456789012345678"]
    assert rows[2][1] == "Zoé\r\nsur deux lignes"
    assert rows[3][1] == ""  # NULL: empty and unquoted...
    assert lines[-2].startswith(b'3,,"')
    assert rows[1][2] == "" and b',"",' in lines[1]  # ...while an empty text is quoted
    assert not (tmp_path / "csv" / "t.csv.partial").exists()


def test_dictionary_lists_every_column_with_label_type_and_meaning(tmp_path):
    _table(tmp_path / "t.parquet")
    spec = {
        "key": ["COD_ETU"],
        "person_key": "COD_ETU",
        "columns": {
            "COD_ETU": {"label": "Numéro d'étudiant", "tags": ["student_number"]},
            "DATE_NAI": {"label": "Date de naissance", "tags": ["birth_date"]},
        },
    }

    out = data_dictionary(tmp_path / "t.parquet", tmp_path / "t.dictionnaire.csv", spec, code_lists={"NUM": "table X"})

    data = out.read_bytes()
    assert data.count(b"\r\n") == 6
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["colonne", "libellé", "type", "unité ou liste de codes", "signification"]
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["COD_ETU", "NOM", "PRENOM", "DATE_NAI", "NUM"]
    assert by_name["COD_ETU"][1:3] == ["Numéro d'étudiant", "entier"]
    assert "numéro d'étudiant" in by_name["COD_ETU"][4] and "clé" in by_name["COD_ETU"][4]
    assert by_name["DATE_NAI"][2:4] == ["date", "AAAA-MM-JJ"]
    assert by_name["DATE_NAI"][4] == "date de naissance"
    assert by_name["NUM"][2].startswith("décimal (38 chiffres") and by_name["NUM"][3] == "table X"
    assert by_name["NOM"][1] == ""  # no label in the specification: left empty, never invented
