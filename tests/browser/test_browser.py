"""The auditors' browser, served for real and read by a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from starlette.testclient import TestClient

from browser import create_app
from versement.ledger import Dataset, Ledger, State

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


FAILED_QUALITY = {
    "outcomes": [
        {"expectation": "reconcile_with_source", "column": None, "success": True, "unexpected_count": None},
        {
            "expectation": "expect_column_values_to_not_be_null",
            "column": "NO_INDIVIDU",
            "success": False,
            "unexpected_count": 1,
        },
        {
            "expectation": "expect_compound_columns_to_be_unique",
            "column": None,
            "success": False,
            "unexpected_count": 2,
            "details": {"kwargs": {"column_list": ["NO_INDIVIDU", "D_DEB"]}},
        },
    ]
}


@pytest.fixture
def ledger(tmp_path):
    instance = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    instance.migrate()
    waiting = instance.create_batch("apogee", "2023-2024", "démo")
    for state in (State.EXTRACTED, State.VALIDATED, State.PACKAGED, State.AWAITING_APPROVAL):
        instance.transition(waiting.id, state, actor="démo", action=str(state))
    rejected = instance.create_batch("harpege", "2022-2023", "démo")
    agents = Dataset(
        name="agents",
        source_table="INDIVIDU",
        path="agents.parquet",
        rows=3,
        source_count=3,
        sha256="0" * 64,
        columns=[["NO_INDIVIDU", "int64"], ["D_DEB", "date32[day]"]],
        query='SELECT * FROM "INDIVIDU"',
    )
    instance.transition(rejected.id, State.EXTRACTED, actor="démo", action="extract", datasets=[agents])
    instance.transition(
        rejected.id,
        State.QUALITY_FAILED,
        actor="démo",
        action="validate",
        dataset_updates={"agents": {"quality": FAILED_QUALITY, "quality_success": False}},
    )
    yield instance
    instance.close()


def test_pages_answer_in_french_in_process(ledger):
    client = TestClient(create_app(ledger))
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "en attente de validation" in page.text
    assert "contrôle qualité en échec" in page.text
    detail = client.get("/lots/1")
    assert "Journal d&#39;audit du lot" in detail.text or "Journal d'audit du lot" in detail.text
    assert detail.text.count("<tr>") >= 5  # header rows + the five events of batch 1
    failed = client.get("/lots/2").text
    assert "<li>valeurs manquantes (NO_INDIVIDU) : 1 ligne</li>" in failed
    assert "<li>clé composée en double (NO_INDIVIDU, D_DEB) : 2 lignes</li>" in failed
    assert "fichier différent" not in failed  # a passed check is not listed
    missing = client.get("/lots/999")
    assert missing.status_code == 404 and "n'existe pas" in missing.text.replace("&#39;", "'")


def test_the_browser_is_read_only(ledger):
    client = TestClient(create_app(ledger))
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/lots/1").status_code == 405
    assert ledger.batch(1).state == State.AWAITING_APPROVAL


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it as root)")
def test_headless_chromium_renders_the_batches(ledger, tmp_path):
    from vitam_client.sandbox import serve

    with serve(create_app(ledger), tls=None) as base_url:
        home = dump_dom(f"{base_url}/", tmp_path)
        detail = dump_dom(f"{base_url}/lots/1", tmp_path)
        failed = dump_dom(f"{base_url}/lots/2", tmp_path)
    assert "Lots de versement" in home
    assert 'data-state="awaiting_approval"' in home and "en attente de validation" in home
    assert 'data-state="quality_failed"' in home
    assert 'href="/lots/1"' in home
    assert "Lot n° 1 — apogee 2023-2024" in detail
    assert "démo" in detail
    assert "clé composée en double (NO_INDIVIDU, D_DEB) : 2 lignes" in failed


def dump_dom(url: str, profile) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile / 'chromium-profile'}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout
