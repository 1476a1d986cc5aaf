"""The person index and its pages: names compared as people type them, search by every
criterion, a file across tools through the Apogée–Harpège link, roles, exports, the audit trail."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from browser import create_app, manifest, names
from browser.persons import Criteria, PersonIndex, SearchError, criteria
from tests.browser.conftest import FAST_HASHER, HOSTILE, PASSWORDS, SECRET_ADDRESS, csrf_of
from versement.config import BrowserConfig
from versement.ledger.accounts import Accounts

# -- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Lefèvre", "LEFEVRE"),
        ("lefévre", "LEFÈVRE"),  # the wrong accent still finds it
        ("LEFEVRE", "Lefèvre"),
        ("oeuvray", "Œuvray"),
        ("OEUVRAY", "ŒUVRAY"),
        ("Laetitia", "Lætitia"),
        ("dartagnan", "D'Artagnan"),
        ("D’Artagnan", "D'ARTAGNAN"),  # typographic apostrophe
        ("l hote", "L’HÔTE"),
        ("Jean Pierre", "Jean-Pierre"),
        ("jean‑pierre", "JEAN–PIERRE"),  # non-breaking hyphen, en dash
        ("Muller", "Müller"),
        ("nunez", "Ñúñez"),
        ("strasse", "Straße"),
        ("Lefèvre", "LefÃ¨vre"),  # UTF-8 read as Latin-1 (mojibake), repaired
        ("Cœurderoy", "CÅ\x93urderoy"),  # the same for Œ
        ("Ngoc", "Ngọc"),  # a letter with two marks
    ],
)
def test_names_compare_as_people_type_them(typed, stored):
    assert names.normalise(typed) == names.normalise(stored) != ""


def test_normalise_keeps_only_letters_and_digits_and_bounds_the_length():
    assert names.normalise('<script>alert("x")</script>') == "SCRIPTALERTXSCRIPT"
    assert names.normalise("'; DROP TABLE person; --") == "DROPTABLEPERSON"
    assert names.normalise(None) == "" and names.normalise("  -' ") == ""
    assert len(names.normalise("A" * 10_000)) == names.MAX_LENGTH
    assert names.repaired("Lefèvre") == "Lefèvre"  # correct text is left alone
    assert names.repaired("LefÃ¨vre") == "Lefèvre"


def test_compound_names_are_indexed_under_each_word():
    assert names.keys("LE GOFF-MARTIN") == ("LEGOFFMARTIN", "MARTIN", "GOFF", "LE")
    assert names.keys("Dupont") == ("DUPONT",)
    assert names.keys("") == ()


def test_search_form_values_are_checked():
    assert criteria({"naissance": "05/03/2001"}).birth == "2001-03-05"
    assert criteria({"naissance": "2001-03-05"}).birth == "2001-03-05"
    assert criteria({"numero": " 210 000-13 "}).number == "21000013"
    for bad in ({"naissance": "31/02/2001"}, {"naissance": "hier"}, {"numero": "1' OR '1'='1"}, {"nom": "--"}):
        with pytest.raises(SearchError):
            criteria(bad)
    with pytest.raises(SearchError, match="le 31/02/2001 n'existe pas"):  # the right form, a day that is not
        criteria({"naissance": "31/02/2001"})
    with pytest.raises(SearchError, match="JJ/MM/AAAA attendu"):
        criteria({"naissance": "hier"})
    with pytest.raises(SearchError, match="au moins un critère"):
        PersonIndex(Path("/nonexistent/index.sqlite"), ledger=None).search(Criteria())  # type: ignore[arg-type]


def test_manifest_object_units_give_each_file_its_unit_and_ancestors():
    content = b"""<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><DataObjectPackage>
      <DataObjectGroup id="G1"><BinaryDataObject id="B1"><FileInfo><Filename>resultats.csv</Filename></FileInfo>
      </BinaryDataObject></DataObjectGroup><DescriptiveMetadata><ArchiveUnit id="AU1"><ArchiveUnit id="AU2">
      <DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference>
      </ArchiveUnit></ArchiveUnit></DescriptiveMetadata></DataObjectPackage></ArchiveTransfer>"""
    assert manifest.object_units(content) == {"resultats.csv": ("AU2", "AU1")}


# -- the pages over the browser's test ledger --------------------------------------------------------


@pytest.fixture
def index(ledger, tmp_path):
    return PersonIndex(tmp_path / "index" / "person-index.sqlite", ledger)


@pytest.fixture
def app(ledger, index):
    return create_app(
        ledger,
        BrowserConfig(),
        secret_key="tests-only-secret",
        accounts=Accounts(ledger, FAST_HASHER),
        person_index=index,
    )


def signed_in(app, role: str) -> TestClient:
    name = {"auditor": "auditeur", "archivist": "archiviste", "admin": "admin"}[role]
    client = TestClient(app, follow_redirects=False)
    form = client.get("/connexion")
    answer = client.post("/connexion", data={"nom": name, "mot_de_passe": PASSWORDS[name], "csrf": csrf_of(form.text)})
    assert answer.status_code == 303
    return client


def keys_found(page: str) -> list[str]:
    return re.findall(r'href="/personnes/([^"/]+)"', page)


def test_search_by_each_criterion(app):
    client = signed_in(app, "auditor")
    by_name = client.get("/personnes", params={"nom": "lefévre"})  # misspelt accent
    assert by_name.status_code == 200
    assert "apogee-1" in keys_found(by_name.text) and "LEFÈVRE" in by_name.text
    assert len(keys_found(by_name.text)) == 20  # every sixth of the 120 students
    first = client.get("/personnes", params={"nom": "lefevre", "prenom": "prenom6"})
    assert set(keys_found(first.text)) == {"apogee-7", "apogee-61", "apogee-67"}  # Prénom6, 60, 66 by prefix
    born = client.get("/personnes", params={"naissance": "03/01/2000", "nom": "lefevre"})
    assert set(keys_found(born.text)) == {"apogee-31", "apogee-115"}
    number = client.get("/personnes", params={"numero": "E0000042"})
    assert keys_found(number.text) == ["apogee-42"]
    ligature = client.get("/personnes", params={"nom": "OEUVRAY"})
    assert "apogee-2" in keys_found(ligature.text)
    apostrophe = client.get("/personnes", params={"nom": "dartagnan"})
    assert "apogee-3" in keys_found(apostrophe.text)
    nothing = client.get("/personnes", params={"nom": "personne-inconnue"})
    assert keys_found(nothing.text) == [] and "0 personne(s)" in nothing.text
    refused = client.get("/personnes", params={"naissance": "32/13/2000"})
    assert refused.status_code == 400 and 'role="alert"' in refused.text


def test_names_holding_markup_are_shown_as_text(app):
    client = signed_in(app, "archivist")
    found = client.get("/personnes", params={"nom": "script"})
    assert "apogee-4" in keys_found(found.text)
    assert HOSTILE not in found.text and "&lt;script&gt;" in found.text
    file = client.get("/personnes/apogee-4")
    assert file.status_code == 200 and HOSTILE not in file.text and "&lt;script&gt;" in file.text


def test_person_file_links_each_piece_to_its_batch_and_vitam_unit(app, ledger):
    client = signed_in(app, "auditor")
    page = client.get("/personnes/apogee-1")
    assert page.status_code == 200
    assert 'href="/lots/1"' in page.text and 'data-dataset="individus"' in page.text
    assert "aeaqaaaaaahgausqab7boamgjd7hnbqaaaba" in page.text  # through the manifest to the ATR's SystemId
    assert "LEFÈVRE" in page.text and "Prénom0" in page.text
    event = ledger.events()[-1]
    assert event.action == "consult.person" and event.actor == "auditeur"
    assert '"person":"apogee-1"' in event.details


def test_sensitive_columns_only_for_the_roles_allowed(app):
    auditor = signed_in(app, "auditor").get("/personnes/apogee-1")
    assert SECRET_ADDRESS not in auditor.text and "masquée(s) pour votre rôle" in auditor.text
    archivist = signed_in(app, "archivist").get("/personnes/apogee-1")
    assert SECRET_ADDRESS in archivist.text  # BrowserConfig.sensitive_roles = ("archivist",)
    export = signed_in(app, "auditor").get("/personnes/apogee-1/dossier.csv")
    assert SECRET_ADDRESS not in export.content.decode("utf-8")


def test_admins_do_not_consult_persons(app):
    admin = signed_in(app, "admin")
    for path in (
        "/personnes",
        "/personnes/apogee-1",
        "/personnes/apogee-1/dossier.csv",
        "/personnes/apogee-1/dossier.pdf",
    ):
        assert admin.get(path).status_code == 403, path


def test_exports_are_recorded_and_shown_in_the_audit_log(app, ledger):
    client = signed_in(app, "archivist")
    exported = client.get("/personnes/apogee-6/dossier.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["personne", "outil", "lot"]
    assert rows[1][:3] == ["apogee-6", "apogee", "1"]
    assert any(r[7] == "LIB_PR1_IND" and r[9] == "'=1+2" for r in rows)  # a formula is defused
    pdf = client.get("/personnes/apogee-6/dossier.pdf")
    assert (
        pdf.status_code == 200 and pdf.content.startswith(b"%PDF-") and pdf.headers["content-type"] == "application/pdf"
    )
    actions = [e.action for e in ledger.events()[-2:]]
    assert actions == ["export.person_csv", "export.person_pdf"]
    log = signed_in(app, "auditor").get("/journal", params={"type": "exports"})
    assert "export CSV du dossier d&#39;une personne" in log.text and "Personne : apogee-6" in log.text
    assert "export PDF du dossier d&#39;une personne" in log.text


def test_searches_are_recorded(app, ledger):
    signed_in(app, "auditor").get("/personnes", params={"nom": "Müller"})
    event = ledger.events()[-1]
    assert event.action == "consult.person_search" and '"nom":"MULLER"' in event.details


def test_an_unknown_person_is_not_found_and_nothing_is_recorded(app, ledger):
    client = signed_in(app, "auditor")
    before = len(ledger.events())
    for key in ("apogee-99999", "harpege-1", "x" * 300, "apogee-1' OR '1'='1", "..%2F..%2Fetc%2Fpasswd"):
        answer = client.get(f"/personnes/{key}")
        assert answer.status_code == 404, key
    assert len(ledger.events()) == before


def test_a_changed_or_purged_file_is_said_so(app, ledger, index):
    client = signed_in(app, "auditor")
    assert client.get("/personnes/apogee-1").status_code == 200
    path = Path(ledger.batch(1).datasets[0].path)
    path.rename(path.with_suffix(".moved"))
    page = client.get("/personnes/apogee-1")
    assert page.status_code == 200 and "fichier local purgé" in page.text
    assert "LEFÈVRE" in page.text  # the identity is still known from the index


# -- across tools, on the shipped specifications and the synthetic sources ------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Apogée 2022-2023 and 2023-2024 and Harpège extracted through the pipeline (SQLite sources)."""
    from extractors.scope import Scope
    from versement.config import load
    from versement.demo import DEMO_SCOPES, prepare_sources
    from versement.ledger import open_ledger
    from versement.pipeline import run_extract

    folder = tmp_path_factory.mktemp("persons")
    environ = {
        "VERSEMENT__LEDGER__URL": f"sqlite:///{folder / 'ledger.sqlite'}",
        "VERSEMENT__PATHS__STAGING": str(folder / "staging"),
        "VERSEMENT__SOURCES__APOGEE__URL": f"sqlite:///{folder / 'apogee.sqlite'}",
        "VERSEMENT__SOURCES__HARPEGE__URL": f"sqlite:///{folder / 'harpege.sqlite'}",
    }
    settings = load(Path(__file__).resolve().parents[2] / "config" / "demo.toml", environ=environ)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    for year in (2022, 2023):
        run_extract(settings, ledger, "apogee", Scope.academic_year(year), actor="test")
    run_extract(settings, ledger, "harpege", DEMO_SCOPES["period"], actor="test")
    accounts = Accounts(ledger, FAST_HASHER)
    accounts.add("auditeur", "auditor", PASSWORDS["auditeur"], actor="tests")
    app = create_app(ledger, BrowserConfig(), secret_key="tests-only-secret", accounts=accounts)
    yield app, ledger, settings
    ledger.close()


