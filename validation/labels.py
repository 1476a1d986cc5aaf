"""How each check reads in French, for archivists (CLI table, HTML report, approval request)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHECKS_FR: dict[str, str] = {
    "reconcile_with_source": "fichier conforme à l'extraction (lignes, empreinte)",
    "reconcile_aggregates_with_source": "agrégats identiques à ceux de la source",
    "expect_table_row_count_to_equal": "nombre de lignes attendu",
    "expect_column_to_exist": "colonne présente",
    "expect_column_values_to_not_be_null": "valeurs renseignées",
    "expect_column_values_to_be_unique": "clé unique",
    "expect_compound_columns_to_be_unique": "clé composée unique",
    "expect_column_values_to_be_between": "valeurs dans l'intervalle plausible",
    "expect_column_values_to_be_in_set": "valeurs dans la liste attendue",
    "expect_column_values_to_not_be_in_set": "valeurs hors de la liste interdite",
    "expect_column_values_to_match_regex": "format attendu",
    "expect_column_values_to_not_match_regex": "format interdit absent",
    "expect_column_value_lengths_to_be_between": "longueur attendue",
    "expect_column_pair_values_a_to_be_greater_than_b": "ordre entre deux colonnes",
    "expect_column_values_to_be_valid_nir": "NIR bien formé, clé exacte",
    "expect_column_values_to_be_valid_ine": "INE bien formé (format seul)",
    "expect_column_values_to_be_within_scale": "note dans son barème",
    "expect_column_values_to_not_be_double_encoded": "texte sans double encodage (Ã©…)",
    "expect_column_values_to_be_xml_characters": "texte sans caractère interdit en XML",
    "expect_column_values_to_be_in_reference": "code présent dans la table de référence",
}


def describe_outcome(outcome: Mapping[str, Any]) -> str:
    """``clé unique (COD_IND)`` or, for references, ``code présent ... (COD_ELP → ref_elements)``."""
    text = CHECKS_FR.get(str(outcome.get("expectation")), str(outcome.get("expectation")))
    kwargs = (outcome.get("details") or {}).get("kwargs") or {}
    columns = outcome.get("column") or ", ".join(kwargs.get("column_list") or [])
    if kwargs.get("reference_dataset"):
        columns = f"{columns} → {kwargs['reference_dataset']}"
    return f"{text} ({columns})" if columns else text
