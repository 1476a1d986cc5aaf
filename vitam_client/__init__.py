"""Client for the VITAM external APIs (ingest, operations, ATR, logbook, units, object groups,
referentials).

The project's stand-in for VITAM is the separate package ``vitam_sandbox`` (a test and demo
server, not VITAM); the two share no code.
"""

from typing import TYPE_CHECKING, Any

# The exports are loaded on first use: importing one error class (the ledger's states import
# ``Terminal``) does not load the HTTP stack (httpx, and the command-line libraries it brings).
_EXPORTS = {
    "ArchiveTransferReply": "vitam_client.atr",
    "AtrError": "vitam_client.atr",
    "AtrEvent": "vitam_client.atr",
    "parse_atr": "vitam_client.atr",
    "RetryPolicy": "vitam_client.client",
    "VitamClient": "vitam_client.client",
    "VitamEndpoint": "vitam_client.client",
    "DigestMismatch": "vitam_client.errors",
    "OperationNeedsOperator": "vitam_client.errors",
    "Terminal": "vitam_client.errors",
    "Transient": "vitam_client.errors",
    "UnknownWorkflow": "vitam_client.errors",
    "UploadOutcomeUnknown": "vitam_client.errors",
    "VitamBadRequest": "vitam_client.errors",
    "VitamClientError": "vitam_client.errors",
    "VitamConfigurationError": "vitam_client.errors",
    "VitamError": "vitam_client.errors",
    "VitamNotFound": "vitam_client.errors",
    "VitamPreconditionFailed": "vitam_client.errors",
    "VitamProtocolError": "vitam_client.errors",
    "VitamServerError": "vitam_client.errors",
    "VitamTimeout": "vitam_client.errors",
    "VitamTooManyRequests": "vitam_client.errors",
    "VitamTransportError": "vitam_client.errors",
    "VitamUnauthorized": "vitam_client.errors",
    "is_transient": "vitam_client.errors",
    "LogbookEvent": "vitam_client.models",
    "LogbookOperation": "vitam_client.models",
    "ObjectGroup": "vitam_client.models",
    "ObjectVersion": "vitam_client.models",
    "OperationStatus": "vitam_client.models",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vitam_client' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
