"""A really full disk: extraction into a 2 MB tmpfs fails cleanly, then resumes once there is space.

Needs the right to mount (root in the test container); skipped otherwise.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from extractors import ExtractionError, extract
from tests.extractors.helpers import table_spec

SMALL_ROWS = 20
BIG_ROWS = 4_000  # about 4 MB of incompressible text: more than the 2 MB disk holds


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def source(path: Path) -> str:
    rng = random.Random(6)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE PETITE (ID NUMERIC(8,0) PRIMARY KEY, LIB VARCHAR2(20))")
        conn.execute("CREATE TABLE GRANDE (ID NUMERIC(8,0) PRIMARY KEY, PIECE VARCHAR2(4000))")
        conn.executemany("INSERT INTO PETITE VALUES (?, ?)", [(i, f"libellé {i}") for i in range(SMALL_ROWS)])
        conn.executemany("INSERT INTO GRANDE VALUES (?, ?)", [(i, rng.randbytes(700).hex()) for i in range(BIG_ROWS)])
    return f"sqlite:///{path}"


SPECS = [table_spec("petite", "PETITE", ("ID",)), table_spec("grande", "GRANDE", ("ID",))]


def test_a_full_disk_names_dataset_and_disk_keeps_nothing_half_done_and_resumes(tmp_path: Path, small_disk: Path):
    url = source(tmp_path / "source.sqlite")
    out = small_disk / "lot"
    with pytest.raises(ExtractionError) as caught:
        extract(url, SPECS, out, parameters={}, row_group_rows=500)
    error = caught.value
    message = str(error)
    assert error.dataset == "grande" and not error.transient
    assert message.startswith("dataset grande: cannot write its files into ")
    assert str(out) in message and "no space left on the disk" in message and "bytes free there" in message
    assert str(tmp_path / "source.sqlite") in message
    # The dataset finished before the disk filled stays, described by its manifest; of the one
    # that failed there is neither file, nor partial, nor manifest: nothing marked done.
    assert sorted(p.name for p in out.iterdir()) == ["petite.manifest.json", "petite.parquet"]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    snapshot = extract(url, SPECS, out, parameters={}, row_group_rows=500)
    assert snapshot.resumed == ("petite",)
    assert [d.rows for d in snapshot.datasets] == [SMALL_ROWS, BIG_ROWS]
    assert pq.read_table(snapshot.datasets[1].path).num_rows == BIG_ROWS
    assert sorted(p.name for p in out.iterdir()) == [
        "grande.manifest.json",
        "grande.parquet",
        "petite.manifest.json",
        "petite.parquet",
    ]
