"""A batch killed in the middle resumes: finished datasets are kept, the rest redone, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from extractors import extract
from tests.extractors.helpers import table_spec

SPECS = [
    table_spec("a", "A", ("ID",)),
    table_spec("b", "B", ("ID", "K"), where="YEAR = :academic_year"),
    table_spec("c", "C", ("ID",)),
]
YEAR = {"academic_year": "2023"}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        for table in ("A", "C"):
            conn.execute(f"CREATE TABLE {table} (ID NUMERIC(8,0), NAME VARCHAR(40), BORN DATE, BIG NUMERIC(38,0))")
            conn.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?, ?)",
                [(i, f"Zoé\x01 N'DIAYE {i}", "9999-12-31" if i % 7 else "0001-01-01", 10**18 - i) for i in range(1500)],
            )
        conn.execute("CREATE TABLE B (ID NUMERIC(8,0), K VARCHAR(2), YEAR VARCHAR(4), NOTE NUMERIC(5,3))")
        conn.executemany(
            "INSERT INTO B VALUES (?, ?, ?, ?)",
            [(i // 2, "K" + str(i % 2), "2023" if i % 5 else "2022", (i % 20000) / 1000) for i in range(6000)],
        )
    return path


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from extractors import extract
    from tests.extractors.test_resume import SPECS, YEAR

    def kill_midway(name, rows, elapsed):
        if name == "b" and rows >= 2000:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: as a crash or the OOM killer

    extract("sqlite:///" + sys.argv[1], SPECS, Path(sys.argv[2]), parameters=YEAR,
            batch_rows=500, row_group_rows=700, progress=kill_midway)
    """
)


def test_a_killed_batch_resumes_and_gives_byte_identical_files(source: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{source}"
    interrupted = tmp_path / "interrupted"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(interrupted)], cwd=root, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert sorted(p.name for p in interrupted.iterdir()) == ["a.manifest.json", "a.parquet", "b.parquet.partial"]
    killed_manifest = json.loads((interrupted / "a.manifest.json").read_text())

    resumed = extract(url, SPECS, interrupted, parameters=YEAR, batch_rows=500, row_group_rows=700)
    assert resumed.resumed == ("a",)
    assert [d.resumed for d in resumed.datasets] == [True, False, False]
    assert resumed.datasets[0].marker == killed_manifest["snapshot"]
    assert len(resumed.markers) == 1  # same marker text on SQLite; the manifests keep each run's times
    assert not list(interrupted.glob("*.partial"))

    straight = extract(url, SPECS, tmp_path / "straight", parameters=YEAR, batch_rows=500, row_group_rows=700)
    for kept, fresh in zip(resumed.datasets, straight.datasets, strict=True):
        assert kept.path.read_bytes() == fresh.path.read_bytes(), kept.name
        assert (kept.rows, kept.sha256) == (fresh.rows, fresh.sha256)
    assert resumed.datasets[1].rows == 4800


def test_a_dataset_whose_file_or_query_changed_is_redone(source: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{source}"
    first = extract(url, SPECS, tmp_path, parameters=YEAR)
    again = extract(url, SPECS, tmp_path, parameters=YEAR)
    assert again.resumed == ("a", "b", "c")
    a = first.datasets[0].path
    a.write_bytes(a.read_bytes()[:-10] + b"tampered!!")  # the file no longer matches its manifest
    other_year = extract(url, SPECS, tmp_path, parameters={"academic_year": "2022"})
    assert other_year.resumed == ("c",)  # a: digest differs; b: another parameter value
    assert other_year.datasets[0].sha256 == first.datasets[0].sha256  # rewritten as it was
    assert other_year.datasets[1].rows == 1200
    narrower = [SPECS[0], SPECS[1], table_spec("c", "C", ("ID",), exclude=["BIG"])]
    assert extract(url, narrower, tmp_path, parameters={"academic_year": "2022"}).resumed == ("a", "b")
    os.remove(tmp_path / "b.manifest.json")
    assert extract(url, narrower, tmp_path, parameters={"academic_year": "2022"}).resumed == ("a", "c")


def test_a_redone_dataset_that_fails_leaves_no_manifest_behind(source: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{source}"
    extract(url, SPECS, tmp_path, parameters=YEAR)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("INSERT INTO B VALUES (1, 'K9', '2022', 'pas une note')")
    with pytest.raises(Exception, match="column NOTE"):
        extract(url, SPECS, tmp_path, parameters={"academic_year": "2022"})
    assert not (tmp_path / "b.manifest.json").exists()  # the 2023 file stays, described by nothing
    assert extract(url, SPECS[:1], tmp_path, parameters=YEAR).resumed == ("a",)
