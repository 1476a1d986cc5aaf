"""A batch's datasets turned into the ArchiveUnit tree of its packaging profile, streamed into SIPs.

The profile (``profiles/<tool>.toml``, or the institution's own from ``[seda] profiles``) says
the tree: Fonds › Series per record type › File per academic year (tables, as CSV with a data
dictionary each) or per person (students, agents) › Items. Rules come from the profile, whose
rule identifiers are checked against the institution's rules referential before anything is
written; each rule's StartDate is computed from the records (``profiles`` module docstring).
A record whose start date cannot be computed keeps its rule without a StartDate and is
reported (``Packaged.missing_starts``): in the package event and in the approval request.

Memory stays flat: the persons of a Series are read with DuckDB, one ordered stream per Parquet
file (sorted by person key), merged person by person; only one person's rows are held at once,
and the tree is handed to ``seda.writer.write_package`` lazily.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from extractors.scope import Scope
from extractors.specs import SENSITIVE_CLASSES
from profiles import GroupSpec, Profile, ProfileError, RuleSpec, SeriesSpec, Start, load_profile
from seda import (
    CSV,
    JSON,
    DataObject,
    Keyword,
    Limits,
    Management,
    PackageResult,
    Rule,
    SipHeader,
    SipPart,
    Unit,
    load_rules,
    stable_key,
    write_package,
)
from seda.xmltext import VITAM_FIELD_LIMIT
from versement.config import Settings
from versement.ledger import Batch, Dataset
from versement.records import batch_scope
from versement.renditions import data_dictionary, parquet_to_csv, use_system_allocator

MAX_REPORTED = 1000  # missing start dates kept in the event (all are counted)
_BATCH_ROWS = 2_000  # rows per record batch of a person stream, held as Python dicts (5,000: about 5 MB)
# DuckDB's memory cap (it spills to disk beyond): at 64 MB with ranges twice as large the packaging
# of 100,000 persons peaked about 9 MB higher, for no measurable gain in speed.
_SORT_MEMORY = "32MB"
_CHUNK_CELLS = 300_000  # values (rows x columns, all datasets of a Series) sorted at once
_SAMPLE_MAX = 20_000  # keys sampled per dataset to cut the ranges
_PK = "__versement_person"
_KIND_FR = {"student": "etudiant", "agent": "agent"}
_NUMBER_TAG = {"student": "student_number", "agent": "agent_number"}
_NUMBER_FR = {"student": "n° étudiant", "agent": "dossier n°"}


def person_file_key(tool: str, kind: str, person: str) -> str:
    """The key (``OriginatingAgencyArchiveUnitIdentifier``) of a person's File: the same in
    every batch, so that the browser finds the File again in VITAM once the local copy is gone."""
    return stable_key(tool, _KIND_FR.get(kind, kind), person)


def protected_item_key(file_key: str) -> str:
    """The key of a person File's restricted Item (the sensitive columns, with their own AccessRule)."""
    return stable_key(file_key, "donnees_protegees")


def table_key(tool: str, dataset: str, scope_label: str) -> str:
    """The key of the Item holding a dataset's rows as CSV in a ``tables`` Series ("table" keeps it
    apart from a Series' File of the same name: Pégase's dataset and Series "diplomes")."""
    return stable_key(tool, "table", dataset, scope_label)


def dictionary_key(table: str) -> str:
    """The key of a dataset's data dictionary Item, from its ``table_key`` (kept for a grouped
    dataset too, beside its SubGrps: the browser finds the groups from it)."""
    return stable_key(table, "dictionnaire")


def group_key(table: str, values: Sequence[str]) -> str:
    """The key of the SubGrp of a grouped dataset holding one value of its ``by`` columns
    (``values`` as shown, "non renseigné" for NULL), under the dataset's ``table_key``."""
    return stable_key(table, *values)


def is_group_key(table: str, key: str) -> bool:
    """Whether ``key`` is one of ``group_key(table, …)`` (not the data dictionary's key)."""
    return key.startswith(f"{table}:") and key != dictionary_key(table)


def session_key(group: str, session: Any, *, by_session: bool = True) -> str:
    """The key of the CSV Item of one session of a group (the group's one Item if the dataset is
    not cut by session)."""
    if not by_session:
        return stable_key(group, "lignes")
    if session is None:
        return stable_key(group, "session", "vide")
    return stable_key(group, "session", session)


def is_session_key(group: str, key: str) -> bool:
    """Whether ``key`` is one of ``session_key(group, …)``: a CSV Item of that group."""
    return key == session_key(group, None, by_session=False) or key.startswith(f"{group}:session:")


class PackagingError(Exception):
    """The batch cannot be packaged with its profile (the message names file, key or dataset)."""


@dataclass(frozen=True)
class MissingStart:
    """A rule of a unit left without StartDate because the records do not give one."""

    unit: str  # the unit's stable key
    title: str
    category: str  # AppraisalRule | AccessRule | StorageRule
    rule: str
    reason: str  # French

    def to_dict(self) -> dict[str, str]:
        return {
            "unit": self.unit,
            "title": self.title,
            "category": self.category,
            "rule": self.rule,
            "reason": self.reason,
        }

    def line_fr(self) -> str:
        return f"{self.title} ({self.unit}) : {self.category} {self.rule} sans date de départ — {self.reason}"


@dataclass
class Packaged:
    """What one packaging run produced: the SIP(s), the profile used and what to report."""

    result: PackageResult
    profile: Profile
    missing_starts: list[MissingStart] = field(default_factory=list)
    missing_count: int = 0
    persons: int = 0
    rows_without_person: dict[str, int] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """For the package event."""
        return {
            "profile": self.profile.record(),
            "persons": self.persons,
            "start_dates_missing_count": self.missing_count,
            "start_dates_missing": [m.to_dict() for m in self.missing_starts],
            "rows_without_person": dict(self.rows_without_person),
            "text_warnings_count": len(self.result.warnings) + self.result.warnings_dropped,
            "text_warnings": [w.to_dict() for w in self.result.warnings[:100]],
        }

    def approval_lines(self) -> list[str]:
        """French lines of the approval request: the tree's rules and what the archivist must know."""
        lines = [f"Profil d'empaquetage : {self.profile.path.name} (SHA-256 {self.profile.sha256[:16]}…)"]
        for spec in self.profile.series:
            rules = ", ".join(
                f"{_RULE_FR[c]} {r.rule}"
                + (f" ({_final_fr(r.final_action)})" if c == "AppraisalRule" else "")
                + f" à compter de : {r.start.describe_fr()}"
                for c, r in [
                    ("AppraisalRule", spec.appraisal),
                    ("AccessRule", spec.access),
                    ("StorageRule", spec.storage),
                ]
                if r is not None
            )
            lines.append(f"  • Série « {spec.title} » : {rules or 'règles héritées'}")
        if self.persons:
            lines.append(f"Dossiers individuels : {self.persons}")
        for name, count in self.rows_without_person.items():
            lines.append(
                f"⚠ {name} : {count} ligne(s) sans identifiant de personne, versées hors des dossiers individuels"
            )
        if self.missing_count:
            lines.append(
                f"⚠ {self.missing_count} règle(s) sans date de départ (donnée absente des enregistrements, "
                "aucune date n'a été inventée) :"
            )
            lines.extend(f"    – {m.line_fr()}" for m in self.missing_starts[:50])
            if self.missing_count > 50:
                lines.append(f"    … et {self.missing_count - 50} autre(s) (voir l'événement d'empaquetage)")
        lines.extend(self._text_lines())
        return lines

    def _text_lines(self) -> list[str]:
        """The manifest's texts written otherwise than the records hold them, and the rule applied."""
        warnings, dropped = self.result.warnings, self.result.warnings_dropped
        if not warnings and not dropped:
            return []
        lines = [
            f"⚠ {len(warnings) + dropped} texte(s) du bordereau signalé(s) : un caractère interdit en XML 1.0 "
            "(caractère de contrôle, U+FFFE, U+FFFF) y est remplacé par U+FFFD « \ufffd » ; un texte plus long "
            f"que ce que VITAM indexe ({VITAM_FIELD_LIMIT} caractères) est versé entier. Les fichiers CSV et JSON "
            "gardent les valeurs telles que la source les donne :"
        ]
        lines.extend(f"    – {w.unit} ({w.field}) : {_text_problem_fr(w.problem)}" for w in warnings[:20])
        if len(warnings) + dropped > 20:
            lines.append(f"    … et {len(warnings) + dropped - 20} autre(s) (voir l'événement d'empaquetage)")
        return lines


