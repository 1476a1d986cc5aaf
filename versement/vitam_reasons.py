"""VITAM's reasons, in French, for the archivist: which step, which object or unit, what to do.

VITAM's ATR and logbook name failures with event codes and outcome details
(vitam-api.md §9.4, §10.1), e.g. ``CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO``. This module turns them
into sentences an archivist can act on. The table is matched on the longest prefix of the
outcome detail (or, failing that, of the event type code); anything unknown still gets a line
with VITAM's own code and message, never silence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vitam_client import ArchiveTransferReply, AtrEvent

# Workflow steps (evType of the STP_* events), in the order VITAM runs them.
STEPS_FR: Mapping[str, str] = {
    "STP_SANITY_CHECK_SIP": "contrôles sanitaires du paquet",
    "STP_UPLOAD_SIP": "réception du paquet",
    "STP_INGEST_CONTROL_SIP": "contrôle du bordereau",
    "STP_OG_CHECK_AND_TRANSFORME": "contrôle des objets",
    "STP_UNIT_CHECK_AND_PROCESS": "contrôle des unités d'archives",
    "STP_STORAGE_AVAILABILITY_CHECK": "disponibilité du stockage",
    "STP_OBJ_STORING": "stockage des objets",
    "STP_INGEST_FINALISATION": "finalisation de l'entrée",
}

# Outcome detail (or event code) prefix -> (step, what happened, what to do).
_TABLE: dict[str, tuple[str, str, str]] = {
    "SANITY_CHECK_SIP": (
        "STP_SANITY_CHECK_SIP",
        "l'antivirus de VITAM a signalé le paquet",
        "faire analyser le paquet et les fichiers sources avant de le reconstruire",
    ),
    "CHECK_CONTAINER": (
        "STP_SANITY_CHECK_SIP",
        "le fichier envoyé n'est pas une archive zip ou tar lisible",
        "reconstruire le paquet (versement package) et vérifier qu'il n'a pas été tronqué",
    ),
    "MANIFEST_FILE_NAME_CHECK": (
        "STP_SANITY_CHECK_SIP",
        "aucun bordereau manifest.xml n'a été trouvé à la racine du paquet",
        "reconstruire le paquet ; signaler l'anomalie à l'équipe technique",
    ),
    "MANIFEST_DIGEST_CHECK": (
        "STP_SANITY_CHECK_SIP",
        "l'empreinte du bordereau diffère de celle annoncée à l'envoi",
        "le paquet a changé pendant l'envoi : le reconstruire et le faire valider à nouveau",
    ),
    "STP_UPLOAD_SIP": (
        "STP_UPLOAD_SIP",
        "VITAM n'a pas pu recevoir ou décompresser le paquet (nom de fichier interdit, processus inconnu)",
        "vérifier la configuration VITAM (contexte d'entrée) et les noms de fichiers du paquet",
    ),
    "CHECK_SEDA.NOT_XSD_VALID": (
        "STP_INGEST_CONTROL_SIP",
        "le bordereau n'est pas conforme au schéma SEDA de VITAM",
        "lancer « versement sip validate » sur le paquet et corriger la cause avant de le reconstruire",
    ),
    "CHECK_SEDA.NOT_XML_FILE": (
        "STP_INGEST_CONTROL_SIP",
        "le bordereau n'est pas un XML bien formé",
        "reconstruire le paquet ; signaler l'anomalie à l'équipe technique",
    ),
    "CHECK_SEDA.UNSUPPORTED_SEDA_VERSION": (
        "STP_INGEST_CONTROL_SIP",
        "la version SEDA du bordereau n'est pas acceptée par VITAM (2.1, 2.2 ou 2.3)",
        "régler seda.version sur une version acceptée et reconstruire le paquet",
    ),
    "CHECK_SEDA.CONTAINER_FORMAT": (
        "STP_INGEST_CONTROL_SIP",
        "le paquet contient plusieurs bordereaux ou d'autres dossiers que « content »",
        "reconstruire le paquet ; signaler l'anomalie à l'équipe technique",
    ),
    "CHECK_SEDA": (
        "STP_INGEST_CONTROL_SIP",
        "le bordereau a été refusé au contrôle SEDA",
        "lancer « versement sip validate » sur le paquet",
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST": (
        "STP_INGEST_CONTROL_SIP",
        "le bordereau ne déclare pas de contrat d'entrée",
        "renseigner vitam.ingest_contract et reconstruire le paquet",
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN": (
        "STP_INGEST_CONTROL_SIP",
        "le contrat d'entrée déclaré est inconnu de VITAM",
        "vérifier l'identifiant du contrat (vitam.ingest_contract) avec l'administrateur VITAM",
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_INACTIVE": (
        "STP_INGEST_CONTROL_SIP",
        "le contrat d'entrée déclaré est inactif dans VITAM",
        "demander à l'administrateur VITAM de réactiver le contrat, puis envoyer un nouveau paquet",
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_CONTEXT": (
        "STP_INGEST_CONTROL_SIP",
        "le contrat d'entrée n'est pas autorisé pour le certificat de l'application",
        "demander à l'administrateur VITAM d'ajouter le contrat au contexte applicatif",
    ),
    "CHECK_HEADER.CHECK_AGENT.EMPTY_REQUIRED_FIELD": (
        "STP_INGEST_CONTROL_SIP",
        "le service producteur n'est pas renseigné dans le bordereau",
        "renseigner institution.identifier et reconstruire le paquet",
    ),
    "CHECK_HEADER.CHECK_AGENT.UNKNOWN": (
        "STP_INGEST_CONTROL_SIP",
        "le service producteur ou versant est absent du référentiel des services agents de VITAM",
        "faire déclarer le service dans VITAM ou corriger institution.identifier / submission_agency",
    ),
    "CHECK_HEADER.CHECK_IC_AP_RELATION": (
        "STP_INGEST_CONTROL_SIP",
        "le profil d'archivage déclaré ne correspond pas au contrat d'entrée",
        "vérifier le profil d'archivage avec l'administrateur VITAM",
    ),
    "CHECK_HEADER.CHECK_ARCHIVEPROFILE": (
        "STP_INGEST_CONTROL_SIP",
        "le bordereau n'est pas conforme au profil d'archivage",
        "comparer le bordereau au profil d'archivage et reconstruire le paquet",
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER": (
        "STP_INGEST_CONTROL_SIP",
        "les fichiers du paquet ne correspondent pas aux objets déclarés dans le bordereau",
        "reconstruire le paquet : un fichier manque, est en trop ou est mal nommé",
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_DATAOBJECT_VERSION.INVALIDE_ALGO": (
        "STP_INGEST_CONTROL_SIP",
        "un algorithme d'empreinte déclaré n'est pas accepté par VITAM",
        "reconstruire le paquet (SHA-512) ; signaler l'anomalie à l'équipe technique",
    ),
    "CHECK_DATAOBJECTPACKAGE": (
        "STP_INGEST_CONTROL_SIP",
        "l'arborescence du bordereau est incohérente (usage, rattachement, cycle ou objet orphelin)",
        "signaler l'anomalie à l'équipe technique",
    ),
    "CHECK_DIGEST": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "l'empreinte recalculée par VITAM diffère de celle du bordereau : un fichier a été altéré",
        "reconstruire le paquet à partir des données extraites et le faire valider à nouveau",
    ),
    "CHECK_OBJECT_SIZE": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "la taille d'un fichier diffère de celle déclarée (VITAM a retenu la taille réelle)",
        "aucune action requise ; signaler l'écart à l'équipe technique",
    ),
    "OG_OBJECTS_FORMAT_CHECK.UNKNOWN": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "VITAM n'a pas identifié le format d'un fichier",
        "vérifier le format des fichiers et les formats autorisés par le contrat d'entrée",
    ),
    "OG_OBJECTS_FORMAT_CHECK.REJECTED_FORMAT": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "le format d'un fichier n'est pas autorisé par le contrat d'entrée",
        "demander l'ajout du format au contrat ou produire une autre représentation",
    ),
    "OG_OBJECTS_FORMAT_CHECK": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "le format déclaré d'un fichier diffère de celui identifié par VITAM",
        "vérifier le format déclaré dans le bordereau",
    ),
    "STP_OG_CHECK_AND_TRANSFORME": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "le paquet ne contient aucun objet",
        "vérifier que l'extraction a bien produit des fichiers",
    ),
    "CHECK_UNIT_SCHEMA": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "une unité d'archives a une description invalide (titre vide, date incorrecte…)",
        "corriger le titre ou les dates de la série concernée dans la configuration et reconstruire le paquet",
    ),
    "CHECK_ARCHIVE_UNIT_PROFILE": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "une unité d'archives n'est pas conforme à son profil d'unité",
        "comparer l'unité au profil et reconstruire le paquet",
    ),
    "CHECK_CLASSIFICATION_LEVEL": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "le niveau de classification d'une unité n'est pas autorisé",
        "vérifier les règles de classification avec l'administrateur VITAM",
    ),
    "UNITS_RULES_COMPUTE.UNKNOWN": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "une règle de gestion citée n'existe pas dans le référentiel des règles de VITAM",
        "corriger appraisal_rule / access_rule du jeu de données ou faire importer la règle dans VITAM",
    ),
    "UNITS_RULES_COMPUTE.CONSISTENCY": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "une règle de gestion est utilisée dans la mauvaise catégorie (ex. règle de communicabilité en DUA)",
        "corriger la règle du jeu de données dans la configuration et reconstruire le paquet",
    ),
    "UNITS_RULES_COMPUTE": (
        "STP_UNIT_CHECK_AND_PROCESS",
        "les règles de gestion d'une unité sont incohérentes",
        "vérifier les règles du jeu de données dans la configuration",
    ),
    "STORAGE_AVAILABILITY_CHECK": (
        "STP_STORAGE_AVAILABILITY_CHECK",
        "les offres de stockage de VITAM sont indisponibles ou pleines",
        "prévenir l'exploitant VITAM, puis envoyer un nouveau paquet",
    ),
}

# Events that only frame the detailed one (a step, a parent action, the process itself).
_FRAMING_PREFIXES = ("STP_", "PROCESS_SIP_UNITARY", "ATR_NOTIFICATION", "ROLL_BACK")
_PARENTS = frozenset({"CHECK_HEADER", "CHECK_DATAOBJECTPACKAGE"})


@dataclass(frozen=True)
class Reason:
    """One reason, in French, with VITAM's own code for the technical team."""

    step: str  # French step name
    what: str
    where: str | None  # the object or unit concerned, when VITAM says
    action: str
    code: str  # VITAM's outcome detail (or event code)
    severity: str  # KO, FATAL or WARNING

    def text(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"Étape « {self.step} » : {self.what}{where}. À faire : {self.action}. [code VITAM {self.code}]"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "step": self.step,
            "what": self.what,
            "where": self.where,
            "action": self.action,
            "code": self.code,
            "severity": self.severity,
            "text": self.text(),
        }


