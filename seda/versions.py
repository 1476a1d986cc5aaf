"""SEDA versions this package writes and validates, and their XML namespaces."""

from __future__ import annotations

from typing import Literal, get_args

SedaVersion = Literal["2.1", "2.2", "2.3"]
"""The one list of SEDA versions: configuration, builder and validator all read it."""
SUPPORTED_VERSIONS: tuple[str, ...] = get_args(SedaVersion)

_NAMESPACE_PREFIX = "fr:gouv:culture:archivesdefrance:seda:v"


def namespace(version: str) -> str:
    """The namespace of an ArchiveTransfer written in `version` (e.g. "2.1")."""
    return f"{_NAMESPACE_PREFIX}{version}"


def version_of(namespace_uri: str | None) -> str | None:
    """The supported version a namespace stands for, or None (unknown or unsupported)."""
    if namespace_uri is None or not namespace_uri.startswith(_NAMESPACE_PREFIX):
        return None
    version = namespace_uri[len(_NAMESPACE_PREFIX) :]
    return version if version in SUPPORTED_VERSIONS else None
