"""The batch ledger: states, decisions and the tamper-evident audit trail."""

from versement.ledger.audit import ChainCheck
from versement.ledger.models import AuditEvent, Batch, Dataset
from versement.ledger.states import LABELS_FR, IllegalTransition, State
from versement.ledger.store import Ledger, LedgerError, open_ledger

__all__ = [
    "LABELS_FR",
    "AuditEvent",
    "Batch",
    "ChainCheck",
    "Dataset",
    "IllegalTransition",
    "Ledger",
    "LedgerError",
    "State",
    "open_ledger",
]
