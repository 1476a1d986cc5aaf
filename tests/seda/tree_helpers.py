"""A person-file tree like the profiles build: Fonds › Series (streamed) › File per person › Items."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from seda.model import Management, Rule
from seda.tree import JSON, XML, DataObject, Keyword, SipHeader, Unit, stable_key, with_start

REPO = Path(__file__).resolve().parents[2]
RULES_CSV = REPO / "config" / "rules.csv"

STUDENT_RULES = Management(
    appraisal=Rule("APP-00002", date(2024, 8, 31)), final_action="Destroy", access=Rule("ACC-00016", date(2024, 8, 31))
)


def header(version: str = "2.1", **overrides: object) -> SipHeader:
    fields: dict[str, object] = {
        "message_identifier": "UNIV-APOGEE-2023-000007",
        "comment": "Versement Apogée 2023 (lot 7)",
        "archival_agreement": "IC-000001",
        "archival_agency": "CINES",
        "transferring_agency": "UNIV-DEMO",
        "originating_agency": "UNIV-DEMO",
        "submission_agency": "UNIV-DEMO-DSI",
        "date": datetime(2024, 3, 15, 10, 30, tzinfo=UTC),
        "seda_version": version,
        "management": Management(access=Rule("ACC-00001")),
    }
    fields.update(overrides)
    return SipHeader(**fields)  # type: ignore[arg-type]


def person(number: int, name: str = "", last_registration: date | None = None) -> Unit:
    """One student's file: identity as JSON, registrations as XML; own rule start date."""
    name = name or f"Étudiant n°{number}"
    key = stable_key("apogee", "etudiant", number)
    identity = json.dumps({"COD_ETU": number, "NOM": name}, ensure_ascii=False).encode()
    registrations = f"<inscriptions><inscription annee='2023' etudiant='{number}'/></inscriptions>".encode()
    start = last_registration or date(2024, 8, 31)
    return Unit(
        level="File",
        title=f"Dossier de {name}",
        key=key,
        keywords=[Keyword(name, "persname")],
        start_date=date(2019, 9, 1),
        end_date=start,
        management=with_start(STUDENT_RULES, start),
        children=[
            Unit(
                "Item",
                f"Identité — {name}",
                key=f"{key}:identite",
                object=DataObject("identite.json", JSON, data=identity),
            ),
            Unit(
                "Item",
                f"Inscriptions — {name}",
                key=f"{key}:inscriptions",
                object=DataObject("inscriptions.xml", XML, data=registrations),
            ),
        ],
    )


def tree(count: int, *, names: dict[int, str] | None = None) -> Unit:
    def people() -> Iterator[Unit]:
        for number in range(1, count + 1):
            yield person(number, (names or {}).get(number, ""))

    series = Unit(
        level="Series",
        title="Dossiers individuels des étudiants",
        key=stable_key("apogee", "serie", "dossiers-etudiants"),
        management=STUDENT_RULES,
        children=people(),
    )
    return Unit(
        level="Fonds",
        title="Université de Démonstration — Apogée",
        key=stable_key("apogee", "fonds"),
        children=iter([series]),
    )


def manifest_of(sip: Path) -> bytes:
    with zipfile.ZipFile(sip) as archive:
        return archive.read("manifest.xml")