_FORBIDDEN = re.compile(r"(\d+) character\(s\) XML 1\.0 forbids \(([^)]*)\) replaced by U\+FFFD")
_TOO_LONG = re.compile(r"(\d+) characters; VITAM indexes at most (\d+)")


def _text_problem_fr(problem: str) -> str:
    """A seda text warning (English) for the archivist."""
    if found := _FORBIDDEN.fullmatch(problem):
        return f"{found[1]} caractère(s) interdit(s) en XML 1.0 ({found[2]}) remplacé(s) par U+FFFD"
    if found := _TOO_LONG.fullmatch(problem):
        return f"{found[1]} caractères, VITAM en indexe {found[2]}"
    return problem


# VITAM's French names: durée d'utilité administrative, délai de communicabilité, durée d'utilité courante.
_RULE_FR = {"AppraisalRule": "DUA", "AccessRule": "communicabilité", "StorageRule": "DUC"}


def _final_fr(action: str | None) -> str:
    return "conservation" if action == "Keep" else "destruction" if action == "Destroy" else str(action)


def batch_profile(settings: Settings, batch: Batch) -> Profile:
    tool = str((batch.spec or {}).get("tool") or batch.source)
    try:
        return load_profile(tool, settings.seda_profiles)
    except ProfileError as exc:
        raise PackagingError(str(exc)) from exc


def build_package(
    settings: Settings,
    batch: Batch,
    folder: Path,
    message_id: str,
    trail_path: Path,
    *,
    on_sip: Callable[[SipPart], None] | None = None,
    limits: Limits | None = None,
) -> Packaged:
    """Write the batch's SIP(s) in `folder` from its profile; Parquet digests are checked by the caller.

    `on_sip` is called with each SIP as soon as it is complete (``seda.write_package``).
    """
    use_system_allocator()
    profile = batch_profile(settings, batch)
    _check_rules(settings, profile)
    scope = batch_scope(batch)
    builder = _TreeBuilder(settings, batch, profile, scope, folder)
    header = SipHeader(
        message_identifier=message_id,
        comment=f"Versement {_source_title(batch)}, {scope.label} (lot {batch.id})",
        archival_agreement=settings.vitam.ingest_contract,
        archival_agency=settings.vitam.archival_agency,
        transferring_agency=settings.institution.transferring_agency,
        originating_agency=settings.institution.identifier,
        submission_agency=settings.institution.submission_agency,
        date=datetime.now(UTC).replace(microsecond=0),
        seda_version=settings.seda_version,
    )
    root = builder.fonds(trail_path)
    result = write_package(
        header,
        root,
        folder,
        limits=limits or Limits(max_items=settings.seda_max_items, max_bytes=settings.seda_max_bytes),
        on_sip=on_sip,
    )
    return Packaged(
        result=result,
        profile=profile,
        missing_starts=builder.missing,
        missing_count=builder.missing_count,
        persons=builder.persons,
        rows_without_person=builder.rows_without_person,
    )


def person_files(settings: Settings, batch: Batch, folder: Path) -> Iterator[Unit]:
    """The File units of every persons Series of the batch's profile, alone (benchmarks, tests)."""
    use_system_allocator()
    builder = _TreeBuilder(settings, batch, batch_profile(settings, batch), batch_scope(batch), folder)
    for spec in builder.profile.series:
        if spec.layout == "persons":
            members = [builder.datasets[n] for n in spec.datasets if n in builder.datasets]
            yield from builder._person_files(spec, members, grouped=False)


def _check_rules(settings: Settings, profile: Profile) -> None:
    """Every rule the profile cites exists in the institution's referential, in its category.

    Without a referential nothing could be checked, and VITAM refuses a SIP citing a rule its
    tenant does not hold: no SIP is written then (unlike the schemas, there is no opt-out)."""
    if settings.seda_rules is None:
        raise PackagingError(
            f"no rules referential is configured (seda.rules): the rules {profile.path.name} cites must be "
            "checked against the institution's VITAM rules referential (VITAM's CSV format) before a SIP is "
            "written"
        )
    referential = load_rules(settings.seda_rules)
    for where, category, rule in profile.rules():
        problem = referential.problem(rule.rule, category)
        if problem:
            raise PackagingError(f"{profile.path}: {where}: {problem}")


def _source_title(batch: Batch) -> str:
    return str((batch.spec or {}).get("title") or batch.source)


def _label(dataset: Dataset) -> str:
    return str((dataset.spec or {}).get("label") or dataset.name)


def _columns(dataset: Dataset) -> Mapping[str, Any]:
    return (dataset.spec or {}).get("columns") or {}


def _tagged(dataset: Dataset, tag: str) -> list[str]:
    return [name for name, column in _columns(dataset).items() if tag in (column.get("tags") or ())]


def _sensitive(dataset: Dataset) -> set[str]:
    classes = set(SENSITIVE_CLASSES)
    return {name for name, column in _columns(dataset).items() if classes & set(column.get("tags") or ())}


# -- dates ------------------------------------------------------------------------------------


