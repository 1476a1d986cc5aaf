"""Public rules for French personal identifiers, as Python checks and as DuckDB SQL.

NIR (numéro d'inscription au répertoire, the social-security number)
    15 characters: 13 for the person (sex, year and month of birth, department, commune, order
    number) and a 2-digit key. The key is ``97 - (N mod 97)`` where ``N`` is the 13-character
    body read as a number; for people born in Corsica the department is ``2A`` or ``2B`` and is
    read as ``19`` and ``18`` for the computation (that is, N minus 1,000,000 or 2,000,000).
    Source: INSEE's description of the NIR and of its "clé de contrôle" (public rule, also in
    the Sécurité sociale's published specifications of the NIR). Harpège stores the body and the
    key in two columns (``CODE_INSEE.NO_INSEE`` and ``CLE_INSEE``, sources.md §2): the check
    takes an optional key column.

INE (identifiant national élève/étudiant, Apogée ``COD_NNE_IND`` + ``COD_CLE_NNE_IND``)
    11 characters, in one of the formats the ministry publishes for student identifiers:
    INE-BEA (secondary school base, 10 digits and 1 letter), INE-RNIE (national register since
    2018, 9 digits and 2 letters) and the apprenticeship INE (4 digits, ``A``, 5 digits, 1 letter).
    The algorithm that computes their check characters is NOT published (we found no public
    source from the ministry), so only the FORMAT is checked, never the key; a value that has
    the right shape but a wrong key passes. Sources: the Wikipedia articles "Numéro BEA" /
    "Identifiant national élève" (formats, 2018 change), university help pages (11 characters).
"""

from __future__ import annotations

import re

# Sex (1, 2; 3, 4, 7, 8 for provisional and foreign-born numbers), year, month, department
# (2 digits, or 2A/2B), commune, order number, key.
NIR_PATTERN = r"^[1-478][0-9]{4}(2[AB]|[0-9]{2})[0-9]{6}[0-9]{2}$"
INE_PATTERN = r"^([0-9]{10}[A-Z]|[0-9]{9}[A-Z]{2}|[0-9]{4}A[0-9]{5}[A-Z])$"

_NIR = re.compile(NIR_PATTERN)
_INE = re.compile(INE_PATTERN)


def nir_key(body: str) -> int:
    """The 2-digit key of a 13-character NIR body (Corsica's 2A/2B read as 19/18)."""
    department = body[5:7]
    digits = body[:5] + {"2A": "19", "2B": "18"}.get(department, department) + body[7:]
    return 97 - int(digits) % 97


def is_valid_nir(value: str) -> bool:
    """True for a well-formed 15-character NIR whose key matches its body (spaces ignored)."""
    compact = value.replace(" ", "").upper()
    return bool(_NIR.fullmatch(compact)) and nir_key(compact[:13]) == int(compact[13:])


def is_well_formed_ine(value: str) -> bool:
    """True when ``value`` has one of the INE formats (the key itself cannot be checked)."""
    return bool(_INE.fullmatch(value))


def nir_sql_invalid(value_sql: str) -> str:
    """A DuckDB condition, true when the text ``value_sql`` is not a valid NIR."""
    v = f"upper(replace({value_sql}, ' ', ''))"
    body = (
        f"CASE substr({v}, 6, 2) WHEN '2A' THEN substr({v}, 1, 5) || '19' || substr({v}, 8, 6) "
        f"WHEN '2B' THEN substr({v}, 1, 5) || '18' || substr({v}, 8, 6) ELSE substr({v}, 1, 13) END"
    )
    return (
        f"(NOT regexp_full_match({v}, '{NIR_PATTERN}') "
        f"OR 97 - (TRY_CAST({body} AS BIGINT) % 97) <> TRY_CAST(substr({v}, 14, 2) AS INTEGER))"
    )


def ine_sql_invalid(value_sql: str) -> str:
    return f"NOT regexp_full_match({value_sql}, '{INE_PATTERN}')"
