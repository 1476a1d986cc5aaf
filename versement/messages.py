"""What the CLI says of a failure, in French for the archivist.

versement's own errors about a batch (``StageError``, ``LedgerError``, ``IllegalTransition``,
``QualityRefused``...) are written in French where they are raised. The stage packages
(extractors, validation, seda, vitam_client) keep their developer-facing English messages: a
failure of theirs that reaches the command line is introduced by a French sentence saying which
step failed, with the original text after it (it names the file, column or HTTP answer, which
the operator needs verbatim).
"""

from __future__ import annotations

# (module of the exception's class, its name or one of its bases) → the French introduction.
_STEPS: tuple[tuple[str, str, str], ...] = (
    ("vitam_client", "VitamError", "l'échange avec VITAM a échoué"),
    ("extractors", "ExtractionError", "l'extraction a échoué"),
    ("extractors", "BadValue", "l'extraction a échoué"),
    ("extractors", "UnsupportedTypeError", "l'extraction a échoué"),
    ("validation", "QualityError", "le contrôle qualité n'a pas pu être mené"),
    ("seda", "SchemaError", "les schémas SEDA sont inutilisables"),
    ("seda", "SipError", "le SIP n'a pas pu être construit"),
)


def archivist_text(exc: BaseException) -> str:
    """The message the CLI prints for ``exc``: French, with a stage package's own text kept after it."""
    message = str(exc) or type(exc).__name__
    if message.startswith("lot "):  # already the archivist's sentence (a stage wrapped it)
        return message
    for cls in type(exc).__mro__:
        for package, name, step in _STEPS:
            if cls.__name__ == name and cls.__module__.split(".")[0] == package:
                return f"{step} ({type(exc).__name__}) : {message}"
    if type(exc).__module__.split(".")[0] == "versement":
        return message
    if isinstance(exc, OSError):
        return f"erreur d'accès à un fichier ou au réseau ({type(exc).__name__}) : {message}"
    return f"erreur inattendue ({type(exc).__name__}) : {message}"
