"""The sandbox's referentials, read from a folder in the formats VITAM's admin-external imports
(vitam-api.md §8), so that the same files could be loaded into a real VITAM test tenant:

    ingest_contracts.json   the JSON array of ``POST /ingestcontracts`` (Identifier, Name, Status,
                            ArchiveProfiles, CheckParentLink, LinkParentId, CheckParentId,
                            FormatUnidentifiedAuthorized, EveryFormatType, FormatType, ...)
    access_contracts.json   the JSON array of ``POST /accesscontracts`` (Identifier, Name, Status, ...)
    agencies.csv            ``Identifier,Name,Description`` (``POST /agencies``)
    rules.csv               ``RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement``
                            (``POST /rules``), checked as VITAM's RulesManagerFileImpl does (§8.1)
    formats.xml             optional: a PRONOM DROID signature file (``POST /formats``); without it,
                            the DROID file FIDO ships is the format referential

A bad file raises :class:`ReferentialError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

RULE_TYPES = (
    "AppraisalRule",
    "AccessRule",
    "StorageRule",
    "DisseminationRule",
    "ClassificationRule",
    "ReuseRule",
    "HoldRule",
)
RULE_COLUMNS = ("RuleId", "RuleType", "RuleValue", "RuleDescription", "RuleDuration", "RuleMeasurement")
AGENCY_COLUMNS = ("Identifier", "Name", "Description")
# RulesManagerFileImpl's YEAR/MONTH/DAY limits; SECOND has none.
DURATION_LIMITS = {"YEAR": 999, "MONTH": 11988, "DAY": 359640}
CHECK_PARENT_LINK = ("AUTHORIZED", "REQUIRED", "UNAUTHORIZED")
STATUSES = ("ACTIVE", "INACTIVE")

_CONTRACT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "Identifier": str,
    "Name": str,
    "Description": str,
    "Status": str,
    "CreationDate": str,
    "LastUpdate": str,
    "ActivationDate": str,
    "DeactivationDate": str,
    "ArchiveProfiles": list,
    "LinkParentId": str,
    "CheckParentLink": str,
    "CheckParentId": list,
    "MasterMandatory": bool,
    "EveryDataObjectVersion": bool,
    "DataObjectVersion": list,
    "FormatUnidentifiedAuthorized": bool,
    "EveryFormatType": bool,
    "FormatType": list,
    "ComputeInheritedRulesAtIngest": bool,
    "ManagementContractId": str,
    "SignaturePolicy": dict,
}
_ACCESS_CONTRACT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "Identifier": str,
    "Name": str,
    "Description": str,
    "Status": str,
    "CreationDate": str,
    "LastUpdate": str,
    "ActivationDate": str,
    "DeactivationDate": str,
    "DataObjectVersion": list,
    "OriginatingAgencies": list,
    "WritingPermission": bool,
    "WritingRestrictedDesc": bool,
    "EveryOriginatingAgency": bool,
    "EveryDataObjectVersion": bool,
    "RootUnits": list,
    "ExcludedRootUnits": list,
    "AccessLog": str,
    "RuleCategoryToFilter": list,
}
_DROID = "{http://www.nationalarchives.gov.uk/pronom/SignatureFile}"


class ReferentialError(ValueError):
    """A referential file VITAM would refuse to import."""

    def __init__(self, path: Path, line: int, column: int | str, problem: str) -> None:
        self.path, self.line, self.column, self.problem = path, line, column, problem
        super().__init__(f"{path}, line {line}, column {column}: {problem}")


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    value: str
    duration: str  # an integer, "unlimited", or empty (HoldRule only)
    measurement: str  # YEAR | MONTH | DAY | SECOND, or empty (HoldRule only)


@dataclass(frozen=True)
class IngestContract:
    identifier: str
    name: str
    status: str = "ACTIVE"
    archive_profiles: tuple[str, ...] = ()
    check_parent_link: str = "AUTHORIZED"
    link_parent_id: str | None = None
    check_parent_ids: tuple[str, ...] = ()
    format_unidentified_authorized: bool = False
    every_format_type: bool = True
    format_types: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class AccessContract:
    identifier: str
    name: str
    status: str = "ACTIVE"

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class FileFormat:
    puid: str
    name: str
    mime_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Referentials:
    ingest_contracts: Mapping[str, IngestContract] = field(default_factory=dict)
    access_contracts: Mapping[str, AccessContract] = field(default_factory=dict)
    agencies: Mapping[str, str] = field(default_factory=dict)  # Identifier -> Name
    rules: Mapping[str, Rule] = field(default_factory=dict)
    formats: Mapping[str, FileFormat] | None = None  # None: FIDO's DROID file, read when first needed

    def rule_type(self, rule_id: str) -> str | None:
        rule = self.rules.get(rule_id)
        return rule.type if rule else None


def load_referentials(folder: Path) -> Referentials:
    """Read every referential of ``folder``; the four main files are required."""
    if not folder.is_dir():
        raise ReferentialError(folder, 0, 0, "the referentials folder does not exist")
    formats = folder / "formats.xml"
    access = folder / "access_contracts.json"
    return Referentials(
        ingest_contracts=_by_identifier(read_ingest_contracts(folder / "ingest_contracts.json")),
        access_contracts=_by_identifier(read_access_contracts(access)) if access.exists() else {},
        agencies=read_agencies(folder / "agencies.csv"),
        rules=read_rules(folder / "rules.csv"),
        formats=read_formats(formats) if formats.exists() else None,
    )


# -- JSON contracts ------------------------------------------------------------------------------


def read_ingest_contracts(path: Path) -> list[IngestContract]:
    contracts = []
    for entry in _json_entries(path, _CONTRACT_FIELDS):
        data, where = entry.data, entry.where
        link = data.get("CheckParentLink", "AUTHORIZED")
        if link not in CHECK_PARENT_LINK:
            raise where("CheckParentLink", f"CheckParentLink {link!r} is not one of {', '.join(CHECK_PARENT_LINK)}")
        for key in ("ArchiveProfiles", "CheckParentId", "FormatType"):
            if not all(isinstance(item, str) and item for item in data.get(key, [])):
                raise where(key, f"{key} must be a list of non-empty strings")
        if data.get("EveryFormatType", True) is False and not data.get("FormatType"):
            raise where("FormatType", "EveryFormatType is false but FormatType lists no format")
        contracts.append(
            IngestContract(
                identifier=data["Identifier"],
                name=data["Name"],
                status=data.get("Status", "ACTIVE"),
                archive_profiles=tuple(data.get("ArchiveProfiles", ())),
                check_parent_link=link,
                link_parent_id=data.get("LinkParentId") or None,
                check_parent_ids=tuple(data.get("CheckParentId", ())),
                format_unidentified_authorized=data.get("FormatUnidentifiedAuthorized", False),
                every_format_type=data.get("EveryFormatType", True),
                format_types=tuple(data.get("FormatType", ())),
            )
        )
    return contracts


def read_access_contracts(path: Path) -> list[AccessContract]:
    return [
        AccessContract(entry.data["Identifier"], entry.data["Name"], entry.data.get("Status", "ACTIVE"))
        for entry in _json_entries(path, _ACCESS_CONTRACT_FIELDS)
    ]


@dataclass
class _Entry:
    data: dict[str, Any]
    path: Path
    text: str
    start: int
    end: int

    def where(self, key: str | None, problem: str) -> ReferentialError:
        """An error located at ``"key"`` inside this entry (or at the entry's start)."""
        position = self.start
        if key is not None:
            found = self.text.find(json.dumps(key), self.start, self.end)
            position = found if found >= 0 else self.start
        line, column = _line_column(self.text, position)
        return ReferentialError(self.path, line, column, problem)


def _json_entries(path: Path, fields: dict[str, type | tuple[type, ...]]) -> Iterator[_Entry]:
    """Each object of the JSON array in ``path``, with its position for error messages."""
    text = _read_text(path)
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        line, column = _line_column(text, position)
        raise ReferentialError(path, line, column, "expected a JSON array of contracts, as VITAM imports")
    position = _skip_space(text, position + 1)
    seen: set[str] = set()
    first = True
    while position < len(text) and text[position] != "]":
        if not first:
            if text[position] != ",":
                raise ReferentialError(path, *_line_column(text, position), "expected ',' or ']'")
            position = _skip_space(text, position + 1)
        first = False
        try:
            data, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ReferentialError(path, exc.lineno, exc.colno, exc.msg) from None
        entry = _Entry(data, path, text, position, end)
        _check_entry(entry, fields, seen)
        yield entry
        position = _skip_space(text, end)
    if position >= len(text):
        raise ReferentialError(path, *_line_column(text, position), "the JSON array is not closed")
    rest = _skip_space(text, position + 1)
    if rest < len(text):
        raise ReferentialError(path, *_line_column(text, rest), "unexpected text after the JSON array")


def _check_entry(entry: _Entry, fields: dict[str, type | tuple[type, ...]], seen: set[str]) -> None:
    data = entry.data
    if not isinstance(data, dict):
        raise entry.where(None, "each element of the array must be a JSON object")
    for key, value in data.items():
        if key.startswith(("_", "#")):
            continue  # system fields of an exported referential (_id, _tenant, _v...)
        if key not in fields:
            close = [name for name in fields if name.lower() == key.lower()]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise entry.where(key, f"unknown field {key!r}{hint}")
        if not isinstance(value, fields[key]) or (fields[key] is not bool and isinstance(value, bool)):
            expected = getattr(fields[key], "__name__", str(fields[key]))
            raise entry.where(key, f"{key} must be a {_JSON_NAMES.get(expected, expected)}")
    for key in ("Identifier", "Name"):
        if not str(data.get(key, "")).strip():
            raise entry.where(key if key in data else None, f"{key} is mandatory and must not be empty")
    if data.get("Status", "ACTIVE") not in STATUSES:
        raise entry.where("Status", f"Status {data['Status']!r} is not ACTIVE or INACTIVE")
    if data["Identifier"] in seen:
        raise entry.where("Identifier", f"duplicate Identifier {data['Identifier']!r}")
    seen.add(data["Identifier"])


_JSON_NAMES = {"str": "string", "list": "JSON array", "bool": "boolean (true/false)", "dict": "JSON object"}


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _by_identifier(items: list[Any]) -> dict[str, Any]:
    return {item.identifier: item for item in items}


# -- CSV referentials ----------------------------------------------------------------------------


def read_agencies(path: Path) -> dict[str, str]:
    agencies: dict[str, str] = {}
    for line, row in _csv_rows(path, AGENCY_COLUMNS, required=("Identifier", "Name")):
        identifier = row["Identifier"]
        if identifier in agencies:
            raise ReferentialError(path, line, _column("Identifier", AGENCY_COLUMNS), f"duplicate {identifier!r}")
        agencies[identifier] = row["Name"]
    return agencies


def read_rules(path: Path) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for line, row in _csv_rows(path, RULE_COLUMNS, required=("RuleId", "RuleType", "RuleValue")):

        def error(column: str, problem: str, line: int = line) -> ReferentialError:
            return ReferentialError(path, line, _column(column, RULE_COLUMNS), problem)

        rule_id, rule_type = row["RuleId"], row["RuleType"]
        if rule_id in rules:
            raise error("RuleId", f"duplicate RuleId {rule_id!r}")
        if rule_type not in RULE_TYPES:
            raise error("RuleType", f"RuleType {rule_type!r} is not one of {', '.join(RULE_TYPES)}")
        duration, measurement = row["RuleDuration"], row["RuleMeasurement"].upper()
        if rule_type != "HoldRule" or duration or measurement:
            if not duration:
                raise error("RuleDuration", "RuleDuration is mandatory (an integer or 'unlimited')")
            if measurement not in ("YEAR", "MONTH", "DAY", "SECOND"):
                raise error(
                    "RuleMeasurement", f"RuleMeasurement {row['RuleMeasurement']!r} is not YEAR/MONTH/DAY/SECOND"
                )
            if duration.lower() != "unlimited":
                if not re.fullmatch(r"[0-9]+", duration):
                    raise error("RuleDuration", f"RuleDuration {duration!r} is not a non-negative integer")
                limit = DURATION_LIMITS.get(measurement)
                if limit is not None and int(duration) > limit:
                    raise error("RuleDuration", f"RuleDuration {duration} exceeds {limit} ({measurement})")
        rules[rule_id] = Rule(rule_id, rule_type, row["RuleValue"], duration, measurement)
    return rules


def _csv_rows(
    path: Path, columns: tuple[str, ...], *, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ReferentialError(path, 1, 1, f"empty file; expected the header {','.join(columns)}") from None
    except csv.Error as exc:
        raise ReferentialError(path, 1, 1, str(exc)) from None
    if tuple(name.strip() for name in header) != columns:
        raise ReferentialError(path, 1, 1, f"header {','.join(header)!r} instead of {','.join(columns)}")
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ReferentialError(path, reader.line_num, 1, str(exc)) from None
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            raise ReferentialError(
                path, line, min(len(values), len(columns)) + 1, f"{len(values)} fields instead of {len(columns)}"
            )
        row = {name: value.strip() for name, value in zip(columns, values, strict=True)}
        for name in columns:
            if any(ord(char) < 32 and char not in "\t" for char in row[name]):
                raise ReferentialError(path, line, _column(name, columns), f"{name} holds a control character")
        for name in required:
            if not row[name]:
                raise ReferentialError(path, line, _column(name, columns), f"{name} is mandatory")
        yield line, row


def _column(name: str, columns: tuple[str, ...]) -> str:
    return f"{columns.index(name) + 1} ({name})"


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReferentialError(path, 0, 0, "missing referential file") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8", "replace")
        line, column = _line_column(text, len(text))
        raise ReferentialError(path, line, column, "not UTF-8") from None


# -- formats (PRONOM) ----------------------------------------------------------------------------


def read_formats(path: Path) -> dict[str, FileFormat]:
    """The FileFormat entries of a DROID signature file (what VITAM's format import reads)."""
    formats: dict[str, FileFormat] = {}
    parser_options = {"resolve_entities": False, "no_network": True, "load_dtd": False}
    try:
        for _, element in etree.iterparse(str(path), tag=f"{_DROID}FileFormat", **parser_options):
            puid = element.get("PUID")
            if not puid:
                raise ReferentialError(path, element.sourceline or 0, 1, "FileFormat without a PUID")
            mimes = tuple(m.strip() for m in (element.get("MIMEType") or "").split(",") if m.strip())
            formats[puid] = FileFormat(puid, element.get("Name") or puid, mimes)
            element.clear()
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise ReferentialError(path, line, column, exc.msg) from None
    except OSError as exc:
        raise ReferentialError(path, 0, 0, str(exc)) from None
    if not formats:
        raise ReferentialError(path, 1, 1, "no FileFormat in this DROID signature file")
    return formats
