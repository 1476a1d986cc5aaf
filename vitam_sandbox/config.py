"""What one sandbox instance knows (its referentials, tenants, storage) and how it misbehaves
when a test asks it to (:class:`~vitam_sandbox.faults.Faults`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vitam_sandbox.faults import Faults
from vitam_sandbox.referentials import Referentials

# The demo's referentials, in VITAM's import formats (config/vitam-referentials/ of the repository).
DEMO_REFERENTIALS = Path(__file__).resolve().parent.parent / "config" / "vitam-referentials"


@dataclass
class SandboxConfig:
    """The referentials and behaviour of one sandbox instance.

    ``referentials`` defaults to empty: like a fresh VITAM tenant, such a sandbox refuses every
    SIP until contracts, agencies and rules are loaded (``load_referentials(folder)``).
    """

    tenants: frozenset[int] = frozenset({0})
    referentials: Referentials = field(default_factory=Referentials)
    schema_dir: Path | None = None  # holds 2.1/, 2.2/, 2.3/ (with vitam-validation/)
    storage_dir: Path | None = None  # None: in memory; else survives a restart
    polls_before_completion: int = 1  # HEAD/GET answers RUNNING this many times first
    faults: Faults = field(default_factory=Faults)  # nothing injected by default
    admin_tenant: int = 1  # VITAM's admin tenant: the only one allowed on the test endpoint
    test_endpoint: bool = False  # serve /sandbox-test/v1/faults (tests only)
