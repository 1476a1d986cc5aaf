"""Packaging profiles: how a batch's datasets become the ArchiveUnit tree of its SIP.

One strict TOML file per source tool ships here (``profiles/<tool>.toml``); an institution may
replace it with its own file of the same name in a folder of its choosing (``[seda] profiles``).
A profile describes the tree of ``shared/reference/sources.md`` §4.2:

- the Fonds (institution and tool, scope) with its French title and description templates and
  its default AccessRule;
- one Series per record type, in order, with its rules from the institution's VITAM rules
  referential and how each rule's StartDate is computed from the records (§3.2);
- under a ``tables`` Series, one File for the batch's academic year (or period) holding each
  table as CSV and its data dictionary; under a ``persons`` Series, one File per person (student
  or agent) holding one Item per slice of that person's rows (``[[series.items]]``), sensitive
  columns (NIR, address, bank, health) in their own restricted Item, or left out; once a persons
  Series holds more than ``group_over`` persons, ``group_by = "initial"`` puts its Files in one
  SubGrp per initial of the name (A-Z, then the others); a tables Series may cut a dataset into one
  SubGrp per stage or diploma and one Item per session (``[[series.groups]]``, jury minutes).

Start dates (``start``): ``scope_end`` (end of the batch's year or period), ``birth_date`` (the
person's birth date, columns tagged ``birth_date``), ``latest:COL,COL`` (the latest date found in
these columns among the records, up to the end of the batch's scope: a later date is a planned
end, not an act), ``year_end:COL`` (31 August after the latest academic year in COL, e.g. the end
of the last registration year), ``none`` (no StartDate). Placeholder dates (before 1900-01-02, such
as the 1900-01-01 "unknown birth date", or from year 9000 on, such as 9999-12-31) start nothing.
A record whose start date cannot be computed is reported, never given one.

Unknown keys are refused with the file, the dotted key and the closest known key.
"""

from __future__ import annotations

import hashlib
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from extractors.specs import unknown_key_problem

PROFILES_DIR = Path(__file__).resolve().parent

Layout = Literal["tables", "persons"]
LAYOUTS = ("tables", "persons")
SENSITIVE_CHOICES = ("separate", "omit")
FINAL_ACTIONS = ("Keep", "Destroy")
STORAGE_FINAL_ACTIONS = ("RestrictAccess", "Transfer", "Copy")
START_KINDS = ("scope_end", "birth_date", "latest", "year_end", "none")

# Placeholders each template may use.
FONDS_FIELDS = frozenset({"institution", "source", "tool", "scope", "scope_fr"})
TABLE_FILE_FIELDS = frozenset({"scope", "scope_fr", "series"})
PERSON_FILE_FIELDS = frozenset({"identifiers", "name", "key"})

_TOP_KEYS = frozenset({"tool", "label", "fonds", "series"})
_FONDS_KEYS = frozenset({"title", "description", "access"})
_SERIES_KEYS = frozenset(
    {
        "name",
        "title",
        "description",
        "layout",
        "record_types",
        "file_title",
        "appraisal",
        "access",
        "storage",
        "person_kind",
        "items",
        "sensitive",
        "sensitive_title",
        "sensitive_access",
        "groups",
        "group_by",
        "group_over",
    }
)
GROUP_BY = ("initial",)
_GROUP_KEYS = frozenset({"dataset", "by", "session", "sessions", "label", "title"})
_RULE_KEYS = frozenset({"rule", "start", "final_action"})
_ITEM_KEYS = frozenset({"name", "title", "datasets"})
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")


