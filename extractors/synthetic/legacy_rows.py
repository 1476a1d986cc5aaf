"""Rows of the synthetic Apogée-like source, drawn from one seeded ``random.Random``.

Everything is fictitious. Rows are tuples in the column order of ``synthetic_schema.DDL``;
dates are ISO text and decimals are text, the way SQLite stores them.

A few individuals are fixed so that the awkward-but-legitimate values are always present, even
with few students (the demo must still pass the quality checks):

- #0 carries the widest 38-digit technical identifier;
- #1 has the 1900-01-01 "unknown birth date" placeholder;
- #2 and #3 have Œ/œ, ï, ÿ and apostrophes in their names and birth towns;
- #4 is an applicant, with no student number (``COD_ETU`` NULL) and no registration;
- #5 obtains a master's degree whose ``DAT_OBT_VDI`` is Oracle's 9999-12-31 "end of time".

The fixed results belong to the last academic year, the one a yearly extraction selects.

``nasty=True`` adds what a real extraction must *stop* on or flag: Latin-1 mojibake and C0/C1
control characters in names (#6, #7), a 2 MB comment, a ``0000-00-00`` date, and duplicate and
NULL keys in ``IND_BAC`` (which has no primary key, like an extraction view).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

Row = tuple[object, ...]

MIN_STUDENTS = 8  # the fixed individuals above

WIDEST_IDENTIFIER = "9" * 38
UNKNOWN_BIRTH = date(1900, 1, 1)
END_OF_TIME = date(9999, 12, 31)
LONG_COMMENT_CHARS = 40_000
HUGE_COMMENT_CHARS = 2 * 1024 * 1024
OUT_OF_RANGE_DATE = "0000-00-00"

_COMMENT = (
    "Délibération du conseil de l'UFR : les maquettes de l'année sont reconduites ; "
    "l'œuvre des équipes pédagogiques, leur cœur à l'ouvrage et la sûreté des épreuves "
    "sont salués. "
)
_HUGE = "Pièce jointe recopiée dans le commentaire, ligne après ligne : « reçu, vérifié ». "


@dataclass(frozen=True)
class _Stage:
    code: str
    label: str
    short: str
    cycle: str
    cursus: str


@dataclass(frozen=True)
class _Program:
    code: str
    label: str
    short: str
    kind: str
    faculty: str
    stages: tuple[_Stage, ...]


def _licence(code: str, subject: str, short: str, faculty: str) -> _Program:
    stages = tuple(_Stage(f"L{n}{code}", f"Licence {n} {subject}", f"L{n} {short}", "1", "L") for n in (1, 2, 3))
    return _Program(f"L{code}", f"Licence {subject}", f"Licence {short}", "05", faculty, stages)


def _master(code: str, subject: str, short: str, faculty: str) -> _Program:
    stages = tuple(_Stage(f"M{n}{code}", f"Master {n} {subject}", f"M{n} {short}", "2", "M") for n in (1, 2))
    return _Program(f"M{code}", f"Master {subject}", f"Master {short}", "07", faculty, stages)


PROGRAMS: tuple[_Program, ...] = (
    _licence("DRT", "Droit", "Droit", "DRT"),
    _licence("HAR", "Histoire de l'art et archéologie", "Hist. art", "HAR"),
    _licence("LMO", "Lettres modernes", "Lettres mod.", "LET"),
    _master("HAR", "Histoire de l'art", "Hist. art", "HAR"),
    _master("ECO", "Économie appliquée", "Éco. appl.", "ECO"),
)

COMPOSANTES: tuple[Row, ...] = (
    ("DRT", "UFR Droit et science politique", "UFR DSP", "UFR", "O"),
    ("ECO", "Faculté d'économie et de gestion", "FEG", "FAC", "O"),
    ("HAR", "UFR Histoire de l'art et archéologie", "UFR HAA", "UFR", "O"),
    ("LET", "UFR Lettres, langues, sciences humaines", "UFR LLSH", "UFR", "O"),
)

TYP_RESULTATS: tuple[Row, ...] = (
    ("ADM", "Admis", "Admis", 1, "O"),
    ("AJ", "Ajourné", "Ajourné", 0, "O"),
    ("ABI", "Absence injustifiée", "Abs. injust.", 0, "O"),
    ("ABJ", "Absence justifiée", "Abs. just.", 0, "O"),
    ("CMP", "Admis par compensation", "Compensé", 1, "O"),
    ("DEF", "Défaillant", "Défaillant", 0, "O"),
)

MENTIONS: tuple[Row, ...] = (
    ("P", "Passable", "Passable"),
    ("AB", "Assez bien", "Assez bien"),
    ("B", "Bien", "Bien"),
    ("TB", "Très bien", "Très bien"),
)

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
        "Hélène",
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
NATIONALITIES = ("100",) * 12 + ("352", "350", "341", "401", "127", "134", "139", "216")
BACS = ("S", "ES", "L", "STMG", "STI2", "0031")


class _Generator:
    """Accumulates the rows of every table while walking the students' careers."""

    def __init__(self, rng: random.Random, years: Sequence[int], nasty: bool) -> None:
        self.rng = rng
        self.years = tuple(years)
        self.nasty = nasty
        self.tables: dict[str, list[Row]] = {"INDIVIDU": [], "IND_BAC": [], "INS_ADM_ETP": [], "RESULTAT_VDI": []}
        self.diploma_number = 0

    def day(self, year: int, months: tuple[int, int]) -> str:
        month = self.rng.randint(*months)
        return date(year, month, self.rng.randint(1, 28)).isoformat()

    def individual(self, index: int) -> None:
        rng = self.rng
        cod_ind = 100_001 + index
        applicant = index == 4 or (index >= MIN_STUDENTS and rng.random() < 0.08)
        sex = rng.choice("FM")
        surname = rng.choice(SURNAMES)
        first_year = self.years[-1] if index == 5 else rng.choice(self.years)
        birth = date(first_year - rng.randint(18, 25), rng.randint(1, 12), rng.randint(1, 28))
        row: dict[str, object] = {
            "COD_IND": cod_ind,
            "COD_ETU": None if applicant else 21_000_001 + index,
            "COD_NNE_IND": str(rng.randrange(10**9, 10**10)),
            "COD_CLE_NNE_IND": rng.choice("ABCDEFGHJK"),
            "LIB_NOM_PAT_IND": surname,
            "LIB_NOM_USU_IND": rng.choice(SURNAMES) if sex == "F" and rng.random() < 0.15 else None,
            "LIB_PR1_IND": rng.choice(FIRST_NAMES[sex]),
            "DATE_NAI_IND": birth.isoformat(),
            "COD_SEX_ETU": sex,
            "LIB_VIL_NAI_ETU": rng.choice(TOWNS),
            "COD_PAY_NAT": rng.choice(NATIONALITIES),
            "DAT_CRE_IND": self.day(first_year, (5, 9)),
            "NUM_IDT_EXT_IND": None if applicant else str(rng.randrange(10**37, 10**38)),
        }
        row.update(self.fixed_identity(index))
        self.tables["INDIVIDU"].append(tuple(row.values()))
        self.bac(cod_ind, birth.year)
        if not applicant:
            self.career(cod_ind, index, first_year)

    def fixed_identity(self, index: int) -> dict[str, object]:
        fixed: dict[int, dict[str, object]] = {
            0: {"NUM_IDT_EXT_IND": WIDEST_IDENTIFIER},
            1: {"DATE_NAI_IND": UNKNOWN_BIRTH.isoformat()},
            2: {
                "COD_SEX_ETU": "F",
                "LIB_NOM_PAT_IND": "CŒURDEROY",
                "LIB_PR1_IND": "Chloé",
                "LIB_VIL_NAI_ETU": "Vœuil-et-Giget",
            },
            3: {
                "COD_SEX_ETU": "F",
                "LIB_NOM_PAT_IND": "N'DIAYE",
                "LIB_NOM_USU_IND": "D'ALMEIDA-LŒUILLET",
                "LIB_PR1_IND": "Anaïs",
                "LIB_VIL_NAI_ETU": "L'Haÿ-les-Roses",
            },
        }
        if self.nasty:
            fixed[6] = {"COD_SEX_ETU": "F", "LIB_NOM_PAT_IND": "FRANÃ‡OIS", "LIB_PR1_IND": "HÃ©loÃ¯se"}
            fixed[7] = {
                "COD_SEX_ETU": "F",
                "LIB_NOM_PAT_IND": "MARTIN\x0bDUPONT",
                "LIB_PR1_IND": "Zoé\x01",
                "LIB_VIL_NAI_ETU": "Orléans\x85",
            }
        return fixed.get(index, {})

    def bac(self, cod_ind: int, birth_year: int) -> None:
        rng = self.rng
        school = f"0{rng.randint(10, 95)}{rng.randint(1000, 9999)}{rng.choice('ABCDEFGH')}"
        department = f"0{rng.randint(10, 95)}"
        mention = rng.choice(("P", "AB", "B", "TB"))
        row = (cod_ind, rng.choice(BACS), str(birth_year + 18), mention, school, department)
        self.tables["IND_BAC"].append(row)

    def career(self, cod_ind: int, index: int, first_year: int) -> None:
        """Registrations year after year, a diploma result at the end of each programme."""
        rng = self.rng
        # Individual #5 goes straight to M2 Histoire de l'art, then obtains the diploma.
        path = [(self.years[-1], PROGRAMS[3], 1)] if index == 5 else self.path(first_year)
        for year, program, stage_index in path:
            stage = program.stages[stage_index]
            self.registration(cod_ind, year, program, stage)
            if rng.random() < 0.05 and stage_index == 0:  # a secondary registration (double cursus)
                other = rng.choice([p for p in PROGRAMS if p is not program and p.kind == program.kind])
                self.iae(cod_ind, year, other, other.stages[0], occurrence=1, main=False)
            if stage_index == len(program.stages) - 1:
                self.result(cod_ind, year, program, forced=index == 5)

    def path(self, first_year: int) -> list[tuple[int, _Program, int]]:
        rng = self.rng
        program = rng.choice(PROGRAMS)
        stage_index = 0
        path = []
        for year in (y for y in self.years if y >= first_year):
            path.append((year, program, stage_index))
            if stage_index == len(program.stages) - 1 or rng.random() < 0.08:  # done or dropped out
                break
            if rng.random() < 0.8:  # otherwise the year is repeated
                stage_index += 1
        return path

    def registration(self, cod_ind: int, year: int, program: _Program, stage: _Stage) -> None:
        # A cancelled registration ('A') is followed by a new occurrence of the same stage.
        if self.rng.random() < 0.05:
            self.iae(cod_ind, year, program, stage, occurrence=1, main=True, state="A")
            self.iae(cod_ind, year, program, stage, occurrence=2, main=True)
        else:
            self.iae(cod_ind, year, program, stage, occurrence=1, main=True)

    def iae(
        self,
        cod_ind: int,
        year: int,
        program: _Program,
        stage: _Stage,
        *,
        occurrence: int,
        main: bool,
        state: str = "E",
    ) -> None:
        paid = "A" if self.rng.random() < 0.07 else "P"
        self.tables["INS_ADM_ETP"].append(
            (
                str(year),
                cod_ind,
                stage.code,
                1,
                occurrence,
                program.code,
                1,
                program.faculty,
                state,
                paid,
                "O" if main else "N",
                self.day(year, (7, 9)),
            )
        )

    def result(self, cod_ind: int, year: int, program: _Program, *, forced: bool) -> None:
        """The session-0 diploma result; only admitted students get a date and a number."""
        absent = not forced and self.rng.random() < 0.05
        grade = 15.25 if forced else (None if absent else self.rng.randint(6_000, 18_500) / 1000)
        graded: Row
        if grade is None:
            graded = (None, "ABJ", 20, "ABJ", None, None, None)
        elif grade < 10:
            graded = (f"{grade:.3f}", None, 20, "AJ", None, None, None)
        else:
            self.diploma_number += 1
            obtained = END_OF_TIME.isoformat() if forced else self.day(year + 1, (6, 7))
            number = (year + 1) * 1_000_000 + self.diploma_number
            graded = (f"{grade:.3f}", None, 20, "ADM", _mention(grade), obtained, number)
        key = (cod_ind, program.code, 1, str(year), "0", "1")
        self.tables["RESULTAT_VDI"].append((*key, *graded))


