"""Synthetic Apogée: every table and column ``extractors/specs/apogee.toml`` reads.

Scale: ``students`` individuals, each entering in one of the ``years`` (uniformly) and following
a licence (3 stages), a master (2), a doctorate (3 to 4 years in one stage, then a thesis) or an
HDR. Each valid registration to a licence or master stage gets 10 element results in session 1
(7 compulsory elements, 3 chosen ones listed in the pedagogical contract) plus, for a failed
stage, session 2 for every element (passed ones carried over, TEM_NOT_RPT_ELP = 'O').
Measured (4,000 students): RESULTAT_ELP holds about **12.8 rows per registration**, that is per
student 13 rows with ``years=1``, 24 with 3, **28 with 5**, 31 with 10 (careers are cut short by
the range), and all tables together about 46 rows per student at 5 years.
``students=180_000, years=5`` gives about 5 million RESULTAT_ELP rows (``make bench-synthetic``
measures the generation).

Fixed individuals, always present (``MIN_STUDENTS``), all but #4 registered in the last year:

- #0 the widest 38-digit NUMBER (NUM_IDT_EXT_IND);
- #1 birth date 1900-01-01 ("unknown", TEM_DATE_NAI_REL = 'N') and DAT_CRE_IND 0001-01-01;
- #2 ligatures (CŒURDEROY, Lætitia, Vœuil-et-Giget);
- #3 apostrophes, straight and typographic (O'BRIEN, L’HÔTE, L'Haÿ-les-Roses);
- #4 an applicant: no student number, no registration;
- #5 a master's degree obtained with DAT_OBT_VDI 9999-12-31;
- #6 the empty string beside NULL (LIB_NOM_USU_IND = '', LIB_PR2_IND = '', LIB_AD2 = ''), and a
  handicap code (COD_THP, health data left out by default);
- #7 a doctorate defended in the last year, whose thesis title holds HTML and a script tag.

``nasty=True`` adds: #8 mojibake names, #9 control characters, #10 a duplicated IND_BAC row
(a duplicate key in the registration register), #11 an exemption with a NULL COD_ELP, a
duplicated GRP_RESULTAT_VET row (duplicate keys in the stage results) and a 2 MB diploma comment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

from extractors.synthetic import nasty
from extractors.synthetic.base import EntityRows, Parameters, Row, RowFactory, ToolTables
from extractors.synthetic.people import NATIONALITIES, Person, agent_number, person
from extractors.synthetic.schema import table

GENERATOR_VERSION = "1"
MIN_STUDENTS = 12
MIN_SIZE = MIN_STUDENTS
FIRST_COD_IND = 100_001
ELPS_PER_STAGE = 12  # 7 compulsory + 5 options, 3 of which are chosen
COMPULSORY = 7
CHOSEN = 3

TABLES = (
    table(
        "COMPOSANTE",
        "COD_CMP VC(3) NOT NULL; LIB_CMP VC(40) NOT NULL; LIC_CMP VC(10); COD_TPC VC(3); "
        "TEM_EN_SVE_CMP VC(1); LIB_CMT_CMP CLOB",
        ["COD_CMP"],
    ),
    table("TYP_DIPLOME", "COD_TPD_ETB VC(2) NOT NULL; LIB_TPD VC(40); LIC_TPD VC(10)", ["COD_TPD_ETB"]),
    table(
        "DIPLOME",
        "COD_DIP VC(7) NOT NULL; LIB_DIP VC(60) NOT NULL; LIC_DIP VC(25); COD_TPD_ETB VC(2); LIB_CMT_DIP CLOB",
        ["COD_DIP"],
    ),
    table(
        "VERSION_DIPLOME",
        "COD_DIP VC(7) NOT NULL; COD_VRS_VDI N(3) NOT NULL; LIB_WEB_VDI VC(120); LIC_VDI VC(25); DUR_ANN_VDI N(2)",
        ["COD_DIP", "COD_VRS_VDI"],
    ),
    table(
        "ETAPE",
        "COD_ETP VC(6) NOT NULL; LIB_ETP VC(60) NOT NULL; LIC_ETP VC(25); COD_CYC VC(1); COD_CUR VC(1)",
        ["COD_ETP"],
    ),
    table(
        "VERSION_ETAPE",
        "COD_ETP VC(6) NOT NULL; COD_VRS_VET N(3) NOT NULL; LIB_WEB_VET VC(120); COD_CMP VC(3); TEM_SES_UNI VC(1)",
        ["COD_ETP", "COD_VRS_VET"],
    ),
    table(
        "ELEMENT_PEDAGOGI",
        "COD_ELP VC(8) NOT NULL; LIB_ELP VC(60) NOT NULL; LIC_ELP VC(25); COD_NEL VC(4); "
        "COD_CMP VC(3); COD_PEL VC(3); ETA_ELP VC(1); NBR_PNT_ECT_ELP N(5,2); LIB_CMT_ELP VC(2000)",
        ["COD_ELP"],
    ),
    table(
        "TYP_RESULTAT",
        "COD_TRE VC(4) NOT NULL; LIB_TRE VC(50) NOT NULL; LIC_TRE VC(20); COD_NEG_TRE N(1); TEM_EN_SVE_TRE VC(1)",
        ["COD_TRE"],
    ),
    table("MENTION", "COD_MEN VC(2) NOT NULL; LIB_MEN VC(50) NOT NULL; LIC_MEN VC(10)", ["COD_MEN"]),
    table(
        "PAYS",
        "COD_PAY VC(3) NOT NULL; LIB_PAY VC(50) NOT NULL; LIC_PAY VC(20); LIB_NAT VC(50); TEM_EN_SVE_PAY VC(1)",
        ["COD_PAY"],
    ),
    table(
        "DEPARTEMENT",
        "COD_DEP VC(3) NOT NULL; LIB_DEP VC(60) NOT NULL; LIC_DEP VC(10); COD_ACD VC(3); TEM_EN_SVE_DEP VC(1)",
        ["COD_DEP"],
    ),
    table(
        "ETABLISSEMENT",
        "COD_ETB VC(8) NOT NULL; LIB_ETB VC(40) NOT NULL; LIB_OFF_ETB VC(80); COD_TPE VC(2); "
        "COD_DEP VC(3); COD_PAY_ADR_ETB VC(3)",
        ["COD_ETB"],
    ),
    table(
        "BAC_OUX_EQU",
        "COD_BAC VC(4) NOT NULL; LIB_BAC VC(60) NOT NULL; LIC_BAC VC(20); TEM_EN_SVE_BAC VC(1)",
        ["COD_BAC"],
    ),
    table("MENTION_NIV_BAC", "COD_MNB VC(2) NOT NULL; LIB_MNB VC(50) NOT NULL; LIC_MNB VC(10)", ["COD_MNB"]),
    table("ANNEE_UNI", "COD_ANU VC(4) NOT NULL; LIB_ANU VC(40); LIC_ANU VC(10); ETA_ANU_IAE VC(1)", ["COD_ANU"]),
    table(
        "PERSONNEL",
        "COD_PER VC(10) NOT NULL; LIB_NOM_PAT_PER VC(30) NOT NULL; LIB_NOM_USU_PER VC(30); "
        "LIB_PR1_PER VC(20); DAT_NAI_PER D; NUM_DOS_HAR_PER N(8)",
        ["COD_PER"],
    ),
    table(
        "INDIVIDU",
        "COD_IND N(8) NOT NULL; COD_ETU N(8); COD_NNE_IND VC(10); COD_CLE_NNE_IND VC(1); "
        "TEM_NNE_PRV_IND VC(1); LIB_NOM_PAT_IND VC(30) NOT NULL; LIB_NOM_USU_IND VC(30); LIB_PR1_IND VC(20); "
        "LIB_PR2_IND VC(20); LIB_PR3_IND VC(20); DATE_NAI_IND D; TEM_DATE_NAI_REL VC(1); COD_SEX_ETU VC(1); "
        "COD_CIV VC(1); LIB_VIL_NAI_ETU VC(30); COD_DEP_PAY_NAI VC(3); COD_TYP_DEP_PAY_NAI VC(1); "
        "COD_PAY_NAT VC(3); COD_ETB VC(8); DAA_ENT_ETB VC(4); COD_THP VC(2); COD_FAM VC(1); DAT_CRE_IND D; "
        "DAT_MOD_IND D; NUM_IDT_EXT_IND N38",
        ["COD_IND"],
    ),
    table(
        "ADRESSE",
        "COD_ADR N(8) NOT NULL; COD_IND N(8); COD_IND_INA N(8); COD_ANU_INA VC(4); LIB_AD1 VC(32); "
        "LIB_AD2 VC(32); LIB_AD3 VC(32); LIB_ADE VC(32); COD_BDI VC(6); COD_COM VC(5); COD_PAY VC(3); "
        "NUM_TEL VC(15); NUM_TEL_PORT VC(15); ADR_MAIL VC(200)",
        ["COD_ADR"],
    ),
    table(
        "IND_BAC",
        "COD_IND N(8); COD_BAC VC(4); DAA_OBT_BAC_IBA VC(4); COD_MNB VC(2); COD_ETB VC(8); "
        "COD_TPE VC(2); COD_DEP VC(3); TEM_INS_ADM VC(1)",
    ),  # no key enforced, like a view
    table(
        "INS_ADM_ANU",
        "COD_ANU VC(4) NOT NULL; COD_IND N(8) NOT NULL; ETA_IAA VC(1); COD_RGI VC(1); "
        "COD_STU VC(2); COD_PRU VC(2); COD_SOC VC(2); TEM_BRS_IAA VC(1); DAT_CRE_IAA D; DAT_MOD_IAA D",
        ["COD_ANU", "COD_IND"],
    ),
    table(
        "INS_ADM_ETP",
        "COD_ANU VC(4) NOT NULL; COD_IND N(8) NOT NULL; COD_ETP VC(6) NOT NULL; "
        "COD_VRS_VET N(3) NOT NULL; NUM_OCC_IAE N(2) NOT NULL; COD_DIP VC(7) NOT NULL; COD_VRS_VDI N(3) NOT NULL; "
        "COD_CMP VC(3) NOT NULL; COD_CGE VC(3); ETA_IAE VC(1) NOT NULL; ETA_PMT_IAE VC(1); TEM_IAE_PRM VC(1); "
        "NBR_INS_ETP N(2); DAT_CRE_IAE D; DAT_ANNUL_RES_IAE D",
        ["COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "NUM_OCC_IAE"],
    ),
    table(
        "GRP_RESULTAT_VET",
        "COD_ETP VC(6); COD_VRS_VET N(3); COD_ANU VC(4); COD_SES VC(1); COD_ADM VC(1); "
        "ETA_AVC_VET VC(1); DAT_AVC_VET D",
    ),  # no key enforced, like a view
    table(
        "GRP_RESULTAT_VDI",
        "COD_DIP VC(7) NOT NULL; COD_VRS_VDI N(3) NOT NULL; COD_ANU VC(4) NOT NULL; "
        "COD_SES VC(1) NOT NULL; COD_ADM VC(1) NOT NULL; ETA_AVC_VDI VC(1); DAT_AVC_VDI D",
        ["COD_DIP", "COD_VRS_VDI", "COD_ANU", "COD_SES", "COD_ADM"],
    ),
    table(
        "RESULTAT_VET",
        "COD_IND N(8) NOT NULL; COD_ETP VC(6) NOT NULL; COD_VRS_VET N(3) NOT NULL; "
        "COD_ANU VC(4) NOT NULL; COD_SES VC(1) NOT NULL; COD_ADM VC(1) NOT NULL; NOT_VET N(8,3); "
        "NOT_SUB_VET VC(3); BAR_NOT_VET N(5); COD_TRE VC(4); COD_MEN VC(2); NOT_PNT_JUR_VET N(8,3); "
        "NBR_RNG_ETU_VET N(5); DAT_MOD_VET D",
        ["COD_IND", "COD_ETP", "COD_VRS_VET", "COD_ANU", "COD_SES", "COD_ADM"],
    ),
    table(
        "RESULTAT_VDI",
        "COD_IND N(8) NOT NULL; COD_DIP VC(7) NOT NULL; COD_VRS_VDI N(3) NOT NULL; "
        "COD_ANU VC(4) NOT NULL; COD_SES VC(1) NOT NULL; COD_ADM VC(1) NOT NULL; NOT_VDI N(8,3); "
        "NOT_SUB_VDI VC(3); BAR_NOT_VDI N(5); COD_TRE VC(4); COD_MEN VC(2); NOT_PNT_JUR_VDI N(8,3); "
        "NBR_RNG_ETU_VDI N(5); DAT_OBT_VDI D; NUM_OBT_VDI N",
        ["COD_IND", "COD_DIP", "COD_VRS_VDI", "COD_ANU", "COD_SES", "COD_ADM"],
    ),
    table(
        "RESULTAT_ELP",
        "COD_IND N(8) NOT NULL; COD_ELP VC(8) NOT NULL; COD_ANU VC(4) NOT NULL; "
        "COD_SES VC(1) NOT NULL; COD_ADM VC(1) NOT NULL; NOT_ELP N(8,3); NOT_SUB_ELP VC(3); BAR_NOT_ELP N(5); "
        "COD_TRE VC(4); COD_MEN VC(2); TEM_NOT_RPT_ELP VC(1)",
        ["COD_IND", "COD_ELP", "COD_ANU", "COD_SES", "COD_ADM"],
    ),
    table(
        "IND_CONTRAT_ELP",
        "COD_ANU VC(4) NOT NULL; COD_IND N(8) NOT NULL; COD_ETP VC(6) NOT NULL; "
        "COD_VRS_VET N(3) NOT NULL; COD_ELP VC(8) NOT NULL; TEM_PRC_ICE VC(1); DAT_CRE_ELP_CON D",
        ["COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET", "COD_ELP"],
    ),
    table(
        "IND_DISPENSE_ELP",
        "COD_ANU VC(4); COD_IND N(8); COD_ETP VC(6); COD_VRS_VET N(3); COD_ELP VC(8); "
        "DAT_DEC_ELP_VAA D; NOT_VAA N(8,3); BAR_NOT_VAA N(5)",
    ),  # no key enforced, like a view
    table(
        "THESE_HDR_SOUT",
        "COD_THS N(8) NOT NULL; COD_IND N(8) NOT NULL; COD_DIP VC(7); COD_VRS_VDI N(3); "
        "LIB_THS VC(2000); DAT_SOU_THS D; ETA_THS VC(1); COD_EDO VC(4); DAT_FIN_CFD_THS D",
        ["COD_THS"],
    ),
)


@dataclass(frozen=True)
class Stage:
    code: str
    label: str
    cycle: str
    cursus: str


@dataclass(frozen=True)
class Program:
    code: str
    label: str
    short: str
    kind: str  # TYP_DIPLOME
    faculty: str
    stages: tuple[Stage, ...]
    thesis: bool = False


def _licence(code: str, subject: str, short: str, faculty: str) -> Program:
    stages = tuple(Stage(f"L{n}{code}", f"Licence {n} {subject}", "1", "L") for n in (1, 2, 3))
    return Program(f"L{code}", f"Licence {subject}", f"Licence {short}", "05", faculty, stages)


def _master(code: str, subject: str, short: str, faculty: str) -> Program:
    stages = tuple(Stage(f"M{n}{code}", f"Master {n} {subject}", "2", "M") for n in (1, 2))
    return Program(f"M{code}", f"Master {subject}", f"Master {short}", "07", faculty, stages)


PROGRAMS: tuple[Program, ...] = (
    _licence("DRT", "Droit", "Droit", "DRT"),
    _licence("HAR", "Histoire de l'art et archéologie", "Hist. art", "HAR"),
    _licence("LMO", "Lettres modernes", "Lettres mod.", "LET"),
    _master("HAR", "Histoire de l'art", "Hist. art", "HAR"),
    _master("ECO", "Économie appliquée", "Éco. appl.", "ECO"),
    Program(
        "DHIS",
        "Doctorat Histoire de l'art",
        "Doctorat HA",
        "39",
        "HAR",
        (Stage("D1HIS", "Doctorat Histoire de l'art", "3", "D"),),
        thesis=True,
    ),
    Program(
        "HHIS",
        "Habilitation à diriger des recherches",
        "HDR",
        "40",
        "HAR",
        (Stage("H1HIS", "Habilitation à diriger des recherches", "3", "D"),),
        thesis=True,
    ),
)
TAUGHT = PROGRAMS[:5]
DOCTORATE, HDR = PROGRAMS[5], PROGRAMS[6]

COMPOSANTES: tuple[Row, ...] = (
    ("DRT", "UFR Droit et science politique", "UFR DSP", "UFR", "O"),
    ("ECO", "Faculté d'économie et de gestion", "FEG", "FAC", "O"),
    ("HAR", "UFR Histoire de l'art et archéologie", "UFR HAA", "UFR", "O"),
    ("LET", "UFR Lettres, langues, sciences humaines", "UFR LLSH", "UFR", "N"),
)
TYP_DIPLOMES: tuple[Row, ...] = (
    ("05", "Licence", "Licence"),
    ("07", "Master", "Master"),
    ("39", "Doctorat", "Doctorat"),
    ("40", "Habilitation à diriger des recherches", "HDR"),
)
TYP_RESULTATS: tuple[Row, ...] = (
    ("ADM", "Admis", "Admis", 1, "O"),
    ("AJ", "Ajourné", "Ajourné", 0, "O"),
    ("ABI", "Absence injustifiée", "Abs. injust.", 0, "O"),
    ("ABJ", "Absence justifiée", "Abs. just.", 0, "O"),
    ("CMP", "Admis par compensation", "Compensé", 1, "O"),
    ("DEF", "Défaillant", "Défaillant", 0, "N"),
)
MENTIONS: tuple[Row, ...] = (
    ("P", "Passable", "Passable"),
    ("AB", "Assez bien", "Assez bien"),
    ("B", "Bien", "Bien"),
    ("TB", "Très bien", "Très bien"),
)
PAYS: tuple[Row, ...] = (
    ("100", "France", "France", "française", "O"),
    ("127", "Italie", "Italie", "italienne", "O"),
    ("134", "Espagne", "Espagne", "espagnole", "O"),
    ("139", "Portugal", "Portugal", "portugaise", "O"),
    ("216", "Chine", "Chine", "chinoise", "O"),
    ("341", "Sénégal", "Sénégal", "sénégalaise", "O"),
    ("350", "Maroc", "Maroc", "marocaine", "O"),
    ("352", "Algérie", "Algérie", "algérienne", "O"),
    ("401", "Canada", "Canada", "canadienne", "O"),
    ("326", "Côte d'Ivoire", "Côte d’Ivoire", "ivoirienne", "O"),
    ("999", "Pays inconnu", "Inconnu", "", "N"),  # the empty string, not NULL
)
DEPARTEMENTS: tuple[Row, ...] = (
    ("025", "Doubs", "Doubs", "03", "O"),
    ("042", "Loire", "Loire", "10", "O"),
    ("045", "Loiret", "Loiret", "18", "O"),
    ("069", "Rhône", "Rhône", "10", "O"),
    ("075", "Paris", "Paris", "01", "O"),
    ("094", "Val-de-Marne", "Val-Marne", "24", "O"),
    ("971", "Guadeloupe", "Guadeloupe", "32", "O"),
    ("099", "Étranger", "Étranger", None, "O"),
)
ETABLISSEMENTS: tuple[Row, ...] = (
    ("0751717J", "Université Paris Nord-Sud", "Université Paris Nord-Sud (fictive)", "00", "075", "100"),
    ("0250007X", "Lycée Victor-Hugo", "Lycée général Victor-Hugo, Besançon", "10", "025", "100"),
    ("0420034D", "Lycée Claude-Fauriel", "Lycée Claude-Fauriel, Saint-Étienne", "10", "042", "100"),
    ("0450042R", "Lycée Pothier", "Lycée Pothier, Orléans", "10", "045", "100"),
    ("0690026D", "Lycée du Parc", "Lycée du Parc, Lyon", "10", "069", "100"),
    ("0750655E", "Lycée Henri-IV", "Lycée Henri-IV, Paris", "10", "075", "100"),
    ("0941918Z", "Lycée Léon-Blum", "Lycée Léon-Blum, Créteil", "10", "094", "100"),
    ("9710003B", "Lycée Baimbridge", "Lycée de Baimbridge, Les Abymes", "10", "971", "100"),
    ("9990001A", "Lycée français de l'étranger", "Lycée français à l’étranger", "10", "099", "999"),
)
SCHOOLS = tuple(row[0] for row in ETABLISSEMENTS[1:])
SCHOOL_DEPARTMENT = {row[0]: row[4] for row in ETABLISSEMENTS}
BACS: tuple[Row, ...] = (
    ("S", "Série scientifique", "Bac S", "N"),
    ("ES", "Série économique et sociale", "Bac ES", "N"),
    ("L", "Série littéraire", "Bac L", "N"),
    ("STMG", "Sciences et technologies du management et de la gestion", "Bac STMG", "O"),
    ("GEN", "Baccalauréat général", "Bac général", "O"),
    ("0031", "Titre étranger admis en équivalence", "Équivalence", "O"),
    ("DAEU", "Diplôme d'accès aux études universitaires", "DAEU", "O"),
)
MENTIONS_BAC: tuple[Row, ...] = (
    ("P", "Passable", "Passable"),
    ("AB", "Assez bien", "AB"),
    ("B", "Bien", "Bien"),
    ("TB", "Très bien", "TB"),
)


def tables(params: Parameters) -> ToolTables:
    if params.size < MIN_STUDENTS:
        raise ValueError(f"students must be at least {MIN_STUDENTS}, got {params.size}")
    world = _World(params)
    per_student = {
        "INDIVIDU": world.individu,
        "ADRESSE": world.adresse,
        "IND_BAC": world.ind_bac,
        "INS_ADM_ANU": world.iaa,
        "INS_ADM_ETP": world.iae,
        "RESULTAT_VET": world.resultat_vet,
        "RESULTAT_VDI": world.resultat_vdi,
        "RESULTAT_ELP": world.resultat_elp,
        "IND_CONTRAT_ELP": world.contrat,
        "IND_DISPENSE_ELP": world.dispense,
        "THESE_HDR_SOUT": world.these,
    }
    factories: dict[str, RowFactory] = {}
    factories.update(
        {
            "COMPOSANTE": world.composantes,
            "TYP_DIPLOME": lambda: iter(TYP_DIPLOMES),
            "DIPLOME": world.diplomes,
            "VERSION_DIPLOME": world.versions_diplome,
            "ETAPE": lambda: ((s.code, s.label, s.label[:25], s.cycle, s.cursus) for p in PROGRAMS for s in p.stages),
            "VERSION_ETAPE": lambda: (
                (s.code, 1, s.label, p.faculty, "O" if p.thesis else "N") for p in PROGRAMS for s in p.stages
            ),
            "ELEMENT_PEDAGOGI": world.elements,
            "TYP_RESULTAT": lambda: iter(TYP_RESULTATS),
            "MENTION": lambda: iter(MENTIONS),
            "PAYS": lambda: iter(PAYS),
            "DEPARTEMENT": lambda: iter(DEPARTEMENTS),
            "ETABLISSEMENT": lambda: iter(ETABLISSEMENTS),
            "BAC_OUX_EQU": lambda: iter(BACS),
            "MENTION_NIV_BAC": lambda: iter(MENTIONS_BAC),
            "ANNEE_UNI": world.annees,
            "PERSONNEL": world.personnel,
            "GRP_RESULTAT_VET": world.groupes_vet,
            "GRP_RESULTAT_VDI": world.groupes_vdi,
        }
    )
    return ToolTables(TABLES, factories, tuple(per_student), world.entities(per_student))


@dataclass
class _Registration:
    year: int
    program: Program
    stage: Stage
    occurrence: int
    valid: bool
    main: bool
    count: int  # NBR_INS_ETP: how many times registered to this stage


@dataclass
class _Student:
    index: int
    cod_ind: int
    who: Person
    applicant: bool
    registrations: list[_Registration]
    grades: dict[tuple[int, str], tuple[list[tuple[str, int | None]], bool]] = field(default_factory=dict)
    retaken: dict[tuple[int, str], list[tuple[str, int | None]]] = field(default_factory=dict)


def grade_text(milli: int) -> str:
    return f"{milli // 1000}.{milli % 1000:03d}"


def _mention(milli: int) -> str | None:
    for threshold, code in ((16_000, "TB"), (14_000, "B"), (12_000, "AB"), (10_000, "P")):
        if milli >= threshold:
            return code
    return None


def elp_codes(stage: Stage) -> tuple[str, ...]:
    return tuple(f"{stage.code}{n:02d}" for n in range(1, ELPS_PER_STAGE + 1))


class _World:
    def __init__(self, params: Parameters) -> None:
        self.p = params
        self.years = params.years
        self.last = params.years[-1]

    # ------------------------------------------------------------ students

    def entities(
        self, methods: Mapping[str, Callable[[_Student], Iterator[Row]]]
    ) -> Callable[[], Iterator[EntityRows]]:
        def walk() -> Iterator[EntityRows]:
            for index in range(self.p.size):
                student = self.student(index)
                yield {name: method(student) for name, method in methods.items()}

        return walk

    def student(self, index: int) -> _Student:
        rng = self.p.rng("apogee", "career", index)
        who = person(self.p, "student", index)
        fixed_last = 5 <= index < MIN_STUDENTS or index in (0, 1, 2, 3)
        first_year = self.last if fixed_last else who.first_year
        applicant = index == 4 or (index >= MIN_STUDENTS and rng.random() < 0.05)
        registrations: list[_Registration] = []
        if not applicant:
            if index == 5:
                plan = [(self.last, PROGRAMS[3], 1)]
            elif index == 7:
                plan = [(self.last, DOCTORATE, 0)]
            elif 8 <= index <= 11:  # where nasty=True plants its values: L1 Droit of the last year
                plan = [(self.last, PROGRAMS[0], 0)]
            else:
                plan = self.plan(rng, first_year)
            counts: dict[str, int] = {}
            for year, program, stage_index in plan:
                stage = program.stages[stage_index]
                counts[stage.code] = counts.get(stage.code, 0) + 1
                if rng.random() < 0.04:  # cancelled, then registered again
                    registrations.append(_Registration(year, program, stage, 1, False, True, counts[stage.code]))
                    registrations.append(_Registration(year, program, stage, 2, True, True, counts[stage.code]))
                else:
                    registrations.append(_Registration(year, program, stage, 1, True, True, counts[stage.code]))
                if not program.thesis and stage_index == 0 and rng.random() < 0.04:  # double cursus
                    others = [p for p in TAUGHT if p is not program and p.kind == program.kind]
                    other = others[rng.randrange(len(others))]
                    registrations.append(_Registration(year, other, other.stages[0], 1, True, False, 1))
        return _Student(index, FIRST_COD_IND + index, who, applicant, registrations)

    def plan(self, rng, first_year: int) -> list[tuple[int, Program, int]]:  # type: ignore[no-untyped-def]
        draw = rng.random()
        program = DOCTORATE if draw < 0.05 else HDR if draw < 0.06 else TAUGHT[rng.randrange(len(TAUGHT))]
        years = [y for y in self.years if y >= first_year]
        if program is HDR:
            return [(years[0], program, 0)]
        if program is DOCTORATE:
            return [(y, program, 0) for y in years[: rng.randint(3, 4)]]
        plan, stage_index = [], 0
        for year in years:
            plan.append((year, program, stage_index))
            if stage_index == len(program.stages) - 1 or rng.random() < 0.06:  # done or dropped out
                break
            if rng.random() < 0.85:  # otherwise the year is repeated
                stage_index += 1
        return plan

    def individu(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "identity", s.index)
        who = s.who
        surname, usage, (first, second, third), town = who.surname, who.usage_name, who.first_names, who.town
        birth: object = who.birth.isoformat()
        real_birth, created = "O", date(who.first_year, rng.randint(5, 9), rng.randint(1, 28)).isoformat()
        external: object = str(rng.randrange(10**37, 10**38)) if not s.applicant else None
        if s.index == 0:
            external = nasty.WIDEST_NUMBER
        elif s.index == 1:
            birth, real_birth, created = nasty.UNKNOWN_BIRTH.isoformat(), "N", nasty.PLACEHOLDER_DATE.isoformat()
        elif s.index == 2:
            surname, first, town = "CŒURDEROY", "Lætitia", "Vœuil-et-Giget"
        elif s.index == 3:
            surname, usage, first, town = "O'BRIEN", "L’HÔTE", "Anaïs", "L'Haÿ-les-Roses"
        elif s.index == 6:
            usage, second = "", ""
        elif self.p.nasty and s.index == 8:
            surname, first = nasty.MOJIBAKE_SURNAME, nasty.MOJIBAKE_FIRST_NAME
        elif self.p.nasty and s.index == 9:
            surname, first, town = nasty.CONTROL_SURNAME, nasty.CONTROL_FIRST_NAME, nasty.CONTROL_TOWN
        foreign = who.nationality != "100" and rng.random() < 0.7
        yield (
            s.cod_ind,
            None if s.applicant else 21_000_001 + s.index,
            f"{rng.randrange(10**9, 10**10)}",
            "ABCDEFGHJK"[rng.randrange(10)],
            "O" if rng.random() < 0.02 else "N",
            surname,
            usage,
            first,
            second,
            third,
            birth,
            real_birth,
            who.sex,
            "2" if who.sex == "F" else "1",
            town,
            who.nationality if foreign else DEPARTEMENTS[rng.randrange(len(DEPARTEMENTS) - 1)][0],
            "P" if foreign else "D",
            who.nationality,
            ETABLISSEMENTS[0][0],
            str(who.first_year),
            "02" if s.index == 6 else ("01" if rng.random() < 0.03 else None),  # COD_THP: health data
            rng.choice("1112345"),
            created,
            None if rng.random() < 0.5 else date(self.last, rng.randint(1, 8), rng.randint(1, 28)).isoformat(),
            external,
        )

    def adresse(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "address", s.index)
        base = s.index * 64
        street = nasty.STREETS[rng.randrange(len(nasty.STREETS))]
        yield self._address(rng, base, s.cod_ind, None, None, street, s.index == 6)
        for k, year in enumerate(sorted({r.year for r in s.registrations if r.valid})):
            if rng.random() < 0.6:
                yield self._address(rng, base + 1 + k, None, s.cod_ind, str(year), "résidence universitaire", False)

    def _address(self, rng, cod_adr, cod_ind, cod_ind_ina, year, street, empty):  # type: ignore[no-untyped-def]
        return (
            cod_adr,
            cod_ind,
            cod_ind_ina,
            year,
            f"{rng.randint(1, 120)} {street}"[:32],
            "" if empty else (f"bâtiment {rng.choice('ABC')}" if rng.random() < 0.3 else None),
            None,
            None,
            f"{rng.choice(('75', '94', '25', '42'))}{rng.randint(0, 999):03d}",
            f"{rng.randint(10000, 99999)}",
            "100",
            f"01{rng.randint(10**7, 10**8 - 1)}",
            f"06{rng.randint(10**7, 10**8 - 1)}",
            f"etudiant{cod_adr}@example.invalid",
        )

    def ind_bac(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "bac", s.index)
        school = SCHOOLS[rng.randrange(len(SCHOOLS))]
        code = BACS[rng.randrange(len(BACS))][0]
        row = (
            s.cod_ind,
            code,
            str(s.who.birth.year + 18),
            MENTIONS_BAC[rng.randrange(4)][0],
            school,
            "10",
            SCHOOL_DEPARTMENT[school],
            "O",
        )
        yield row
        if self.p.nasty and s.index == 10:
            yield row  # a duplicate: the registration register's key is duplicated
        if rng.random() < 0.03:  # a second, older qualification that gives no access
            yield (
                s.cod_ind,
                "DAEU",
                str(s.who.birth.year + 20),
                None,
                SCHOOLS[0],
                "10",
                SCHOOL_DEPARTMENT[SCHOOLS[0]],
                "N",
            )

    def iaa(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "iaa", s.index)
        for year in sorted({r.year for r in s.registrations}):
            grant = rng.random() < 0.3
            yield (
                str(year),
                s.cod_ind,
                "E",
                rng.choice("11124"),
                "01",
                "NO",
                "BO" if grant else "NO",
                "O" if grant else "N",
                date(year, rng.randint(7, 9), rng.randint(1, 28)).isoformat(),
                None,
            )

    def iae(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "iae", s.index)
        for r in s.registrations:
            created = date(r.year, rng.randint(7, 9), rng.randint(1, 28))
            yield (
                str(r.year),
                s.cod_ind,
                r.stage.code,
                1,
                r.occurrence,
                r.program.code,
                1,
                r.program.faculty,
                r.program.faculty,
                "E" if r.valid else "A",
                "A" if rng.random() < 0.05 else "P",
                "O" if r.main else "N",
                r.count,
                created.isoformat(),
                None if r.valid else date(r.year, 10, rng.randint(1, 28)).isoformat(),
            )

    def _grades(self, s: _Student, r: _Registration) -> tuple[list[tuple[str, int | None]], bool]:
        """Session-1 element grades (None: absent) and whether the stage is passed (computed once)."""
        key = (r.year, r.stage.code)
        if key not in s.grades:
            s.grades[key] = self._draw_grades(s, r)
        return s.grades[key]

    def _draw_grades(self, s: _Student, r: _Registration) -> tuple[list[tuple[str, int | None]], bool]:
        rng = self.p.rng("apogee", "grades", s.index, r.year, r.stage.code)
        codes = elp_codes(r.stage)
        chosen = sorted(rng.sample(range(COMPULSORY, ELPS_PER_STAGE), CHOSEN))
        level = rng.gauss(11.5, 2.5)
        grades: list[tuple[str, int | None]] = []
        for n in [*range(COMPULSORY), *chosen]:
            if rng.random() < 0.02:
                grades.append((codes[n], None))
            else:
                grades.append((codes[n], max(0, min(20_000, int((level + rng.gauss(0, 3)) * 1000)))))
        if s.index == 5:
            grades = [(code, 15_250) for code, _ in grades]
        marks = [g for _, g in grades if g is not None]
        passed = len(marks) == len(grades) and sum(marks) // len(marks) >= 10_000
        return grades, passed

    def _stage_results(self, s: _Student, r: _Registration) -> Iterator[tuple[str, int | None, bool]]:
        """(session, average, passed) for each session held."""
        grades, passed = self._grades(s, r)
        marks = [g for _, g in grades if g is not None]
        average = sum(marks) // len(marks) if len(marks) == len(grades) else None
        yield "1", average, passed
        if not passed:
            retaken = self._second_session(s, r, grades)
            marks2 = [g for _, g in retaken if g is not None]
            average2 = sum(marks2) // len(marks2) if len(marks2) == len(retaken) else None
            yield "2", average2, average2 is not None and average2 >= 10_000

    def _second_session(self, s: _Student, r: _Registration, grades):  # type: ignore[no-untyped-def]
        key = (r.year, r.stage.code)
        if key not in s.retaken:
            s.retaken[key] = self._draw_second_session(s, r, grades)
        return s.retaken[key]

    def _draw_second_session(self, s: _Student, r: _Registration, grades):  # type: ignore[no-untyped-def]
        rng = self.p.rng("apogee", "session2", s.index, r.year, r.stage.code)
        retaken = []
        for code, grade in grades:
            if grade is None or grade < 10_000:
                retaken.append((code, None if rng.random() < 0.1 else rng.randint(5_000, 16_000)))
            else:
                retaken.append((code, grade))
        return retaken

    def _taught(self, s: _Student) -> Iterator[_Registration]:
        return (r for r in s.registrations if r.valid and not r.program.thesis)

    def resultat_elp(self, s: _Student) -> Iterator[Row]:
        for r in self._taught(s):
            year = str(r.year)
            grades, passed = self._grades(s, r)
            for code, grade in grades:
                yield _elp_row(s.cod_ind, code, year, "1", grade, False)
            if not passed:
                for (code, first), (_, second) in zip(grades, self._second_session(s, r, grades), strict=True):
                    if first is None or first < 10_000:
                        yield _elp_row(s.cod_ind, code, year, "2", second, False)
                    else:
                        yield _elp_row(s.cod_ind, code, year, "2", second, True)

    def resultat_vet(self, s: _Student) -> Iterator[Row]:
        for r in self._taught(s):
            for session, average, passed in self._stage_results(s, r):
                yield (
                    s.cod_ind, r.stage.code, 1, str(r.year), session, "1",
                    None if average is None else grade_text(average),
                    "ABI" if average is None else None,
                    20,
                    "ADM" if passed else ("ABI" if average is None else "AJ"),
                    _mention(average) if passed and average is not None else None,
                    None, None,
                    date(r.year + 1, 6 if session == "1" else 7, 20).isoformat(),
                )  # fmt: skip

    def resultat_vdi(self, s: _Student) -> Iterator[Row]:
        for r in s.registrations:
            if not r.valid or not r.main:
                continue
            last_stage = r.stage is r.program.stages[-1]
            if r.program.thesis:
                defended = s.index == 7 or r.year == self._defence_year(s)
                if not defended:
                    continue
                average, passed = None, True
            elif last_stage:
                results = list(self._stage_results(s, r))
                _session, average, passed = results[-1]
            else:
                continue
            number = (r.year + 1) * 10_000_000 + s.index if passed else None
            obtained = None
            if passed:
                obtained = (nasty.END_OF_TIME if s.index == 5 else date(r.year + 1, 7, 10)).isoformat()
            yield (
                s.cod_ind, r.program.code, 1, str(r.year), "0", "1",
                None if average is None else grade_text(average),
                None, None if average is None else 20,
                "ADM" if passed else "AJ",
                _mention(average) if passed and average is not None else None,
                None, None, obtained, number,
            )  # fmt: skip

    def _defence_year(self, s: _Student) -> int | None:
        thesis = [r for r in s.registrations if r.valid and r.program.thesis]
        if not thesis:
            return None
        if thesis[0].program is HDR:
            return thesis[0].year
        # Doctorates: defended at the end of the third or fourth year, if that year is in the source.
        planned = len(thesis) >= 3 and (len(thesis) == 4 or self.p.rng("apogee", "defence", s.index).random() < 0.6)
        return thesis[-1].year if planned else None

    def these(self, s: _Student) -> Iterator[Row]:
        year = self.last if s.index == 7 else self._defence_year(s)
        if year is None:
            return
        rng = self.p.rng("apogee", "these", s.index)
        program = next(r.program for r in s.registrations if r.program.thesis)
        title = (
            nasty.long_text(1_800) if s.index == 7 else f"L'œuvre de {rng.choice(nasty.SURNAMES)} : étude « critique »"
        )
        defence = date(year + 1, rng.randint(1, 6), rng.randint(1, 28))
        confidential = rng.random() < 0.1
        yield (
            500_000 + s.index, s.cod_ind, program.code, 1, title, defence.isoformat(), "S", "ED42",
            date(year + 6, defence.month, defence.day).isoformat() if confidential else None,
        )  # fmt: skip

    def contrat(self, s: _Student) -> Iterator[Row]:
        for r in self._taught(s):
            grades, _ = self._grades(s, r)
            repeated = "O" if r.count > 1 else "N"
            for code, _grade in grades[COMPULSORY:]:
                yield (str(r.year), s.cod_ind, r.stage.code, 1, code, repeated, date(r.year, 10, 1).isoformat())

    def dispense(self, s: _Student) -> Iterator[Row]:
        rng = self.p.rng("apogee", "dispense", s.index)
        for r in self._taught(s):
            if rng.random() < 0.04:
                code = elp_codes(r.stage)[rng.randrange(COMPULSORY)]
                yield (
                    str(r.year),
                    s.cod_ind,
                    r.stage.code,
                    1,
                    code,
                    date(r.year, 10, 15).isoformat(),
                    grade_text(rng.randint(10_000, 16_000)),
                    20,
                )
        if self.p.nasty and s.index == 11:
            r = s.registrations[0]
            yield (str(r.year), s.cod_ind, r.stage.code, 1, None, date(r.year, 10, 15).isoformat(), None, None)

    # ------------------------------------------------------------ reference and year tables

    def composantes(self) -> Iterator[Row]:
        for row in COMPOSANTES:
            comment = nasty.long_text(40_000) if row[0] == "HAR" else ("" if row[0] == "LET" else None)
            yield (*row, comment)

    def diplomes(self) -> Iterator[Row]:
        for p in PROGRAMS:
            comment = nasty.huge_text() if self.p.nasty and p.code == "LHAR" else None
            yield (p.code, p.label, p.short, p.kind, comment)

    def versions_diplome(self) -> Iterator[Row]:
        for p in PROGRAMS:
            yield (p.code, 1, f"{p.label} (version 1)", p.short, len(p.stages) if not p.thesis else 3)

    def elements(self) -> Iterator[Row]:
        for p in PROGRAMS:
            for st in p.stages:
                if p.thesis:
                    continue
                for n, code in enumerate(elp_codes(st), start=1):
                    comment = nasty.long_text(2_000) if code == "L1DRT01" else ("" if code == "L1DRT02" else None)
                    kind = "UE" if n <= COMPULSORY else "OPT"
                    yield (
                        code,
                        f"UE {n} — {st.label}"[:60],
                        f"UE{n} {st.code}",
                        kind,
                        p.faculty,
                        f"S{1 + (n > 6)}",
                        "O",
                        "6.00" if n <= COMPULSORY else "3.00",
                        comment,
                    )

    def annees(self) -> Iterator[Row]:
        for year in self.years:
            yield (
                str(year),
                f"Année universitaire {year}/{year + 1}",
                f"{year}-{str(year + 1)[2:]}",
                "O" if year == self.last else "F",
            )

    def personnel(self) -> Iterator[Row]:
        for k in range(max(20, self.p.size // 20)):
            who = person(self.p, "agent", k)
            linked = k % 4 != 3  # the others are outside jury members, unknown to Harpège
            yield (
                f"P{k + 1:05d}",
                who.surname,
                who.usage_name,
                who.first_names[0],
                who.birth.isoformat(),
                agent_number(k) if linked else None,
            )

    def groupes_vet(self) -> Iterator[Row]:
        for year in self.years:
            for p in TAUGHT:
                for st in p.stages:
                    for session, month in (("1", 6), ("2", 7)):
                        row = (st.code, 1, str(year), session, "1", "T", date(year + 1, month, 15).isoformat())
                        yield row
                        if self.p.nasty and year == self.last and st.code == "L1DRT" and session == "1":
                            yield row

    def groupes_vdi(self) -> Iterator[Row]:
        for year in self.years:
            for p in PROGRAMS:
                yield (
                    p.code,
                    1,
                    str(year),
                    "0",
                    "1",
                    "T" if year < self.last else "E",
                    date(year + 1, 7, 5).isoformat(),
                )


def _elp_row(cod_ind: int, code: str, year: str, session: str, grade: int | None, carried: bool) -> Row:
    if grade is None:
        return (cod_ind, code, year, session, "1", None, "ABJ", 20, "ABJ", None, "N")
    return (
        cod_ind,
        code,
        year,
        session,
        "1",
        grade_text(grade),
        None,
        20,
        "ADM" if grade >= 10_000 else "AJ",
        None,
        "O" if carried else "N",
    )


__all__ = ["GENERATOR_VERSION", "MIN_STUDENTS", "NATIONALITIES", "TABLES", "tables"]