class ProfileError(ValueError):
    """A profile file that cannot be used, named by file and dotted key."""

    def __init__(self, origin: str, key: str, problem: str) -> None:
        super().__init__(f"{origin}: {key}: {problem}")
        self.origin = origin
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Start:
    """How a rule's StartDate is computed from the records."""

    kind: str  # one of START_KINDS
    columns: tuple[str, ...] = ()

    def describe_fr(self) -> str:
        if self.kind == "scope_end":
            return "fin de l'année universitaire ou de la période du lot"
        if self.kind == "birth_date":
            return "date de naissance de la personne"
        if self.kind == "latest":
            return f"date la plus récente parmi {', '.join(self.columns)}"
        if self.kind == "year_end":
            return f"fin de la dernière année universitaire ({self.columns[0]})"
        return "sans date de départ"


@dataclass(frozen=True)
class RuleSpec:
    rule: str
    start: Start
    final_action: str | None = None  # AppraisalRule: Keep | Destroy; StorageRule: RestrictAccess | ...


@dataclass(frozen=True)
class ItemSpec:
    """One slice of a person's file: the rows of these datasets, as one document."""

    name: str
    title: str
    datasets: tuple[str, ...]


@dataclass(frozen=True)
class GroupSpec:
    """A tables dataset cut into one SubGrp per value of `by` (a VET, a VDI), one Item per session.

    Jury minutes are read per stage or diploma and session (sources.md §4.2): each session's
    rows are their own CSV, whose rules start from that deliberation's own date."""

    dataset: str
    by: tuple[str, ...]
    title: str  # placeholders: the `by` columns and {label}
    session: str | None = None
    sessions: Mapping[str, str] | None = None  # session value -> French name ("1" -> "première session")
    label: tuple[str, str] | None = None  # (reference dataset keyed by `by`, its label column)


@dataclass(frozen=True)
class SeriesSpec:
    name: str
    title: str
    description: str | None
    layout: Layout
    record_types: tuple[str, ...]  # tables: the datasets of these record types
    file_title: str
    appraisal: RuleSpec | None
    access: RuleSpec | None
    storage: RuleSpec | None
    person_kind: str | None = None  # persons
    items: tuple[ItemSpec, ...] = ()  # persons
    sensitive: str = "separate"  # persons: separate | omit
    sensitive_title: str = "Données protégées"
    sensitive_access: RuleSpec | None = None
    groups: tuple[GroupSpec, ...] = ()  # tables
    group_by: str | None = None  # persons: "initial" (a SubGrp per initial of the name)...
    group_over: int = 1000  # ...once the Series holds more persons than this

    @property
    def datasets(self) -> tuple[str, ...]:
        """The datasets a persons Series draws from, in the order of its items."""
        return tuple(dict.fromkeys(name for item in self.items for name in item.datasets))

    def rules(self) -> list[tuple[str, RuleSpec]]:
        found = [("AppraisalRule", self.appraisal), ("AccessRule", self.access), ("StorageRule", self.storage)]
        found.append(("AccessRule", self.sensitive_access))
        return [(category, rule) for category, rule in found if rule is not None]


@dataclass(frozen=True)
class Profile:
    tool: str
    label: str
    path: Path
    sha256: str
    fonds_title: str
    fonds_description: str | None
    fonds_access: RuleSpec | None
    series: tuple[SeriesSpec, ...]

    def rules(self) -> list[tuple[str, str, RuleSpec]]:
        """(where, category, rule) for every rule the profile cites."""
        found: list[tuple[str, str, RuleSpec]] = []
        if self.fonds_access is not None:
            found.append(("fonds.access", "AccessRule", self.fonds_access))
        for spec in self.series:
            for category, rule in spec.rules():
                found.append((f"series.{spec.name}", category, rule))
        return found

    def series_for(self, record_type: str) -> SeriesSpec | None:
        return next((s for s in self.series if s.layout == "tables" and record_type in s.record_types), None)

    def record(self) -> dict[str, Any]:
        """What the package event records of the profile used."""
        return {"tool": self.tool, "file": str(self.path), "sha256": self.sha256}


def available_profiles() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))


