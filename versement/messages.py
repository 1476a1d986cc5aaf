"""What the CLI says of a failure, in French for the archivist.

versement's own errors about a batch (``StageError``, ``LedgerError``, ``IllegalTransition``,
``QualityRefused``...) are written in French where they are raised. The stage packages
(extractors, validation, seda, vitam_client) keep their developer-facing English messages: a
failure of theirs that reaches the command line is introduced by a French sentence saying which
step failed, with the original text after it (it names the file, column or HTTP answer, which
the operator needs verbatim). argparse's own words are given in French too.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, NoReturn

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


# argparse's own refusals (Python ships no French catalogue for them), as the archivist reads them.
_ARGPARSE: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
    (r"unrecognized arguments: (.*)", r"arguments inconnus : \1"),
    (r"argument (\S+): invalid int value: (.*)", r"argument \1 : un nombre entier est attendu, pas \2"),
    (r"argument (\S+): invalid (\S+) value: (.*)", r"argument \1 : valeur invalide \3"),
    (r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)", r"argument \1 : choix invalide \2 (possibles : \3)"),
    (r"argument (\S+): expected one argument", r"argument \1 : une valeur est attendue"),
    (r"argument (\S+): not allowed with argument (\S+)", r"argument \1 : incompatible avec l'argument \2"),
    (r"one of the arguments (.*) is required", r"un des arguments \1 est obligatoire"),
    (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë : \1 peut désigner \2"),
)


def argparse_text(message: str) -> str:
    """An argparse error message in French (unknown ones are kept as they are)."""
    for pattern, french in _ARGPARSE:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, french, message)
    return message


class _FrenchHelp(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "usage : " if prefix is None else prefix)


class FrenchArgumentParser(argparse.ArgumentParser):
    """argparse with its own words in French: usage line, section titles, -h, errors. Sub-command
    parsers are of the same class (argparse makes them with ``type(parent)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _FrenchHelp)
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = "afficher cette aide et quitter"

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {argparse_text(message)}\n")
