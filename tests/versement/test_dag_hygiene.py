"""DAG hygiene: each file in dags/ imports fast and opens no database; a fresh clone lists one DAG
per source tool of the demo configuration, with no import error.

The DAG processor parses every file again and again (and kills a slow one), so a DAG file does
its work inside its tasks: loading one reads at most the configuration and the shipped
specifications. The import is timed in a fresh interpreter where Airflow and pendulum are
already loaded (as in the DAG processor), with every way of opening a database refused and the
ledger pointed at a closed port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from versement.config import load

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo.toml"
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
# CPU seconds for the file itself: the machine running the tests may be shared, so its wall
# clock says more about the neighbours than about the file.
IMPORT_BUDGET = 1.0
# The DAG factory (one DAG per configured source) lives in dags/versement_sources.py.
FACTORY = REPO / "dags" / "versement_sources.py"

IMPORT_ONE = """
import json, sys, time, importlib.util
import pendulum, airflow.sdk, airflow.dag_processing.processor  # the DAG processor's own imports
from airflow.sdk import DAG, Asset, BaseOperator, Param, dag, task  # loaded once it has parsed a file
import sqlite3, sqlalchemy, sqlalchemy.engine, psycopg

def refuse(*args, **kwargs):
    raise RuntimeError(f"a database was opened while importing the DAG file: {args[:1]!r}")

sqlalchemy.create_engine = sqlalchemy.engine.create_engine = refuse
psycopg.connect = refuse
psycopg.Connection.connect = classmethod(refuse)
sqlite3.connect = refuse
started, cpu = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("dag_file_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
seconds, wall = time.process_time() - cpu, time.perf_counter() - started
dags = sorted(value.dag_id for value in vars(module).values() if type(value).__name__ == "DAG")
print("IMPORTED", json.dumps({"seconds": seconds, "wall": wall, "dags": dags}))
"""


def _clean_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VERSEMENT"))}
    return {
        **environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        **extra,
    }


def _json_output(stdout: str) -> list[dict[str, str]]:
    """The JSON list an `airflow ... -o json` printed (Airflow's warnings go to stdout too)."""
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert lines, f"no JSON list in: {stdout[-2000:]}"
    return list(json.loads(lines[-1]))


def _demo_tools() -> list[str]:
    return list(load(DEMO, environ={}).sources)


def _import_in_fresh_interpreter(tmp_path: Path, dag_file: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    absent = tmp_path / "absent"
    env = _clean_environ(
        tmp_path,
        VERSEMENT_CONFIG=str(DEMO),
        # A ledger on a closed loopback port, sources that do not exist: an import that
        # reached for either would fail, or leave a file behind.
        VERSEMENT__LEDGER__URL="postgresql+psycopg://versement@127.0.0.1:1/versement",
        VERSEMENT__PATHS__STAGING=str(absent / "staging"),
        **{f"VERSEMENT__SOURCES__{name.upper()}__URL": f"sqlite:///{absent / name}.sqlite" for name in _demo_tools()},
    )
    script = tmp_path / "import_one.py"
    script.write_text(IMPORT_ONE)
    done = subprocess.run(
        [sys.executable, str(script), str(dag_file)], env=env, capture_output=True, text=True, timeout=300
    )
    return done, absent


@pytest.mark.airflow
@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_fast_and_opens_no_database(tmp_path, dag_file):
    done, absent = _import_in_fresh_interpreter(tmp_path, dag_file)
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = (line for line in done.stdout.splitlines() if line.startswith("IMPORTED "))
    result = json.loads(line.removeprefix("IMPORTED "))
    assert result["dags"], f"{dag_file.name} defines no DAG"
    assert result["seconds"] < IMPORT_BUDGET, f"{dag_file.name} took {result['seconds']:.2f} CPU s to import"
    assert not absent.exists() or not any(absent.rglob("*")), sorted(absent.rglob("*"))


@pytest.mark.airflow
def test_a_dag_file_that_opens_the_ledger_at_import_is_caught(tmp_path):
    """The check itself: a DAG file that opens the ledger while it is parsed does not pass."""
    bad = tmp_path / "bad_dag.py"
    bad.write_text(
        "from airflow.sdk import dag\n"
        "from versement.config import config_path, load\n"
        "from versement.ledger import open_ledger\n"
        "LEDGER = open_ledger(load(config_path()))\n"
        "@dag(dag_id='bad', schedule=None)\n"
        "def bad():\n"
        "    pass\n"
        "bad_dag = bad()\n"
    )
    done, _ = _import_in_fresh_interpreter(tmp_path, bad)
    assert done.returncode != 0
    assert "a database was opened while importing the DAG file" in done.stderr, done.stderr[-3000:]


@pytest.mark.airflow
def test_fresh_clone_lists_one_dag_per_demo_tool_and_no_import_error(tmp_path):
    """`airflow db migrate`, then `airflow dags list-import-errors` and `airflow dags list` in a clone."""
    clone = tmp_path / "clone"
    if (REPO / ".git").exists() and shutil.which("git"):
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    else:  # not a git work tree: the files as they are
        shutil.copytree(REPO / "dags", clone / "dags")
    env = _clean_environ(tmp_path, AIRFLOW__CORE__DAGS_FOLDER=str(clone / "dags"))
    airflow = str(Path(sys.executable).with_name("airflow"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([airflow, *args], env=env, cwd=clone, capture_output=True, text=True, timeout=600)

    migrated = run("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    errors = run("dags", "list-import-errors", "--local", "-o", "json")
    assert errors.returncode == 0, errors.stderr[-3000:]
    assert _json_output(errors.stdout) == [], errors.stdout
    listed = run("dags", "list", "--local", "-o", "json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    listing = _json_output(listed.stdout)
    dag_ids = {entry["dag_id"] for entry in listing}
    assert {Path(entry["fileloc"]).name for entry in listing} == {p.name for p in (clone / "dags").glob("*.py")}
    assert not (clone / "var").exists(), "listing the DAGs wrote into the clone"
    expected = {f"versement_{tool}" for tool in _demo_tools()}
    assert {"apogee", "harpege"} <= set(_demo_tools())
    if not (clone / "dags" / FACTORY.name).exists():
        pytest.xfail(f"the per-source DAG factory (dags/{FACTORY.name}) is not merged yet: {sorted(dag_ids)}")
    assert expected <= dag_ids, f"missing {sorted(expected - dag_ids)} among {sorted(dag_ids)}"
