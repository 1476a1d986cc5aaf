"""Deployment configuration: one TOML file, environment overrides, secrets kept apart.

The file describes one deployment (institution, VITAM endpoint, sources, staging folder, SEDA
version). Any value may be overridden by an environment variable named after its dotted key:
``VERSEMENT__VITAM__TENANT=3`` overrides ``vitam.tenant``. Secrets never live in the file: a
connection URL that carries a password is refused, and passwords come from the secret lookup
(``versement.secrets``: the environment, or Airflow connections under Airflow).

Reading is strict. The file and the overrides are merged, then checked by pydantic models that
forbid unknown keys; every error names the dotted key, says where the value came from (the file,
or which variable) and, for an unknown key, suggests the closest known one. What to extract is
not configured here: each source names a tool whose dataset specifications ship with the product
(``extractors/specs``); a deployment only chooses overrides (sensitive classes, datasets or
columns to leave out). The scope of a batch is given per batch, never in this file.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from extractors.partitions import check_count, partition_column
from extractors.specs import (
    SENSITIVE_CLASSES,
    DatasetSpec,
    SensitiveClass,
    SpecError,
    ToolSpec,
    available_tools,
    extend_spec,
    load_tool,
    unknown_key_problem,
)
from seda.versions import SUPPORTED_VERSIONS, SedaVersion
from versement.secrets import (
    LEDGER,
    VITAM_KEY,
    SecretLookup,
    airflow_connection_id,
    environment_variable,
    from_environment,
    source_secret,
)

ENV_PREFIX = "VERSEMENT__"
CONFIG_VARIABLE = "VERSEMENT_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"
SEDA_VERSIONS = SUPPORTED_VERSIONS
# An Airflow preset, or a cron line of five fields (Airflow checks the fields when it parses the DAG).
SCHEDULE_PATTERN = r"^(@(once|hourly|daily|weekly|monthly|quarterly|yearly|annually)|(\S+\s+){4}\S+)$"


class ConfigError(ValueError):
    """A configuration problem, named by where it came from (file or variable) and dotted key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.origin = source
        self.key = key
        self.problem = problem


# -- what the file may hold (checked by pydantic; unknown keys are errors) ---------------------

