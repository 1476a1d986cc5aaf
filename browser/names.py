"""How a person's name is compared: one spelling per name, whatever the source or the user typed.

``normalise("Lefèvre")``, ``normalise("LEFEVRE")`` and ``normalise("lefévre")`` are all
``"LEFEVRE"``: accents stripped, case folded, ligatures spelt out (Œ → OE, Æ → AE, ß → SS),
apostrophes, hyphens, spaces and other punctuation dropped (« D'Artagnan » and « Dartagnan »
meet, « Jean-Pierre » and « Jean Pierre » too). A value that a Latin-1 reading of UTF-8 bytes
garbled (« LefÃ¨vre ») is repaired first. ``tokens`` gives the words of a compound name, so
« Dupont » finds « MARTIN-DUPONT ».
"""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode does not decompose into a base letter and a combining mark.
_SPELT_OUT = str.maketrans(
    {
        "Œ": "OE",
        "œ": "oe",
        "Æ": "AE",
        "æ": "ae",
        "ß": "ss",
        "ẞ": "SS",
        "Ø": "O",
        "ø": "o",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Þ": "TH",
        "þ": "th",
        "ı": "i",
        "Ĳ": "IJ",
        "ĳ": "ij",
    }
)
# Separators inside a name: apostrophes of every kind, hyphens and dashes, spaces, dots, slashes.
_SEPARATORS = re.compile(r"[\s'’ʼ`´‘‛\-‐‑‒–—―_.,/]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
# What UTF-8 text read as Latin-1 or Windows-1252 looks like: Ã or Â followed by a continuation.
_MOJIBAKE = re.compile(
    "[ÃÂÅÆ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)
MAX_LENGTH = 200


def repaired(value: str) -> str:
    """``value`` with a UTF-8-read-as-Latin-1 garbling undone; unchanged when it is not one."""
    if not _MOJIBAKE.search(value):
        return value
    for encoding in ("cp1252", "latin-1"):
        try:
            return value.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return value


def _folded(value: str) -> str:
    text = unicodedata.normalize("NFKD", repaired(value[: MAX_LENGTH * 2]).translate(_SPELT_OUT))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.translate(_SPELT_OUT).upper()


def normalise(value: object) -> str:
    """The comparable form of a name: A-Z and digits only (empty for nothing usable)."""
    if not isinstance(value, str):
        return ""
    return _NOT_ALNUM.sub("", _folded(value))[:MAX_LENGTH]


def tokens(value: object) -> tuple[str, ...]:
    """The normalised words of a name (« LE GOFF-MARTIN » → LE, GOFF, MARTIN), longest first."""
    if not isinstance(value, str):
        return ()
    words = {_NOT_ALNUM.sub("", w) for w in _SEPARATORS.split(_folded(value))}
    return tuple(sorted((w for w in words if w), key=lambda w: (-len(w), w)))


def keys(value: object) -> tuple[str, ...]:
    """Every form under which a name is indexed: the whole name, then each of its words."""
    whole = normalise(value)
    if not whole:
        return ()
    return (whole, *(t for t in tokens(value) if t != whole and len(t) > 1))
