"""French labels of the logbook events the sandbox emits.

They follow the wording of VITAM's logbook message catalogue (``vitam-logbook-messages_fr``,
summarised in VITAM's ingest workflow documentation); only the events the sandbox produces are
listed. ``EventType`` in an ATR is the event's label, ``OutcomeDetailMessage`` the outcome's.
"""

from __future__ import annotations

EVENT_LABELS = {
    "PROCESS_SIP_UNITARY": "Processus d'entrée du SIP",
    "PROCESS_SIP_UNITARY_TEST": "Processus d'entrée à blanc du SIP",
    "STP_SANITY_CHECK_SIP": "Processus des contrôles préalables à l'entrée",
    "CHECK_CONTAINER": "Contrôle du format du conteneur du SIP",
    "MANIFEST_FILE_NAME_CHECK": "Contrôle du nom du bordereau de transfert",
    "MANIFEST_DIGEST_CHECK": "Contrôle de l'empreinte du bordereau de transfert",
    "STP_UPLOAD_SIP": "Processus de réception du SIP",
    "STP_INGEST_CONTROL_SIP": "Processus de contrôle du SIP",
    "CHECK_SEDA": "Vérification globale du SIP",
    "CHECK_HEADER": "Vérification générale du bordereau de transfert",
    "CHECK_HEADER.CHECK_AGENT": "Vérification de la présence et du contrôle des services agents",
    "CHECK_HEADER.CHECK_CONTRACT_INGEST": ("Vérification de la présence et du contrôle du contrat d'entrée"),
    "CHECK_DATAOBJECTPACKAGE": "Vérification du contenu du bordereau",
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_DATAOBJECT_VERSION": ("Vérification des usages des objets"),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER": "Vérification du nombre d'objets",
    "STP_OG_CHECK_AND_TRANSFORME": "Processus de contrôle et traitement des objets",
    "CHECK_DIGEST": "Vérification de l'intégrité des objets",
    "CHECK_OBJECT_SIZE": "Vérification de la taille des objets",
    "STP_UNIT_CHECK_AND_PROCESS": ("Processus de contrôle et traitement des unités archivistiques"),
    "CHECK_UNIT_SCHEMA": "Vérification globale de l'unité archivistique",
    "UNITS_RULES_COMPUTE": ("Application des règles de gestion et calcul des dates d'échéance"),
    "STP_INGEST_FINALISATION": "Processus de finalisation de l'entrée",
    "UPLOAD_SIP": "Réception du SIP",
    "CHECK_HEADER.CHECK_IC_AP_RELATION": (
        "Vérification de la relation entre le contrat d'entrée et le profil d'archivage"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST": "Vérification de la cohérence du bordereau de transfert",
    "CHECK_DATAOBJECTPACKAGE.CHECK_CONSISTENCY": (
        "Vérification de la cohérence entre objets, groupes d'objets et unités"
    ),
    "OG_OBJECTS_FORMAT_CHECK": "Identification des formats",
    "STP_STORAGE_AVAILABILITY_CHECK": "Processus de vérification préalable à la prise en charge",
    "STORAGE_AVAILABILITY_CHECK": "Vérification de la disponibilité des offres de stockage",
    "ATR_NOTIFICATION": "Notification de la fin de l'opération d'entrée",
}

# Outcome details that have a message of their own; the others get a generic one.
DETAIL_MESSAGES = {
    "CHECK_CONTAINER.KO": "Échec du contrôle du format du conteneur du SIP",
    "MANIFEST_FILE_NAME_CHECK.KO": (
        "Échec du contrôle du nom du bordereau de transfert : bordereau absent ou mal nommé"
    ),
    "MANIFEST_DIGEST_CHECK.KO": (
        "Échec du contrôle de l'empreinte du bordereau de transfert : empreinte différente de celle déclarée"
    ),
    "CHECK_SEDA.NOT_XML_FILE.KO": (
        "Échec de la vérification globale du SIP : bordereau de transfert non conforme "
        "aux caractéristiques d'un fichier xml"
    ),
    "CHECK_SEDA.NOT_XSD_VALID.KO": (
        "Échec de la vérification globale du SIP : bordereau de transfert non conforme au schéma"
    ),
    "CHECK_SEDA.UNSUPPORTED_SEDA_VERSION.KO": (
        "Échec de la vérification globale du SIP : version du SEDA non prise en charge"
    ),
    "CHECK_SEDA.CONTAINER_FORMAT.FILE.KO": "Le SIP contient plus d'un fichier à sa racine",
    "CHECK_SEDA.CONTAINER_FORMAT.DIRECTORY.KO": (
        "Le SIP contient plus d'un dossier ou un dossier dont le nommage est invalide"
    ),
    "CHECK_HEADER.CHECK_AGENT.EMPTY_REQUIRED_FIELD.KO": (
        "Échec de la vérification de la présence et du contrôle des services agents : champ obligatoire vide"
    ),
    "CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO": (
        "Échec de la vérification de la présence et du contrôle des services agents : "
        "services agents inconnus du référentiel des services agents"
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST.KO": (
        "Échec du contrôle du contrat d'entrée : aucun contrat déclaré dans le bordereau"
    ),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN.KO": (
        "Échec du contrôle de la présence du contrat d'entrée : contrat inconnu"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_INFERIOR_BDO.KO": (
        "Le bordereau de transfert déclare moins d'objets binaires qu'il n'en existe dans le répertoire Content du SIP"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.MANIFEST_SUPERIOR_BDO.KO": (
        "Le bordereau de transfert déclare plus d'objets binaires qu'il n'en existe dans le répertoire Content du SIP"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_OBJECTNUMBER.INVALID_URI.KO": (
        "Au moins un objet déclare une URI à laquelle ne correspond pas de fichier "
        "ou déclare une URI déjà utilisée par un autre objet"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST_DATAOBJECT_VERSION.INVALIDE_ALGO.KO": (
        "Au moins un objet déclare un algorithme d'empreinte non pris en charge"
    ),
    "CHECK_DIGEST.KO": "Échec de la vérification de l'empreinte des objets",
    "CHECK_OBJECT_SIZE.WARNING": (
        "Avertissement lors de la vérification de la taille des objets : taille déclarée différente de la taille réelle"
    ),
    "STP_OG_CHECK_AND_TRANSFORME.WARNING": (
        "Avertissement lors du processus de contrôle et traitement des objets : le SIP ne contient pas d'objet"
    ),
    "CHECK_UNIT_SCHEMA.INVALID_UNIT.KO": (
        "Échec lors de la vérification globale de l'unité archivistique : champs non conformes"
    ),
    "UNITS_RULES_COMPUTE.UNKNOWN.KO": (
        "Échec lors de l'application des règles de gestion et du calcul des dates d'échéance : "
        "règle de gestion inconnue"
    ),
    "UNITS_RULES_COMPUTE.CONSISTENCY.KO": (
        "Échec lors de l'application des règles de gestion et du calcul des dates d'échéance : "
        "règle de gestion incohérente avec sa catégorie"
    ),
    "STP_UPLOAD_SIP.KO": "Échec du processus de réception du SIP",
    "UPLOAD_SIP.KO": "Échec de la réception du SIP : conteneur illisible ou nom de fichier non autorisé",
    "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_INACTIVE.KO": (
        "Échec du contrôle du contrat d'entrée : contrat inactif"
    ),
    "CHECK_HEADER.CHECK_IC_AP_RELATION.DIFF.KO": (
        "Échec du contrôle de la relation entre le contrat d'entrée et le profil d'archivage : profil non autorisé"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST.CHECK_MANIFEST_LOOP.KO": (
        "Échec de la vérification de la cohérence du bordereau : cycle dans l'arborescence des unités archivistiques"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_MANIFEST.CHECK_MANIFEST_WRONG_ATTACHMENT.KO": (
        "Échec de la vérification de la cohérence du bordereau : rattachement non autorisé ou "
        "unité de rattachement inconnue"
    ),
    "CHECK_DATAOBJECTPACKAGE.CHECK_CONSISTENCY.CHECK_CONSISTENCY_ORPHAN_OBJECT.KO": (
        "Échec de la vérification de cohérence : groupe d'objets non référencé par une unité archivistique"
    ),
    "OG_OBJECTS_FORMAT_CHECK.UNKNOWN.KO": "Échec de l'identification des formats : format non identifié",
    "OG_OBJECTS_FORMAT_CHECK.UNKNOWN.WARNING": (
        "Avertissement lors de l'identification des formats : format non identifié"
    ),
    "OG_OBJECTS_FORMAT_CHECK.UNCHARTED.KO": (
        "Échec de l'identification des formats : format identifié absent du référentiel des formats"
    ),
    "OG_OBJECTS_FORMAT_CHECK.REJECTED_FORMAT.KO": (
        "Échec de l'identification des formats : format non autorisé par le contrat"
    ),
    "OG_OBJECTS_FORMAT_CHECK.WARNING": (
        "Avertissement lors de l'identification des formats : format déclaré différent du format identifié"
    ),
    "CHECK_UNIT_SCHEMA.CONSISTENCY.KO": (
        "Échec lors de la vérification globale de l'unité archivistique : date de fin antérieure à la date de début"
    ),
    "UNITS_RULES_COMPUTE.REF_INCONSISTENCY.KO": (
        "Échec lors de l'application des règles de gestion : identifiant de règle à désactiver "
        "(RefNonRuleId) incohérent"
    ),
    "STORAGE_AVAILABILITY_CHECK.STORAGE_OFFER_KO_UNAVAILABLE.KO": (
        "Échec de la vérification de la disponibilité des offres de stockage : offre indisponible"
    ),
}

_PREFIX = {"OK": "Succès", "WARNING": "Avertissement", "KO": "Échec", "FATAL": "Erreur fatale"}


def event_label(code: str) -> str:
    return EVENT_LABELS.get(code.removeprefix("LFC."), code)


def outcome_message(detail: str, code: str, outcome: str) -> str:
    """The OutcomeDetailMessage: a specific text, or "<Échec|Succès...> : <label>"."""
    if detail in DETAIL_MESSAGES:
        return DETAIL_MESSAGES[detail]
    if detail.removeprefix("LFC.") in DETAIL_MESSAGES:
        return DETAIL_MESSAGES[detail.removeprefix("LFC.")]
    return f"{_PREFIX.get(outcome, outcome)} : {event_label(code)}"