NonEmpty = Annotated[str, Field(min_length=1, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _InstitutionFile(_Strict):
    name: NonEmpty
    identifier: NonEmpty
    transferring_agency: NonEmpty
    submission_agency: NonEmpty | None = None


class _VitamFile(_Strict):
    url: NonEmpty | None = None
    ingest_url: NonEmpty | None = None
    admin_url: NonEmpty | None = None
    access_url: NonEmpty | None = None
    sandbox: bool = False
    tenant: Annotated[int, Field(ge=0)]
    ingest_contract: NonEmpty
    access_contract: NonEmpty | None = None
    archival_agency: NonEmpty
    application_id: NonEmpty = "versement"
    poll_timeout: Annotated[float, Field(gt=0)] = 3600.0
    ca_bundle: NonEmpty | None = None
    client_cert: NonEmpty | None = None
    client_key: NonEmpty | None = None


class _PathsFile(_Strict):
    staging: NonEmpty


class _LedgerFile(_Strict):
    url: NonEmpty


class _SedaFile(_Strict):
    version: SedaVersion = "2.1"
    schemas: str = ""
    rules: str = ""  # the institution's VITAM rules referential (CSV); every rule id is checked against it
    profiles: str = ""  # folder of the institution's packaging profiles (<tool>.toml), else the shipped ones
    max_items: Annotated[int, Field(gt=0)] = 100_000  # units plus objects per SIP; a bigger batch is split
    max_bytes: Annotated[int, Field(gt=0)] = 1_000_000_000  # payload bytes per SIP


class _SourceFile(_Strict):
    tool: NonEmpty | None = None  # defaults to the source's name
    url: NonEmpty
    title: NonEmpty | None = None  # defaults to the tool's label
    synthetic: bool = False  # generated (demo, `extract`, demo DAG) when the file is missing
    include_sensitive: list[SensitiveClass] = []
    drop_datasets: list[NonEmpty] = []
    only_datasets: list[NonEmpty] | None = None
    exclude_columns: dict[str, list[NonEmpty]] = {}
    add_datasets: NonEmpty | None = None  # a TOML file of the deployment's own [[datasets]] (extend_spec)
    # Airflow: when the source's DAG runs on its own (a preset such as "@yearly" or a cron line);
    # none means manual runs only.
    schedule: Annotated[str, Field(pattern=SCHEDULE_PATTERN)] | None = None
    # A large dataset read in partitions, combined into its one file: { resultats_elements = 8 }.
    partitions: dict[NonEmpty, Annotated[int, Field(strict=True)]] = {}

    @field_validator("include_sensitive", "drop_datasets")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names must not repeat")
        return value


Role = Literal["auditor", "archivist", "admin"]


class _ApprovalFile(_Strict):
    """Approval through Airflow's human-in-the-loop operators (dags/versement_sources.py)."""

    archivists: list[NonEmpty] = []  # Airflow user ids allowed to answer an approval or override request
    timeout_hours: Annotated[float, Field(gt=0)] = 168.0  # an unanswered request expires after this delay


class _RoleMembersFile(_Strict):
    users: list[NonEmpty] = []
    groups: list[NonEmpty] = []


class _BrowserFile(_Strict):
    """The consultation browser (browser/): who may sign in, and how."""

    base_url: NonEmpty | None = None  # where archivists reach it (links in approval requests: <base_url>/lots/N)
    auth: Literal["local", "header"] = "local"  # local accounts, or REMOTE_USER set by a CAS/Shibboleth proxy
    trusted_proxies: list[IPvAnyNetwork] = []  # the only peers whose user header is believed
    user_header: NonEmpty = "REMOTE_USER"
    groups_header: NonEmpty | None = None  # e.g. "X-Remote-Groups", separated by ; or ,
    roles: dict[Role, _RoleMembersFile] = {}  # header mode (and extra local users): role → users, groups
    sensitive_roles: list[Role] = ["archivist"]  # who sees columns tagged nir, postal_address, bank_details, health
    demo_accounts: bool = False  # the demo creates one account per role (only config/demo.toml sets this)
    secure_cookies: bool = False  # set true behind HTTPS
    session_minutes: Annotated[int, Field(gt=0)] = 480
    login_attempts: Annotated[int, Field(gt=0)] = 5  # failed sign-ins allowed per address and name...
    login_window_seconds: Annotated[int, Field(gt=0)] = 300  # ...within this window


class _RetentionFile(_Strict):
    """How long the staging area keeps a batch's local copy once VITAM holds it."""

    # Days after verification (VITAM read back and matched) after which ``versement purge``
    # deletes the batch's Parquet files, renditions and SIPs; the browser then reads the
    # batch's pieces back from VITAM. Not set: local copies are kept for ever.
    purge_local_after_days: Annotated[int, Field(ge=0, le=36_500)] | None = None


class _File(_Strict):
    institution: _InstitutionFile
    vitam: _VitamFile
    paths: _PathsFile
    ledger: _LedgerFile
    seda: _SedaFile = _SedaFile()
    browser: _BrowserFile = _BrowserFile()
    approval: _ApprovalFile = _ApprovalFile()
    retention: _RetentionFile = _RetentionFile()
    sources: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], _SourceFile], Field(min_length=1)]