def test_the_index_lives_in_the_staging_area(extracted):
    app, _ledger, settings = extracted
    index = app.state.persons
    index.refresh()
    assert index.path == settings.staging / "person-index.sqlite"
    counts = index.counts()
    assert counts["persons"] > 100 and counts["datasets"] > 20


def test_an_agent_who_was_a_student_has_one_file_across_tools(extracted):
    app, _ledger, _settings = extracted
    client = signed_in(app, "auditor")
    # Harpège agent 12 (dossier 10013) is Apogée student 12 (COD_IND 100013), on a doctoral contract;
    # Apogée's PERSONNEL names the dossier (NUM_DOS_HAR_PER).
    agent = client.get("/personnes", params={"numero": "10013"})
    assert "harpege-10013" in keys_found(agent.text)
    page = client.get("/personnes/harpege-10013")
    assert page.status_code == 200
    assert "apogee-100013" in page.text and "PERSONNEL.NUM_DOS_HAR_PER" in page.text
    datasets = set(re.findall(r'data-dataset="([^"]+)"', page.text))
    assert {"agents_identite", "contrats", "ref_personnels", "etudiants_identite", "resultats_elements"} <= datasets
    batches = set(re.findall(r'data-batch="(\d+)"', page.text))
    assert len(batches) == 3  # two Apogée years and the Harpège batch
    student = client.get("/personnes/apogee-100013")
    assert "harpege-10013" in student.text and 'data-dataset="agents_identite"' in student.text
    # the student's own numbers find the same person
    identity = app.state.persons.identity("apogee-100013")
    assert identity is not None and identity.student_number and identity.ine
    for number in (identity.student_number, identity.ine.lower()):
        assert "apogee-100013" in keys_found(client.get("/personnes", params={"numero": number}).text)
    named = client.get(
        "/personnes",
        params={"nom": identity.surname.lower(), "prenom": identity.first_name, "naissance": identity.birth},
    )
    assert {"apogee-100013", "harpege-10013"} <= set(keys_found(named.text))


