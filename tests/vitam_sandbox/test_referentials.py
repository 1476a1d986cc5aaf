"""Referentials read from a folder in VITAM's import formats; bad files name file, line, column;
the versement vitam-sandbox command serves them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from vitam_sandbox import DEMO_REFERENTIALS, ReferentialError, load_referentials


def test_the_demo_folder_matches_the_demo_configuration() -> None:
    referentials = load_referentials(DEMO_REFERENTIALS)
    contract = referentials.ingest_contracts["IC-000001"]
    assert contract.active and contract.check_parent_link == "AUTHORIZED" and contract.every_format_type
    assert referentials.access_contracts["AC-000001"].active
    assert {"UNIV-DEMO", "UNIV-DEMO-DSI", "CINES"} <= set(referentials.agencies)
    for rule, kind in (("APP-00001", "AppraisalRule"), ("ACC-00016", "AccessRule"), ("ACC-00017", "AccessRule")):
        assert referentials.rule_type(rule) == kind
    assert referentials.rules["HOL-00001"].duration == ""  # a HoldRule may have no duration


def test_the_demo_tenant_holds_the_rules_of_the_institution_referential() -> None:
    """One referential: the rules the demo's profiles are checked against (seda.rules) are the ones
    its VITAM tenant knows, with the same type, meaning and duration, no more and no fewer."""
    from seda import load_rules  # the reader versement checks profiles and SIPs with

    demo = tomllib.loads((DEMO_REFERENTIALS.parent / "demo.toml").read_text(encoding="utf-8"))
    institution = load_rules(DEMO_REFERENTIALS.parent / demo["seda"]["rules"]).rules
    tenant_file = load_rules(DEMO_REFERENTIALS / "rules.csv").rules
    assert institution == tenant_file
    served = load_referentials(DEMO_REFERENTIALS).rules  # as the sandbox itself reads it
    assert {r.rule_id: (r.rule_type, r.value, r.duration, r.measurement) for r in institution.values()} == {
        r.id: (r.type, r.value, r.duration, r.measurement) for r in served.values()
    }
    assert {r.rule_type for r in institution.values()} >= {"AppraisalRule", "AccessRule", "StorageRule", "HoldRule"}


def test_every_identifier_of_the_demo_configuration_is_in_its_referentials() -> None:
    demo = tomllib.loads((DEMO_REFERENTIALS.parent / "demo.toml").read_text(encoding="utf-8"))
    referentials = load_referentials(DEMO_REFERENTIALS)
    assert referentials.ingest_contracts[demo["vitam"]["ingest_contract"]].active
    assert referentials.access_contracts[demo["vitam"]["access_contract"]].active
    institution = demo["institution"]
    for agency in (institution["identifier"], institution["submission_agency"], demo["vitam"]["archival_agency"]):
        assert agency in referentials.agencies
    from profiles import available_profiles, load_profile  # the rules each profile packages with

    for tool in available_profiles():
        for _, category, rule in load_profile(tool).rules():
            assert referentials.rule_type(rule.rule) == category, (tool, rule.rule)


def folder_with(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "referentials"
    shutil.copytree(DEMO_REFERENTIALS, folder)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


RULES_HEADER = "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\n"


@pytest.mark.parametrize(
    ("name", "text", "line", "column", "problem"),
    [
        (
            "rules.csv",
            RULES_HEADER + "APP-1,AppraisalRule,V,D,10,YEAR\nAPP-2,Appraisal,V,D,1,YEAR\n",
            3,
            "2 (RuleType)",
            "RuleType",
        ),
        ("rules.csv", RULES_HEADER + "APP-1,AppraisalRule,V,D,1000,YEAR\n", 2, "5 (RuleDuration)", "exceeds 999"),
        ("rules.csv", RULES_HEADER + "APP-1,AppraisalRule,V,D,-1,YEAR\n", 2, "5 (RuleDuration)", "non-negative"),
        ("rules.csv", RULES_HEADER + "APP-1,AppraisalRule,V,D,1,WEEK\n", 2, "6 (RuleMeasurement)", "WEEK"),
        ("rules.csv", RULES_HEADER + "APP-1,AppraisalRule,V,D,,\n", 2, "5 (RuleDuration)", "mandatory"),
        (
            "rules.csv",
            RULES_HEADER + "A,AccessRule,V,D,1,YEAR\nA,AccessRule,V,D,1,YEAR\n",
            3,
            "1 (RuleId)",
            "duplicate",
        ),
        ("rules.csv", RULES_HEADER + "APP-1,AppraisalRule,V,D,1\n", 2, 6, "5 fields"),
        ("rules.csv", RULES_HEADER + ",AppraisalRule,V,D,1,YEAR\n", 2, "1 (RuleId)", "mandatory"),
        ("rules.csv", "RuleId;RuleType\n", 1, 1, "header"),
        ("agencies.csv", "Identifier,Name,Description\nX,,d\n", 2, "2 (Name)", "mandatory"),
        ("agencies.csv", "Identifier,Name,Description\nX,N\x01,d\n", 2, "2 (Name)", "control character"),
        (
            "ingest_contracts.json",
            '[\n  {"Identifier": "IC-1", "Name": "n",\n   "Statut": "ACTIVE"}\n]',
            3,
            4,
            "Statut",
        ),
        ("ingest_contracts.json", '[{"Identifier": "IC-1", "Name": "n", "Status": "ON"}]', 1, 38, "ACTIVE"),
        ("ingest_contracts.json", '[{"Identifier": "IC-1", "Name": "n",\n "EveryFormatType": "yes"}]', 2, 2, "boolean"),
        ("ingest_contracts.json", '[{"Identifier": "IC-1", "Name": "n", "CheckParentLink": "MAYBE"}]', 1, 38, "MAYBE"),
        (
            "ingest_contracts.json",
            '[{"Identifier": "IC-1", "Name": "n"},\n {"Identifier": "IC-1", "Name": "m"}]',
            2,
            3,
            "duplicate",
        ),
        ("ingest_contracts.json", '[{"Identifier": "IC-1", "Name": "n",, }]', 1, 37, "Expecting"),
        ("ingest_contracts.json", '{"Identifier": "IC-1"}', 1, 1, "JSON array"),
    ],
)
def test_a_bad_referential_names_file_line_and_column(
    tmp_path: Path, name: str, text: str, line: int, column: object, problem: str
) -> None:
    folder = folder_with(tmp_path, name, text)
    with pytest.raises(ReferentialError) as refused:
        load_referentials(folder)
    error = refused.value
    assert (error.path.name, error.line, error.column) == (name, line, column), str(error)
    assert problem in str(error) and name in str(error)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "referentials"
    shutil.copytree(DEMO_REFERENTIALS, folder)
    (folder / "rules.csv").unlink()
    with pytest.raises(ReferentialError, match=r"rules\.csv.*missing"):
        load_referentials(folder)


def test_non_utf8_is_refused_with_its_position(tmp_path: Path) -> None:
    folder = tmp_path / "referentials"
    shutil.copytree(DEMO_REFERENTIALS, folder)
    (folder / "agencies.csv").write_bytes(b"Identifier,Name,Description\nX,Universit\xe9,d\n")
    with pytest.raises(ReferentialError) as refused:
        load_referentials(folder)
    assert (refused.value.line, refused.value.column, refused.value.problem) == (2, 12, "not UTF-8")


def test_an_exported_contract_with_system_fields_loads(tmp_path: Path) -> None:
    contract = {"_id": "x", "_tenant": 0, "#version": 1, "Identifier": "IC-9", "Name": "n", "Status": "INACTIVE"}
    folder = folder_with(tmp_path, "ingest_contracts.json", json.dumps([contract]))
    assert not load_referentials(folder).ingest_contracts["IC-9"].active


def _versement() -> list[str]:
    return [str(Path(sys.executable).parent / "versement")]


def test_the_command_refuses_a_bad_referential(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "rules.csv", RULES_HEADER + "APP-1,Appraisal,V,D,1,YEAR\n")
    done = subprocess.run(
        [*_versement(), "vitam-sandbox", "--port", "0", "--referentials", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "rules.csv, line 2, column 2 (RuleType)" in done.stderr


@pytest.mark.parametrize("tls", [False, True], ids=["http", "mutual-tls"])
def test_the_command_serves_the_sandbox(tmp_path: Path, tls: bool) -> None:
    command = [*_versement(), "vitam-sandbox", "--port", "0", "--referentials", str(DEMO_REFERENTIALS)]
    command += ["--storage", str(tmp_path / "storage")]
    if tls:
        command += ["--tls", "--tls-dir", str(tmp_path / "tls")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert "not VITAM" in lines[0]
        base = lines[1].strip().removesuffix("/ingest-external/v1")
        assert base.startswith("https://" if tls else "http://")
        verify: ssl.SSLContext | bool = False
        if tls:
            verify = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
            verify.load_cert_chain(str(tmp_path / "tls" / "client.pem"), str(tmp_path / "tls" / "client-key.pem"))
        deadline = time.monotonic() + 20
        with httpx.Client(verify=verify) as client:
            answer = client.get(f"{base}/admin-external/v1/rules", headers={"X-Tenant-Id": "0"})
            assert answer.status_code == 200 and time.monotonic() < deadline
            assert any(rule["RuleId"] == "ACC-00017" for rule in answer.json()["$results"])
        if tls:
            anonymous_context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
            with httpx.Client(verify=anonymous_context) as anonymous, pytest.raises(httpx.HTTPError):
                anonymous.get(f"{base}/ingest-external/v1/status")
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    assert (tmp_path / "storage" / "sandbox.sqlite").is_file()
