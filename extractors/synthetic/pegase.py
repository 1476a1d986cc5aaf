"""Synthetic Pégase (PostgreSQL only: one schema per functional module, as in its DRE replica).

The learners are Apogée's students of the same seed (``people``): the same people after the
migration. Each learner registers in one to three consecutive years of a licence or master path
(``schema_ins.inscription``, 5 % cancelled), gets results for the year object and three teaching
units (``schema_coc.note_resultat``), and a diploma evaluation at the end of the path
(``schema_coc.diplome_evaluation``). Always present: accents, apostrophes, the empty string
beside NULL (learner #6), a course object whose label looks like HTML. ``nasty=True`` adds
mojibake (#8) and control characters (#9).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from extractors.synthetic import nasty
from extractors.synthetic.base import EntityRows, Parameters, Row, ToolTables
from extractors.synthetic.people import person
from extractors.synthetic.schema import table

GENERATOR_VERSION = "1"
MIN_STUDENTS = 10
MIN_SIZE = MIN_STUDENTS

TABLES = (
    table(
        "schema_odf.objet_maquette",
        "id VC(36) NOT NULL; code VC(40) NOT NULL; libelle_court VC(50); "
        "libelle_long VC(250); type_objet VC(20); credits_ects N(5,2)",
        ["code"],
    ),
    table(
        "schema_idt.apprenant",
        "id VC(36) NOT NULL; code_apprenant VC(20) NOT NULL; ine_maitre VC(11); "
        "etat_ine_maitre VC(20); nom_famille VC(100) NOT NULL; nom_usage VC(100); prenom VC(100); sexe VC(1); "
        "date_naissance D; commune_naissance VC(100); code_pays_naissance VC(3); code_nationalite VC(3)",
        ["id"],
    ),
    table(
        "schema_ins.inscription",
        "id VC(36) NOT NULL; id_apprenant VC(36) NOT NULL; annee_universitaire VC(4); "
        "code_chemin VC(100); statut_inscription VC(20); statut_paiement VC(20); code_regime VC(10); "
        "date_creation TS; date_validation_inscription TS",
        ["id"],
    ),
    table(
        "schema_coc.note_resultat",
        "id VC(36) NOT NULL; id_apprenant VC(36) NOT NULL; "
        "code_objet_formation VC(40); annee_universitaire VC(4); note_session1 N(8,3); resultat_session1 VC(10); "
        "note_session2 N(8,3); resultat_session2 VC(10); note_finale N(8,3); resultat_final VC(10); "
        "point_jury N(8,3); mention VC(10); rang N(5); credit_ects_final N(5,2)",
        ["id"],
    ),
    table(
        "schema_coc.diplome_evaluation",
        "id VC(36) NOT NULL; id_apprenant VC(36) NOT NULL; code_diplome VC(40); "
        "annee_universitaire VC(4); note N(8,3); resultat VC(10); mention VC(10); date_deliberation D",
        ["id"],
    ),
)


@dataclass(frozen=True)
class _Formation:
    code: str
    label: str
    years: tuple[str, ...]


FORMATIONS = (
    _Formation("LDRT", "Licence Droit", ("L1DRT", "L2DRT", "L3DRT")),
    _Formation("LHAR", "Licence Histoire de l'art et archéologie", ("L1HAR", "L2HAR", "L3HAR")),
    _Formation("MECO", "Master Économie appliquée", ("M1ECO", "M2ECO")),
)


def _uuid(rng) -> str:  # type: ignore[no-untyped-def]
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _grade(milli: int) -> str:
    return f"{milli // 1000}.{milli % 1000:03d}"


def tables(params: Parameters) -> ToolTables:
    if params.size < MIN_STUDENTS:
        raise ValueError(f"students must be at least {MIN_STUDENTS}, got {params.size}")
    world = _World(params)
    per_student = {
        "schema_idt.apprenant": world.apprenant,
        "schema_ins.inscription": world.inscriptions,
        "schema_coc.note_resultat": world.notes,
        "schema_coc.diplome_evaluation": world.diplomes,
    }
    return ToolTables(
        TABLES, {"schema_odf.objet_maquette": world.objets}, tuple(per_student), world.entities(per_student)
    )


class _World:
    def __init__(self, params: Parameters) -> None:
        self.p = params

    def entities(self, methods: Mapping[str, Callable[[int], Iterator[Row]]]) -> Callable[[], Iterator[EntityRows]]:
        def walk() -> Iterator[EntityRows]:
            for index in range(self.p.size):
                yield {name: method(index) for name, method in methods.items()}

        return walk

    def objets(self) -> Iterator[Row]:
        rng = self.p.rng("pegase", "odf")
        for f in FORMATIONS:
            yield (_uuid(rng), f.code, f.code, f.label, "FORMATION", None)
            for y in f.years:
                label = f"{f.label}, année {y[1]}"
                if y == "L1DRT":
                    label = f"{label} <b>nouvelle maquette</b> &amp; {nasty.SCRIPT}"
                yield (_uuid(rng), y, y, label, "ANNEE", "60.00")
                for n in range(1, 4):
                    yield (
                        _uuid(rng),
                        f"{y}-UE{n}",
                        f"UE{n} {y}",
                        f"Unité d'enseignement {n} — {f.label}",
                        "UE",
                        "6.00",
                    )

    def _path(self, index: int) -> tuple[_Formation, list[tuple[int, str]]]:
        rng = self.p.rng("pegase", "path", index)
        who = person(self.p, "student", index)
        formation = FORMATIONS[rng.randrange(len(FORMATIONS))]
        years = [y for y in self.p.years if y >= who.first_year][: len(formation.years)]
        return formation, [(year, formation.years[n]) for n, year in enumerate(years)]

    def _id(self, index: int) -> str:
        return _uuid(self.p.rng("pegase", "id", index))

    def apprenant(self, index: int) -> Iterator[Row]:
        who = person(self.p, "student", index)
        rng = self.p.rng("pegase", "identity", index)
        surname, first, usage = who.surname, who.first_names[0], who.usage_name
        if index == 6:
            usage = ""
        elif self.p.nasty and index == 8:
            surname, first = nasty.MOJIBAKE_SURNAME, nasty.MOJIBAKE_FIRST_NAME
        elif self.p.nasty and index == 9:
            surname, first = nasty.CONTROL_SURNAME, nasty.CONTROL_FIRST_NAME
        yield (
            self._id(index), f"A{100_001 + index}", f"{rng.randrange(10**9, 10**10)}{'ABCDEFGHJK'[rng.randrange(10)]}",
            "VALIDE" if rng.random() < 0.97 else "PROVISOIRE", surname, usage, first, who.sex, who.birth.isoformat(),
            who.town, "100" if who.nationality == "100" else who.nationality, who.nationality,
        )  # fmt: skip

    def inscriptions(self, index: int) -> Iterator[Row]:
        formation, path = self._path(index)
        rng = self.p.rng("pegase", "inscriptions", index)
        for year, step in path:
            created = datetime(year, rng.randint(7, 9), rng.randint(1, 28), rng.randint(8, 18), rng.randint(0, 59))
            valid = rng.random() > 0.05
            yield (
                _uuid(rng), self._id(index), str(year), f"{formation.code}>{step}",
                "VALIDEE" if valid else "ANNULEE", "PAYE" if valid else "REMBOURSE", "FI",
                created.isoformat(sep=" "), created.replace(day=28).isoformat(sep=" ") if valid else None,
            )  # fmt: skip

    def notes(self, index: int) -> Iterator[Row]:
        _formation, path = self._path(index)
        rng = self.p.rng("pegase", "notes", index)
        for year, step in path:
            for code in (step, *(f"{step}-UE{n}" for n in range(1, 4))):
                first = rng.randint(4_000, 19_000)
                second = rng.randint(6_000, 16_000) if first < 10_000 else None
                final = second if second is not None else first
                passed = final >= 10_000
                yield (
                    _uuid(rng), self._id(index), code, str(year), _grade(first), "ADM" if first >= 10_000 else "AJ",
                    None if second is None else _grade(second), None if second is None else ("ADM" if passed else "AJ"),
                    _grade(final), "ADM" if passed else "AJ", None, "AB" if final >= 12_000 else None,
                    rng.randint(1, 300), ("60.00" if code == step else "6.00") if passed else "0.00",
                )  # fmt: skip

    def diplomes(self, index: int) -> Iterator[Row]:
        formation, path = self._path(index)
        if len(path) < len(formation.years):
            return
        rng = self.p.rng("pegase", "diplome", index)
        year = path[-1][0]
        grade = rng.randint(8_000, 17_000)
        passed = grade >= 10_000
        yield (
            _uuid(rng),
            self._id(index),
            formation.code,
            str(year),
            _grade(grade),
            "ADM" if passed else "AJ",
            "B" if grade >= 14_000 else None,
            date(year + 1, 7, rng.randint(1, 10)).isoformat(),
        )
