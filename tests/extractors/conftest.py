"""Synthetic sources shared by the extraction tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import generate


@pytest.fixture(scope="session")
def apogee_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic Apogée (120 students, 2021–2023) as a SQLite file."""
    path = tmp_path_factory.mktemp("apogee") / "apogee.sqlite"
    generate("apogee", f"sqlite:///{path}", students=120)
    return path


@pytest.fixture(scope="session")
def nasty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same with what an extraction must stop on or carry (``extractors.synthetic.nasty``)."""
    path = tmp_path_factory.mktemp("nasty") / "nasty.sqlite"
    generate("apogee", f"sqlite:///{path}", students=120, nasty=True)
    return path
