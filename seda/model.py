"""What a caller asks for (SipRequest and its parts) and what build_sip gives back (SipResult)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from seda.versions import SedaVersion


@dataclass(frozen=True)
class Rule:
    """A rule reference from the tenant's VITAM rules referential."""

    rule_id: str  # e.g. "APP-00001", "ACC-00016"
    start_date: date | None = None


@dataclass(frozen=True)
class Management:
    """Rules attached to a unit, or the package defaults."""

    appraisal: Rule | None = None
    final_action: Literal["Keep", "Destroy"] = "Keep"  # only written when appraisal is set
    access: Rule | None = None
    storage: Rule | None = None  # optional: written only when the deployment configures one
    storage_final_action: Literal["RestrictAccess", "Transfer", "Copy"] = "Copy"  # with storage only


@dataclass(frozen=True)
class Payload:
    """One archival file: one DataObjectGroup (BinaryMaster_1) plus one Item unit."""

    source: Path  # file on disk to pack
    filename: str  # original name, written in FileInfo/Filename (may hold accents, spaces)
    title: str  # French title of the Item unit
    mime_type: str  # e.g. "text/csv"
    format_id: str  # PRONOM PUID, e.g. "x-fmt/18"
    format_name: str | None = None  # FormatLitteral, e.g. "Comma Separated Values"
    description: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    management: Management | None = None


@dataclass(frozen=True)
class Series:
    title: str
    payloads: Sequence[Payload]
    description: str | None = None
    management: Management | None = None
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class SipRequest:
    message_identifier: str
    comment: str  # French human-readable transfer title
    archival_agreement: str  # ingest contract, e.g. "IC-000001"
    archival_agency: str
    transferring_agency: str
    originating_agency: str  # mandatory for VITAM
    fonds_title: str
    series: Sequence[Series]
    date: datetime
    seda_version: SedaVersion = "2.1"
    submission_agency: str | None = None
    fonds_description: str | None = None
    management: Management | None = None  # package-level defaults -> ManagementMetadata
    legal_status: str | None = "Public Archive"


@dataclass(frozen=True)
class SipResult:
    path: Path  # the zip
    sha256: str  # lowercase hex SHA-256 of the zip file
    manifest_sha512: str  # lowercase hex SHA-512 of manifest.xml (X-Manifest-Digest-Value)
    unit_count: int
    object_count: int
    objects: Mapping[str, str]  # Uri ("content/...") -> SHA-512 hex of that file
