"""The Airflow DAG, run with ``dag.test()`` by a real Airflow 3.3, then finished from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.versement.conftest import demo_environ
from versement.config import load

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.toml"

RUN_DAG = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("versement_demo_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = next(v for v in vars(module).values() if type(v).__name__ == "DAG")
run = dag.test()
print("DAG-RUN-STATE", run.state)
"""


@pytest.mark.airflow
def test_dag_runs_to_awaiting_approval_then_cli_completes(tmp_path, vitam_sandbox, seda_schemas):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        **demo_environ(tmp_path, seda_schemas, vitam_sandbox),
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    script = tmp_path / "run_dag.py"
    script.write_text(RUN_DAG)
    done = subprocess.run(
        [sys.executable, script, REPO / "dags" / "versement_demo.py"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "DAG-RUN-STATE success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]

    versement = Path(sys.executable).with_name("versement")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([versement, *args], env=env, capture_output=True, text=True, timeout=300)

    (batch,) = json.loads(cli("status", "--json").stdout)["batches"]
    assert batch["state"] == "awaiting_approval"
    shipped = load(DEMO_CONFIG, environ={}).source("apogee").datasets
    assert all(d["quality"] for d in batch["datasets"]) and len(batch["datasets"]) == len(shipped)

    approved = cli("approve", str(batch["id"]), "--by", "Camille Lefèvre", "--sha256", batch["sip_sha256"])
    assert approved.returncode == 0, approved.stderr
    transferred = cli("transfer", str(batch["id"]))
    assert transferred.returncode == 0, transferred.stderr
    (batch,) = json.loads(cli("status", "--json").stdout)["batches"]
    assert f"opération VITAM {batch['vitam_operation_id']} : COMPLETED/OK" in transferred.stderr
    assert batch["state"] == "verified" and batch["atr_reply_code"] == "OK"
    assert batch["approved_by"] == "Camille Lefèvre"
    assert cli("audit", "verify").returncode == 0
