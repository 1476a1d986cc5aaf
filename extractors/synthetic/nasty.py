"""Values real databases hold and naive pipelines break on, shared by every synthetic tool.

Two families, by design:

**Always present** (realistic: a correct pipeline carries them unchanged, so the demo and every
clean test meet them): accents and ligatures (Œ, œ, æ, Ÿ, ï), apostrophes straight and typographic
(O'BRIEN, L’HÔTE), the empty string next to NULL in the same column, the placeholder dates
0001-01-01 and 1900-01-01 and the "end of time" 9999-12-31, 38-digit NUMBERs, long free text
(thousands of characters), free text that looks like HTML or script (``<script>alert(1)</script>``,
``&amp;``), which must come out as text, never as markup.

**Only with nasty=True** (what an extraction or the quality stage must stop on or flag):
double-encoded Latin-1 ("Ã©", mojibake), C0/C1 control characters that XML 1.0 forbids, a 2 MB
text value, and keys never enforced: an exact duplicate row and a NULL key column in tables
declared without a primary key (the views real extracts are taken through). NUL (U+0000) is not
among them: PostgreSQL text cannot hold it at all.
"""

from __future__ import annotations

from datetime import date

WIDEST_NUMBER = "9" * 38  # NUMBER(38,0) at its widest
PLACEHOLDER_DATE = date(1, 1, 1)  # "unknown" in migrated records
UNKNOWN_BIRTH = date(1900, 1, 1)
END_OF_TIME = date(9999, 12, 31)  # "never ends" in validity periods

SCRIPT = "<script>alert(1)</script>"
HTML_TEXT = f"Mise à jour <b>importante</b> &amp; urgente : voir <a href='x'>le lien</a> {SCRIPT}"

MOJIBAKE_SURNAME = "FRANÃ‡OIS"  # FRANÇOIS, UTF-8 bytes read as Latin-1 then stored again
MOJIBAKE_FIRST_NAME = "HÃ©loÃ¯se"  # Héloïse
CONTROL_SURNAME = "MARTIN\x0bDUPONT"  # vertical tab
CONTROL_FIRST_NAME = "Zoé\x01"  # C0
CONTROL_TOWN = "Orléans\x85"  # C1 (NEL), a Windows-1252 leftover
HUGE_TEXT_CHARS = 2 * 1024 * 1024

_COMMENT = (
    "Délibération du conseil de l'UFR : les maquettes de l'année sont reconduites ; "
    "l'œuvre des équipes pédagogiques, leur cœur à l'ouvrage et la sûreté des épreuves "
    "sont salués. "
)
_HUGE = "Pièce jointe recopiée dans le commentaire, ligne après ligne : « reçu, vérifié ». "


def long_text(length: int) -> str:
    """French free text of exactly ``length`` characters, with the HTML-looking sentence first."""
    return repeat(f"{HTML_TEXT} {_COMMENT}", length)


def huge_text() -> str:
    return repeat(_HUGE, HUGE_TEXT_CHARS)


def repeat(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[:length]


SURNAMES = (
    "MARTIN",
    "LEFÈVRE",
    "DUBOIS",
    "FRANÇOIS",
    "MOREAU",
    "GARÇON",
    "BÉRANGER",
    "HÉBERT",
    "NOËL",
    "MÉNARD",
    "CHÂTEL",
    "BOËL",
    "LE BRIS",
    "DE LA FONTAINE",
    "MARTIN-LEFÈVRE",
    "D'ALMEIDA",
    "N'GUESSAN",
    "GIRAUD-CŒUR",
    "LŒUILLET",
    "ÉTIENNE",
    "PÉREZ",
    "NGUYEN",
    "BENSAÏD",
    "KOUASSI",
    "FAŸ",
    "O'NEILL",
    "L’HÔTE",
    "DESCHAMPS",
    "ROUSSEAU",
)
FIRST_NAMES = {
    "F": (
        "Héloïse",
        "Anaïs",
        "Zoé",
        "Maëlle",
        "Chloé",
        "Gaëlle",
        "Cécile",
        "Bérénice",
        "Françoise",
        "Inès",
        "Léa",
        "Lætitia",
        "Noémie",
        "Océane",
        "Marie-Thérèse",
    ),
    "M": (
        "François",
        "Jérôme",
        "Noël",
        "Loïc",
        "Joël",
        "Aurélien",
        "Clément",
        "Théo",
        "Maël",
        "Raphaël",
        "Jean-Baptiste",
        "Séverin",
        "Anaël",
        "Hervé",
        "Gaël",
    ),
}
TOWNS = (
    "Besançon",
    "Saint-Étienne",
    "L'Haÿ-les-Roses",
    "Châlons-en-Champagne",
    "Orléans",
    "Nîmes",
    "Montréal",
    "Alger",
    "Dakar",
    "Pointe-à-Pitre",
    "Le Puy-en-Velay",
    "Créteil",
    "Vœuil-et-Giget",
    "Abidjan",
    "Hanoï",
)
STREETS = (
    "rue de l'Église",
    "avenue Émile-Zola",
    "place du Général-de-Gaulle",
    "chemin des Œillets",
    "boulevard Saint-Michel",
    "impasse de l’Abbaye",
    "allée des Tilleuls",
)
