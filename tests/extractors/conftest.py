"""Synthetic sources shared by the extraction tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import generate_apogee


@pytest.fixture(scope="session")
def apogee_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("apogee") / "apogee.sqlite"
    generate_apogee(path)
    return path


@pytest.fixture(scope="session")
def nasty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nasty") / "nasty.sqlite"
    generate_apogee(path, nasty=True)
    return path