def reasons(atr: ArchiveTransferReply) -> list[Reason]:
    """The reasons of a KO or WARNING ATR, most specific events only, in VITAM's order."""
    found: list[Reason] = []
    events = [e for e in atr.events if e.outcome in ("KO", "FATAL", "WARNING")]
    detailed = [e for e in events if not _framing(e)] or events[-1:]
    for event in detailed:
        found.append(_reason(event, None))
    for kind, local in (("unité", atr.unit_events), ("objet ou groupe d'objets", atr.object_events)):
        for element_id, element_events in local.items():
            for event in element_events:
                if event.outcome in ("KO", "FATAL", "WARNING"):
                    found.append(_reason(event, f"{kind} {element_id}"))
    return _unique(found)


def reason_lines(atr: ArchiveTransferReply) -> list[str]:
    return [reason.text() for reason in reasons(atr)]


def _reason(event: AtrEvent, where: str | None) -> Reason:
    code = event.detail or event.type_code or "?"
    entry = _lookup(code) or _lookup(event.type_code or "")
    technical = _technical(event.detail_data)
    place = where or technical
    if entry is None:
        step = "contrôle VITAM"
        what = event.message or event.type or "VITAM a signalé une anomalie non répertoriée"
        action = "transmettre le code VITAM et l'ATR à l'équipe technique"
    else:
        step_code, what, action = entry
        step = STEPS_FR.get(step_code, step_code)
    return Reason(step, what, place, action, code, event.outcome or "KO")


def _lookup(code: str) -> tuple[str, str, str] | None:
    best = None
    for prefix in _TABLE:
        if (code == prefix or code.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return _TABLE[best] if best is not None else None


def _framing(event: AtrEvent) -> bool:
    code = event.type_code or ""
    return code.startswith(_FRAMING_PREFIXES) or code in _PARENTS


def _technical(detail_data: str | None) -> str | None:
    """VITAM's technical detail (evDetTechData), which often names the object or unit."""
    if not detail_data:
        return None
    try:
        data = json.loads(detail_data)
    except ValueError:
        return detail_data[:200]
    if isinstance(data, dict):
        value = data.get("evDetTechData") or data.get("Detail")
        return str(value)[:200] if value else None
    return None


def _unique(found: Iterable[Reason]) -> list[Reason]:
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for reason in found:
        if (reason.code, reason.where) not in seen:
            seen.add((reason.code, reason.where))
            unique.append(reason)
    return unique
