"""parse_atr on the VITAM-style fixtures: OK, WARNING and KO in SEDA 2.1, 2.2 and 2.3."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitam_client import parse_atr

FIXTURES = Path(__file__).with_name("fixtures") / "atr"
VERSIONS = ("2.1", "2.2", "2.3")
MESSAGE_IDENTIFIER = "UNIV-DEMO-APOGEE-2023-2024-000042"


def fixture(code: str, version: str) -> Path:
    return FIXTURES / f"atr-{code.lower()}-seda-{version}.xml"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("code", ["OK", "WARNING", "KO"])
def test_every_fixture_is_read_whole(code: str, version: str) -> None:
    atr = parse_atr(fixture(code, version).read_bytes())
    assert (atr.seda_version, atr.reply_code, atr.outcome) == (version, code, code)
    assert atr.accepted is (code != "KO") and not atr.is_test
    assert atr.message_request_identifier == MESSAGE_IDENTIFIER
    assert atr.operation_id is not None and atr.operation_id.startswith("aeeaaa")
    assert atr.grant_date == "2026-11-30T14:03:27.512Z"
    assert atr.archival_agreement == "IC-000001"
    assert atr.units == {
        "ID4": "aeaqaaaaaahe4kgtabkrcalrtvkdh4aaaaaq",
        "ID5": "aeaqaaaaaahe4kgtabkrcalrtvkdh4iaaaaq",
        "ID6": "aeaqaaaaaahe4kgtabkrcalrtvkdh4qaaaaq",
    }
    assert atr.objects == {
        "ID8": "aeaaaaaaaahe4kgtabkrcalrtvkdh3aaaaaq",
        "ID11": "aeaaaaaaaahe4kgtabkrcalrtvkdh3iaaaaq",
    }
    assert atr.groups == {"ID7": "aebaaaaaaahe4kgtabkrcalrtvkdh2yaaaaq", "ID10": "aebaaaaaaahe4kgtabkrcalrtvkdh3eaaaaq"}
    if code == "OK":
        assert atr.events == () and dict(atr.object_events) == {} and dict(atr.unit_events) == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_warning_events_and_their_group(version: str) -> None:
    atr = parse_atr(fixture("WARNING", version).read_bytes())
    assert [e.detail for e in atr.events] == ["STP_OG_CHECK_AND_TRANSFORME.WARNING", "CHECK_OBJECT_SIZE.WARNING"]
    size = atr.events[1]
    assert size.outcome == "WARNING" and size.message and "taille déclarée est incorrecte" in size.message
    assert size.detail_data == '{"evDetTechData":"declared size 1024, real size 1031 for ID8"}'
    (group_event,) = atr.object_events["ID7"]
    assert group_event.detail == "LFC.CHECK_OBJECT_SIZE.WARNING"


@pytest.mark.parametrize("version", VERSIONS)
def test_ko_events(version: str) -> None:
    atr = parse_atr(fixture("KO", version).read_bytes())
    assert [e.detail for e in atr.events] == [
        "STP_OG_CHECK_AND_TRANSFORME.KO",
        "CHECK_DIGEST.KO",
        "PROCESS_SIP_UNITARY.KO",
    ]
    assert atr.object_events["ID7"][0].detail == "LFC.CHECK_DIGEST.KO"
    if version == "2.3":
        assert atr.unit_events["ID5"][0].detail == "LFC.UNITS_RULES_COMPUTE.UNKNOWN.KO"


def test_to_dict_is_json_ready() -> None:
    import json

    data = parse_atr(fixture("KO", "2.3").read_bytes()).to_dict()
    again = json.loads(json.dumps(data))
    assert again["reply_code"] == "KO" and again["accepted"] is False
    assert again["unit_events"]["ID5"][0]["detail"] == "LFC.UNITS_RULES_COMPUTE.UNKNOWN.KO"
