"""Shared builders for the seda tests: a realistic request and zip/manifest surgery tools."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from seda import Management, Payload, Rule, Series, SipRequest

# Contents chosen so that no two files share a digest or a size.
SOURCES = {
    "inscriptions 2023.csv": "code;libellé\n1;Licence d'économie\n2;Master œnologie\n",
    "résultats été.CSV": "étudiant;note\nA;12,5\nB;15\nC;9\n",
    "diplômes.csv": "diplôme;année\nDUT;2023\n",
}


def write_sources(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in SOURCES.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def payload(source: Path, title: str, **extra: object) -> Payload:
    return Payload(
        source=source,
        filename=source.name,
        title=title,
        mime_type="text/csv",
        format_id="x-fmt/18",
        format_name="Comma Separated Values",
        **extra,  # type: ignore[arg-type]
    )


def make_request(folder: Path, version: str = "2.1", **overrides: object) -> SipRequest:
    """Two series holding three payloads, with rules at every level."""
    paths = write_sources(folder)
    names = list(SOURCES)
    first = Series(
        title="Inscriptions administratives — 2023",
        description="Extraction Apogée",
        management=Management(appraisal=Rule("APP-00001", date(2024, 1, 1)), final_action="Destroy"),
        start_date=date(2023, 1, 1),
        end_date=date(2023, 12, 31),
        payloads=[
            payload(paths[names[0]], "Inscriptions 2023 (CSV)", start_date=date(2023, 9, 1)),
            payload(
                paths[names[1]],
                "Résultats d'été",
                description="Notes de la session d'été",
                management=Management(access=Rule("ACC-00016", date(2023, 7, 1))),
            ),
        ],
    )
    second = Series(title="Diplômes délivrés", payloads=[payload(paths[names[2]], "Diplômes 2023")])
    fields: dict[str, object] = {
        "message_identifier": "UNIV-APOGEE-2023-000001",
        "comment": "Versement Apogée 2023 (lot 1)",
        "archival_agreement": "IC-000001",
        "archival_agency": "FRAN_NP_000000",
        "transferring_agency": "UNIV_TEST",
        "originating_agency": "UNIV_TEST",
        "submission_agency": "UNIV_TEST_SI",
        "fonds_title": "Université de test — Apogée",
        "fonds_description": "Fonds de scolarité",
        "series": [first, second],
        "date": datetime(2024, 3, 15, 10, 30, 0, tzinfo=UTC),
        "seda_version": version,
        "management": Management(access=Rule("ACC-00001")),
    }
    fields.update(overrides)
    return SipRequest(**fields)  # type: ignore[arg-type]


def read_manifest(sip: Path) -> bytes:
    with zipfile.ZipFile(sip) as archive:
        return archive.read("manifest.xml")


def parse(manifest: bytes) -> etree._Element:
    return etree.fromstring(manifest)


def rewrite_zip(
    source: Path,
    target: Path,
    *,
    replace: Mapping[str, bytes | None] | None = None,
    add: Mapping[str, bytes] | None = None,
) -> Path:
    """Copy a zip entry by entry, replacing (bytes) or dropping (None) some, adding others.

    The result is a well-formed zip with correct CRCs: only the SEDA-level checks can
    notice the change.
    """
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in replace:
                data = replace[info.filename]
                if data is not None:
                    new.writestr(info.filename, data)
            else:
                new.writestr(info, old.read(info))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found")
