"""End to end in a real headless Chromium (Debian's, driven by Playwright; no browser download).

Each role signs in through the form; an archivist follows a batch to its ATR, filters a dataset
and exports it; an auditor then finds that export in the audit log. Screenshots of the main
pages are saved under the test's tmp folder (``screenshots/``).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.browser.conftest import PASSWORDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it as root)"),
]


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served by uvicorn over loopback HTTP for the length of the test."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the browser did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def chromium():
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def sign_in(chromium, base_url: str, name: str, start: str = "/"):
    context = chromium.new_context(accept_downloads=True, locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}{start}")
    assert page.url.startswith(f"{base_url}/connexion")  # not signed in: sent to the form
    page.get_by_label("Nom d'utilisateur").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORDS[name])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base_url}{start}")  # back where the user was going
    assert page.locator(f'[data-user="{name}"]').is_visible()
    return page


def test_each_role_signs_in_and_sees_its_own_menu(chromium, base_url, shots):
    menus = {}
    for name in ("auditeur", "archiviste", "admin"):
        page = sign_in(chromium, base_url, name)
        assert page.title() == "Tableau de bord — Versements aux archives"
        menus[name] = page.get_by_role("navigation", name="Navigation principale").inner_text()
        if name == "admin":
            page.get_by_role("link", name="Comptes").click()
            assert page.get_by_role("heading", name="Comptes et rôles").is_visible()
            page.screenshot(path=str(shots / "comptes.png"), full_page=True)
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{base_url}/connexion")
        page.goto(f"{base_url}/")
        assert page.url.startswith(f"{base_url}/connexion")  # signed out
        page.context.close()
    assert "Journal d'audit" in menus["auditeur"] and "Comptes" not in menus["auditeur"]
    assert "Journal d'audit" not in menus["archiviste"] and "Comptes" not in menus["archiviste"]
    assert "Comptes" in menus["admin"]


def test_a_wrong_password_is_announced(chromium, base_url, shots):
    page = chromium.new_page()
    page.goto(f"{base_url}/connexion")
    page.get_by_label("Nom d'utilisateur").fill("auditeur")
    page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Nom ou mot de passe incorrect."
    page.screenshot(path=str(shots / "connexion-erreur.png"))


def test_keyboard_reaches_the_skip_link_first(chromium, base_url):
    page = sign_in(chromium, base_url, "auditeur", start="/lots/1")
    page.goto(f"{base_url}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    # every visible form field has a label, every table a caption and header cells
    page.goto(f"{base_url}/lots/1/jeux/individus")
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select')]
             .filter(e => !e.labels || e.labels.length === 0).map(e => e.name)"""
    )
    assert unlabelled == []
    assert page.evaluate("[...document.querySelectorAll('table')].every(t => t.caption && t.querySelector('th'))")


def test_archivist_follows_a_batch_to_its_atr_exports_and_the_auditor_sees_the_export(chromium, base_url, shots):
    page = sign_in(chromium, base_url, "archiviste")
    page.screenshot(path=str(shots / "tableau-de-bord.png"), full_page=True)
    page.get_by_role("link", name="n° 1", exact=True).first.click()
    page.wait_for_url(f"{base_url}/lots/1")
    assert page.get_by_role("heading", level=1).inner_text() == "Lot n° 1 — apogee 2023-2024"
    assert page.locator("#atr [data-reply]").inner_text() == "OK"
    page.screenshot(path=str(shots / "lot.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger l'ATR (XML)").click()
    atr = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<ReplyCode>OK</ReplyCode>" in atr and download.value.suggested_filename == "lot-1-atr.xml"

    page.get_by_role("link", name="Individus (étudiants)").click()
    page.wait_for_url(f"{base_url}/lots/1/jeux/individus")
    page.get_by_label("Colonne 1").select_option("LIB_NOM_PAT_IND")
    page.get_by_label("Valeur 1").fill("lefevre")
    page.get_by_label("Trier par").select_option("COD_IND")
    page.get_by_label("Ordre").select_option("desc")
    page.get_by_role("button", name="Appliquer").click()
    page.wait_for_load_state()
    assert page.locator("#compte").inner_text().startswith("20 ligne(s) correspondante(s)")
    assert page.locator("#lignes tbody tr").first.locator("td").first.inner_text() == "115"
    page.screenshot(path=str(shots / "jeu-de-donnees.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter ces lignes en CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert exported[0].startswith("COD_IND,COD_ETU,LIB_NOM_PAT_IND") and len(exported) == 21
    assert exported[1].startswith("115,")
    page.context.close()

    auditor = sign_in(chromium, base_url, "auditeur")
    auditor.get_by_role("link", name="Journal d'audit").click()
    auditor.get_by_label("Événements").select_option("exports")
    auditor.get_by_role("button", name="Filtrer").click()
    auditor.wait_for_load_state()
    row = auditor.locator('#journal tr[data-action="export.dataset"]')
    assert row.count() == 1
    text = row.inner_text()
    assert "archiviste" in text and "Lignes : 20" in text and "lefevre" in text
    auditor.get_by_label("Événements").select_option("tout")
    auditor.get_by_role("button", name="Filtrer").click()
    auditor.wait_for_load_state()
    auditor.screenshot(path=str(shots / "journal.png"), full_page=True)
    for name in ("tableau-de-bord", "lot", "jeu-de-donnees", "journal"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
    print(f"screenshots in {shots}")


def test_auditor_finds_a_person_by_a_misspelt_accent_opens_and_exports_the_file_then_sees_it_audited(
    chromium, base_url, shots
):
    page = sign_in(chromium, base_url, "auditeur")
    page.get_by_role("link", name="Personnes").click()
    page.wait_for_url(f"{base_url}/personnes")
    page.get_by_label("Nom (de naissance ou d'usage)").fill("Lefévre")  # the file says LEFÈVRE
    page.get_by_label("Prénom").fill("prenom6")
    page.get_by_label("Date de naissance (JJ/MM/AAAA)").fill("07/01/2000")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_load_state()
    assert page.locator("#compte").inner_text().startswith("1 personne(s) trouvée(s)")
    page.screenshot(path=str(shots / "recherche-personne.png"), full_page=True)
    page.locator("#personnes").get_by_role("link", name="LEFÈVRE").click()
    page.wait_for_url(f"{base_url}/personnes/apogee-7")
    assert page.get_by_role("heading", level=1).inner_text() == "Dossier de LEFÈVRE Prénom6"
    piece = page.locator('section.piece[data-dataset="individus"]')
    assert piece.get_by_role("link", name="Lot n° 1").is_visible()
    assert piece.locator("[data-system-id]").inner_text() == "aeaqaaaaaahgausqab7boamgjd7hnbqaaaba"
    assert "12 rue du Secret Postal" not in page.content()  # an auditor does not see addresses
    page.screenshot(path=str(shots / "dossier-personne.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter le dossier en CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert exported[0].startswith("personne,outil,lot") and any("LEFÈVRE" in line for line in exported)
    assert download.value.suggested_filename == "dossier-apogee-7.csv"
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter le dossier en PDF").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    page.get_by_role("link", name="Journal d'audit").click()
    page.get_by_label("Événements").select_option("exports")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_load_state()
    for action in ("export.person_csv", "export.person_pdf"):
        row = page.locator(f'#journal tr[data-action="{action}"]')
        assert row.count() == 1, action
        assert "auditeur" in row.inner_text() and "Personne : apogee-7" in row.inner_text()
    page.screenshot(path=str(shots / "journal-exports-personne.png"), full_page=True)
    for name in ("recherche-personne", "dossier-personne", "journal-exports-personne"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
