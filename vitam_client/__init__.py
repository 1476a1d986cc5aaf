"""Client for the VITAM external APIs (ingest, operations, ATR, logbook, units, object groups,
referentials).

The project's stand-in for VITAM is the separate package ``vitam_sandbox`` (a test and demo
server, not VITAM); the two share no code.
"""

from vitam_client.atr import ArchiveTransferReply, AtrError, AtrEvent, parse_atr
from vitam_client.client import RetryPolicy, VitamClient, VitamEndpoint
from vitam_client.errors import (
    DigestMismatch,
    OperationNeedsOperator,
    Terminal,
    Transient,
    UnknownWorkflow,
    UploadOutcomeUnknown,
    VitamBadRequest,
    VitamClientError,
    VitamConfigurationError,
    VitamError,
    VitamNotFound,
    VitamPreconditionFailed,
    VitamProtocolError,
    VitamServerError,
    VitamTimeout,
    VitamTooManyRequests,
    VitamTransportError,
    VitamUnauthorized,
    is_transient,
)
from vitam_client.models import LogbookEvent, LogbookOperation, ObjectGroup, ObjectVersion, OperationStatus

__all__ = [
    "ArchiveTransferReply",
    "AtrError",
    "AtrEvent",
    "DigestMismatch",
    "LogbookEvent",
    "LogbookOperation",
    "ObjectGroup",
    "ObjectVersion",
    "OperationNeedsOperator",
    "OperationStatus",
    "RetryPolicy",
    "Terminal",
    "Transient",
    "UnknownWorkflow",
    "UploadOutcomeUnknown",
    "VitamBadRequest",
    "VitamClient",
    "VitamClientError",
    "VitamConfigurationError",
    "VitamEndpoint",
    "VitamError",
    "VitamNotFound",
    "VitamPreconditionFailed",
    "VitamProtocolError",
    "VitamServerError",
    "VitamTimeout",
    "VitamTooManyRequests",
    "VitamTransportError",
    "VitamUnauthorized",
    "is_transient",
    "parse_atr",
]
