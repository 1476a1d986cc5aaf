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
    # The intent to upload is recorded before the first byte leaves: a transfer found here was
    # interrupted, and VITAM's logbook decides whether the SIP arrived (versement/transfer.py).
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"  # what VITAM holds differs from what was sent


TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.EXTRACTED}),
    State.EXTRACTED: frozenset({State.VALIDATED, State.QUALITY_FAILED}),
    State.VALIDATED: frozenset({State.PACKAGED}),
    State.QUALITY_FAILED: frozenset({State.VALIDATED}),  # only by an archivist's written override
    State.PACKAGED: frozenset({State.AWAITING_APPROVAL}),
    # Back to validated: only by a re-packaging (a new attempt, REPACKAGE_ACTION), see below.
    State.AWAITING_APPROVAL: frozenset({State.APPROVED, State.REJECTED, State.VALIDATED}),
    State.APPROVED: frozenset({State.SUBMITTING, State.AWAITING_APPROVAL, State.VALIDATED}),  # back: withdrawn
    State.REJECTED: frozenset({State.VALIDATED}),
    # Back to validated: only by a re-packaging once VITAM's logbook shows no ingest of the SIP.
    State.SUBMITTING: frozenset({State.SUBMITTED, State.VALIDATED}),
    State.SUBMITTED: frozenset({State.ACCEPTED, State.REFUSED}),
    State.ACCEPTED: frozenset({State.VERIFIED, State.VERIFICATION_FAILED}),
    State.REFUSED: frozenset({State.VALIDATED}),
    State.VERIFIED: frozenset(),
    # Not closed: the archives are in VITAM. A later verification may succeed once explained.
    State.VERIFICATION_FAILED: frozenset({State.VERIFIED}),
}

# A batch in one of these states no longer blocks a new batch for the same source and scope.
CLOSED = frozenset({State.REJECTED, State.REFUSED, State.QUALITY_FAILED})

# A batch in one of these states is archived: a new batch for its scope must supersede it.
ARCHIVED = frozenset({State.ACCEPTED, State.VERIFIED})

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
    State.SUBMITTING: "envoi à VITAM en cours",
    State.SUBMITTED: "transféré, en attente de VITAM",
    State.ACCEPTED: "accepté par VITAM",
    State.REFUSED: "rejeté par VITAM",
    State.VERIFIED: "vérifié dans VITAM",
    State.VERIFICATION_FAILED: "VÉRIFICATION EN ÉCHEC",
}


# The audited action that lifts a failed quality gate (quality_failed → validated).
OVERRIDE_ACTION = "quality.override"
OVERRIDE_LABEL_FR = "dérogation de l'archiviste au contrôle qualité"


# The audited action that starts a new packaging attempt of a batch refused by VITAM, rejected by
# the archivist, or whose SIP changed after packaging (versement/attempts.py): → validated.
REPACKAGE_ACTION = "batch.repackaged"
REPACKAGE_LABEL_FR = "nouvel empaquetage (nouvelle tentative)"

# Transitions only one audited action may make.
REQUIRED_ACTION: dict[tuple[State, State], str] = {
    (State.AWAITING_APPROVAL, State.VALIDATED): REPACKAGE_ACTION,
    (State.APPROVED, State.VALIDATED): REPACKAGE_ACTION,
    (State.REJECTED, State.VALIDATED): REPACKAGE_ACTION,
    (State.REFUSED, State.VALIDATED): REPACKAGE_ACTION,
    (State.SUBMITTING, State.VALIDATED): REPACKAGE_ACTION,
}


class IllegalTransition(Terminal, Exception):
    """A state change the life cycle does not allow; nothing was changed."""

    def __init__(self, batch_id: int, current: State, target: State, *, only: str | None = None) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "aucun (état final)"
        if only is not None:
            super().__init__(
                f"lot {batch_id} : le passage de {current} ({LABELS_FR[current]}) à {target} "
                f"({LABELS_FR[target]}) ne se fait que par l'action journalisée {only}"
            )
        else:
            super().__init__(
                f"lot {batch_id} : impossible de passer de {current} ({LABELS_FR[current]}) à {target} "
                f"({LABELS_FR[target]}) ; états possibles depuis {current} : {allowed}"
            )
        self.batch_id = batch_id
        self.current = current
        self.target = target


def check_transition(batch_id: int, current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(batch_id, current, target)


def check_action(batch_id: int, current: State, target: State, action: str) -> None:
    """Some transitions belong to one audited action (a re-packaging goes back to validated)."""
    required = REQUIRED_ACTION.get((current, target))
    if required is not None and action != required:
        raise IllegalTransition(batch_id, current, target, only=required)
