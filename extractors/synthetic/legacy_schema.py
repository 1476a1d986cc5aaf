"""DDL of the synthetic Apogée-like source (SQLite).

Table and column names, lengths and numeric precisions follow the research notes
(shared/reference/sources.md §1); the Oracle types are written with their SQL-standard
equivalents (``NUMBER(8)`` → ``NUMERIC(8,0)``, ``VARCHAR2(30)`` → ``VARCHAR(30)``) so that
reflection hands the type mapping real precision and length information.

Two deliberate departures from Apogée, both marked below:

- ``INDIVIDU.NUM_IDT_EXT_IND`` is a technical 38-digit identifier (as an identity-management
  interface would add). SQLite turns any integer wider than 64 bits into a REAL in a
  ``NUMERIC`` column, losing digits; the declared type carries a ``/* TEXT */`` comment so that
  SQLite gives the column text affinity (the value keeps all 38 digits) while SQLAlchemy still
  reflects ``NUMERIC(38,0)``. The comment must not contain ``INT`` nor digits.
- ``IND_BAC`` is declared **without** primary key, like the views through which real Apogée
  extracts are often taken: such a source can hold duplicate or NULL keys, which the quality
  stage must catch.
"""

from __future__ import annotations

METADATA_TABLE = "VERSEMENT_SYNTHETIC"

DDL: tuple[str, ...] = (
    f"""CREATE TABLE {METADATA_TABLE} (
        PARAMETER VARCHAR(40) NOT NULL PRIMARY KEY,
        VALUE TEXT NOT NULL
    )""",
    """CREATE TABLE COMPOSANTE (
        COD_CMP VARCHAR(3) NOT NULL PRIMARY KEY,
        LIB_CMP VARCHAR(40) NOT NULL,
        LIC_CMP VARCHAR(10),
        COD_TPC VARCHAR(3),
        TEM_EN_SVE_CMP VARCHAR(1) NOT NULL,
        LIB_CMT_CMP CLOB
    )""",
    """CREATE TABLE ETAPE (
        COD_ETP VARCHAR(6) NOT NULL PRIMARY KEY,
        LIB_ETP VARCHAR(60) NOT NULL,
        LIC_ETP VARCHAR(25),
        COD_CYC VARCHAR(1),
        COD_CUR VARCHAR(1)
    )""",
    """CREATE TABLE DIPLOME (
        COD_DIP VARCHAR(7) NOT NULL PRIMARY KEY,
        LIB_DIP VARCHAR(60) NOT NULL,
        LIC_DIP VARCHAR(25),
        COD_TPD_ETB VARCHAR(2),
        LIB_CMT_DIP CLOB
    )""",
    """CREATE TABLE TYP_RESULTAT (
        COD_TRE VARCHAR(4) NOT NULL PRIMARY KEY,
        LIB_TRE VARCHAR(50) NOT NULL,
        LIC_TRE VARCHAR(20),
        COD_NEG_TRE NUMERIC(1,0),
        TEM_EN_SVE_TRE VARCHAR(1)
    )""",
    """CREATE TABLE MENTION (
        COD_MEN VARCHAR(2) NOT NULL PRIMARY KEY,
        LIB_MEN VARCHAR(50) NOT NULL,
        LIC_MEN VARCHAR(10)
    )""",
    """CREATE TABLE INDIVIDU (
        COD_IND NUMERIC(8,0) NOT NULL PRIMARY KEY,
        COD_ETU NUMERIC(8,0),
        COD_NNE_IND VARCHAR(10),
        COD_CLE_NNE_IND VARCHAR(1),
        LIB_NOM_PAT_IND VARCHAR(30) NOT NULL,
        LIB_NOM_USU_IND VARCHAR(30),
        LIB_PR1_IND VARCHAR(20),
        DATE_NAI_IND DATE,
        COD_SEX_ETU VARCHAR(1),
        LIB_VIL_NAI_ETU VARCHAR(30),
        COD_PAY_NAT VARCHAR(3),
        DAT_CRE_IND DATE,
        NUM_IDT_EXT_IND NUMERIC(38,0 /* TEXT */)
    )""",
    """CREATE TABLE IND_BAC (
        COD_IND NUMERIC(8,0),
        COD_BAC VARCHAR(4),
        DAA_OBT_BAC_IBA VARCHAR(4),
        COD_MNB VARCHAR(2),
        COD_ETB VARCHAR(8),
        COD_DEP VARCHAR(3)
    )""",
    """CREATE TABLE INS_ADM_ETP (
        COD_ANU VARCHAR(4) NOT NULL,
        COD_IND NUMERIC(8,0) NOT NULL,
        COD_ETP VARCHAR(6) NOT NULL,
        COD_VRS_VET NUMERIC(3,0) NOT NULL,
        NUM_OCC_IAE NUMERIC(2,0) NOT NULL,
        COD_DIP VARCHAR(7) NOT NULL,
        COD_VRS_VDI NUMERIC(3,0) NOT NULL,
        COD_CMP VARCHAR(3) NOT NULL,
        ETA_IAE VARCHAR(1) NOT NULL,
        ETA_PMT_IAE VARCHAR(1) NOT NULL,
        TEM_IAE_PRM VARCHAR(1) NOT NULL,
        DAT_CRE_IAE DATE,
        PRIMARY KEY (COD_ANU, COD_IND, COD_ETP, COD_VRS_VET, NUM_OCC_IAE)
    )""",
    """CREATE TABLE RESULTAT_VDI (
        COD_IND NUMERIC(8,0) NOT NULL,
        COD_DIP VARCHAR(7) NOT NULL,
        COD_VRS_VDI NUMERIC(3,0) NOT NULL,
        COD_ANU VARCHAR(4) NOT NULL,
        COD_SES VARCHAR(1) NOT NULL,
        COD_ADM VARCHAR(1) NOT NULL,
        NOT_VDI NUMERIC(8,3),
        NOT_SUB_VDI VARCHAR(3),
        BAR_NOT_VDI NUMERIC(5,0),
        COD_TRE VARCHAR(4),
        COD_MEN VARCHAR(2),
        DAT_OBT_VDI DATE,
        NUM_OBT_VDI NUMERIC,
        PRIMARY KEY (COD_IND, COD_DIP, COD_VRS_VDI, COD_ANU, COD_SES, COD_ADM)
    )""",
)

APOGEE_TABLES: tuple[str, ...] = (
    "COMPOSANTE",
    "ETAPE",
    "DIPLOME",
    "TYP_RESULTAT",
    "MENTION",
    "INDIVIDU",
    "IND_BAC",
    "INS_ADM_ETP",
    "RESULTAT_VDI",
)