def _mention(grade: float) -> str:
    for threshold, code in ((16, "TB"), (14, "B"), (12, "AB")):
        if grade >= threshold:
            return code
    return "P"


def build_rows(rng: random.Random, students: int, years: Sequence[int], nasty: bool) -> dict[str, list[Row]]:
    """Every table's rows, in insertion order."""
    generator = _Generator(rng, years, nasty)
    for index in range(students):
        generator.individual(index)
    tables: dict[str, list[Row]] = {
        "COMPOSANTE": [_composante(row) for row in COMPOSANTES],
        "ETAPE": [(s.code, s.label, s.short, s.cycle, s.cursus) for p in PROGRAMS for s in p.stages],
        "DIPLOME": [_diplome(p, nasty) for p in PROGRAMS],
        "TYP_RESULTAT": list(TYP_RESULTATS),
        "MENTION": list(MENTIONS),
        **generator.tables,
    }
    if nasty:
        _spoil(tables, years)
    return tables


def _composante(row: Row) -> Row:
    comment = _repeat(_COMMENT, LONG_COMMENT_CHARS) if row[0] == "HAR" else None
    return (*row, comment)


def _diplome(program: _Program, nasty: bool) -> Row:
    comment = _repeat(_HUGE, HUGE_COMMENT_CHARS) if nasty and program.code == "LHAR" else None
    return (program.code, program.label, program.short, program.kind, comment)


def _spoil(tables: dict[str, list[Row]], years: Sequence[int]) -> None:
    """The nasty additions that are not names (those are in ``_Generator.fixed_identity``)."""
    # A second-session result of individual #6 whose date Python cannot represent.
    tables["RESULTAT_VDI"].append(
        (100_007, "LDRT", 1, str(years[-1]), "2", "1", "11.000", None, 20, "ADM", "P", OUT_OF_RANGE_DATE, None)
    )
    bacs = tables["IND_BAC"]
    bacs.append(bacs[0])  # an exact duplicate
    bacs.append((None, "S", "2015", "AB", "0751234A", "075"))  # a NULL key


def _repeat(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[:length]
