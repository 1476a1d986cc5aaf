"""Fictitious people, shared by the tools so that the same person can appear in several of them.

``person(params, "student", i)`` is Apogée's student number ``i`` and Pégase's learner ``i``;
Harpège's agent ``k`` is a student too when ``is_student_agent(k)``: same names, sex and birth
date, so a batch of each tool generated with the same seed and years can be cross-checked through
Apogée's ``PERSONNEL.NUM_DOS_HAR_PER`` (= Harpège ``NO_DOSSIER_PERS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from extractors.synthetic.base import Parameters
from extractors.synthetic.nasty import FIRST_NAMES, SURNAMES, TOWNS

FIRST_AGENT_NUMBER = 10_001  # Harpège NO_DOSSIER_PERS of agent 0
NATIONALITIES = ("100",) * 12 + ("352", "350", "341", "401", "127", "134", "139", "216")


@dataclass(frozen=True)
class Person:
    sex: str  # F | M
    surname: str
    usage_name: str | None
    first_names: tuple[str, str | None, str | None]
    town: str
    nationality: str  # INSEE country code
    birth: date
    first_year: int  # first academic year (students); ignored for agents


def person(params: Parameters, kind: str, index: int) -> Person:
    """Student ``index`` (kind "student") or agent ``index`` (kind "agent"), the same on every call."""
    if kind == "agent" and is_student_agent(index):
        kind = "student"
    rng = params.rng("person", kind, index)
    sex = rng.choice("FM")
    names = FIRST_NAMES[sex]
    second = rng.choice(names) if rng.random() < 0.4 else None
    third = rng.choice(names) if second and rng.random() < 0.2 else None
    usage = rng.choice(SURNAMES) if sex == "F" and rng.random() < 0.15 else None
    if kind == "student":
        first_year = params.years[min(len(params.years) - 1, int(rng.random() * len(params.years)))]
        birth_year = first_year - rng.randint(18, 25)
    else:
        first_year = params.years[0]
        birth_year = params.years[-1] - rng.randint(24, 64)
    birth = date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
    return Person(
        sex,
        rng.choice(SURNAMES),
        usage,
        (rng.choice(names), second, third),
        rng.choice(TOWNS),
        rng.choice(NATIONALITIES),
        birth,
        first_year,
    )


def is_student_agent(agent: int) -> bool:
    """Every fifth agent (2, 7, 12...) is also a student: a doctoral candidate on contract."""
    return agent % 5 == 2


def agent_number(agent: int) -> int:
    return FIRST_AGENT_NUMBER + agent