# -- what the stages read ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One configured source: a tool's shipped specification, narrowed by the deployment."""

    name: str
    tool: str
    url: str
    title: str
    spec: ToolSpec
    datasets: tuple[DatasetSpec, ...]
    synthetic: bool = False
    include_sensitive: tuple[str, ...] = ()
    schedule: str | None = None  # Airflow schedule of the source's DAG; None: manual runs only
    # Datasets read in partitions (extractors.partitions): dataset name -> number of partitions.
    partitions: Mapping[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.tool


@dataclass(frozen=True)
class VitamConfig:
    ingest_url: str
    admin_url: str
    access_url: str
    tenant: int
    ingest_contract: str
    access_contract: str | None
    archival_agency: str
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    application_id: str = "versement"
    poll_timeout: float = 3600.0
    sandbox: bool = False  # the demo starts the in-process test sandbox at these URLs


@dataclass(frozen=True)
class InstitutionConfig:
    name: str
    identifier: str  # originating agency identifier in VITAM's agencies referential
    transferring_agency: str
    submission_agency: str | None = None


@dataclass(frozen=True)
class ApprovalConfig:
    archivists: tuple[str, ...] = ()
    timeout_hours: float = 168.0


@dataclass(frozen=True)
class BrowserConfig:
    base_url: str | None = None
    auth: str = "local"
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    user_header: str = "REMOTE_USER"
    groups_header: str | None = None
    roles: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)  # role → users/groups
    sensitive_roles: tuple[str, ...] = ("archivist",)
    demo_accounts: bool = False
    secure_cookies: bool = False
    session_minutes: int = 480
    login_attempts: int = 5
    login_window_seconds: int = 300


@dataclass(frozen=True)
class Settings:
    source_file: Path
    institution: InstitutionConfig
    vitam: VitamConfig
    sources: Mapping[str, SourceConfig]
    staging: Path
    ledger_url: str
    seda_version: SedaVersion
    seda_schemas: Path | None
    secrets: SecretLookup = field(default_factory=from_environment, repr=False, compare=False)
    browser: BrowserConfig = field(default_factory=BrowserConfig)
    seda_rules: Path | None = None  # VITAM rules referential CSV
    seda_max_items: int = 100_000  # units plus objects per SIP
    seda_max_bytes: int = 1_000_000_000  # payload bytes per SIP
    seda_profiles: Path | None = None  # the institution's packaging profiles folder (profiles/<tool>.toml otherwise)
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    purge_local_after_days: int | None = None  # [retention]; None: local copies kept for ever

    def secret(self, name: str) -> str | None:
        """A password by secret name (``ledger``, ``vitam_key``, ``source_<name>``), or None."""
        return self.secrets(name)

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(
                str(self.source_file), f"sources.{name}", unknown_key_problem(name, self.sources) + ": no such source"
            ) from None


def config_path(explicit: Path | str | None = None) -> Path:
    """The deployment's file: the one given, else ``$VERSEMENT_CONFIG``, else the embedded default."""
    return Path(explicit or os.environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG)


def load(
    path: Path | str,
    environ: Mapping[str, str] | None = None,
    secrets: SecretLookup | None = None,
) -> Settings:
    """Read, override and check a configuration file; raise ConfigError naming the key.

    ``secrets`` resolves passwords by name; by default they are read from ``environ``.
    """
    path = Path(path)
    env = os.environ if environ is None else environ
    raw = _read(path)
    origins = _apply_overrides(raw, env, str(path))
    try:
        checked = _File.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, origins, str(path)) from None
    return _Builder(checked, origins, path).settings(secrets or from_environment(environ))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", f"not valid TOML: {exc}") from None