def as_date(value: Any) -> date | None:
    """A date read from a record: date, datetime, or ISO text (``2023-06-30``, ``2023-06-30 10:00``)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def start_reason(category: str, rule: str, start: date, why: str) -> str:
    """The French sentence a unit's Description carries for a rule whose StartDate it sets.

    SEDA's rule blocks have no free text, so the reason sits in the unit's Description (0..n
    TextType in SEDA 2.1–2.3 and in VITAM's schema; VITAM indexes and shows it): the archivist
    reading the unit decades later sees why its rule starts on that day."""
    return start_reasons([(category, rule, start, why)]) or ""


def start_reasons(starts: Sequence[tuple[str, str, date, str]]) -> str | None:
    """The sentences of a unit's rules (category, rule, StartDate, why), one per date and reason:
    rules that start on the same day for the same reason share theirs, naming them all
    (« Règles APP-00002 (DUA) et ACC-00003 (communicabilité) : date de départ … »), so that a
    Description does not say the same thing twice. Rules keep their order (DUA, access, storage)."""
    named: dict[tuple[date, str], list[str]] = {}
    for category, rule, start, why in starts:
        named.setdefault((start, why), []).append(f"{rule} ({_RULE_FR.get(category, category)})")
    sentences = []
    for (start, why), rules in named.items():
        head = f"Règle {rules[0]}" if len(rules) == 1 else f"Règles {', '.join(rules[:-1])} et {rules[-1]}"
        sentences.append(f"{head} : date de départ {start.isoformat()}, {why}.")
    return " ".join(sentences) or None


def _found_fr(kind: str, day: date, source: str) -> str:
    """Why a StartDate computed from the records is this day (`source` is ``dataset.column``)."""
    if kind == "birth_date":
        return f"la date de naissance ({source})"
    if kind == "year_end":
        return f"le 31 août suivant la dernière année universitaire ({day.year - 1}-{day.year}, {source})"
    return f"la date la plus récente des enregistrements ({source})"


def _described(description: str | None, reasons: str | None) -> str | None:
    """A unit's Description followed by the reasons of its rules' start dates."""
    if not reasons:
        return description
    return f"{description} {reasons}" if description else reasons


def year_end(value: Any) -> date | None:
    """31 August after academic year `value` (its first year, e.g. "2023" → 2024-08-31)."""
    try:
        year = int(str(value).strip()[:4])
    except ValueError:
        return None
    return date(year + 1, 8, 31) if 1900 <= year <= 2200 else None


_DATE_SQL = 'COALESCE(TRY_CAST("{c}" AS DATE), CAST(TRY_CAST("{c}" AS TIMESTAMP) AS DATE))'
# Sources write "unknown" and "end of time" as dates (1900-01-01 unknown birth date, 0001-01-01,
# 9999-12-31): such a date starts no rule and dates no record.
PLACEHOLDER_BEFORE = date(1900, 1, 2)
PLACEHOLDER_AFTER = date(9000, 1, 1)


def plausible(day: date | None) -> bool:
    return day is not None and PLACEHOLDER_BEFORE <= day < PLACEHOLDER_AFTER


# -- the tree ---------------------------------------------------------------------------------


class _TreeBuilder:
    def __init__(self, settings: Settings, batch: Batch, profile: Profile, scope: Scope, folder: Path) -> None:
        self.settings = settings
        self.batch = batch
        self.profile = profile
        self.scope = scope
        self.folder = folder
        self.tool = profile.tool
        self.missing: list[MissingStart] = []
        self.missing_count = 0
        self.persons = 0
        self.rows_without_person: dict[str, int] = {}
        self.datasets = {d.name: d for d in batch.datasets}
        self.labels = {d.name: _label(d) for d in batch.datasets}
        self._document_head = {"source": profile.label, "lot": batch.id, "perimetre": scope.label}
        self._tags: dict[tuple[str, str], list[str]] = {}
        self._sensitive = {d.name: _sensitive(d) for d in batch.datasets}
        # A rule starts from an act that happened: dates after the batch's scope are planned ends
        # (a contract running on) or placeholders, not acts.
        self.acts_until = scope.end or datetime.now(UTC).date()
        self._place_every_dataset()

    def _place_every_dataset(self) -> None:
        in_persons = {name for s in self.profile.series if s.layout == "persons" for name in s.datasets}
        for dataset in self.batch.datasets:
            record_type = str((dataset.spec or {}).get("record_type") or "reference_tables")
            if self.profile.series_for(record_type) is None and dataset.name not in in_persons:
                raise PackagingError(
                    f"{self.profile.path}: dataset {dataset.name} (record type {record_type}) has no place in the "
                    "profile: add its record type to the record_types of a tables series, or its name to the "
                    "items of a persons series"
                )
        for spec in self.profile.series:
            if spec.layout != "persons":
                continue
            for name in spec.datasets:
                member = self.datasets.get(name)
                if member is not None and not (member.spec or {}).get("person_key"):
                    raise PackagingError(
                        f"{self.profile.path}: series.{spec.name}: dataset {name} has no person key "
                        "in its specification"
                    )

    def tagged(self, dataset: Dataset, tag: str) -> list[str]:
        found = self._tags.get((dataset.name, tag))
        if found is None:
            found = self._tags[dataset.name, tag] = _tagged(dataset, tag)
        return found

    def sensitive(self, dataset: Dataset) -> set[str]:
        return self._sensitive[dataset.name]

    def report_missing(self, unit: str, title: str, category: str, rule: str, reason: str) -> None:
        self.missing_count += 1
        if len(self.missing) < MAX_REPORTED:
            self.missing.append(MissingStart(unit, title, category, rule, reason))

    # Fonds and Series

    def fonds(self, trail_path: Path) -> Unit:
        fields = {
            "institution": self.settings.institution.name,
            "source": _source_title(self.batch),
            "tool": self.profile.label,
            "scope": self.scope.label,
            "scope_fr": self.scope.label_fr,
        }
        description = self.profile.fonds_description.format(**fields) if self.profile.fonds_description else None
        management = None
        if self.profile.fonds_access is not None:
            start = self.scope.end if self.profile.fonds_access.start.kind == "scope_end" else None
            management = Management(access=Rule(self.profile.fonds_access.rule, start))
            if start is not None:
                why = self._scope_start()[1]
                description = _described(
                    description, start_reason("AccessRule", self.profile.fonds_access.rule, start, why)
                )
        return Unit(
            "Fonds",
            self.profile.fonds_title.format(**fields),
            key=stable_key(self.tool, "fonds", self.settings.institution.identifier, self.scope.label),
            description=description,
            start_date=self.scope.start,
            end_date=self.scope.end,
            management=management,
            children=self._fonds_children(trail_path),
        )

    def _fonds_children(self, trail_path: Path) -> Iterator[Unit]:
        for spec in self.profile.series:
            if spec.layout == "tables":
                datasets = [
                    d
                    for d in self.batch.datasets
                    if (d.spec or {}).get("record_type", "reference_tables") in spec.record_types
                ]
                if datasets:
                    yield self._tables_series(spec, datasets)
            else:
                datasets = [self.datasets[n] for n in spec.datasets if n in self.datasets]
                if datasets:
                    yield self._persons_series(spec, datasets)
        yield self._trail(trail_path)

    def _series_management(self, spec: SeriesSpec) -> Management:
        def rule(r: RuleSpec | None) -> Rule | None:
            if r is None:
                return None
            return Rule(r.rule, self.scope.end if r.start.kind == "scope_end" else None)

        return Management(
            appraisal=rule(spec.appraisal),
            final_action=(spec.appraisal.final_action if spec.appraisal else None) or "Keep",  # type: ignore[arg-type]
            access=rule(spec.access),
            storage=rule(spec.storage),
            storage_final_action=(spec.storage.final_action if spec.storage else None) or "Copy",  # type: ignore[arg-type]
        )

    def _series_reasons(self, spec: SeriesSpec) -> str | None:
        """The sentences of the Series' own StartDates (those the batch's period gives)."""
        if self.scope.end is None:
            return None
        why = self._scope_start()[1]
        return start_reasons(
            [
                (category, r.rule, self.scope.end, why)
                for category, r in (
                    ("AppraisalRule", spec.appraisal),
                    ("AccessRule", spec.access),
                    ("StorageRule", spec.storage),
                )
                if r is not None and r.start.kind == "scope_end"
            ]
        )

    def _overrides(
        self, spec: SeriesSpec, starts: Mapping[str, tuple[date | None, str]], key: str, title: str
    ) -> tuple[Management, str | None]:
        """The Series' rules again with this unit's StartDates, and the French sentences saying where
        each date comes from (for the unit's Description); a missing one is reported and left out."""
        base = self._series_management(spec)
        rules: dict[str, Rule | None] = {}
        reasons: list[tuple[str, str, date, str]] = []
        for category, attribute, rule_spec in (
            ("AppraisalRule", "appraisal", spec.appraisal),
            ("AccessRule", "access", spec.access),
            ("StorageRule", "storage", spec.storage),
        ):
            if rule_spec is None:
                rules[attribute] = None
                continue
            start, reason = starts[category]
            if start is None and rule_spec.start.kind != "none":
                self.report_missing(key, title, category, rule_spec.rule, reason)
            elif start is not None:
                reasons.append((category, rule_spec.rule, start, reason))
            rules[attribute] = Rule(rule_spec.rule, start)
        management = Management(
            appraisal=rules["appraisal"],
            final_action=base.final_action,
            access=rules["access"],
            storage=rules["storage"],
            storage_final_action=base.storage_final_action,
        )
        return management, start_reasons(reasons)

    # tables

    def _tables_series(self, spec: SeriesSpec, datasets: list[Dataset]) -> Unit:
        file_title = spec.file_title.format(scope=self.scope.label, scope_fr=self.scope.label_fr, series=spec.title)
        file_key = stable_key(self.tool, spec.name, self.scope.label)
        starts = {
            category: self._table_start(rule.start, [(d.name, str(d.path)) for d in datasets])
            for category, rule in (
                ("AppraisalRule", spec.appraisal),
                ("AccessRule", spec.access),
                ("StorageRule", spec.storage),
            )
            if rule is not None
        }
        items: list[Unit] = []
        groups = {g.dataset: g for g in spec.groups}
        for dataset in datasets:
            if dataset.name in groups:
                items.extend(self._grouped_items(spec, groups[dataset.name], dataset))
            else:
                items.extend(self._table_items(dataset))
        management, reasons = self._overrides(spec, starts, file_key, file_title)
        year_file = Unit(
            "RecordGrp" if any(d.name in groups for d in datasets) else "File",
            file_title,
            key=file_key,
            description=reasons,
            start_date=self.scope.start,
            end_date=self.scope.end,
            management=management,
            children=items,
        )
        return Unit(
            "Series",
            spec.title,
            key=stable_key(self.tool, spec.name),
            description=_described(spec.description, self._series_reasons(spec)),
            management=self._series_management(spec),
            children=[year_file],
        )

    def _table_start(
        self,
        start: Start,
        sources: Sequence[tuple[str, str]],  # (dataset name, Parquet path)
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> tuple[date | None, str]:
        """The StartDate and why (French, for the Description), or None and why it is missing."""
        if start.kind == "scope_end":
            return self._scope_start()
        if start.kind == "none":
            return None, ""
        best: tuple[date, str] | None = None
        with contextlib.nullcontext(connection) if connection is not None else _duckdb(self.folder) as con:
            for dataset_name, path in sources:
                names = set(pq.read_schema(path).names)
                for column in start.columns:
                    if column not in names:
                        continue
                    if start.kind == "latest":
                        expression = _DATE_SQL.format(c=column)
                        sql = (
                            f"SELECT max(d) FROM (SELECT {expression} AS d FROM read_parquet(?)) "
                            "WHERE d >= ? AND d <= ?"
                        )
                        ((value,),) = con.execute(sql, [path, PLACEHOLDER_BEFORE, self.acts_until]).fetchall()
                        day = as_date(value)
                    else:
                        sql = f'SELECT max(TRY_CAST("{column}" AS INTEGER)) FROM read_parquet(?)'
                        ((value,),) = con.execute(sql, [path]).fetchall()
                        day = year_end(value) if value is not None else None
                    if day is not None and (best is None or day > best[0]):
                        best = day, f"{dataset_name}.{column}"
        if best is not None:
            return best[0], _found_fr(start.kind, *best)
        return None, self._no_value(start)

    def _scope_start(self) -> tuple[date | None, str]:
        if self.scope.end is None:
            return None, "le lot n'a pas de fin de période"
        return self.scope.end, f"la fin de la période du lot ({self.scope.label_fr})"

    def _no_value(self, start: Start) -> str:
        return (
            f"aucune date de {', '.join(start.columns)} jusqu'au {self.acts_until:%d/%m/%Y} dans les enregistrements "
            "(dates fictives et postérieures écartées)"
        )

    def _table_items(self, dataset: Dataset, *, whole: bool = True) -> list[Unit]:
        """The dataset as one CSV Item and its data dictionary; only the dictionary unless `whole`."""
        renditions = self.folder / "renditions"
        parquet = Path(dataset.path)
        csv_path = parquet_to_csv(parquet, renditions / f"{dataset.name}.csv") if whole else None
        dictionary = data_dictionary(
            parquet, renditions / f"{dataset.name}.dictionnaire.csv", dataset.spec, code_lists=self._code_lists(dataset)
        )
        label = _label(dataset)
        key = table_key(self.tool, dataset.name, self.scope.label)
        described = f"du fichier {dataset.name}.csv" if whole else f"des fichiers CSV de {dataset.name} (par groupe)"
        table = Unit(
            "Item",
            f"{label} — {self.scope.label} (fichier CSV, {dataset.rows} lignes)",
            key=key,
            description=(dataset.spec or {}).get("description") or f"Extraction du jeu de données {dataset.name}.",
            object=DataObject(f"{dataset.name}.csv", CSV, source=csv_path) if csv_path else None,
        )
        return [
            *([table] if whole else []),
            Unit(
                "Item",
                f"Dictionnaire des données : {label} (fichier CSV)",
                key=dictionary_key(key),
                description=f"Colonnes {described} : nom, libellé, type, unité ou liste de codes, signification.",
                object=DataObject(f"{dataset.name}.dictionnaire.csv", CSV, source=dictionary),
            ),
        ]

    def _grouped_items(self, spec: SeriesSpec, group: GroupSpec, dataset: Dataset) -> list[Unit]:
        """A dataset cut per `group.by` (a SubGrp each) and session (an Item each, its own CSV),
        each session's rules starting from its own rows (its deliberation date); the data
        dictionary stays one Item for the whole dataset."""
        (dictionary,) = self._table_items(dataset, whole=False)
        names = pq.read_schema(dataset.path).names
        columns = [*group.by, *([group.session] if group.session else [])]
        for column in columns:
            if column not in names:
                raise PackagingError(
                    f"{self.profile.path}: series.{spec.name}.groups: column {column} is not in dataset {dataset.name}"
                )
        labels = self._group_labels(group)
        selected = ", ".join(f'"{c}"' for c in columns)
        # One connection per dataset: opening one costs more than writing a session's rows.
        with _duckdb(self.folder) as con:
            values = con.execute(f"SELECT DISTINCT {selected} FROM read_parquet(?) ORDER BY ALL", [dataset.path])
            cuts = [tuple(row) for row in values.fetchall()]
            folder = self.folder / "renditions" / f"{dataset.name}.groupes"
            units: list[Unit] = [dictionary]
            base = table_key(self.tool, dataset.name, self.scope.label)
            number = itertools.count(1)
            for by, rows in itertools.groupby(cuts, key=lambda cut: cut[: len(group.by)]):
                shown = {c: "non renseigné" if v is None else str(v) for c, v in zip(group.by, by, strict=True)}
                label = labels.get(tuple(shown.values()), "libellé non renseigné")
                title = group.title.format(**shown, label=label)
                in_group = group_key(base, list(shown.values()))
                children = [
                    self._session_item(
                        spec, group, dataset, (by, cut[len(group.by)] if group.session else None), in_group, title,
                        folder / f"{next(number):05d}", con,
                    )
                    for cut in rows
                ]  # fmt: skip
                units.append(Unit("SubGrp", title, key=in_group, children=children))
        return units

    def _session_item(
        self,
        spec: SeriesSpec,
        group: GroupSpec,
        dataset: Dataset,
        cut: tuple[tuple[Any, ...], Any],  # the group's values, and the session's
        group_key: str,
        group_title: str,
        stem: Path,  # renditions/<dataset>.groupes/<n>, generated
        con: duckdb.DuckDBPyConnection,
    ) -> Unit:
        """One session of one group: its rows as CSV, its rules from its own dates."""
        by, session = cut
        columns = [*group.by, *([group.session] if group.session else [])]
        values = [*by, *([session] if group.session else [])]
        key = session_key(group_key, session, by_session=group.session is not None)
        if group.session is None:
            name = "toutes sessions"
        elif session is None:
            name = "session non renseignée"
        else:
            name = (group.sessions or {}).get(str(session), f"session {session}")
        stem.parent.mkdir(parents=True, exist_ok=True)
        subset = stem.with_suffix(".parquet")
        target = str(subset).replace("'", "''")
        where = " AND ".join(f'"{c}" IS NOT DISTINCT FROM ?' for c in columns)
        con.execute(
            f"COPY (SELECT * FROM read_parquet(?) WHERE {where} ORDER BY ALL) TO '{target}' (FORMAT PARQUET)",
            [dataset.path, *values],
        )
        rows = pq.read_metadata(subset).num_rows
        starts = {
            category: self._table_start(rule.start, [(dataset.name, str(subset))], con)
            for category, rule in (
                ("AppraisalRule", spec.appraisal),
                ("AccessRule", spec.access),
                ("StorageRule", spec.storage),
            )
            if rule is not None
        }
        title = f"{_label(dataset)} — {group_title}, {name} (fichier CSV, {rows} lignes)"
        own = any(r is not None and r.start.kind == "latest" for r in (spec.appraisal, spec.access, spec.storage))
        csv_path = parquet_to_csv(subset, subset.with_suffix(".csv"))
        subset.unlink()
        management, reasons = self._overrides(spec, starts, key, title) if own else (None, None)
        return Unit(
            "Item",
            title,
            key=key,
            description=_described(f"Lignes de {dataset.name}.csv pour {group_title}, {name}.", reasons),
            management=management,
            object=DataObject(f"{dataset.name}.{stem.name}.csv", CSV, source=csv_path),
        )

    def _group_labels(self, group: GroupSpec) -> dict[tuple[str, ...], str]:
        """Labels of the groups from the reference dataset keyed by their columns, if the batch holds it."""
        if group.label is None:
            return {}
        reference, column = group.label
        ref = self.datasets.get(reference)
        if ref is None:
            return {}
        names = pq.read_schema(ref.path).names
        key = list((ref.spec or {}).get("key") or group.by)  # the reference's key, column for column of `by`
        if column not in names or not set(key) <= set(names) or len(key) != len(group.by):
            raise PackagingError(
                f"{self.profile.path}: groups of {group.dataset}: label {reference}.{column} needs a key of "
                f"{len(group.by)} column(s) matching {', '.join(group.by)} and the column {column} in {reference}"
            )
        table = pq.read_table(ref.path, columns=[*key, column]).to_pylist()
        return {tuple(str(row[c]) for c in key): str(row[column]) for row in table if row[column] is not None}

    def _code_lists(self, dataset: Dataset) -> dict[str, str]:
        """Columns that hold the key of a reference table of the batch: that table is their code list."""
        names = set(pq.read_schema(dataset.path).names)
        found: dict[str, str] = {}
        for reference in (dataset.spec or {}).get("references") or ():
            ref = self.datasets.get(reference)
            key = (ref.spec or {}).get("key") if ref is not None else None
            if ref is not None and key and len(key) == 1 and key[0] in names:
                found[key[0]] = f"liste de codes : {_label(ref)} ({ref.name}.csv)"
        return found

    # persons

    def _persons_series(self, spec: SeriesSpec, datasets: list[Dataset]) -> Unit:
        return Unit(
            "Series",
            spec.title,
            key=stable_key(self.tool, spec.name),
            description=_described(spec.description, self._series_reasons(spec)),
            management=self._series_management(spec),
            children=itertools.chain(self._person_dictionaries(spec, datasets), self._person_files(spec, datasets)),
        )

    def _person_dictionaries(self, spec: SeriesSpec, datasets: list[Dataset]) -> Iterator[Unit]:
        """One data dictionary Item per dataset whose rows the Series' JSON documents hold (under
        the dataset's name in ``jeux_de_donnees``), ahead of the Files: the documents can then be
        read without the source, in this Series, whatever else the SIP holds. Sensitive columns
        are left out under ``sensitive = "omit"``, else said to be in the restricted piece."""
        folder = self.folder / "renditions" / spec.name
        for dataset in datasets:
            sensitive = self.sensitive(dataset)
            omit = spec.sensitive == "omit"
            notes = {c: f"dans la pièce restreinte « {spec.sensitive_title} »" for c in sensitive}
            dictionary = data_dictionary(
                Path(dataset.path),
                folder / f"{dataset.name}.dictionnaire.csv",
                dataset.spec,
                code_lists=self._code_lists(dataset),
                leave_out=sensitive if omit else (),
                notes=None if omit else notes,
            )
            yield Unit(
                "Item",
                f"Dictionnaire des données : {_label(dataset)} (documents JSON des dossiers)",
                key=stable_key(self.tool, spec.name, "dictionnaire", dataset.name),
                description=(
                    f"Colonnes du jeu de données {dataset.name} (clé « {dataset.name} » des documents JSON des "
                    "dossiers de cette série) : nom, libellé, type, unité ou liste de codes, signification."
                ),
                object=DataObject(f"{dataset.name}.dictionnaire.csv", CSV, source=dictionary),
            )

    def _person_files(self, spec: SeriesSpec, datasets: list[Dataset], *, grouped: bool = True) -> Iterator[Unit]:
        without: dict[str, int] = {}
        initials = self._initials(spec, datasets) if grouped else None
        people = person_rows(datasets, self.folder, without, initials=initials)
        if initials is None:
            for person, rows in people:
                self.persons += 1
                yield self._person_file(spec, person, rows)
        else:
            split = ((*_initial_and_key(key), rows) for key, rows in people)
            for letter, members in itertools.groupby(split, key=lambda entry: entry[0]):
                other = letter == "~"  # another character, or no name: after Z
                title = "Autres initiales et noms non renseignés" if other else f"Noms commençant par {letter}"
                key = stable_key(self.tool, spec.name, "initiale", "autres" if other else letter)
                yield Unit("SubGrp", title, key=key, children=self._grouped_files(spec, members))
        self.rows_without_person.update(without)
        for dataset in datasets:
            record_type = str((dataset.spec or {}).get("record_type") or "reference_tables")
            if without.get(dataset.name) and self.profile.series_for(record_type) is None:
                yield from self._orphan_rows(spec, dataset)

    def _grouped_files(self, spec: SeriesSpec, members: Iterator[tuple[str, str, Any]]) -> Iterator[Unit]:
        for _, person, rows in members:
            self.persons += 1
            yield self._person_file(spec, person, rows)

    def _initials(self, spec: SeriesSpec, datasets: list[Dataset]) -> dict[str, list[str]] | None:
        """The name columns to group the Series' persons by, if it groups and holds more than its limit."""
        if spec.group_by != "initial":
            return None
        keys = []
        for dataset in datasets:
            pk = str((dataset.spec or {}).get("person_key"))
            field_type = pq.read_schema(dataset.path).field(pk).type
            keys.append(f'SELECT {_key_sql(pk, field_type)} AS p FROM read_parquet(?) WHERE "{pk}" IS NOT NULL')
        with _duckdb(self.folder) as con:
            sql = f"SELECT count(DISTINCT p) FROM ({' UNION ALL '.join(keys)})"
            ((count,),) = con.execute(sql, [str(d.path) for d in datasets]).fetchall()
        if count <= spec.group_over:
            return None
        return {d.name: self.tagged(d, "name") for d in datasets}

    def _orphan_rows(self, spec: SeriesSpec, dataset: Dataset) -> Iterator[Unit]:
        """Rows of a persons-only dataset that name no person: kept, as a CSV Item of the Series.

        Their sensitive columns follow the Series' choice as a person's do: a restricted CSV Item of
        their own (``separate``, with the sensitive AccessRule) or nowhere (``omit``)."""
        pk = str((dataset.spec or {}).get("person_key"))
        names = pq.read_schema(dataset.path).names
        sensitive = self.sensitive(dataset) & set(names)
        title = f"{self.labels[dataset.name]} : lignes sans identifiant de personne"
        key = stable_key(self.tool, dataset.name, self.scope.label, "sans_personne")
        description = f"Lignes de {dataset.name} dont {pk} est vide : elles ne se rattachent à aucun dossier."
        ordinary = [c for c in names if c not in sensitive]
        yield Unit(
            "Item",
            f"{title} (fichier CSV)",
            key=key,
            description=description,
            object=DataObject(
                f"{dataset.name}.sans-personne.csv", CSV, source=self._rows_csv(dataset, pk, ordinary, "sans-personne")
            ),
        )
        if not sensitive or spec.sensitive == "omit":
            return
        spec_keys = [c for c in (dataset.spec or {}).get("key") or () if c in names and c not in sensitive]
        restricted = [*spec_keys, *(c for c in names if c in sensitive)]
        access = None
        reason: str | None = None
        if spec.sensitive_access is not None:
            # No person, so no person's date: only a start the batch itself gives.
            start = self.scope.end if spec.sensitive_access.start.kind == "scope_end" else None
            if start is None and spec.sensitive_access.start.kind != "none":
                self.report_missing(
                    stable_key(key, "donnees_protegees"),
                    f"{spec.sensitive_title} ({title})",
                    "AccessRule",
                    spec.sensitive_access.rule,
                    "ligne sans personne : la date de départ se calcule à partir de la personne",
                )
            access = Management(access=Rule(spec.sensitive_access.rule, start))
            if start is not None:
                reason = start_reason("AccessRule", spec.sensitive_access.rule, start, self._scope_start()[1])
        yield Unit(
            "Item",
            f"{spec.sensitive_title} — {title} (fichier CSV)",
            key=stable_key(key, "donnees_protegees"),
            description=_described("Pièce restreinte : données sensibles séparées du reste des lignes.", reason),
            management=access,
            object=DataObject(
                f"{dataset.name}.sans-personne.protegees.csv",
                CSV,
                source=self._rows_csv(dataset, pk, restricted, "sans-personne.protegees"),
            ),
        )

    def _rows_csv(self, dataset: Dataset, pk: str, columns: Sequence[str], suffix: str) -> Path:
        """These columns of the rows of `dataset` without person, as RFC 4180 CSV in renditions/."""
        renditions = self.folder / "renditions"
        renditions.mkdir(parents=True, exist_ok=True)
        subset = renditions / f"{dataset.name}.{suffix}.parquet"
        target = str(subset).replace("'", "''")
        selected = ", ".join(f'"{c}"' for c in columns)
        with _duckdb(self.folder) as con:
            con.execute(
                f"COPY (SELECT {selected} FROM read_parquet(?) WHERE \"{pk}\" IS NULL) TO '{target}' (FORMAT PARQUET)",
                [dataset.path],
            )
        csv_path = parquet_to_csv(subset, renditions / f"{dataset.name}.{suffix}.csv")
        subset.unlink()
        return csv_path

    def _person_file(self, spec: SeriesSpec, person: str, rows: Mapping[str, list[dict[str, Any]]]) -> Unit:
        kind = spec.person_kind or "student"
        kind_fr = _KIND_FR[kind]
        key = person_file_key(self.tool, kind, person)
        number, ine, name = self._identity(kind, rows)
        identifiers = (
            " / ".join(
                part for part in (f"{_NUMBER_FR[kind]} {number}" if number else "", f"INE {ine}" if ine else "") if part
            )
            or f"{kind_fr} {person}"
        )
        title = spec.file_title.format(identifiers=identifiers, name=name or "nom non renseigné", key=key)
        starts = {
            category: self._person_start(rule.start, rows)
            for category, rule in (
                ("AppraisalRule", spec.appraisal),
                ("AccessRule", spec.access),
                ("StorageRule", spec.storage),
            )
            if rule is not None
        }
        management, reasons = self._overrides(spec, starts, key, title)
        events = sorted(d for d in self._dates(rows, "event_date") if d <= self.acts_until)
        items: list[Unit] = []
        restricted: dict[str, list[dict[str, Any]]] = {}
        for item in spec.items:
            slices: dict[str, list[dict[str, Any]]] = {}
            for name_ in item.datasets:
                dataset = self.datasets.get(name_)
                if dataset is None or not rows.get(name_):
                    continue
                kept, protected = self._split(dataset, rows[name_], spec.sensitive)
                if kept:
                    slices[name_] = kept
                if protected:
                    restricted.setdefault(name_, []).extend(protected)
            if slices:
                items.append(
                    Unit(
                        "Item",
                        f"{item.title} — {name or identifiers}",
                        key=stable_key(key, item.name),
                        object=DataObject(f"{item.name}.json", JSON, data=self._document(key, item.title, slices)),
                    )
                )
        if restricted:
            access = None
            protected_reason: str | None = None
            if spec.sensitive_access is not None:
                start, reason = self._person_start(spec.sensitive_access.start, rows)
                item_key = protected_item_key(key)
                if start is None and spec.sensitive_access.start.kind != "none":
                    self.report_missing(
                        item_key, spec.sensitive_title, "AccessRule", spec.sensitive_access.rule, reason
                    )
                elif start is not None:
                    protected_reason = start_reason("AccessRule", spec.sensitive_access.rule, start, reason)
                access = Management(access=Rule(spec.sensitive_access.rule, start))
            items.append(
                Unit(
                    "Item",
                    f"{spec.sensitive_title} — {name or identifiers}",
                    key=protected_item_key(key),
                    description=_described(
                        "Pièce restreinte : données sensibles séparées du reste du dossier.", protected_reason
                    ),
                    management=access,
                    object=DataObject(
                        "donnees_protegees.json", JSON, data=self._document(key, spec.sensitive_title, restricted)
                    ),
                )
            )
        return Unit(
            "File",
            title,
            key=key,
            description=reasons,
            start_date=events[0] if events else None,
            end_date=events[-1] if events else None,
            keywords=(Keyword(name, "persname"),) if name else (),
            management=management,
            children=items,
        )

    def _identity(self, kind: str, rows: Mapping[str, list[dict[str, Any]]]) -> tuple[str, str, str]:
        number = ine = family = first = ""
        for dataset_name, dataset_rows in rows.items():
            dataset = self.datasets[dataset_name]
            numbers = self.tagged(dataset, _NUMBER_TAG[kind])
            ines = self.tagged(dataset, "ine")
            names = self.tagged(dataset, "name")
            firsts = self.tagged(dataset, "first_name")
            for row in dataset_rows:
                number = number or next((_text(row.get(c)) for c in numbers if _text(row.get(c))), "")
                ine = ine or "".join(_text(row.get(c)) for c in ines)
                family = family or next((_text(row.get(c)) for c in names if _text(row.get(c))), "")
                first = first or next((_text(row.get(c)) for c in firsts if _text(row.get(c))), "")
        return number, ine, " ".join(p for p in (family, first) if p)

    def _dates(self, rows: Mapping[str, list[dict[str, Any]]], tag: str) -> Iterator[date]:
        for dataset_name, dataset_rows in rows.items():
            columns = self.tagged(self.datasets[dataset_name], tag)
            for row in dataset_rows:
                for column in columns:
                    day = as_date(row.get(column))
                    if day is not None and plausible(day):
                        yield day

    def _person_start(self, start: Start, rows: Mapping[str, list[dict[str, Any]]]) -> tuple[date | None, str]:
        """The StartDate and why (French, naming the dataset and column), or None and why it is missing.

        Column by column, so that the winning column is known without a tuple per value (this runs
        for every person of 100,000s)."""
        if start.kind == "scope_end":
            return self._scope_start()
        if start.kind == "none":
            return None, ""
        best: tuple[date, str] | None = None
        if start.kind == "birth_date":
            for dataset_name, dataset_rows in rows.items():
                columns = self.tagged(self.datasets[dataset_name], "birth_date")
                for row in dataset_rows:
                    for column in columns:
                        day = as_date(row.get(column))
                        if day is not None and plausible(day):
                            return day, _found_fr("birth_date", day, f"{dataset_name}.{column}")
            return None, "date de naissance absente ou fictive (1900-01-01)"
        until = self.acts_until
        for dataset_name, dataset_rows in rows.items():
            if not dataset_rows:
                continue
            for column in start.columns:
                if column not in dataset_rows[0]:
                    continue
                if start.kind == "latest":
                    days = [
                        d
                        for d in map(as_date, [row.get(column) for row in dataset_rows])
                        if d is not None and plausible(d) and d <= until
                    ]
                else:
                    days = [d for d in (year_end(row.get(column)) for row in dataset_rows) if d is not None]
                if days:
                    day = max(days)
                    if best is None or day > best[0]:
                        best = day, f"{dataset_name}.{column}"
        if best is not None:
            return best[0], _found_fr(start.kind, *best)
        return None, self._no_value(start)

    def _split(
        self, dataset: Dataset, rows: list[dict[str, Any]], choice: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A dataset's rows for one person: the ordinary columns, and the sensitive ones apart."""
        sensitive = self.sensitive(dataset) & set(rows[0])
        if not sensitive:
            return rows, []
        spec = dataset.spec or {}
        keys = [
            c for c in [*(spec.get("key") or ()), spec.get("person_key")] if c and c in rows[0] and c not in sensitive
        ]
        kept: list[dict[str, Any]] = []
        protected: list[dict[str, Any]] = []
        for row in rows:
            ordinary = {c: v for c, v in row.items() if c not in sensitive}
            if set(ordinary) - set(keys):
                kept.append(ordinary)
            if choice == "separate":
                protected.append({**{c: row[c] for c in keys}, **{c: row[c] for c in row if c in sensitive}})
        return kept, protected

    def _document(self, key: str, title: str, slices: Mapping[str, list[dict[str, Any]]]) -> bytes:
        document = {
            "dossier": key,
            "piece": title,
            **self._document_head,
            "jeux_de_donnees": {
                name: {"libelle": self.labels[name], "lignes": [_plain(row) for row in rows]}
                for name, rows in slices.items()
            },
        }
        # Compact (no indent: json's C encoder), UTF-8, one document per file.
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"

    # trail

    def _trail(self, path: Path) -> Unit:
        title = f"Journal d'audit du lot {self.batch.id}"
        return Unit(
            "Series",
            title,
            key=stable_key(self.tool, "journal", self.batch.id),
            description=(
                "Événements du registre des versements pour ce lot jusqu'à son empaquetage "
                "(JSON canonique ; chaque événement porte l'empreinte SHA-256 qui le chaîne au précédent)."
            ),
            children=[
                Unit(
                    "Item",
                    f"{title} (JSON)",
                    key=stable_key(self.tool, "journal", self.batch.id, "json"),
                    object=DataObject(path.name, JSON, source=path),
                )
            ],
        )


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {column: _json_value(value) for column, value in row.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


# -- persons, streamed ------------------------------------------------------------------------


GROUP_SEPARATOR = "\x1f"  # between a person's group and key in person_rows(initials=...)


def person_rows(
    datasets: Sequence[Dataset],
    folder: Path,
    without_person: dict[str, int] | None = None,
    *,
    initials: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """(person key, rows per dataset) for every person of `datasets`, in person-key order.

    Rows are ordered by the person key (as text, so that every file orders alike) and then by
    every column (the same order on every run, whatever the order of the Parquet file). DuckDB
    sorts, but a sort's memory grows with what it sorts (even spilling, its merge needs more
    memory as the runs multiply: 32 MB failed on 4 million rows), so the key space is cut into
    ranges of about ``_CHUNK_CELLS`` values (bounds from a fixed-size sample of the keys) and
    each range is sorted and streamed on its own, the datasets' streams merged one person at a
    time. A person's rows all fall in one range, so the bounds change how much is sorted at
    once, never the order of the result. Rows without a person key are counted in
    `without_person`.

    With `initials` (dataset name -> its name columns, first one filled wins, datasets in this
    order), persons come grouped by the initial of their name, A to Z then ``~`` (another
    character, or no name), and the key given is ``<initial>\x1f<person key>``: the groups are
    computed once in DuckDB (the ranges then cut the grouped keys), so memory stays flat.
    """
    with _duckdb(folder) as con:
        if initials is not None:
            _initials_table(con, [d for d in datasets if initials.get(d.name)], initials)
        sources: list[tuple[Dataset, str, str, int]] = []  # dataset, person key, its rows' SQL, cells
        for dataset in datasets:
            pk = str((dataset.spec or {}).get("person_key"))
            parquet = pq.ParquetFile(dataset.path)
            schema = parquet.schema_arrow
            if pk not in schema.names:
                raise PackagingError(f"dataset {dataset.name}: its person key {pk} is not a column of {dataset.path}")
            ((nulls,),) = con.execute(
                f'SELECT count(*) FROM read_parquet(?) WHERE "{pk}" IS NULL', [dataset.path]
            ).fetchall()
            if nulls and without_person is not None:
                without_person[dataset.name] = int(nulls)
            cells = parquet.metadata.num_rows * (len(schema.names) + 1)
            person_sql = _key_sql(pk, schema.field(pk).type)
            sources.append((dataset, pk, _rows_sql(pk, person_sql, grouped=initials is not None), cells))
        for low, high in _key_ranges(con, sources):
            streams = [
                _stream(con.cursor(), dataset, rows_sql, order, low, high)
                for order, (dataset, _, rows_sql, _) in enumerate(sources)
            ]
            merged = heapq.merge(*streams, key=lambda entry: (entry[0], entry[1]))
            for person, group in itertools.groupby(merged, key=lambda entry: entry[0]):
                found: dict[str, list[dict[str, Any]]] = {}
                for _, _, name, row in group:
                    found.setdefault(name, []).append(row)
                yield person, found


@contextlib.contextmanager
def _duckdb(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for the packaging's queries: one thread, a memory cap (spilling to
    ``folder/duckdb-spill`` beyond it) and freed blocks handed back at once, so that the
    process's peak stays small whatever the batch (DuckDB's defaults take up to 80 % of the
    machine's memory and a thread per core)."""
    spill = folder / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": _SORT_MEMORY,
            "threads": 1,
            "temp_directory": str(spill),
            "allocator_flush_threshold": "4MB",
        }
    )
    try:
        yield con
    finally:
        con.close()
        with contextlib.suppress(OSError):
            spill.rmdir()  # only when DuckDB left nothing in it


def _initial_and_key(grouped_key: str) -> tuple[str, str]:
    initial, _, person = grouped_key.partition(GROUP_SEPARATOR)
    return initial, person


def _rows_sql(pk: str, person_sql: str, *, grouped: bool) -> str:
    """A dataset's rows that name a person, with their sort key first as ``_PK`` (one parameter:
    the Parquet path); grouped, the key is prefixed by the person's initial from ``__initials``."""
    if not grouped:
        return f'SELECT {person_sql} AS "{_PK}", * FROM read_parquet(?) WHERE "{pk}" IS NOT NULL'
    key_sql = f"COALESCE(g.__initial, '~') || chr({ord(GROUP_SEPARATOR)}) || {person_sql}"
    return (
        f'SELECT {key_sql} AS "{_PK}", d.* FROM read_parquet(?) d LEFT JOIN __initials g '
        f'ON g.__person = {person_sql} WHERE d."{pk}" IS NOT NULL'
    )


def _key_ranges(
    con: duckdb.DuckDBPyConnection, sources: Sequence[tuple[Dataset, str, str, int]]
) -> list[tuple[str | None, str | None]]:
    """Consecutive ranges (low, high] of person keys (None: unbounded) of about _CHUNK_CELLS
    values each, from a reservoir sample of every dataset's keys weighted by its size."""
    total = sum(cells for *_, cells in sources)
    count = math.ceil(total / _CHUNK_CELLS)
    if count <= 1:
        return [(None, None)]
    size = min(_SAMPLE_MAX, 64 * count)
    weighted: list[tuple[str, float]] = []
    for dataset, _, rows_sql, cells in sources:
        keys = con.execute(
            f'SELECT "{_PK}" FROM ({rows_sql}) USING SAMPLE reservoir({size} ROWS) REPEATABLE (8)',
            [dataset.path],
        ).fetchall()
        weighted.extend((key, cells / len(keys)) for (key,) in keys)
    # Python orders str by code point, DuckDB VARCHAR by UTF-8 bytes: the same order.
    weighted.sort()
    bounds: list[str] = []
    step = total / count
    reached = 0.0
    for key, weight in weighted:
        reached += weight
        if reached >= step * (len(bounds) + 1) and (not bounds or key > bounds[-1]):
            bounds.append(key)
    edges: list[str | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def _key_sql(column: str, arrow_type: pa.DataType) -> str:
    """The person key as text, alike in every file (integers without a decimal part)."""
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return f'CAST(CAST("{column}" AS HUGEINT) AS VARCHAR)'
    return f'TRIM(CAST("{column}" AS VARCHAR))'


def _initials_table(
    con: duckdb.DuckDBPyConnection, datasets: Sequence[Dataset], initials: Mapping[str, Sequence[str]]
) -> None:
    """``__initials(__person, __initial)``: each person's name initial, A-Z (accents and ligatures
    folded) or ``~``, from the first dataset, in order, that names them (the smallest, if it
    names them twice)."""
    parts, params = [], []
    for rank, dataset in enumerate(datasets):
        pk = str((dataset.spec or {}).get("person_key"))
        schema = pq.read_schema(dataset.path)
        names = [c for c in initials[dataset.name] if c in schema.names]
        if not names:
            continue
        name = "COALESCE(" + ", ".join(f"NULLIF(TRIM(CAST(\"{c}\" AS VARCHAR)), '')" for c in names) + ")"
        letter = f"strip_accents(replace(replace(upper(left({name}, 1)), 'Œ', 'O'), 'Æ', 'A'))"
        parts.append(
            f"SELECT {_key_sql(pk, schema.field(pk).type)} AS __person, {rank} AS __rank, "
            f"CASE WHEN regexp_full_match({letter}, '[A-Z]') THEN {letter} ELSE '~' END AS __initial "
            f'FROM read_parquet(?) WHERE "{pk}" IS NOT NULL AND {name} IS NOT NULL'
        )
        params.append(str(dataset.path))
    union = " UNION ALL ".join(parts) or "SELECT NULL::VARCHAR AS __person, 0 AS __rank, NULL::VARCHAR AS __initial"
    # The first dataset naming the person; within it, the smallest initial: a person named twice
    # (two rows, two spellings) gets one group whatever the order of the file's rows. One hash
    # aggregate over (rank, initial) packed in an integer (initials are ASCII): a window over
    # the persons needed more than 16 MB of DuckDB's memory for 100,000 persons.
    con.execute(
        f"CREATE TABLE __initials AS SELECT __person, chr(CAST(min(__rank * 128 + ascii(__initial)) % 128 AS INTEGER)) "
        f"AS __initial FROM ({union}) GROUP BY __person",
        params,
    )


def _stream(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    rows_sql: str,
    order: int,
    low: str | None,
    high: str | None,
) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """The dataset's rows (``_rows_sql``) whose sort key is in (low, high], sorted."""
    where = ["TRUE"]
    params: list[Any] = [dataset.path]
    if low is not None:
        where.append(f'"{_PK}" > ?')
        params.append(low)
    if high is not None:
        where.append(f'"{_PK}" <= ?')
        params.append(high)
    sql = f"SELECT * FROM ({rows_sql}) WHERE {' AND '.join(where)} ORDER BY ALL"
    reader = cursor.sql(sql, params=params).to_arrow_reader(_BATCH_ROWS)
    for batch in reader:
        for row in batch.to_pylist():
            person = row.pop(_PK)
            yield person, order, dataset.name, row
