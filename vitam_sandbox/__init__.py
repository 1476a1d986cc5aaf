"""The VITAM sandbox: a TEST AND DEMO server. It is not VITAM and archives nothing of value.

It reproduces, faithfully to ``shared/reference/vitam-api.md``, the part of VITAM's external APIs
that a transfer client uses (ingest-external, admin-external operations and referentials,
access-external units, object groups and logbook: see ``app.py``), the ingest controls of §9.4
and §10.1 that can run without VITAM, each with VITAM's step, outcome detail and severity (see
``workflow.py``), and an ATR in the SIP's SEDA version (``reply.py``). Its referentials are read
from a folder in VITAM's own import formats (``referentials.py``); what it archives is kept in
SQLite (``store.py``); tests can make it misbehave (``faults.py``).

It shares no code with ``vitam_client`` (pinned by tests/vitam_sandbox/test_boundaries.py).

Started by ``versement vitam-sandbox --port N --referentials DIR [--storage DIR] [--tls ...]``
or, in tests and the demo, by ``serve(create_app(config))``.

NOT reproduced (a real VITAM does these): antivirus scan; Siegfried (FIDO reads the same PRONOM
signatures); storage offers and strategies; end-date computation of rules (ids, categories and
RefNonRuleId are checked); archival profiles' files, archive-unit profiles, classification
levels, ontology; security profiles, contexts and certificates (any client certificate the CA
signed is accepted); per-unit and per-object LogBook events in the ATR; step-by-step workflows,
FILING_SCHEME and HOLDING_SCHEME, local ingest, binary object download, full-text DSL
operators (501); VITAM's TLS 1.2-only policy.
"""

from vitam_sandbox.app import create_app
from vitam_sandbox.config import DEMO_REFERENTIALS, SandboxConfig
from vitam_sandbox.faults import Faults, HttpFault
from vitam_sandbox.referentials import ReferentialError, Referentials, load_referentials
from vitam_sandbox.server import serve
from vitam_sandbox.tls import TlsMaterial, make_tls_material

__all__ = [
    "DEMO_REFERENTIALS",
    "Faults",
    "HttpFault",
    "ReferentialError",
    "Referentials",
    "SandboxConfig",
    "TlsMaterial",
    "create_app",
    "load_referentials",
    "make_tls_material",
    "serve",
]
