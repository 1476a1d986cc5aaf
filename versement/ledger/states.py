"""The batch life cycle: explicit states and the only transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum

from vitam_client.errors import Terminal


class State(StrEnum):
    NEW = "new"
    EXTRACTED = "extracted"
    VALIDATED = "validated"
    QUALITY_FAILED = "quality_failed"
    PACKAGED = "packaged"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    VERIFIED = "verified"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.EXTRACTED}),
    State.EXTRACTED: frozenset({State.VALIDATED, State.QUALITY_FAILED}),
    State.VALIDATED: frozenset({State.PACKAGED}),
    State.QUALITY_FAILED: frozenset(),  # only an archivist's written override will lift it (roadmap)
    State.PACKAGED: frozenset({State.AWAITING_APPROVAL}),
    State.AWAITING_APPROVAL: frozenset({State.APPROVED, State.REJECTED}),
    State.APPROVED: frozenset({State.SUBMITTED}),
    State.REJECTED: frozenset(),
    State.SUBMITTED: frozenset({State.ACCEPTED, State.REFUSED}),
    State.ACCEPTED: frozenset({State.VERIFIED}),
    State.REFUSED: frozenset(),
    State.VERIFIED: frozenset(),
}

# A batch in one of these states no longer blocks a new batch for the same source and scope.
CLOSED = frozenset({State.REJECTED, State.REFUSED, State.QUALITY_FAILED})

# French labels shown to archivists and auditors.
LABELS_FR: dict[State, str] = {
    State.NEW: "créé",
    State.EXTRACTED: "extrait",
    State.VALIDATED: "contrôlé",
    State.QUALITY_FAILED: "contrôle qualité en échec",
    State.PACKAGED: "empaqueté",
    State.AWAITING_APPROVAL: "en attente de validation",
    State.APPROVED: "validé par l'archiviste",
    State.REJECTED: "refusé par l'archiviste",
    State.SUBMITTED: "transféré, en attente de VITAM",
    State.ACCEPTED: "accepté par VITAM",
    State.REFUSED: "rejeté par VITAM",
    State.VERIFIED: "vérifié dans VITAM",
}


class IllegalTransition(Terminal, Exception):
    """A state change the life cycle does not allow; nothing was changed."""

    def __init__(self, batch_id: int, current: State, target: State) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        super().__init__(f"batch {batch_id}: cannot go from {current} to {target} (allowed from {current}: {allowed})")
        self.batch_id = batch_id
        self.current = current
        self.target = target


def check_transition(batch_id: int, current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(batch_id, current, target)
