"""A RESULTAT_ELP-shaped table in PostgreSQL for the extraction benchmark.

The one seam the synthetic source generator will replace: ``fill_resultat_elp(url, rows)``.
Rows are made by the server (``INSERT ... SELECT generate_series``), deterministic, with the
shapes of an Apogée element result (sources.md §1): a 4-character year, 8-digit person
numbers, 8-character element codes, grades as NUMBER(5,3) with NULLs, a VARCHAR2(3) substitute
grade, result and honours codes, the carried-over flags, and a modification timestamp.
"""

from __future__ import annotations

import psycopg

TABLE = "RESULTAT_ELP"
YEAR = "2023"
QUERY = (
    'SELECT "COD_ANU", "COD_IND", "COD_ELP", "COD_SES", "COD_ADM", "NOT_ELP", "NOT_SUB_ELP", '
    '"BAR_NOT_ELP", "COD_TRE", "COD_MEN", "NOT_PNT_JUR_ELP", "TEM_NOT_RPT_ELP", "TEM_RES_RPT_ELP", '
    '"DAT_MOD_ELP" FROM "RESULTAT_ELP" WHERE "COD_ANU" = :academic_year'
)
KEY = ("COD_ANU", "COD_IND", "COD_ELP", "COD_SES", "COD_ADM")

_DDL = f"""
CREATE TABLE "{TABLE}" (
    "COD_ANU" varchar(4) NOT NULL,
    "COD_IND" numeric(8, 0) NOT NULL,
    "COD_ELP" varchar(8) NOT NULL,
    "COD_SES" varchar(1) NOT NULL,
    "COD_ADM" numeric(1, 0) NOT NULL,
    "NOT_ELP" numeric(5, 3),
    "NOT_SUB_ELP" varchar(3),
    "BAR_NOT_ELP" numeric(3, 0),
    "COD_TRE" varchar(4),
    "COD_MEN" varchar(2),
    "NOT_PNT_JUR_ELP" numeric(5, 3),
    "TEM_NOT_RPT_ELP" varchar(1),
    "TEM_RES_RPT_ELP" varchar(1),
    "DAT_MOD_ELP" timestamp,
    PRIMARY KEY ("COD_ANU", "COD_IND", "COD_ELP", "COD_SES", "COD_ADM")
)
"""

# 20 elements per student and session 1: i / 20 is the student, i % 20 the element.
_FILL = """
INSERT INTO "RESULTAT_ELP"
SELECT '2023',
       10000000 + i / 20,
       'E' || lpad((i % 20)::text, 3, '0') || 'L1',
       '1',
       1,
       CASE WHEN i % 17 = 0 THEN NULL ELSE round(((i::bigint * 7919) % 20001) / 1000.0, 3) END,
       CASE WHEN i % 17 = 0 THEN (ARRAY['ABI', 'ABJ', 'DEF'])[1 + i % 3] END,
       20,
       CASE WHEN ((i::bigint * 7919) % 20001) >= 10000 THEN 'ADM' ELSE 'AJ' END,
       CASE WHEN ((i::bigint * 7919) % 20001) >= 16000 THEN 'TB'
            WHEN ((i::bigint * 7919) % 20001) >= 14000 THEN 'B' END,
       CASE WHEN i % 11 = 0 THEN 0.5 END,
       CASE WHEN i % 13 = 0 THEN 'O' ELSE 'N' END,
       CASE WHEN i % 13 = 0 THEN 'O' ELSE 'N' END,
       timestamp '2024-06-20 10:00:00' + make_interval(secs => i % 86400)
FROM generate_series(0, {rows} - 1) AS i
"""


def fill_resultat_elp(url: str, rows: int) -> None:
    """(Re)create RESULTAT_ELP holding ``rows`` rows of academic year 2023, then ANALYZE it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{TABLE}"')
        conn.execute(_DDL)
        conn.execute(_FILL.format(rows=int(rows)))
        conn.execute(f'VACUUM ANALYZE "{TABLE}"')
