"""Synthetic Harpège: every table and column ``extractors/specs/harpege.toml`` reads.

Scale: ``agents`` individual files over the calendar ``years``. About 60 % are civil servants
(one or two career segments with grade and echelon elements every two to four years, positions,
assignments, research assignments for teachers), 40 % contract staff (one to three contracts of
one to three years with their amendments and assignments). Careers start up to twenty years
before the first year, so a period scope sees open careers from earlier years. Every fifth agent
(2, 7, 12...) is also an Apogée student of the same seed and years (``people``), on a doctoral
or ATER contract; Apogée's ``PERSONNEL.NUM_DOS_HAR_PER`` points at ``NO_DOSSIER_PERS``.

Fixed agents, always present (``MIN_AGENTS``), all with careers open over the whole span:
#0 apostrophes (O'BRIEN, L’HÔTE); #1 ligatures (CŒURDEROY, Lætitia); #3 a career ending
9999-12-31; #4 the empty string beside NULL (NOM_USUEL = '', PRENOM2 = ''). The reference tables
hold 0001-01-01 opening dates, 9999-12-31 closing dates and a structure label that looks like HTML.

``nasty=True`` adds: #6 mojibake names, #7 control characters, #8 a duplicated personal address
(duplicate key), #9 a research assignment with a NULL sequence number (NULL key).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from extractors.synthetic import nasty
from extractors.synthetic.base import EntityRows, Parameters, Row, RowFactory, ToolTables
from extractors.synthetic.people import Person, agent_number, is_student_agent, person
from extractors.synthetic.schema import table

GENERATOR_VERSION = "1"
MIN_AGENTS = 10
MIN_SIZE = MIN_AGENTS

TABLES = (
    table(
        "STRUCTURE",
        "C_STRUCTURE VC(10) NOT NULL; LC_STRUCTURE VC(20); LL_STRUCTURE VC(80); "
        "C_STRUCTURE_PERE VC(10); DATE_OUVERTURE D; DATE_FERMETURE D",
        ["C_STRUCTURE"],
    ),
    table(
        "CORPS",
        "C_CORPS VC(4) NOT NULL; LC_CORPS VC(20); LL_CORPS VC(40); C_CATEGORIE VC(1); "
        "D_OUVERTURE_CORPS D; D_FERMETURE_CORPS D",
        ["C_CORPS"],
    ),
    table(
        "GRADE",
        "C_GRADE VC(4) NOT NULL; LC_GRADE VC(20); LL_GRADE VC(40); C_CORPS VC(4); ECHELLE VC(2); "
        "D_OUVERTURE D; D_FERMETURE D",
        ["C_GRADE"],
    ),
    table(
        "TYPE_POPULATION",
        "C_TYPE_POPULATION VC(2) NOT NULL; LC_TYPE_POPULATION VC(20); "
        "LL_TYPE_POPULATION VC(60); D_OUVERTURE D; D_FERMETURE D",
        ["C_TYPE_POPULATION"],
    ),
    table(
        "TYPE_CONTRAT_TRAVAIL",
        "C_TYPE_CONTRAT_TRAV VC(2) NOT NULL; LC_TYPE_CONTRAT_TRAV VC(20); "
        "LL_TYPE_CONTRAT_TRAV VC(60); TEM_CDI VC(1); TEM_ENSEIGNANT VC(1); D_OUVERTURE D; D_FERMETURE D",
        ["C_TYPE_CONTRAT_TRAV"],
    ),
    table("POSITION", "C_POSITION VC(4) NOT NULL; LC_POSITION VC(20); LL_POSITION VC(60)", ["C_POSITION"]),
    table("PAYS", "C_PAYS VC(3) NOT NULL; LL_PAYS VC(60); D_DEB_VAL D; D_FIN_VAL D; TEM_UE VC(1)", ["C_PAYS"]),
    table(
        "INDIVIDU",
        "NO_INDIVIDU N(8) NOT NULL; C_CIVILITE VC(5); NOM_USUEL VC(80); NOM_PATRONYMIQUE VC(80); "
        "PRENOM VC(30); PRENOM2 VC(30); D_NAISSANCE D; VILLE_DE_NAISSANCE VC(60); C_DEPT_NAISSANCE VC(3); "
        "C_PAYS_NAISSANCE VC(3); C_PAYS_NATIONNALITE VC(3); D_DECES D; NO_TEL_PORTABLE VC(20)",
        ["NO_INDIVIDU"],
    ),
    table("PERSONNEL", "NO_DOSSIER_PERS N(8) NOT NULL; C_SITUATION_FAMILLE VC(1)", ["NO_DOSSIER_PERS"]),
    table("CODE_INSEE", "NO_DOSSIER_PERS N(8) NOT NULL; NO_INSEE VC(13); CLE_INSEE N(2)", ["NO_DOSSIER_PERS"]),
    table(
        "INDIVIDU_BANQUE",
        "NO_DOSSIER_PERS N(8); D_CREATION D; C_BANQUE VC(5); C_GUICHET VC(5); "
        "NO_COMPTE VC(11); CLE_RIB VC(2); C_PAYS_ISO VC(2); CLE_CONTROLE VC(2); C_BANQUE_BIC VC(4); "
        "C_PAYS_BIC VC(2); C_EMPLACEMENT VC(2); C_BRANCHE VC(3)",
    ),  # no documented key
    table(
        "ADRESSE_PERSONNELLE",
        "NO_INDIVIDU N(8); D_CREATION D; TEM_ADR_PERS_PRINC VC(1); NO_VOIE VC(4); "
        "BIS_TER VC(1); C_VOIE VC(4); NOM_VOIE VC(60); LOCALITE VC(60); CODE_POSTAL VC(5); CP_ETRANGER VC(10); "
        "VILLE VC(60); C_PAYS VC(3); HABITANT_CHEZ VC(60); TELEPHONE_DOMICILE VC(20)",
    ),  # no documented key
    table(
        "CARRIERE",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_SEQ_CARRIERE N(2) NOT NULL; C_TYPE_POPULATION VC(2); "
        "D_DEB_CARRIERE D; D_FIN_CARRIERE D; TEM_VALIDE VC(1)",
        ["NO_DOSSIER_PERS", "NO_SEQ_CARRIERE"],
    ),
    table(
        "ELEMENT_CARRIERE",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_SEQ_CARRIERE N(2) NOT NULL; "
        "NO_SEQ_ELEMENT N(2) NOT NULL; C_CORPS VC(4); C_GRADE VC(4); C_ECHELON VC(2); C_TYPE_ACCES VC(3); "
        "D_EFFET_ELEMENT D; D_FIN_ELEMENT D; QUOTITE_ELEMENT N(5,2); TEM_PROVISOIRE VC(1); TEM_VALIDE VC(1)",
        ["NO_DOSSIER_PERS", "NO_SEQ_CARRIERE", "NO_SEQ_ELEMENT"],
    ),
    table(
        "CHANGEMENT_POSITION",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_SEQ_POSITION N(3) NOT NULL; "
        "NO_SEQ_CARRIERE N(2); C_POSITION VC(4); D_DEB_POSITION D; D_FIN_POSITION D; LIEU_POSITION VC(80)",
        ["NO_DOSSIER_PERS", "NO_SEQ_POSITION"],
    ),
    table(
        "CONTRAT_TRAVAIL",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_CONTRAT_TRAVAIL N(4) NOT NULL; C_TYPE_CONTRAT_TRAV VC(2); D_CREATION D",
        ["NO_DOSSIER_PERS", "NO_CONTRAT_TRAVAIL"],
    ),
    table(
        "CONTRAT_AVENANT",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_CONTRAT_TRAVAIL N(4) NOT NULL; "
        "NO_AVENANT N(3) NOT NULL; D_DEB_CONTRAT_TRAV D; D_FIN_CONTRAT_TRAV D; D_FIN_EXECUTION D; "
        "C_SECTION_CNU VC(2); C_SOUS_SECTION_CNU VC(2); C_DISC_SECOND_DEGRE VC(4)",
        ["NO_DOSSIER_PERS", "NO_CONTRAT_TRAVAIL", "NO_AVENANT"],
    ),
    table(
        "AFFECTATION",
        "NO_DOSSIER_PERS N(8) NOT NULL; NO_SEQ_AFFECTATION N(8) NOT NULL; C_STRUCTURE VC(10); "
        "D_DEB_AFFECTATION D; D_FIN_AFFECTATION D; NO_SEQ_CARRIERE N(2); NO_CONTRAT_TRAVAIL N(4); "
        "NUM_QUOT_AFFECTATION N(3); DEN_QUOT_AFFECTATION N(3)",
        ["NO_DOSSIER_PERS", "NO_SEQ_AFFECTATION"],
    ),
    table(
        "AFFECTATION_RECHERCHE",
        "NO_DOSSIER_PERS N(8); NO_SEQ_AFFE_RECH N(4); C_STRUCTURE VC(10); D_DEB_AFFE_RECH D; D_FIN_AFFE_RECH D",
    ),  # no key enforced, like a view
)

OPEN = nasty.PLACEHOLDER_DATE.isoformat()
NEVER = nasty.END_OF_TIME.isoformat()
STRUCTURES: tuple[Row, ...] = (
    ("UNIV", "UNIV", "Université Paris Nord-Sud", None, OPEN, NEVER),
    ("UFRDRT", "UFR DSP", "UFR Droit et science politique", "UNIV", "1971-01-01", NEVER),
    ("UFRHAA", "UFR HAA", "UFR Histoire de l'art et archéologie", "UNIV", "1971-01-01", None),
    ("UFRLET", "UFR LLSH", "UFR Lettres, langues, sciences humaines", "UNIV", "1985-09-01", None),
    ("FEG", "FEG", "Faculté d'économie et de gestion", "UNIV", "1990-01-01", None),
    ("DRH", "DRH", "Direction des ressources humaines", "UNIV", "1971-01-01", None),
    ("LABHAR", "LHA", "Laboratoire « Histoire & <i>Arts</i> » <script>alert(1)</script>", "UFRHAA", "2001-01-01", None),
    ("LABECO", "LEA", "Laboratoire d’économie appliquée", "FEG", "2005-01-01", None),
    ("SCD", "SCD", "Service commun de la documentation", "UNIV", "1985-01-01", "2015-12-31"),
    ("SCDN", "BU", "Bibliothèques universitaires", "UNIV", "2016-01-01", None),
)
TEACHING_STRUCTURES = ("UFRDRT", "UFRHAA", "UFRLET", "FEG")
STAFF_STRUCTURES = ("DRH", "SCDN", "UFRDRT", "FEG")
LABS = ("LABHAR", "LABECO")
CORPS: tuple[Row, ...] = (
    ("MCF", "MCF", "Maîtres de conférences", "A", OPEN, None),
    ("PR", "PR", "Professeurs des universités", "A", OPEN, None),
    ("IGR", "IGR", "Ingénieurs de recherche", "A", "1985-01-01", None),
    ("SAEN", "SAENES", "Secrétaires d'administration (SAENES)", "B", "1994-01-01", "2011-12-31"),
    ("SAE", "SAENES", "Secrétaires administratifs (EN et ESR)", "B", "2012-01-01", None),
    ("ADJ", "ADJAENES", "Adjoints administratifs (EN et ESR)", "C", "1990-01-01", NEVER),
)
GRADES: tuple[Row, ...] = (
    ("MCFN", "MCF CN", "Maître de conférences classe normale", "MCF", "A3", OPEN, None),
    ("MCFH", "MCF HC", "Maître de conférences hors classe", "MCF", "A4", OPEN, None),
    ("PR2C", "PR 2C", "Professeur deuxième classe", "PR", "A5", OPEN, None),
    ("PR1C", "PR 1C", "Professeur première classe", "PR", "A6", OPEN, None),
    ("IGR2", "IGR 2C", "Ingénieur de recherche deuxième classe", "IGR", "A3", "1985-01-01", None),
    ("SAEN", "SAENES CN", "SAENES classe normale", "SAEN", "B1", "1994-01-01", "2011-12-31"),
    ("SAE1", "SAE CN", "Secrétaire administratif classe normale", "SAE", "B1", "2012-01-01", None),
    ("ADJ2", "ADJ 2C", "Adjoint administratif principal 2e cl.", "ADJ", "C2", "1990-01-01", None),
)
CAREER_PATHS = {  # population → [(corps, grade)...] successive
    "SA": (("MCF", "MCFN"), ("MCF", "MCFH")),
    "SB": (("PR", "PR2C"), ("PR", "PR1C")),
    "IA": (("IGR", "IGR2"),),
    "AA": (("ADJ", "ADJ2"), ("SAE", "SAE1")),
}
TYPES_POPULATION: tuple[Row, ...] = (
    ("SA", "MCF", "Enseignants-chercheurs : maîtres de conférences", OPEN, None),
    ("SB", "PR", "Enseignants-chercheurs : professeurs", OPEN, None),
    ("IA", "ITRF", "BIATSS : ingénieurs et techniciens (ITRF)", "1985-01-01", None),
    ("AA", "AENES", "BIATSS : administration de l'éducation nationale", "1985-01-01", NEVER),
)
TYPES_CONTRAT: tuple[Row, ...] = (
    ("AT", "ATER", "Attaché temporaire d'enseignement et de recherche", "N", "O", "1988-01-01", None),
    ("DO", "Doctorant", "Contrat doctoral", "N", "O", "2009-09-01", None),
    ("LT", "Lecteur", "Lecteur de langue étrangère", "N", "O", OPEN, None),
    ("C3", "BIATSS CDD", "Agent contractuel BIATSS", "N", "N", OPEN, None),
    ("GI", "Ens. CDI", "Enseignant contractuel à durée indéterminée", "O", "O", "2012-01-01", NEVER),
)
POSITIONS: tuple[Row, ...] = (
    ("ACTI", "Activité", "En activité"),
    ("DETA", "Détachement", "Détachement"),
    ("DISP", "Disponibilité", "Disponibilité"),
    ("CGPA", "Congé parental", "Congé parental"),
)
PAYS: tuple[Row, ...] = (
    ("100", "France", OPEN, NEVER, "O"),
    ("127", "Italie", OPEN, NEVER, "O"),
    ("134", "Espagne", OPEN, NEVER, "O"),
    ("139", "Portugal", OPEN, NEVER, "O"),
    ("216", "Chine", OPEN, NEVER, "N"),
    ("341", "Sénégal", "1960-08-20", NEVER, "N"),
    ("350", "Maroc", "1956-03-02", NEVER, "N"),
    ("352", "Algérie", "1962-07-05", NEVER, "N"),
    ("401", "Canada", OPEN, NEVER, "N"),
    ("123", "Yougoslavie", OPEN, "2003-02-04", "N"),
)


@dataclass
class _Agent:
    index: int
    number: int
    who: Person
    hired: date
    end: date | None  # departure; None while in office
    careers: list[tuple[int, str, date, date | None]] = field(default_factory=list)  # seq, population, start, end
    contracts: list[tuple[int, str, date, date, date | None]] = field(
        default_factory=list
    )  # no, type, start, end, early


def tables(params: Parameters) -> ToolTables:
    if params.size < MIN_AGENTS:
        raise ValueError(f"agents must be at least {MIN_AGENTS}, got {params.size}")
    world = _World(params)
    per_agent = {
        "INDIVIDU": world.individu,
        "PERSONNEL": world.personnel,
        "CODE_INSEE": world.code_insee,
        "INDIVIDU_BANQUE": world.banque,
        "ADRESSE_PERSONNELLE": world.adresse,
        "CARRIERE": world.carriere,
        "ELEMENT_CARRIERE": world.elements,
        "CHANGEMENT_POSITION": world.positions,
        "CONTRAT_TRAVAIL": world.contrats,
        "CONTRAT_AVENANT": world.avenants,
        "AFFECTATION": world.affectations,
        "AFFECTATION_RECHERCHE": world.recherche,
    }
    factories: dict[str, RowFactory] = {}
    for name, rows in (
        ("STRUCTURE", STRUCTURES),
        ("CORPS", CORPS),
        ("GRADE", GRADES),
        ("TYPE_POPULATION", TYPES_POPULATION),
        ("TYPE_CONTRAT_TRAVAIL", TYPES_CONTRAT),
        ("POSITION", POSITIONS),
        ("PAYS", PAYS),
    ):
        factories[name] = functools.partial(iter, rows)
    return ToolTables(TABLES, factories, tuple(per_agent), world.entities(per_agent))


def _day(rng, year: int) -> date:  # type: ignore[no-untyped-def]
    return date(year, rng.randint(1, 12), rng.randint(1, 28))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class _World:
    def __init__(self, params: Parameters) -> None:
        self.p = params
        self.first, self.last = params.years[0], params.years[-1]

    def entities(self, methods: Mapping[str, Callable[[_Agent], Iterator[Row]]]) -> Callable[[], Iterator[EntityRows]]:
        def walk() -> Iterator[EntityRows]:
            for index in range(self.p.size):
                agent = self.agent(index)
                yield {name: method(agent) for name, method in methods.items()}

        return walk

    def agent(self, index: int) -> _Agent:
        rng = self.p.rng("harpege", "career", index)
        who = person(self.p, "agent", index)
        fixed = index < MIN_AGENTS and not is_student_agent(index)
        contract_staff = is_student_agent(index) or (not fixed and rng.random() < 0.4)
        if contract_staff:
            start = _day(rng, rng.randint(self.first - 3, self.last))
            agent = _Agent(index, agent_number(index), who, start, None)
            kinds = ("DO", "AT") if is_student_agent(index) else ("AT", "LT", "C3", "GI")
            begin = start
            for number in range(1, rng.randint(1, 3) + 1):
                kind = kinds[min(number - 1, len(kinds) - 1)] if is_student_agent(index) else rng.choice(kinds)
                length = 3 if kind == "DO" else rng.randint(1, 3)
                end = date(begin.year + length, begin.month, begin.day) - timedelta(days=1)
                early = end - timedelta(days=rng.randint(30, 200)) if rng.random() < 0.05 else None
                agent.contracts.append((number, kind, begin, end, early))
                begin = (early or end) + timedelta(days=rng.randint(1, 400))
                if begin.year > self.last + 1:
                    break
            return agent
        hired = _day(
            rng, rng.randint(self.first - 10, self.first) if fixed else rng.randint(self.first - 20, self.last)
        )
        left = None if fixed or rng.random() > 0.1 else hired + timedelta(days=rng.randint(400, 6000))
        agent = _Agent(index, agent_number(index), who, hired, left)
        population = rng.choice(("SA", "SA", "SB", "IA", "AA", "AA"))
        if rng.random() < 0.15 and (left is None or (left - hired).days > 1500):
            change = hired + timedelta(days=rng.randint(700, 1400))
            other = "SB" if population == "SA" else "SA" if population == "AA" else population
            agent.careers = [(1, population, hired, change - timedelta(days=1)), (2, other, change, left)]
        else:
            agent.careers = [(1, population, hired, left)]
        return agent

    # ------------------------------------------------------------ identity

    def individu(self, a: _Agent) -> Iterator[Row]:
        who = a.who
        surname, usage, first, second = who.surname, who.usage_name, who.first_names[0], who.first_names[1]
        town = who.town
        if a.index == 0:
            surname, usage = "O'BRIEN", "L’HÔTE"
        elif a.index == 1:
            surname, first = "CŒURDEROY", "Lætitia"
        elif a.index == 4:
            usage, second = "", ""
        elif self.p.nasty and a.index == 6:
            surname, first = nasty.MOJIBAKE_SURNAME, nasty.MOJIBAKE_FIRST_NAME
        elif self.p.nasty and a.index == 7:
            surname, first, town = nasty.CONTROL_SURNAME, nasty.CONTROL_FIRST_NAME, nasty.CONTROL_TOWN
        rng = self.p.rng("harpege", "identity", a.index)
        born_abroad = who.nationality != "100" and rng.random() < 0.7
        yield (
            a.number, "MME" if who.sex == "F" else "M.", usage, surname, first, second, who.birth.isoformat(), town,
            None if born_abroad else rng.choice(("025", "042", "075", "094")),
            who.nationality if born_abroad else "100", who.nationality, None,
            f"06{rng.randint(10**7, 10**8 - 1)}" if rng.random() < 0.7 else None,
        )  # fmt: skip

    def personnel(self, a: _Agent) -> Iterator[Row]:
        yield (a.number, self.p.rng("harpege", "family", a.index).choice("CMDP"))

    def code_insee(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "nir", a.index)
        born = a.who.birth
        nir = (
            f"{1 if a.who.sex == 'M' else 2}{born.year % 100:02d}{born.month:02d}{rng.choice(('25', '42', '75', '99'))}"
        )
        nir += f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
        yield (a.number, nir, 97 - int(nir) % 97)

    def banque(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "bank", a.index)
        dates = [a.hired] + ([a.hired + timedelta(days=rng.randint(200, 3000))] if rng.random() < 0.2 else [])
        for created in dates:
            yield (
                a.number, created.isoformat(), f"{rng.randint(10000, 39999)}", f"{rng.randint(0, 99999):05d}",
                f"{rng.randint(0, 10**11 - 1):011d}", f"{rng.randint(1, 97):02d}", "FR", f"{rng.randint(2, 98):02d}",
                rng.choice(("BNPA", "CCBP", "AGRI", "PSST")), "FR", "PP", "XXX",
            )  # fmt: skip

    def adresse(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "address", a.index)
        dates = [a.hired] + ([a.hired + timedelta(days=rng.randint(200, 3000))] if rng.random() < 0.2 else [])
        for n, created in enumerate(dates):
            row = (
                a.number, created.isoformat(), "O" if n == len(dates) - 1 else "N", str(rng.randint(1, 150)),
                rng.choice(("", None, None, "B")), "RUE", nasty.STREETS[rng.randrange(len(nasty.STREETS))], None,
                f"{rng.choice(('75', '94', '25', '42'))}{rng.randint(0, 999):03d}", None,
                nasty.TOWNS[rng.randrange(len(nasty.TOWNS))], "100", None, None,
            )  # fmt: skip
            yield row
            if self.p.nasty and a.index == 8:
                yield row

    # ------------------------------------------------------------ careers

    def carriere(self, a: _Agent) -> Iterator[Row]:
        for seq, population, start, end in a.careers:
            closing = nasty.END_OF_TIME if a.index == 3 and end is None else end
            yield (a.number, seq, population, start.isoformat(), _iso(closing), "O")

    def elements(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "elements", a.index)
        horizon = date(self.last + 1, 12, 31)
        for seq, population, start, end in a.careers:
            path = CAREER_PATHS[population]
            n, begin, echelon = 0, start, 1
            while begin <= (end or horizon):
                n += 1
                corps, grade = path[min((n - 1) // 3, len(path) - 1)]
                following = date(begin.year + rng.randint(2, 4), begin.month, begin.day)
                last = following > (end or horizon)
                finish = end if last else following - timedelta(days=1)
                quotity = "100.00" if rng.random() < 0.9 else "80.00"
                yield (
                    a.number,
                    seq,
                    n,
                    corps,
                    grade,
                    f"{echelon:02d}",
                    "AVA" if n > 1 else "CON",
                    begin.isoformat(),
                    _iso(finish),
                    quotity,
                    "N",
                    "O",
                )
                if last:
                    break
                begin, echelon = following, 1 if n % 3 == 0 else echelon + 1

    def positions(self, a: _Agent) -> Iterator[Row]:
        if not a.careers:
            return
        rng = self.p.rng("harpege", "positions", a.index)
        start, end = a.careers[0][2], a.careers[-1][3]
        if rng.random() < 0.15 and (end is None or (end - start).days > 1200):
            pause = start + timedelta(days=rng.randint(365, 900))
            back = pause + timedelta(days=365)
            kind = rng.choice(("DETA", "DISP", "CGPA"))
            spans = [("ACTI", start, pause - timedelta(days=1)), (kind, pause, back - timedelta(days=1)),
                     ("ACTI", back, end)]  # fmt: skip
        else:
            spans = [("ACTI", start, end)]
        for n, (kind, begin, finish) in enumerate(spans, start=1):
            place = "Université d’Orléans" if kind == "DETA" else None
            yield (a.number, n, 1, kind, begin.isoformat(), _iso(finish), place)

    def contrats(self, a: _Agent) -> Iterator[Row]:
        for number, kind, start, _end, _early in a.contracts:
            yield (a.number, number, kind, (start - timedelta(days=20)).isoformat())

    def avenants(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "avenants", a.index)
        for number, kind, start, end, early in a.contracts:
            section = rng.choice(("22", "01", "05")) if kind in ("AT", "DO", "GI") else None
            if rng.random() < 0.3 and (end - start).days > 500:  # a renewal splits the contract in two amendments
                middle = date(start.year + 1, start.month, start.day)
                yield (
                    a.number,
                    number,
                    1,
                    start.isoformat(),
                    (middle - timedelta(days=1)).isoformat(),
                    None,
                    section,
                    None,
                    None,
                )
                yield (a.number, number, 2, middle.isoformat(), end.isoformat(), _iso(early), section, None, None)
            else:
                yield (
                    a.number,
                    number,
                    1,
                    start.isoformat(),
                    end.isoformat(),
                    _iso(early),
                    section,
                    None,
                    "L042" if kind == "LT" else None,
                )

    def affectations(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "affectations", a.index)
        n = 0
        for seq, population, start, end in a.careers:
            places = TEACHING_STRUCTURES if population in ("SA", "SB") else STAFF_STRUCTURES
            n += 1
            yield (a.number, n, rng.choice(places), start.isoformat(), _iso(end), seq, None, 100, 100)
        for number, kind, start, end, early in a.contracts:
            places = STAFF_STRUCTURES if kind == "C3" else TEACHING_STRUCTURES
            n += 1
            half = rng.random() < 0.1
            yield (
                a.number,
                n,
                rng.choice(places),
                start.isoformat(),
                _iso(early or end),
                None,
                number,
                50 if half else 100,
                100,
            )

    def recherche(self, a: _Agent) -> Iterator[Row]:
        rng = self.p.rng("harpege", "research", a.index)
        spans = [(s, e) for _, population, s, e in a.careers if population in ("SA", "SB")]
        spans += [(s, early or e) for _, kind, s, e, early in a.contracts if kind in ("DO", "AT")]
        for n, (start, end) in enumerate(spans, start=1):
            yield (a.number, n, rng.choice(LABS), start.isoformat(), _iso(end))
        if self.p.nasty and a.index == 9:
            yield (a.number, None, LABS[0], a.hired.isoformat(), None)
