"""The VITAM sandbox: a TEST AND DEMO server. It is not VITAM and archives nothing.

It reproduces, faithfully to ``shared/reference/vitam-api.md``, the part of VITAM's external APIs
that a transfer client uses, so that the client, the pipeline and the demo can run end to end
without a VITAM platform:

* ingest-external ``POST /ingests``: 412 (X-Tenant-Id missing or not an integer, body
  ``{"Error":"X-Tenant-Id check failed!"}``), 401 (unknown tenant), 415 (not
  ``application/octet-stream``), 503 with an ATR KO (unknown ``X-Context-Id``), otherwise 202
  with ``X-Request-Id`` = the operation id, ``X-Global-Execution-State: PAUSE`` and
  ``X-Global-Execution-Status: UNKNOWN``, sent once the whole body has been stored;
* admin-external ``HEAD``/``GET /operations/{id}``: 202 while running, 200 once completed, with
  ``X-Global-Execution-State/Status`` and ``X-Context-Id`` (INGEST or INGEST_TEST); an operation of
  another tenant is not found (404). The controls run when the SIP arrives, but their outcome
  only shows after ``polls_before_completion`` status requests answered RUNNING;
* ingest-external ``GET /ingests/{id}/archivetransferreply`` (404 VitamError 040102 until the
  operation is completed) and ``GET /ingests/{id}/manifests`` (OK and WARNING only);
* access-external ``GET /units`` with ``{"$query": [{"$eq": {"#opi": "<operation id>"}}],
  "$projection": {...}}`` and ``X-Access-Contract-Id`` (401 when missing or unknown; 400 when
  the DSL is invalid, e.g. without ``$projection``);
* ``GET /status`` (204) on each service.

Ingest controls, in VITAM's order, each ending the ingest KO with VITAM's outcome detail:
container is a zip (``CHECK_CONTAINER.KO``); exactly one manifest at the root, named per
VITAM's regex (``MANIFEST_FILE_NAME_CHECK.KO``, ``CHECK_SEDA.CONTAINER_FORMAT.FILE.KO``); only a
``content`` folder (``CHECK_SEDA.CONTAINER_FORMAT.DIRECTORY.KO``); the optional
``X-Manifest-Digest-*`` (``MANIFEST_DIGEST_CHECK.KO``); well-formed XML
(``CHECK_SEDA.NOT_XML_FILE.KO``); SEDA 2.1/2.2/2.3 namespace
(``CHECK_SEDA.UNSUPPORTED_SEDA_VERSION.KO``); VITAM's XSD through
``seda.validation.validate_manifest`` (``CHECK_SEDA.NOT_XSD_VALID.KO``); ArchivalAgreement present
and known (``CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST/CONTRACT_UNKNOWN.KO``);
originating and submission agencies known (``CHECK_HEADER.CHECK_AGENT.EMPTY_REQUIRED_FIELD/
UNKNOWN.KO``); digest algorithms supported; binary objects vs files in ``content``
(``CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_SUPERIOR_BDO/
MANIFEST_INFERIOR_BDO/INVALID_URI.KO``); each digest recomputed (``CHECK_DIGEST.KO``); declared
sizes (``CHECK_OBJECT_SIZE.WARNING``); no object at all (``STP_OG_CHECK_AND_TRANSFORME.WARNING``);
every unit has a DescriptionLevel and a Title (``CHECK_UNIT_SCHEMA.INVALID_UNIT.KO``); every rule
exists in the referential and in the right category (``UNITS_RULES_COMPUTE.UNKNOWN/
CONSISTENCY.KO``). ``BLANK_TEST`` runs the same controls, answers ``Test OK``/``Test KO`` with no
GrantDate, and stores nothing for access.

The ATR is written in the SIP's SEDA namespace with the structure of VITAM's (seda.md §7):
operation id as MessageIdentifier, the SIP's MessageIdentifier as MessageRequestIdentifier,
SystemIds of units, objects and groups, Operation/Event list for KO and WARNING with French
labels. An OK ATR is valid against the official SEDA schema.

NOT reproduced (a real VITAM does these): antivirus scan; container and object format
identification with Siegfried and the format referential; tar containers; storage offers,
storage strategy and availability; end-date computation of rules (only ids and categories are
checked); contract and profile details (status, formats, archival profiles, attachments,
contexts and security profiles, certificates); archive-unit profiles, classification levels,
ontology; file-name character checks; per-unit and per-object LogBook events in the ATR;
step-by-step workflows, FILING_SCHEME and HOLDING_SCHEME, local ingest (501); access-external
queries other than those of ``access.py`` (logbook by id and by obIdIn, one unit, object
groups; admin referentials) and ``#opi`` (501); operation purging; VITAM's TLS 1.2-only policy.
Mutual TLS is available through
``serve`` with ``make_tls_material(..., require_client_cert=True)``.
"""

from vitam_client.sandbox.app import create_app
from vitam_client.sandbox.config import DEMO_AGENCIES, DEMO_RULES, SandboxConfig
from vitam_client.sandbox.server import serve
from vitam_client.sandbox.tls import TlsMaterial, make_tls_material

__all__ = [
    "DEMO_AGENCIES",
    "DEMO_RULES",
    "SandboxConfig",
    "TlsMaterial",
    "create_app",
    "make_tls_material",
    "serve",
]
