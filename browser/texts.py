"""How the ledger's actions, checks and event details read in French."""

from __future__ import annotations

import json
from typing import Any

from validation.labels import describe_outcome
from versement.ledger.accounts import ROLE_LABELS_FR

# How the ledger's actions read in the audit log shown to archivists and auditors.
ACTIONS_FR = {
    "batch.created": "création du lot",
    "extract": "extraction",
    "extract.failed": "échec de l'extraction",
    "extract.reread": "nouvelle lecture complète, en un seul instantané de la source",
    "validate": "contrôle qualité",
    "quality.override": "dérogation de l'archiviste au contrôle qualité",
    "validate.error": "contrôle qualité impossible (configuration)",
    "package": "constitution du SIP",
    "package.invalid": "SIP non conforme aux schémas",
    "approval.requested": "demande de validation",
    "approve": "validation par l'archiviste",
    "reject": "refus par l'archiviste",
    "transfer.submitted": "transfert à VITAM",
    "transfer.needs_operator": "VITAM demande une intervention",
    "transfer.reply": "réponse de VITAM (ATR)",
    "consult.batch": "consultation d'un lot",
    "consult.dataset": "consultation d'un jeu de données",
    "download.atr": "téléchargement de l'ATR",
    "download.manifest": "téléchargement du bordereau",
    "download.quality_report": "consultation du rapport de contrôle qualité",
    "export.dataset": "export CSV d'un jeu de données",
    "consult.person_search": "recherche d'une personne",
    "consult.person": "consultation du dossier d'une personne",
    "consult.vitam": "lecture dans VITAM d'une pièce purgée localement",
    "export.person_csv": "export CSV du dossier d'une personne",
    "export.person_pdf": "export PDF du dossier d'une personne",
    "auth.login": "connexion au navigateur",
    "auth.failed": "échec de connexion",
    "account.created": "création d'un compte",
    "account.changed": "modification d'un compte",
    "dataset.quality": "résultat du contrôle qualité d'un jeu de données",
    "package.failed": "échec de la constitution du SIP",
    "approval.withdrawn": "validation retirée par l'archiviste",
    "batch.superseded": "lot remplacé par un nouveau lot (correction)",
    "transfer.submitting": "envoi à VITAM décidé (avant le premier octet)",
    "transfer.upload_failed": "envoi à VITAM interrompu",
    "transfer.resumed": "reprise de l'envoi : VITAM consulté",
    "transfer.refused": "envoi refusé : SIP modifié depuis sa validation",
    "transfer.accepted": "accepté par VITAM (ATR)",
    "transfer.accepted_with_warnings": "accepté par VITAM avec avertissements (ATR)",
    "transfer.refused_by_vitam": "rejeté par VITAM (ATR)",
    "transfer.dry_run": "essai à blanc dans VITAM (rien archivé)",
    "transfer.dry_run_refused": "essai à blanc refusé : SIP modifié",
    "verify": "vérifié par relecture dans VITAM",
    "verify.mismatch": "VÉRIFICATION EN ÉCHEC : VITAM ne restitue pas ce qui a été envoyé",
}

# What each quality check means, for the archivist deciding on a batch.
CHECKS_FR = {
    "reconcile_with_source": "fichier différent de l'extraction (lignes ou empreinte)",
    "expect_table_row_count_to_equal": "nombre de lignes différent de la source",
    "expect_column_values_to_not_be_null": "valeurs manquantes",
    "expect_column_values_to_be_unique": "clé en double",
    "expect_compound_columns_to_be_unique": "clé composée en double",
}

OPERATORS_FR = {"contient": "contient", "egal": "=", "commence": "commence par", "vide": "vide", "non_vide": "non vide"}


def describe_check(outcome: dict[str, Any]) -> str:
    """One failed check in French: what, on which column, how many rows."""
    text = CHECKS_FR.get(outcome.get("expectation", "")) or describe_outcome(outcome)
    columns = outcome.get("column") or ", ".join(outcome.get("details", {}).get("kwargs", {}).get("column_list", []))
    if columns and outcome.get("expectation", "") in CHECKS_FR:
        text += f" ({columns})"
    count = outcome.get("unexpected_count")
    if count:
        text += f" : {count} ligne{'s' if count > 1 else ''}"
    return text


def failed_checks(quality: dict[str, Any] | None, severity: str | None = None) -> list[str]:
    """The failed checks of a dataset, in French; ``severity="critical"`` keeps the blocking ones
    only, ``"warning"`` the others (warnings and information), None all of them."""
    problems = []
    for outcome in (quality or {}).get("outcomes", []):
        if outcome.get("success"):
            continue
        blocking = outcome.get("severity", "critical") == "critical"
        if severity is not None and blocking != (severity == "critical"):
            continue
        problems.append(describe_check(outcome))
    return problems


def event_summary(action: str, details_json: str) -> list[str]:
    """The parts of an event's details a reader needs: reasons, comments, digests, outcomes."""
    try:
        details = json.loads(details_json or "{}")
    except ValueError:
        return []
    if not isinstance(details, dict):
        return []
    lines: list[str] = []
    if details.get("reason"):
        lines.append(f"Motif : {details['reason']}")
    if details.get("comment"):
        lines.append(f"Commentaire : {details['comment']}")
    if details.get("supersedes"):
        lines.append(f"Remplace le lot n° {details['supersedes']}")
    if details.get("superseded_by"):
        lines.append(f"Remplacé par le lot n° {details['superseded_by']}")
    if action == "validate":
        for name, outcome in (details.get("datasets") or details).items():
            if isinstance(outcome, dict) and outcome.get("failed"):
                lines.append(f"{name} : contrôles en échec ({', '.join(map(str, outcome['failed']))})")
    for key, label in (
        ("sip", "SIP"),
        ("sha256", "SHA-256"),
        ("sip_sha256", "SHA-256 du SIP"),
        ("operation_id", "Opération VITAM"),
        ("operation", "Opération VITAM"),
        ("manifest_from_vitam", "Bordereau relu dans VITAM, opération"),
        ("from_vitam", "Relu dans VITAM, opération"),
        ("reply_code", "ReplyCode"),
        ("atr_sha256", "SHA-256 de l'ATR"),
        ("dataset", "Jeu de données"),
        ("person", "Personne"),
        ("results", "Résultats"),
        ("rows", "Lignes"),
        ("account", "Compte"),
        ("role", "Rôle"),
        ("status", "Statut VITAM"),
        ("error", "Erreur"),
    ):
        if details.get(key) not in (None, "", [], {}):
            value = ROLE_LABELS_FR.get(details[key], details[key]) if key == "role" else details[key]
            lines.append(f"{label} : {value}")
    if details.get("manifest") is True:
        lines.append("Pièce : bordereau du SIP (manifest.xml)")
    criteria = details.get("criteria")
    if isinstance(criteria, dict) and criteria:
        lines.append("Critères : " + " ; ".join(f"{k} « {v} »" for k, v in sorted(criteria.items())))
    pieces = details.get("pieces")
    if isinstance(pieces, list) and pieces:
        shown = sum(int(p.get("rows") or 0) for p in pieces if isinstance(p, dict))
        lines.append(f"Pièces : {len(pieces)} ({shown} ligne{'s' if shown > 1 else ''})")
    filters = details.get("filters")
    if filters:
        lines.append("Filtres : " + " ; ".join(f"{c} {OPERATORS_FR.get(o, o)} « {v} »" for c, o, v in filters))
    if details.get("sort"):
        lines.append(f"Tri : {details['sort']}{' décroissant' if details.get('descending') else ''}")
    return lines