def _apply_overrides(raw: dict[str, Any], env: Mapping[str, str], source: str) -> dict[str, str]:
    """Merge ``VERSEMENT__…`` variables into the tree; return dotted key → variable that set it."""
    origins: dict[str, str] = {}
    for variable, value in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in variable[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            raise ConfigError(f"environment variable {variable}", variable, "malformed override variable name")
        node = raw
        for depth, key in enumerate(keys[:-1]):
            if key not in node:  # a table the variable creates: its problems are the variable's
                origins.setdefault(".".join(keys[: depth + 1]), variable)
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                dotted = ".".join(keys[: depth + 1])
                raise ConfigError(
                    f"environment variable {variable}", dotted, f"cannot override inside a {type(child).__name__}"
                )
            node = child
        node[keys[-1]] = _override_value(value)
        origins[".".join(keys)] = variable
    return origins


def _override_value(value: str) -> Any:
    """Variables are text; a JSON list or table (``["nir"]``) is read as one. pydantic types the rest."""
    text = value.strip()
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


_SECRET_KEYS = frozenset({"password", "key_password", "passphrase", "token", "secret"})


def _explain(exc: ValidationError, origins: Mapping[str, str], path: str) -> ConfigError:
    """The first problem pydantic found, worded for a person editing the file or the environment."""
    # An unknown key explains a missing one next to it ('pathz' for 'paths'): report it first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    loc = [str(part) for part in error["loc"] if part != "[key]"]  # pydantic marks dict keys so
    dotted = ".".join(loc)
    origin = _origin(dotted, origins, path)
    if error["type"] == "extra_forbidden" and loc[-1] in _SECRET_KEYS:
        problem = (
            f"secrets are not read from the file; set {environment_variable(VITAM_KEY)} for the VITAM client key, "
            "and put passwords in the environment or in Airflow connections (README, Configuration)"
        )
    elif error["type"] == "extra_forbidden":
        problem = unknown_key_problem(loc[-1], _known_keys(loc[:-1]))
    elif error["type"] == "missing":
        problem = "missing value"
    elif error["type"] == "literal_error" and loc[:2] == ["seda", "version"]:
        problem = f"unsupported SEDA version {error['input']!r} (use one of {', '.join(SEDA_VERSIONS)})"
    elif error["type"] == "literal_error":
        problem = unknown_key_problem(str(error["input"]), _literal_choices(error))
    else:
        problem = f"{error['msg']} (got {error['input']!r})"
    return ConfigError(origin, dotted, problem)


def _origin(dotted: str, origins: Mapping[str, str], path: str) -> str:
    for key, variable in origins.items():
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"environment variable {variable}"
    return path


def _known_keys(loc: Sequence[str]) -> list[str]:
    """The keys allowed at ``loc`` in the file's model (for "did you mean" suggestions)."""
    model: Any = _File
    for position, part in enumerate(loc):
        if model is _File and part == "sources":
            if position + 1 < len(loc):
                model = _SourceFile
            else:
                return []  # source names are the deployment's own
            continue
        if model is _SourceFile and loc[position - 1] == "sources":
            continue  # the source's name
        info = model.model_fields.get(part)
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return []
        model = info.annotation
    return sorted(model.model_fields)


def _literal_choices(error: Any) -> list[str]:
    expected = str(error.get("ctx", {}).get("expected", ""))
    return [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",") if part.strip()]


