"""What the sandbox knows: tenants, contracts, agencies and the rules referential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

RULE_TYPES = frozenset(
    {
        "AppraisalRule",
        "AccessRule",
        "StorageRule",
        "DisseminationRule",
        "ClassificationRule",
        "ReuseRule",
        "HoldRule",
    }
)

DEMO_AGENCIES = frozenset(
    {
        "UNIV-DEMO",  # the demo university (originating agency)
        "CINES",  # the archival agency running VITAM
        "Vitam",
        # The identifiers used by the synthetic SEDA examples in shared/seda/examples.
        "FRAN_NP_000000",
        "FRAN_NP_000001",
        "FRAN_NP_000002",
    }
)

# Ids in the style of VITAM's test referential; the sandbox computes no end dates.
DEMO_RULES: Mapping[str, str] = {
    "APP-00001": "AppraisalRule",
    "APP-00002": "AppraisalRule",
    "APP-00003": "AppraisalRule",
    "ACC-00001": "AccessRule",
    "ACC-00002": "AccessRule",
    "ACC-00003": "AccessRule",
    "ACC-00016": "AccessRule",
    "ACC-00017": "AccessRule",
    "ACC-00020": "AccessRule",
    "STO-00001": "StorageRule",
    "DIS-00001": "DisseminationRule",
    "REU-00001": "ReuseRule",
    "CLASS-00001": "ClassificationRule",
    "HOL-00001": "HoldRule",
}


@dataclass
class SandboxConfig:
    """The referentials and behaviour of one sandbox instance."""

    tenants: frozenset[int] = frozenset({0})
    ingest_contracts: frozenset[str] = frozenset({"IC-000001"})
    access_contracts: frozenset[str] = frozenset({"AC-000001"})
    agencies: frozenset[str] = DEMO_AGENCIES
    rules: Mapping[str, str] = field(default_factory=lambda: dict(DEMO_RULES))
    schema_dir: Path | None = None  # holds 2.1/, 2.2/, 2.3/ (with vitam-validation/)
    storage_dir: Path | None = None  # None: in memory; else survives a restart
    polls_before_completion: int = 1  # HEAD/GET answers RUNNING this many times first