def test_a_new_batch_is_indexed_when_it_appears(extracted):
    from extractors.scope import Scope
    from versement.pipeline import run_extract

    app, ledger, settings = extracted
    index = app.state.persons
    index.refresh()
    before = index.counts()["datasets"]
    run_extract(settings, ledger, "apogee", Scope.academic_year(2021), actor="test")
    index.interval = 0
    index.refresh()
    assert index.counts()["datasets"] > before


def test_homonyms_born_the_same_day_are_not_linked_to_an_agent(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from extractors.specs import load_tool
    from versement.ledger import Dataset, Ledger, State
    from versement.pipeline import dataset_spec_record

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.migrate()

    def batch(source: str, tool: str, tables: dict[str, pa.Table]) -> None:
        spec = load_tool(tool)
        created = ledger.create_batch(source, "2023-2024", "tests")
        datasets = []
        for name, table in tables.items():
            path = tmp_path / f"{source}-{name}.parquet"
            pq.write_table(table, path)
            datasets.append(
                Dataset(
                    name=name,
                    source_table=name,
                    path=str(path),
                    rows=table.num_rows,
                    source_count=table.num_rows,
                    sha256="0" * 64,
                    columns=[],
                    query="",
                    spec=dataset_spec_record(spec.dataset(name)),
                )
            )
        ledger.transition(created.id, State.EXTRACTED, actor="tests", action="extract", datasets=datasets)

    # Two students called Marie-Hélène L'Hôte born on 1 April 1990 (100001, 100002), one Zoé Lefèvre (100003).
    students = pa.table(
        {
            "COD_IND": [100001, 100002, 100003],
            "LIB_NOM_PAT_IND": ["L'HÔTE", "L’HOTE", "LEFÈVRE"],
            "LIB_PR1_IND": ["Marie-Hélène", "MARIE HELENE", "Zoé"],
            "DATE_NAI_IND": ["1990-04-01", "1990-04-01", "1991-05-02"],
        }
    )
    staff = pa.table(
        {
            "COD_PER": ["P1", "P2"],
            "LIB_NOM_PAT_PER": ["LHOTE", "Lefevre"],
            "LIB_PR1_PER": ["Marie-Helene", "ZOE"],
            "DAT_NAI_PER": ["1990-04-01", "1991-05-02"],
            "NUM_DOS_HAR_PER": [10001, 10002],
        }
    )
    batch("apogee", "apogee", {"etudiants_identite": students, "ref_personnels": staff})
    agents = pa.table(
        {
            "NO_DOSSIER_PERS": [10001, 10002],
            "NOM_PATRONYMIQUE": ["L'HÔTE", "LEFÈVRE"],
            "PRENOM": ["Marie-Hélène", "Zoé"],
            "D_NAISSANCE": ["1990-04-01", "1991-05-02"],
        }
    )
    batch("harpege", "harpege", {"agents_identite": agents})
    index = PersonIndex(tmp_path / "person-index.sqlite", ledger)
    index.refresh()
    ambiguous = index.person_file("harpege-10001")
    assert ambiguous is not None and [i.key for i in ambiguous.identities] == ["harpege-10001"]
    linked = index.person_file("harpege-10002")
    assert linked is not None and {i.key for i in linked.identities} == {"harpege-10002", "apogee-100003"}
    assert {p.dataset for p in linked.pieces} == {"agents_identite", "ref_personnels", "etudiants_identite"}
    ledger.close()


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """Apogée 2023-2024 extracted, checked and packaged by the pipeline (the SIP as packaging lays
    it out: tables as CSV Items, results cut per group and session, one File per student)."""
    from extractors.scope import Scope
    from versement.config import load
    from versement.demo import prepare_sources
    from versement.ledger import open_ledger
    from versement.pipeline import run_extract, run_package, run_validate

    folder = tmp_path_factory.mktemp("packaged")
    environ = {
        "VERSEMENT__LEDGER__URL": f"sqlite:///{folder / 'ledger.sqlite'}",
        "VERSEMENT__PATHS__STAGING": str(folder / "staging"),
        "VERSEMENT__SOURCES__APOGEE__URL": f"sqlite:///{folder / 'apogee.sqlite'}",
        "VERSEMENT__SOURCES__HARPEGE__URL": f"sqlite:///{folder / 'harpege.sqlite'}",
    }
    settings = load(Path(__file__).resolve().parents[2] / "config" / "demo.toml", environ=environ)
    ledger = open_ledger(settings)
    prepare_sources(settings)
    batch = run_extract(settings, ledger, "apogee", Scope.academic_year(2023), actor="test")
    run_validate(settings, ledger, batch.id, actor="test")
    run_package(settings, ledger, batch.id, actor="test", skip_schemas=True)
    accounts = Accounts(ledger, FAST_HASHER)
    accounts.add("auditeur", "auditor", PASSWORDS["auditeur"], actor="tests")
    app = create_app(ledger, BrowserConfig(), secret_key="tests-only-secret", accounts=accounts)
    yield app, ledger.batch(batch.id)
    ledger.close()


def test_each_piece_links_to_the_unit_packaging_put_it_in(packaged):
    """Every student's documents bear the same file names (identite.json...): the piece links to
    the student's own File, found by its key; a table to its CSV Item; a dataset cut per group
    and session to the unit that holds its groups. None says « pas encore empaquetée »."""
    import zipfile

    from lxml import etree

    app, batch = packaged
    with zipfile.ZipFile(batch.sip_path) as sip:
        root = etree.fromstring(sip.read("manifest.xml"))

    def unit_of(key: str) -> etree._Element:
        (found,) = root.xpath(
            "//*[local-name()='ArchiveUnit'][*[local-name()='Content']/"
            "*[local-name()='OriginatingAgencyArchiveUnitIdentifier'][text()=$key]]",
            key=key,
        )
        return found

    client = signed_in(app, "auditor")
    seen = set()
    for student in ("100003", "100083"):
        page = client.get(f"/personnes/apogee-{student}")
        assert page.status_code == 200
        units = dict(re.findall(r'data-dataset="([^"]+)".*?unité VITAM : <code>([^<]+)</code>', page.text, re.S))
        assert "pas encore empaquetée" not in page.text
        assert units["etudiants_identite"] == unit_of(f"apogee:etudiant:{student}").get("id")
        assert units["inscriptions_administratives"] == unit_of(
            "apogee:table:inscriptions_administratives:2023-2024"
        ).get("id")
        groups = unit_of("apogee:table:resultats_etapes:2023-2024:dictionnaire").getparent()
        assert units["resultats_etapes"] == groups.get("id")
        sessions = ".//*[local-name()='OriginatingAgencyArchiveUnitIdentifier'][contains(text(), ':session:')]"
        assert groups.xpath(sessions)  # the unit holds the dataset's session Items
        seen.add(units["etudiants_identite"])
    assert len(seen) == 2  # each student's own File, not the first File holding an identite.json
