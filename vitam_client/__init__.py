"""Client for the VITAM external APIs (ingest, operations, ATR, units).

The project's stand-in for VITAM is the separate package ``vitam_sandbox`` (a test and demo
server, not VITAM); the two share no code.
"""

from vitam_client.atr import ArchiveTransferReply, AtrError, AtrEvent, parse_atr
from vitam_client.client import OperationStatus, VitamClient, VitamEndpoint
from vitam_client.errors import VitamError, VitamTimeout, VitamTransportError

__all__ = [
    "ArchiveTransferReply",
    "AtrError",
    "AtrEvent",
    "OperationStatus",
    "VitamClient",
    "VitamEndpoint",
    "VitamError",
    "VitamTimeout",
    "VitamTransportError",
    "parse_atr",
]
