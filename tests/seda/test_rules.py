"""Reading a VITAM rules referential strictly, and what it says about a rule id."""

from __future__ import annotations

import pytest

from seda.rules import RulesFileError, load_rules
from tests.seda.tree_helpers import RULES_CSV

HEADER = "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\n"


def write(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "rules.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_the_shipped_example_holds_the_rules_the_demo_uses():
    rules = load_rules(RULES_CSV)
    for rule_id, category in [
        ("APP-00001", "AppraisalRule"),
        ("APP-00002", "AppraisalRule"),
        ("ACC-00001", "AccessRule"),
        ("ACC-00016", "AccessRule"),
        ("ACC-00017", "AccessRule"),
        ("STO-00001", "StorageRule"),
    ]:
        assert rules.problem(rule_id, category) is None
    assert "not in the rules referential" in (rules.problem("APP-09999", "AppraisalRule") or "")
    assert "of type AccessRule" in (rules.problem("ACC-00016", "AppraisalRule") or "")


def test_quoted_commas_unlimited_and_lowercase_measurement(tmp_path):
    rules = load_rules(
        write(tmp_path, 'APP-1,AppraisalRule,"Registre, PV","Sans limite",unlimited,year\nHOL-1,HoldRule,Gel,,,\n')
    )
    assert rules.rules["APP-1"].value == "Registre, PV"
    assert rules.rules["APP-1"].measurement == "YEAR"
    assert rules.rules["HOL-1"].duration == ""


@pytest.mark.parametrize(
    ("body", "header", "where"),
    [
        ("APP-1,AppraisalRule,X,,10,YEAR\n", "RuleId;RuleType\n", ":1"),
        ("APP-1,Appraisal,X,,10,YEAR\n", HEADER, ":2: RuleType"),
        ("APP-1,AppraisalRule,X,,10,YEAR\nAPP-1,AppraisalRule,Y,,5,YEAR\n", HEADER, ":3: RuleId"),
        ("APP-1,AppraisalRule,X,,dix,YEAR\n", HEADER, ":2: RuleDuration"),
        ("APP-1,AppraisalRule,X,,1000,YEAR\n", HEADER, ":2: RuleDuration"),
        ("APP-1,AppraisalRule,X,,10,\n", HEADER, ":2: RuleDuration"),
        ("APP-1,AppraisalRule,X,,10,WEEK\n", HEADER, ":2: RuleMeasurement"),
        ("APP-1,AppraisalRule,,,10,YEAR\n", HEADER, ":2: RuleValue"),
        ("APP-1,AppraisalRule,X,,10\n", HEADER, ":2"),
        ("", HEADER, "holds no rule"),
    ],
)
def test_bad_files_are_refused_naming_line_and_column(tmp_path, body, header, where):
    with pytest.raises(RulesFileError) as caught:
        load_rules(write(tmp_path, body, header))
    assert where in str(caught.value)


def test_not_utf8_is_named(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_bytes(HEADER.encode() + "APP-1,AppraisalRule,Dossier d'élève,,1,YEAR\n".encode("latin-1"))
    with pytest.raises(RulesFileError, match="not UTF-8"):
        load_rules(path)
