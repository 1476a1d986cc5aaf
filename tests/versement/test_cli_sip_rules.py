"""`versement sip validate --rules FILE`: rule ids checked against a VITAM rules referential."""

from __future__ import annotations

import json
from dataclasses import replace

from seda.model import Management, Rule
from seda.writer import write_package
from tests.seda.tree_helpers import RULES_CSV, header, tree
from versement.cli import main


def test_known_rules_pass_and_an_unknown_rule_is_refused_naming_the_unit(seda_schemas, tmp_path, capsys):
    good = write_package(header(), tree(2), tmp_path / "good").sips[0].path
    args = ["sip", "validate", "--schemas", str(seda_schemas), "--rules", str(RULES_CSV), "--json"]
    assert main([*args[:2], str(good), *args[2:]]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True

    bad_header = replace(header(), management=Management(access=Rule("ACC-04040")))
    bad = write_package(bad_header, tree(2), tmp_path / "bad").sips[0].path
    assert main([*args[:2], str(bad), *args[2:]]) == 1
    report = json.loads(capsys.readouterr().out)
    (issue,) = report["issues"]
    assert issue["check"] == "rules" and "ACC-04040" in issue["message"] and "ManagementMetadata" in issue["message"]
    assert "rules" in report["checks_run"]


def test_a_broken_referential_exits_2_naming_file_and_line(seda_schemas, tmp_path, capsys):
    sip = write_package(header(), tree(1), tmp_path).sips[0].path
    rules = tmp_path / "regles.csv"
    rules.write_text(
        "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\n"
        "APP-00002,AppraisalRule,Dossier,,50,YEAR\n"
        "ACC-00016,RegleAcces,Vie privée,,50,YEAR\n",
        encoding="utf-8",
    )
    assert main(["sip", "validate", str(sip), "--schemas", str(seda_schemas), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert f"{rules}:3: RuleType" in err and "RegleAcces" in err
