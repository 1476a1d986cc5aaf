"""Deployment configuration: one TOML file, environment overrides, secrets kept apart.

The file describes one deployment (institution, VITAM endpoint, sources, staging folder, SEDA
version). Any value may be overridden by an environment variable named after its dotted key:
``VERSEMENT__VITAM__TENANT=3`` overrides ``vitam.tenant``. Secrets never live in the file: a
connection URL that carries a password is refused, and passwords come from the secret lookup
(``versement.secrets``: the environment, or Airflow connections under Airflow).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
SEDA_VERSIONS = ("2.1", "2.2", "2.3")


class ConfigError(ValueError):
    """A configuration problem, named by file and dotted key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.origin = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class DatasetConfig:
    name: str
    table: str
    key: tuple[str, ...]
    title: str
    description: str = ""
    filters: Mapping[str, str | int] = field(default_factory=dict)
    not_null: tuple[str, ...] = ()
    appraisal_rule: str | None = None
    final_action: str = "Keep"
    access_rule: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str  # apogee, harpege, ...
    url: str
    title: str
    academic_year: int | None
    datasets: tuple[DatasetConfig, ...]
    synthetic: bool = False  # generated (demo, `extract`, demo DAG) when the file is missing

    def scope(self) -> str:
        """What one batch of this source covers, e.g. ``2023-2024``."""
        if self.academic_year is None:
            return "all"
        return f"{self.academic_year}-{self.academic_year + 1}"

    def scope_end(self) -> date | None:
        """End of the academic year the source is scoped to (start of retention periods)."""
        return None if self.academic_year is None else date(self.academic_year + 1, 8, 31)


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
class Settings:
    source_file: Path
    institution: InstitutionConfig
    vitam: VitamConfig
    sources: Mapping[str, SourceConfig]
    staging: Path
    ledger_url: str
    seda_version: str
    seda_schemas: Path | None
    secrets: SecretLookup = field(default_factory=from_environment, repr=False, compare=False)

    def secret(self, name: str) -> str | None:
        """A password by secret name (``ledger``, ``vitam_key``, ``source_<name>``), or None."""
        return self.secrets(name)

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise ConfigError(str(self.source_file), f"sources.{name}", f"no such source (known: {known})") from None


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
    _apply_overrides(raw, env, str(path))
    return _Reader(raw, str(path), path.parent.resolve()).settings(path, secrets or from_environment(environ))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", f"not valid TOML: {exc}") from None


