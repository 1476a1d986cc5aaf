"""Text that must round-trip through the manifest, and text XML 1.0 cannot carry."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest

from seda import Management, Rule, SipError, build_sip, validate_sip
from tests.seda.helpers import make_request, parse, read_manifest

NS = "{fr:gouv:culture:archivesdefrance:seda:v2.1}"
NASTY = 'Œuvres d\'été — cœur 😀 «guillemets» <balise> & "quotes" \t tab\r\nCR-LF'


def _with_payload_field(request, series_index, payload_index, **changes):
    series = list(request.series)
    payloads = list(series[series_index].payloads)
    payloads[payload_index] = replace(payloads[payload_index], **changes)
    series[series_index] = replace(series[series_index], payloads=payloads)
    return replace(request, series=series)


def test_accents_ligatures_and_emoji_round_trip(tmp_path, seda_schemas):
    request = make_request(tmp_path / "src", fonds_title=NASTY, comment=f"Versement {NASTY}")
    request = _with_payload_field(request, 1, 0, title=NASTY, filename="Œuvre été 😀.csv", description=NASTY)

    result = build_sip(request, tmp_path / "sip.zip")
    root = parse(read_manifest(result.path))

    titles = [t.text for t in root.iter(f"{NS}Title")]
    assert titles.count(NASTY) == 2
    assert root.findtext(f"{NS}Comment") == f"Versement {NASTY}"
    assert [f.text for f in root.iter(f"{NS}Filename")][-1] == "Œuvre été 😀.csv"
    assert NASTY in [d.text for d in root.iter(f"{NS}Description")]
    assert validate_sip(result.path, seda_schemas).issues == ()


@pytest.mark.parametrize(
    ("character", "code"),
    [("\x01", "U+0001"), ("\x0b", "U+000B"), ("\x1f", "U+001F"), ("\ud800", "U+D800"), ("\ufffe", "U+FFFE")],
)
def test_character_xml_cannot_carry_names_the_field(tmp_path, character, code):
    request = _with_payload_field(make_request(tmp_path / "src"), 1, 0, title=f"Diplômes{character}2023")
    out = tmp_path / "sip.zip"

    with pytest.raises(SipError) as caught:
        build_sip(request, out)

    assert "series[1].payloads[0].title" in str(caught.value)
    assert code in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fonds_title": "Fonds\x00"}, "fonds_title"),
        ({"message_identifier": "SIP\x0c1"}, "message_identifier"),
        ({"fonds_description": "\uffff"}, "fonds_description"),
        ({"management": Management(appraisal=Rule("APP\x07"))}, "management.appraisal.rule_id"),
    ],
)
def test_bad_characters_elsewhere_name_their_field(tmp_path, changes, field):
    with pytest.raises(SipError, match=rf"^{re.escape(field)}: character U\+"):
        build_sip(make_request(tmp_path / "src", **changes), tmp_path / "sip.zip")


def test_bad_character_in_filename_and_series(tmp_path):
    request = _with_payload_field(make_request(tmp_path / "src"), 0, 1, filename="a\x02.csv")
    with pytest.raises(SipError, match=r"series\[0\]\.payloads\[1\]\.filename: character U\+0002"):
        build_sip(request, tmp_path / "sip.zip")
    request = make_request(tmp_path / "src")
    request = replace(request, series=[request.series[0], replace(request.series[1], description="x\x08")])
    with pytest.raises(SipError, match=r"series\[1\]\.description: character U\+0008"):
        build_sip(request, tmp_path / "sip.zip")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fonds_title": "  "}, "fonds_title"),
        ({"originating_agency": ""}, "originating_agency"),
        ({"legal_status": "Archives publiques"}, "legal_status"),
        ({"seda_version": "2.0"}, "seda_version"),
        ({"management": Management(appraisal=Rule("APP-1"), final_action="Detruire")}, "management.final_action"),  # type: ignore[arg-type]
    ],
)
def test_missing_or_out_of_vocabulary_values_are_refused(tmp_path, changes, field):
    with pytest.raises(SipError, match=rf"^{re.escape(field)}: "):
        build_sip(make_request(tmp_path / "src", **changes), tmp_path / "sip.zip")


def test_two_megabyte_description_is_carried(tmp_path, seda_schemas, caplog):
    description = ("Ligne de description accentuée : é à ç œ.\n" * 50_000)[: 2 * 1024 * 1024]
    request = make_request(tmp_path / "src", fonds_description=description)

    with caplog.at_level(logging.WARNING, logger="versement.seda"):
        result = build_sip(request, tmp_path / "sip.zip")

    root = parse(read_manifest(result.path))
    fonds = root.find(f"{NS}DataObjectPackage/{NS}DescriptiveMetadata/{NS}ArchiveUnit/{NS}Content")
    assert fonds.findtext(f"{NS}Description") == description
    assert any("fonds_description" in r.getMessage() and "32000" in r.getMessage() for r in caplog.records)
    assert validate_sip(result.path, seda_schemas).issues == ()
