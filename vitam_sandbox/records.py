"""The JSON records access-external and admin-external return, built from an ingest outcome.

Field names are VITAM's (vitam-api.md §5.5, §7.2): units carry ``#id``, ``#opi``,
``#operations``, ``#unitups``, ``#allunitups``, ``#object``, ``#originating_agency``,
``#management`` and their Content fields; object groups carry ``#qualifiers`` with one entry per
usage, each with ``versions`` holding ``#id``, ``DataObjectVersion``, ``MessageDigest`` (the
SHA-512 VITAM computes and stores, ``Algorithm: SHA-512``), ``Size``, ``Uri``,
``FormatIdentification`` (as identified) and ``FileInfo``; a logbook operation is the
``PROCESS_SIP_UNITARY`` record with ``evIdProc``, ``evTypeProc``, ``obIdIn`` (the SIP's
MessageIdentifier once CHECK_HEADER ran, the operation id before) and its ``events``, the last
one carrying the final outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vitam_sandbox import guid
from vitam_sandbox.events import Event, event_time
from vitam_sandbox.labels import event_label
from vitam_sandbox.referentials import Referentials
from vitam_sandbox.reply import object_version
from vitam_sandbox.store import Operation
from vitam_sandbox.workflow import IngestOutcome

FINALISATION = "STP_INGEST_FINALISATION"


def unit_records(
    outcome: IngestOutcome, operation: Operation, find_unit: Callable[[str, int], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    manifest = outcome.manifest
    assert manifest is not None
    group_of_object = {item.id: item.group_key for item in manifest.objects}
    by_guid = {outcome.units[unit.id]: unit for unit in manifest.units if unit.id not in outcome.attached}
    ancestors: dict[str, list[str]] = {}

    def all_ups(unit_guid: str) -> list[str]:
        if unit_guid not in ancestors:
            ancestors[unit_guid] = []  # the tree has no cycle (CHECK_MANIFEST_LOOP)
            unit = by_guid.get(unit_guid)
            parents = outcome.parents.get(unit.id, []) if unit is not None else []
            found: list[str] = []
            for parent in parents:
                stored = find_unit(parent, operation.tenant) if parent not in by_guid else None
                above = stored.get("#allunitups", []) if stored else all_ups(parent)
                found.extend(p for p in [parent, *above] if p not in found)
            ancestors[unit_guid] = found
        return ancestors[unit_guid]

    records = []
    for unit in manifest.units:
        if unit.id in outcome.attached:
            continue  # a stand-in for a unit already archived: nothing new is created
        unit_guid = outcome.units[unit.id]
        record: dict[str, Any] = {
            "#id": unit_guid,
            **{name: value for name, value in unit.fields.items() if not name.startswith(("_", "#"))},
            "DescriptionLevel": unit.description_level,
            "Title": unit.title,
            "#tenant": operation.tenant,
            "#opi": operation.id,
            "#operations": [operation.id],
            "#unitups": outcome.parents.get(unit.id, []),
            "#allunitups": all_ups(unit_guid),
            "#originating_agency": manifest.originating_agency,
            "#originating_agencies": [manifest.originating_agency],
            "#management": _management(manifest.rules, unit.id),
            "#unitType": "INGEST",
            "#approximate_creation_date": operation.created,
            "#version": 0,
        }
        group = group_of_object.get(unit.group_ref or "", unit.group_ref or "")
        if group in outcome.groups:
            record["#object"] = outcome.groups[group]
        records.append(record)
    return records


def _management(rules: list[Any], unit_id: str) -> dict[str, Any]:
    management: dict[str, Any] = {}
    for rule in rules:
        if rule.where != unit_id:
            continue
        category = management.setdefault(rule.category, {"Rules": []})
        if rule.ref_non_rule:
            category.setdefault("Inheritance", {}).setdefault("PreventRulesId", []).append(rule.rule_id)
        else:
            category["Rules"].append({"Rule": rule.rule_id})
    return management


def group_records(outcome: IngestOutcome, operation: Operation) -> list[dict[str, Any]]:
    manifest = outcome.manifest
    assert manifest is not None
    referencing: dict[str, list[str]] = {}
    for unit in manifest.units:
        if unit.group_ref:
            referencing.setdefault(unit.group_ref, []).append(outcome.units[unit.id])
    groups: dict[str, dict[str, Any]] = {}
    for item in manifest.objects:
        group_guid = outcome.groups[item.group_key]
        group = groups.setdefault(
            item.group_key,
            {
                "#id": group_guid,
                "#tenant": operation.tenant,
                "#opi": operation.id,
                "#operations": [operation.id],
                "#unitups": referencing.get(item.group_key, []) + referencing.get(item.id, []),
                "#originating_agency": manifest.originating_agency,
                "#originating_agencies": [manifest.originating_agency],
                "#nbobjects": 0,
                "#qualifiers": [],
                "#version": 0,
            },
        )
        version = object_version(item.kind, item.version)
        usage = version.split("_", 1)[0]
        qualifier = next((q for q in group["#qualifiers"] if q["qualifier"] == usage), None)
        if qualifier is None:
            qualifier = {"qualifier": usage, "#nbc": 0, "versions": []}
            group["#qualifiers"].append(qualifier)
        entry: dict[str, Any] = {
            "#id": outcome.objects[item.id],
            "DataObjectVersion": version,
            "DataObjectGroupId": group_guid,
        }
        stored = outcome.stored_objects.get(item.id)
        if stored is not None:
            identified = stored.format
            entry.update(
                {
                    "FormatIdentification": {
                        "FormatLitteral": identified.name if identified else item.format_litteral,
                        "MimeType": identified.mime_type if identified else item.mime_type,
                        "FormatId": identified.puid if identified else item.format_id,
                    },
                    "FileInfo": {"Filename": item.filename},
                    "Size": stored.size,
                    "Uri": item.uri,
                    "MessageDigest": stored.sha512,
                    "Algorithm": "SHA-512",
                    "#storage": {"strategyId": "default", "offerIds": ["sandbox"]},
                }
            )
            group.setdefault("FileInfo", {"Filename": item.filename})
        qualifier["versions"].append(entry)
        qualifier["#nbc"] += 1
        group["#nbobjects"] += 1
    return list(groups.values())


# -- logbook -------------------------------------------------------------------------------------


def initial_logbook(operation: Operation, application: str | None) -> dict[str, Any]:
    """The logbook operation as created on reception: STARTED, obIdIn = the operation id."""
    process = _process(operation)
    return {
        "#id": operation.id,
        "#tenant": operation.tenant,
        "evId": operation.id,
        "evParentId": None,
        "evType": process,
        "evDateTime": event_time(),
        "evDetData": None,
        "evIdProc": operation.id,
        "evTypeProc": operation.context_id,
        "outcome": "STARTED",
        "outDetail": f"{process}.STARTED",
        "outMessg": f"Début du processus : {event_label(process)}",
        "agIdApp": None,
        "evIdAppSession": application,
        "evIdReq": operation.id,
        "agIdExt": None,
        "rightsStatementIdentifier": None,
        "obId": operation.id,
        "obIdReq": None,
        "obIdIn": operation.id,
        "events": [],
    }


def logbook_record(
    outcome: IngestOutcome, operation: Operation, application: str | None, *, fatal: bool
) -> dict[str, Any]:
    record = initial_logbook(operation, application)
    manifest = outcome.manifest
    if manifest is not None and outcome.header_read:
        record["obIdIn"] = manifest.message_identifier
        record["agIdExt"] = json.dumps(
            {
                "originatingAgency": manifest.originating_agency,
                "TransferringAgency": manifest.transferring_agency,
                "ArchivalAgency": manifest.archival_agency,
            }
        )
        record["rightsStatementIdentifier"] = json.dumps(
            {"ArchivalAgreement": manifest.archival_agreement, "ArchivalProfile": manifest.archival_profile}
        )
    events = [_event(e, operation) for e in outcome.trail]
    if fatal:
        events.append(
            _event(
                Event(
                    "STP_STORAGE_AVAILABILITY_CHECK",
                    "FATAL",
                    "STP_STORAGE_AVAILABILITY_CHECK.FATAL",
                    event_time(),
                    "fault injected by the test",
                ),
                operation,
            )
        )
    else:
        record["_final_from"] = len(events)  # hidden until the operation shows COMPLETED
        process = _process(operation)
        for event in (
            Event("ATR_NOTIFICATION", "OK", "ATR_NOTIFICATION.OK", event_time()),
            Event(FINALISATION, "OK", f"{FINALISATION}.OK", event_time()),
            Event(process, outcome.status, f"{process}.{outcome.status}", event_time()),
        ):
            events.append(_event(event, operation))
    record["events"] = events
    return record


def visible_logbook(record: dict[str, Any], *, completed: bool) -> dict[str, Any]:
    """The record as the logbook shows it now: no finalisation events before completion."""
    shown = {key: value for key, value in record.items() if not key.startswith("_")}
    cut = record.get("_final_from")
    if cut is not None and not completed:
        shown["events"] = record["events"][:cut]
    return shown


def _event(event: Event, operation: Operation) -> dict[str, Any]:
    return {
        "evId": guid.new_guid(guid.OPERATION),
        "evParentId": operation.id,
        "evType": event.code,
        "evDateTime": event.date,
        "evDetData": event.detail_data,
        "evIdProc": operation.id,
        "evTypeProc": operation.context_id,
        "outcome": event.outcome,
        "outDetail": event.detail,
        "outMessg": event.message,
    }


def _process(operation: Operation) -> str:
    return "PROCESS_SIP_UNITARY_TEST" if operation.context_id == "INGEST_TEST" else "PROCESS_SIP_UNITARY"


# -- referentials --------------------------------------------------------------------------------


def referential_records(referentials: Referentials, name: str) -> list[dict[str, Any]]:
    """admin-external's JSON for a referential (the fields VITAM imported, plus #tenant-less ids)."""
    if name == "rules":
        return [
            {
                "RuleId": rule.id,
                "RuleType": rule.type,
                "RuleValue": rule.value,
                "RuleDuration": rule.duration,
                "RuleMeasurement": rule.measurement,
            }
            for rule in referentials.rules.values()
        ]
    if name == "agencies":
        return [{"Identifier": key, "Name": value} for key, value in referentials.agencies.items()]
    if name == "ingestcontracts":
        return [
            {
                "Identifier": c.identifier,
                "Name": c.name,
                "Status": c.status,
                "ArchiveProfiles": list(c.archive_profiles),
                "CheckParentLink": c.check_parent_link,
                "LinkParentId": c.link_parent_id,
                "CheckParentId": list(c.check_parent_ids),
                "FormatUnidentifiedAuthorized": c.format_unidentified_authorized,
                "EveryFormatType": c.every_format_type,
                "FormatType": list(c.format_types),
            }
            for c in referentials.ingest_contracts.values()
        ]
    return [
        {"Identifier": c.identifier, "Name": c.name, "Status": c.status} for c in referentials.access_contracts.values()
    ]