def load_profile(tool: str, folder: Path | None = None) -> Profile:
    """The profile of `tool`: ``folder/<tool>.toml`` when the institution has one, else the shipped one."""
    if folder is not None:
        if not Path(folder).is_dir():
            raise ProfileError(str(folder), "seda.profiles", "the packaging profiles folder does not exist")
        candidate = Path(folder) / f"{tool}.toml"
        if candidate.is_file():
            return load_profile_file(candidate)
    path = PROFILES_DIR / f"{tool}.toml"
    if not path.is_file():
        raise ProfileError(
            str(folder or PROFILES_DIR),
            tool,
            unknown_key_problem(tool, available_profiles()) + ": no packaging profile",
        )
    return load_profile_file(path)


def load_profile_file(path: Path) -> Profile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(str(path), "", f"cannot read the profile: {exc.strerror or exc}") from exc
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(str(path), "", f"not a valid TOML file: {exc}") from exc
    return _Reader(str(path)).profile(raw, path, hashlib.sha256(data).hexdigest())


class _Reader:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(self.origin, key, problem)

    def strict(self, node: Any, known: frozenset[str], where: str) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.fail(where, "expected a table")
        for key in node:
            if key not in known:
                raise self.fail(f"{where}.{key}" if where else key, unknown_key_problem(key, known))
        return node

    def text(self, node: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}" if where else key, "expected a non-empty string")
        return value

    def template(self, node: Mapping[str, Any], key: str, where: str, fields: frozenset[str]) -> str | None:
        value = self.text(node, key, where, required=key != "title" and key != "file_title")
        if value is None:
            return None
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise self.fail(f"{where}.{key}", f"not a valid template: {exc}") from None
        for name in names:
            if name not in fields:
                raise self.fail(f"{where}.{key}", f"placeholder {{{name}}}: " + unknown_key_problem(name, fields))
        return value

    def names(self, node: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = node.get(key, [])
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and _NAME.fullmatch(v) for v in value)
        ):
            raise self.fail(f"{where}.{key}", "expected a non-empty list of names")
        return tuple(value)

    def rule(self, node: Mapping[str, Any], key: str, where: str, category: str) -> RuleSpec | None:
        if key not in node:
            return None
        here = f"{where}.{key}"
        body = self.strict(node[key], _RULE_KEYS, here)
        rule_id = self.text(body, "rule", here)
        assert rule_id is not None
        start = self.start(body.get("start", "none"), f"{here}.start")
        final = body.get("final_action")
        if category == "AppraisalRule":
            final = final if final is not None else "Keep"
            if final not in FINAL_ACTIONS:
                raise self.fail(f"{here}.final_action", f"{final!r} is not one of {', '.join(FINAL_ACTIONS)}")
        elif category == "StorageRule":
            final = final if final is not None else "Copy"
            if final not in STORAGE_FINAL_ACTIONS:
                raise self.fail(f"{here}.final_action", f"{final!r} is not one of {', '.join(STORAGE_FINAL_ACTIONS)}")
        elif final is not None:
            raise self.fail(f"{here}.final_action", f"an {category} has no final action")
        return RuleSpec(rule_id.strip(), start, final)

    def start(self, value: Any, where: str) -> Start:
        if not isinstance(value, str):
            raise self.fail(where, "expected a string")
        kind, _, rest = value.partition(":")
        kind = kind.strip()
        if kind not in START_KINDS:
            raise self.fail(where, unknown_key_problem(kind, START_KINDS))
        columns = tuple(c.strip() for c in rest.split(",") if c.strip())
        if not all(_COLUMN.fullmatch(c) for c in columns):
            raise self.fail(where, f"{rest!r} is not a list of column names")
        if kind in ("latest", "year_end") and not columns:
            raise self.fail(where, f"{kind!r} needs columns, e.g. '{kind}:COD_ANU'")
        if kind == "year_end" and len(columns) != 1:
            raise self.fail(where, "'year_end' takes exactly one column")
        if kind not in ("latest", "year_end") and columns:
            raise self.fail(where, f"{kind!r} takes no columns")
        return Start(kind, columns)

    def profile(self, raw: Mapping[str, Any], path: Path, sha256: str) -> Profile:
        self.strict(raw, _TOP_KEYS, "")
        tool = self.text(raw, "tool", "")
        if tool != path.stem:
            raise self.fail("tool", f"{tool!r} does not match the file name {path.name}")
        label = self.text(raw, "label", "", required=False) or str(tool)
        fonds = self.strict(raw.get("fonds", {}), _FONDS_KEYS, "fonds")
        fonds_title = self.template(fonds, "title", "fonds", FONDS_FIELDS)
        assert fonds_title is not None
        fonds_description = self.template(fonds, "description", "fonds", FONDS_FIELDS)
        fonds_access = self.rule(fonds, "access", "fonds", "AccessRule")
        nodes = raw.get("series")
        if not isinstance(nodes, list) or not nodes:
            raise self.fail("series", "expected at least one [[series]]")
        series = tuple(self.series(node, f"series[{n}]") for n, node in enumerate(nodes))
        seen: set[str] = set()
        for spec in series:
            if spec.name in seen:
                raise self.fail(f"series.{spec.name}", "two series have this name")
            seen.add(spec.name)
        typed = [t for s in series if s.layout == "tables" for t in s.record_types]
        for record_type in typed:
            if typed.count(record_type) > 1:
                raise self.fail("series", f"record type {record_type!r} is in two tables series")
        assert tool is not None
        return Profile(tool, label, path, sha256, fonds_title, fonds_description, fonds_access, series)

    def series(self, node: Any, where: str) -> SeriesSpec:
        node = self.strict(node, _SERIES_KEYS, where)
        name = self.text(node, "name", where)
        assert name is not None
        if not _NAME.fullmatch(name):
            raise self.fail(f"{where}.name", f"{name!r} is not a lowercase name")
        where = f"series.{name}"
        layout = node.get("layout", "tables")
        if layout not in LAYOUTS:
            raise self.fail(f"{where}.layout", unknown_key_problem(str(layout), LAYOUTS))
        title = self.text(node, "title", where)
        description = self.text(node, "description", where, required=False)
        fields = TABLE_FILE_FIELDS if layout == "tables" else PERSON_FILE_FIELDS
        file_title = self.template(node, "file_title", where, fields)
        assert title is not None and file_title is not None
        common: dict[str, Any] = {
            "name": name,
            "title": title,
            "description": description,
            "layout": layout,
            "file_title": file_title,
            "appraisal": self.rule(node, "appraisal", where, "AppraisalRule"),
            "access": self.rule(node, "access", where, "AccessRule"),
            "storage": self.rule(node, "storage", where, "StorageRule"),
        }
        if layout == "tables":
            groups = tuple(self.group(g, f"{where}.groups[{n}]") for n, g in enumerate(node.get("groups") or ()))
            if len({g.dataset for g in groups}) != len(groups):
                raise self.fail(f"{where}.groups", "two groups cut the same dataset")
            for key in (
                "person_kind",
                "items",
                "sensitive",
                "sensitive_title",
                "sensitive_access",
                "group_by",
                "group_over",
            ):
                if key in node:
                    raise self.fail(f"{where}.{key}", "only a persons series has this key")
            for _, rule in [("a", common["appraisal"]), ("b", common["access"]), ("c", common["storage"])]:
                if rule is not None and rule.start.kind == "birth_date":
                    raise self.fail(f"{where}", "'birth_date' starts only rules of a persons series")
            return SeriesSpec(record_types=self.names(node, "record_types", where), groups=groups, **common)
        if "groups" in node:
            raise self.fail(f"{where}.groups", "only a tables series cuts its datasets into groups")
        if "record_types" in node:
            raise self.fail(f"{where}.record_types", "a persons series lists its datasets in [[series.items]]")
        kind = self.text(node, "person_kind", where)
        if kind not in ("student", "agent"):
            raise self.fail(f"{where}.person_kind", unknown_key_problem(str(kind), ("student", "agent")))
        items_raw = node.get("items")
        if not isinstance(items_raw, list) or not items_raw:
            raise self.fail(f"{where}.items", "expected at least one [[series.items]]")
        items = tuple(self.item(item, f"{where}.items[{n}]") for n, item in enumerate(items_raw))
        if len({i.name for i in items}) != len(items):
            raise self.fail(f"{where}.items", "two items have the same name")
        sensitive = node.get("sensitive", "separate")
        if sensitive not in SENSITIVE_CHOICES:
            raise self.fail(f"{where}.sensitive", unknown_key_problem(str(sensitive), SENSITIVE_CHOICES))
        group_by = node.get("group_by")
        if group_by is not None and group_by not in GROUP_BY:
            raise self.fail(f"{where}.group_by", unknown_key_problem(str(group_by), GROUP_BY))
        group_over = node.get("group_over", 1000)
        if isinstance(group_over, bool) or not isinstance(group_over, int) or group_over < 0:
            raise self.fail(f"{where}.group_over", "expected a whole number of persons, 0 or more")
        if "group_over" in node and group_by is None:
            raise self.fail(f"{where}.group_over", "says when to group by 'group_by', which is not given")
        return SeriesSpec(
            record_types=(),
            person_kind=kind,
            group_by=group_by,
            group_over=group_over,
            items=items,
            sensitive=sensitive,
            sensitive_title=self.text(node, "sensitive_title", where, required=False) or "Données protégées",
            sensitive_access=self.rule(node, "sensitive_access", where, "AccessRule"),
            **common,
        )

    def group(self, node: Any, where: str) -> GroupSpec:
        node = self.strict(node, _GROUP_KEYS, where)
        dataset = self.text(node, "dataset", where)
        assert dataset is not None
        if not _NAME.fullmatch(dataset):
            raise self.fail(f"{where}.dataset", f"{dataset!r} is not a dataset name")
        by = node.get("by")
        if not isinstance(by, list) or not by or not all(isinstance(c, str) and _COLUMN.fullmatch(c) for c in by):
            raise self.fail(f"{where}.by", "expected a non-empty list of column names")
        session = self.text(node, "session", where, required=False)
        if session is not None and not _COLUMN.fullmatch(session):
            raise self.fail(f"{where}.session", f"{session!r} is not a column name")
        sessions = node.get("sessions")
        if sessions is not None:
            if session is None:
                raise self.fail(f"{where}.sessions", "names the values of 'session', which is not given")
            if not isinstance(sessions, Mapping) or not all(
                isinstance(v, str) and v.strip() for v in sessions.values()
            ):
                raise self.fail(f"{where}.sessions", "expected a table of session value = French name")
        label = None
        if "label" in node:
            text = self.text(node, "label", where)
            reference, _, column = str(text).partition(".")
            if not _NAME.fullmatch(reference) or not _COLUMN.fullmatch(column):
                raise self.fail(f"{where}.label", f"{text!r} is not 'reference_dataset.COLUMN'")
            label = (reference, column)
        title = self.template(node, "title", where, frozenset({*by, "label"}))
        assert title is not None
        return GroupSpec(dataset, tuple(by), title, session, dict(sessions) if sessions else None, label)

    def item(self, node: Any, where: str) -> ItemSpec:
        node = self.strict(node, _ITEM_KEYS, where)
        name = self.text(node, "name", where)
        title = self.text(node, "title", where)
        assert name is not None and title is not None
        if not _NAME.fullmatch(name):
            raise self.fail(f"{where}.name", f"{name!r} is not a lowercase name")
        return ItemSpec(name, title, self.names(node, "datasets", where))
