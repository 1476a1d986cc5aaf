"""The ArchiveUnit tree a packaging profile hands to the SIP writer.

This is the API the per-tool profiles call (``seda.writer.write_package``): a profile turns a
batch's datasets into one root ``Unit`` (Fonds › Series › File › Item at any depth) whose
children may be produced lazily, and the writer streams it into one or more SIPs.

- ``Unit.children`` is either a Sequence (list, tuple): the subtree is *atomic*, always written
  whole into one SIP (a person's file), or any other iterable (a generator): the children are
  streamed one by one and a SIP boundary may fall between two of them (a Series of 100,000
  person files). The writer never holds more than the atomic subtree being written and the
  path of its open ancestors.
- A unit holds at most one ``DataObject`` (VITAM links a unit to one object group; a table and
  its data dictionary are two Items).
- ``key`` is written as ``OriginatingAgencyArchiveUnitIdentifier``: a stable key made from the
  records (``stable_key("apogee", "etudiant", COD_ETU)``), so the same record gets the same
  identifier in every batch. xml ids (``AU1``, ``GOT1``, ``BDO1``) and Uris
  (``content/BDO1.json``) are generated in document order, never taken from the data.
- Rules (``seda.model.Management``) written on a unit apply to its descendants (VITAM inherits
  them); a descendant overrides one by declaring the same rule again with its own StartDate
  (``with_start``), e.g. a person's file starting from that person's last registration.
- Text from the data may hold anything: it is escaped, and characters XML 1.0 cannot carry are
  replaced (``seda.xmltext``) and reported as warnings with the unit's key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from seda.model import Management, Rule
from seda.versions import SedaVersion

Level = Literal[
    "Fonds",
    "Subfonds",
    "Class",
    "Collection",
    "Series",
    "Subseries",
    "RecordGrp",
    "SubGrp",
    "File",
    "Item",
    "OtherLevel",
]
KeywordType = Literal[
    "corpname", "famname", "geogname", "name", "occupation", "persname", "subject", "genreform", "function"
]


@dataclass(frozen=True)
class Format:
    """A file format as SEDA's FormatIdentification declares it (PRONOM identifier)."""

    mime_type: str
    puid: str
    name: str
    extension: str  # of the generated Uri, e.g. ".csv"


# PRONOM identifiers of the formats versement writes.
CSV = Format("text/csv", "x-fmt/18", "Comma Separated Values", ".csv")
XML = Format("text/xml", "fmt/101", "Extensible Markup Language", ".xml")
JSON = Format("application/json", "fmt/817", "JSON Data Interchange Format", ".json")
TEXT = Format("text/plain", "x-fmt/111", "Plain Text File", ".txt")
FORMATS = {f.puid: f for f in (CSV, XML, JSON, TEXT)}


@dataclass(frozen=True)
class DataObject:
    """One file of the SIP: on disk (`source`) or produced in memory (`data`), not both."""

    filename: str  # FileInfo/Filename: the name a reader sees (may hold accents, spaces)
    format: Format
    source: Path | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.source is None) == (self.data is None):
            raise ValueError("a DataObject has exactly one of source or data")

    def size_hint(self) -> int:
        return len(self.data) if self.data is not None else os.stat(self.source or "").st_size


@dataclass(frozen=True)
class Keyword:
    content: str
    type: KeywordType = "persname"


@dataclass(frozen=True)
class Unit:
    level: Level
    title: str
    key: str | None = None  # OriginatingAgencyArchiveUnitIdentifier
    description: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    keywords: Sequence[Keyword] = ()
    management: Management | None = None
    object: DataObject | None = None
    children: Iterable[Unit] = ()

    @property
    def atomic(self) -> bool:
        """Written whole into one SIP (children given as a Sequence)."""
        return isinstance(self.children, Sequence)


@dataclass(frozen=True)
class SipHeader:
    """What every SIP of a package shares; the writer adds the part number when it splits."""

    message_identifier: str  # base; parts of a split package get "-001", "-002", ...
    comment: str  # French human-readable transfer title
    archival_agreement: str  # ingest contract
    archival_agency: str
    transferring_agency: str
    originating_agency: str
    date: datetime
    seda_version: SedaVersion = "2.1"
    submission_agency: str | None = None
    archival_profile: str | None = None
    legal_status: str | None = "Public Archive"
    management: Management | None = None  # package defaults -> ManagementMetadata


@dataclass(frozen=True)
class Limits:
    """Size of one SIP: units plus objects, and payload bytes (before compression)."""

    max_items: int = 100_000
    max_bytes: int = 1_000_000_000


@dataclass(frozen=True)
class TextWarning:
    """A text value that had to be changed to be written (or is longer than VITAM indexes)."""

    unit: str  # the unit's key, or its title path when it has none
    field: str
    problem: str

    def to_dict(self) -> dict[str, str]:
        return {"unit": self.unit, "field": self.field, "problem": self.problem}


@dataclass(frozen=True)
class Counts:
    units: int = 0
    objects: int = 0
    bytes: int = 0

    @property
    def items(self) -> int:
        return self.units + self.objects

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.units + other.units, self.objects + other.objects, self.bytes + other.bytes)


@dataclass(frozen=True)
class PackageResult:
    """Every SIP written for one package, in order, and the warnings about the data."""

    sips: tuple[SipPart, ...]
    warnings: tuple[TextWarning, ...]
    warnings_dropped: int = 0  # beyond the ones kept
    units: int = 0
    objects: int = 0


@dataclass(frozen=True)
class SipPart:
    path: Path
    message_identifier: str
    sha256: str
    manifest_sha512: str
    unit_count: int
    object_count: int
    payload_bytes: int
    objects: dict[str, str] = field(default_factory=dict)  # Uri -> SHA-512, only when asked for


def stable_key(*parts: object) -> str:
    """``apogee:etudiant:21904567``: a record's identifier across batches, from its source key."""
    return ":".join(str(part).strip() for part in parts)


def with_start(management: Management, start: date | None) -> Management:
    """The same rules starting at `start` (a per-unit override of inherited rules)."""

    def moved(rule: Rule | None) -> Rule | None:
        return None if rule is None else replace(rule, start_date=start)

    return replace(
        management,
        appraisal=moved(management.appraisal),
        access=moved(management.access),
        storage=moved(management.storage),
    )