def _apply_overrides(raw: dict[str, Any], env: Mapping[str, str], source: str) -> None:
    for variable, value in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in variable[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            raise ConfigError(source, variable, "malformed override variable name")
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(source, ".".join(keys), f"cannot override inside a {type(child).__name__}")
            node = child
        node[keys[-1]] = value  # a string; typed when read (see _Reader.value)


def _coerce(value: Any, kind: type) -> Any:
    """Environment overrides arrive as strings: read them as the type the key expects."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or kind not in (int, float, bool):
        return value
    text = value.strip().lower()
    if kind is bool:
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text, value)
    try:
        return kind(text)
    except ValueError:
        return value


class _Reader:
    """Typed access to the raw TOML tree; every failure names the dotted key."""

    def __init__(self, raw: dict[str, Any], source: str, base: Path) -> None:
        self.raw = raw
        self.origin = source
        self.base = base

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.origin, key, problem)

    def table(self, key: str, node: Mapping[str, Any] | None = None, *, required: bool = True) -> dict[str, Any]:
        node = self.raw if node is None else node
        value = node.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                raise self.fail(key, "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return value

    def value(self, node: Mapping[str, Any], key: str, kind: type, default: Any = ...) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in node:
            if default is ...:
                raise self.fail(key, "missing value")
            return default
        value = _coerce(node[leaf], kind)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def path(self, value: str) -> Path:
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
            url = url.set(database=str(self.path(url.database)))
        return url.render_as_string(hide_password=False)

    def settings(self, path: Path, secrets: SecretLookup) -> Settings:
        paths = self.table("paths")
        seda = self.table("seda")
        version = str(self.value(seda, "seda.version", str, "2.1"))
        if version not in SEDA_VERSIONS:
            raise self.fail(
                "seda.version",
                f"unsupported SEDA version {version!r} (use one of {', '.join(SEDA_VERSIONS)})",
            )
        schemas = self.value(seda, "seda.schemas", str, "")
        ledger = self.table("ledger")
        return Settings(
            source_file=path.resolve(),
            institution=self.institution(),
            vitam=self.vitam(),
            sources=self.sources(),
            staging=self.path(self.value(paths, "paths.staging", str)),
            ledger_url=self.url(
                "ledger.url",
                self.value(ledger, "ledger.url", str),
                LEDGER,
            ),
            seda_version=version,
            seda_schemas=self.path(schemas) if schemas else None,
            secrets=secrets,
        )

    def institution(self) -> InstitutionConfig:
        node = self.table("institution")
        return InstitutionConfig(
            name=self.value(node, "institution.name", str),
            identifier=self.value(node, "institution.identifier", str),
            transferring_agency=self.value(node, "institution.transferring_agency", str),
            submission_agency=self.value(node, "institution.submission_agency", str, None),
        )

    def vitam(self) -> VitamConfig:
        node = self.table("vitam")
        base = self.value(node, "vitam.url", str, "")
        for name in ("ingest_url", "admin_url", "access_url"):
            given = self.value(node, f"vitam.{name}", str, "")
            if not given and not base:
                raise self.fail(f"vitam.{name}", "missing value (or set vitam.url for all three services)")
        tenant = self.value(node, "vitam.tenant", int)
        if tenant < 0:
            raise self.fail("vitam.tenant", "must be a non-negative integer")
        for secret_key in ("password", "key_password", "token"):
            if secret_key in node:
                raise self.fail(
                    f"vitam.{secret_key}",
                    f"secrets are not read from the file; set {environment_variable(VITAM_KEY)} for the client key",
                )
        return VitamConfig(
            ingest_url=self.value(node, "vitam.ingest_url", str, f"{base}/ingest-external/v1"),
            admin_url=self.value(node, "vitam.admin_url", str, f"{base}/admin-external/v1"),
            access_url=self.value(node, "vitam.access_url", str, f"{base}/access-external/v1"),
            tenant=tenant,
            ingest_contract=self.value(node, "vitam.ingest_contract", str),
            access_contract=self.value(node, "vitam.access_contract", str, None),
            archival_agency=self.value(node, "vitam.archival_agency", str),
            ca_bundle=self.optional_path(node, "vitam.ca_bundle"),
            client_cert=self.optional_path(node, "vitam.client_cert"),
            client_key=self.optional_path(node, "vitam.client_key"),
            application_id=self.value(node, "vitam.application_id", str, "versement"),
            poll_timeout=self.value(node, "vitam.poll_timeout", float, 3600.0),
            sandbox=self.value(node, "vitam.sandbox", bool, False),
        )

    def optional_path(self, node: Mapping[str, Any], key: str) -> str | None:
        value = self.value(node, key, str, None)
        return None if value is None else str(self.path(value))

    def sources(self) -> dict[str, SourceConfig]:
        node = self.table("sources")
        if not node:
            raise self.fail("sources", "at least one source is required")
        return {name: self.source(name, self.table(f"sources.{name}", node)) for name in node}

    def source(self, name: str, node: Mapping[str, Any]) -> SourceConfig:
        key = f"sources.{name}"
        year = self.value(node, f"{key}.academic_year", int, None)
        if year is not None and not 1960 <= year <= 2100:
            raise self.fail(f"{key}.academic_year", f"{year} is not a plausible academic year")
        datasets = node.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            raise self.fail(f"{key}.datasets", "at least one [[datasets]] entry is required")
        read = [self.dataset(f"{key}.datasets[{i}]", item) for i, item in enumerate(datasets)]
        names = [d.name for d in read]
        if len(set(names)) != len(names):
            raise self.fail(f"{key}.datasets", "dataset names must be unique")
        return SourceConfig(
            name=name,
            kind=self.value(node, f"{key}.kind", str),
            url=self.url(f"{key}.url", self.value(node, f"{key}.url", str), source_secret(name)),
            title=self.value(node, f"{key}.title", str),
            academic_year=year,
            datasets=tuple(read),
            synthetic=self.value(node, f"{key}.synthetic", bool, False),
        )

    def dataset(self, key: str, node: Any) -> DatasetConfig:
        if not isinstance(node, dict):
            raise self.fail(key, "expected a table")
        keys = self.value(node, f"{key}.key", list)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise self.fail(f"{key}.key", "expected a non-empty list of column names")
        filters = self.value(node, f"{key}.filters", dict, {})
        for column, value in filters.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise self.fail(f"{key}.filters.{column}", "filter values must be strings or integers")
        action = self.value(node, f"{key}.final_action", str, "Keep")
        if action not in ("Keep", "Destroy"):
            raise self.fail(f"{key}.final_action", f"{action!r} is not Keep or Destroy")
        return DatasetConfig(
            name=self.value(node, f"{key}.name", str),
            table=self.value(node, f"{key}.table", str),
            key=tuple(keys),
            title=self.value(node, f"{key}.title", str),
            description=self.value(node, f"{key}.description", str, ""),
            filters=filters,
            not_null=tuple(self.value(node, f"{key}.not_null", list, [])),
            appraisal_rule=self.value(node, f"{key}.appraisal_rule", str, None),
            final_action=action,
            access_rule=self.value(node, f"{key}.access_rule", str, None),
        )