class _Builder:
    """Turns the checked file into Settings: paths resolved, URLs checked, specifications loaded."""

    def __init__(self, checked: _File, origins: Mapping[str, str], path: Path) -> None:
        self.file = checked
        self.origins = origins
        self.path = path
        self.base = path.parent.resolve()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(_origin(key, self.origins, str(self.path)), key, problem)

    def resolve(self, value: str) -> Path:
        candidate = Path(os.path.expandvars(value)).expanduser()
        return candidate if candidate.is_absolute() else (self.base / candidate).resolve()

    def url(self, key: str, value: str, secret: str) -> str:
        """A database URL without a password; ``secret`` names where the password goes instead."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise self.fail(key, "not a valid database URL") from None
        if url.password:
            raise self.fail(
                key,
                f"contains a password; remove it and set the environment variable {environment_variable(secret)} "
                f"(or, under Airflow, the password of the connection {airflow_connection_id(secret)})",
            )
        if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
            url = url.set(database=str(self.resolve(url.database)))
        return url.render_as_string(hide_password=False)

    def settings(self, secrets: SecretLookup) -> Settings:
        file = self.file
        return Settings(
            source_file=self.path.resolve(),
            institution=InstitutionConfig(**file.institution.model_dump()),
            vitam=self.vitam(),
            sources={name: self.source(name, node) for name, node in file.sources.items()},
            staging=self.resolve(file.paths.staging),
            ledger_url=self.url("ledger.url", file.ledger.url, LEDGER),
            seda_version=file.seda.version,
            seda_schemas=self.resolve(file.seda.schemas) if file.seda.schemas.strip() else None,
            secrets=secrets,
            browser=self.browser(),
            seda_rules=self.resolve(file.seda.rules) if file.seda.rules.strip() else None,
            seda_max_items=file.seda.max_items,
            seda_max_bytes=file.seda.max_bytes,
            seda_profiles=self.resolve(file.seda.profiles) if file.seda.profiles.strip() else None,
            approval=ApprovalConfig(
                archivists=tuple(file.approval.archivists), timeout_hours=file.approval.timeout_hours
            ),
            purge_local_after_days=file.retention.purge_local_after_days,
        )

    def browser(self) -> BrowserConfig:
        node = self.file.browser
        if node.auth == "header":  # else the browser would start and let nobody in, saying nothing
            if not node.trusted_proxies:
                raise self.fail(
                    "browser.trusted_proxies",
                    'missing value: with auth = "header", the addresses of the proxies whose user header is believed',
                )
            if not any(m.users or m.groups for m in node.roles.values()):
                raise self.fail(
                    "browser.roles",
                    'missing value: with auth = "header", the users or groups of each role '
                    '(e.g. roles = { auditor = { groups = ["..."] } })',
                )
        return BrowserConfig(
            **node.model_dump(exclude={"trusted_proxies", "roles", "sensitive_roles"}),
            trusted_proxies=tuple(node.trusted_proxies),
            roles={r: {"users": tuple(m.users), "groups": tuple(m.groups)} for r, m in node.roles.items()},
            sensitive_roles=tuple(node.sensitive_roles),
        )

    def vitam(self) -> VitamConfig:
        node = self.file.vitam
        urls = {}
        for name, service in (("ingest_url", "ingest"), ("admin_url", "admin"), ("access_url", "access")):
            given = getattr(node, name)
            if given is None and node.url is None:
                raise self.fail(f"vitam.{name}", "missing value (or set vitam.url for all three services)")
            urls[name] = given or f"{node.url}/{service}-external/v1"
        return VitamConfig(
            **urls,
            tenant=node.tenant,
            ingest_contract=node.ingest_contract,
            access_contract=node.access_contract,
            archival_agency=node.archival_agency,
            ca_bundle=self.optional_path(node.ca_bundle),
            client_cert=self.optional_path(node.client_cert),
            client_key=self.optional_path(node.client_key),
            application_id=node.application_id,
            poll_timeout=node.poll_timeout,
            sandbox=node.sandbox,
        )

    def optional_path(self, value: str | None) -> str | None:
        return None if value is None else str(self.resolve(value))

    def source(self, name: str, node: _SourceFile) -> SourceConfig:
        key = f"sources.{name}"
        tool = node.tool or name
        if tool not in available_tools():
            raise self.fail(f"{key}.tool", unknown_key_problem(tool, available_tools()) + ": no such tool")
        spec = load_tool(tool)
        if node.add_datasets is not None:
            try:
                spec = extend_spec(spec, self.resolve(node.add_datasets))
            except SpecError as exc:
                raise self.fail(f"{key}.add_datasets", str(exc)) from None
        try:
            datasets = spec.select(
                include_sensitive=node.include_sensitive,
                drop=node.drop_datasets,
                only=node.only_datasets,
                exclude_columns=node.exclude_columns,
            )
        except SpecError as exc:
            raise self.fail(f"{key}.{exc.key}", exc.problem) from None
        if not datasets:
            raise self.fail(key, "the overrides leave no dataset to extract")
        partitions = self.partitions(key, node.partitions, datasets)
        return SourceConfig(
            name=name,
            tool=tool,
            url=self.url(f"{key}.url", node.url, source_secret(name)),
            title=node.title or spec.label,
            spec=spec,
            datasets=datasets,
            synthetic=node.synthetic,
            include_sensitive=tuple(c for c in SENSITIVE_CLASSES if c in node.include_sensitive),
            schedule=node.schedule,
            partitions=partitions,
        )

    def partitions(self, key: str, given: Mapping[str, int], datasets: Sequence[DatasetSpec]) -> dict[str, int]:
        specs = {d.name: d for d in datasets}
        for name, count in given.items():
            where = f"{key}.partitions.{name}"
            if name not in specs:
                raise self.fail(where, unknown_key_problem(name, tuple(specs)) + ": not a dataset this source extracts")
            problem = check_count(count)
            if problem is None and partition_column(specs[name]) is None:
                problem = "the dataset has neither a person key nor a key column to cut it on"
            if problem is not None:
                raise self.fail(where, problem)
        return dict(given)
