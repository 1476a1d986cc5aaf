"""The browser's pages, in process: French text, lineage to VITAM, datasets, audit of consultations."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.browser.conftest import HOSTILE, REASON, SECRET_ADDRESS
from versement.ledger import State


def actions(ledger, prefix: str) -> list:
    return [e for e in ledger.events() if e.action.startswith(prefix)]


def test_dashboard_counts_batches_per_source_and_state_and_shows_what_waits(as_role):
    page = as_role("auditor").get("/").text
    assert '<html lang="fr">' in page
    assert "<title>Tableau de bord — Versements aux archives</title>" in page
    assert 'class="skip" href="#contenu"' in page
    assert 'data-integrity="ok"' in page
    assert "en attente de validation" in page and "contrôle qualité en échec" in page
    assert 'href="/lots/3">Lot n° 3 — apogee 2022-2023</a> : validation demandée' in page
    assert 'href="/lots/4">Lot n° 4 — harpege 2021-2022</a> : contrôle qualité en échec, à examiner' in page
    assert '/lots/1">Lot n° 1' not in page  # an accepted batch awaits nobody
    # apogee: one accepted, one awaiting; harpege: one rejected, one failed quality
    assert '<th scope="row">apogee</th>' in page and '<th scope="row">harpege</th>' in page


def test_dashboard_says_when_the_audit_trail_was_edited(as_role, ledger):
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'quelqu''un' WHERE id = 3")
    page = as_role("admin").get("/").text
    assert 'data-integrity="broken"' in page and 'role="alert"' in page
    assert "événement 3 : le contenu ne correspond plus à son empreinte" in page


def test_batch_page_follows_the_lineage_to_vitam(as_role, ledger):
    client = as_role("auditor")
    page = client.get("/lots/1").text
    assert "Lot n° 1 — apogee 2023-2024" in page
    assert 'data-state="accepted"' in page and "accepté par VITAM" in page
    assert ledger.batch(1).sip_sha256 in page and "c" * 128 in page  # SIP and manifest digests
    assert "Camille Archiviste le 2026-12-01 09:10:00 UTC" in page and "identique au SIP" in page
    assert "Commentaire : Conforme au tableau de gestion" in page
    assert "data-operation>aeeaaaaaagh23tjvabz5gamgjd7hmjaaaaaq" in page
    assert 'data-reply="OK"' in page and "Succès du contrôle de conformité du bordereau" in page
    assert "aeaqaaaaaahgausqab7boamgjd7hnbqaaaba" in page  # the unit's SystemId
    assert "Individus (étudiants)" in page and 'href="/lots/1/jeux/individus"' in page
    assert 'href="/lots/1/atr.xml"' in page and 'href="/lots/1/manifest.xml"' in page
    consultations = actions(ledger, "consult.batch")
    assert [(e.batch_id, e.actor) for e in consultations] == [(1, "auditeur")]
    assert "consultation d" not in page.split('id="historique"')[1]  # the timeline keeps to the batch's life


def test_rejection_reason_and_failed_checks_are_shown_as_text(as_role):
    client = as_role("archivist")
    rejected = client.get("/lots/2").text
    assert "refusé par l&#39;archiviste" in rejected
    assert "Motif : Périmètre incomplet &lt;img src=x onerror=alert(1)&gt; : manque 2022" in rejected
    assert REASON not in rejected
    failed = client.get("/lots/4").text
    assert "<li>valeurs manquantes (NO_INDIVIDU) : 1 ligne</li>" in failed
    assert "<li>clé composée en double (NO_INDIVIDU, D_DEB) : 2 lignes</li>" in failed
    assert "fichier différent" not in failed  # a passed check is not listed
    missing = client.get("/lots/999")
    assert missing.status_code == 404 and "n&#39;existe pas" in missing.text


def test_downloads_come_from_the_ledgers_files_and_are_audited(as_role, ledger):
    client = as_role("auditor")
    atr = client.get("/lots/1/atr.xml")
    assert atr.status_code == 200 and "<ReplyCode>OK</ReplyCode>" in atr.text
    assert atr.headers["content-disposition"] == 'attachment; filename="lot-1-atr.xml"'
    manifest = client.get("/lots/1/manifest.xml")
    assert manifest.status_code == 200 and manifest.text.startswith("<?xml") and "ArchiveTransfer" in manifest.text
    assert [e.action for e in actions(ledger, "download.")] == ["download.atr", "download.manifest"]
    assert client.get("/lots/3/atr.xml").status_code == 404  # no ATR yet


def test_dataset_explorer_shows_schema_labels_pages_filters_and_sorts(as_role, ledger):
    client = as_role("auditor")
    page = client.get("/lots/1/jeux/individus").text
    assert "Nom de naissance" in page and "<code>LIB_NOM_PAT_IND</code>" in page
    assert "120 ligne(s) correspondante(s) — page 1 sur 3." in page
    assert 'rel="next"' in page
    # accent- and case-insensitive "contains", sorted descending by the key
    found = client.get(
        "/lots/1/jeux/individus",
        params={
            "colonne": "LIB_NOM_PAT_IND",
            "operateur": "contient",
            "valeur": "lefevre",
            "tri": "COD_IND",
            "ordre": "desc",
        },
    ).text
    assert "20 ligne(s) correspondante(s)" in found
    rows = found.split('id="lignes"')[1]
    assert rows.index("<td>115</td>") < rows.index("<td>109</td>")
    assert 'aria-sort="descending"' in found
    export = 'href="/lots/1/jeux/individus/export.csv?colonne=LIB_NOM_PAT_IND&amp;operateur=contient&amp;valeur=lefevre'
    assert export in found  # the export keeps the filters
    second = client.get("/lots/1/jeux/individus", params={"page": "3", "taille": "50"}).text
    assert "<td>101</td>" in second and "<td>100</td>" not in second
    empty = client.get("/lots/1/jeux/individus", params={"colonne": "COD_ETU", "operateur": "vide"}).text
    assert "12 ligne(s) correspondante(s)" in empty
    consulted = actions(ledger, "consult.dataset")
    assert len(consulted) == 4
    details = json.loads(consulted[1].details)
    assert details["dataset"] == "individus" and details["filters"] == [["LIB_NOM_PAT_IND", "contient", "lefevre"]]
    assert details["sort"] == "COD_IND" and details["descending"] is True


def test_sensitive_columns_are_shown_only_to_the_roles_allowed(as_role):
    auditor = as_role("auditor").get("/lots/1/jeux/individus").text
    assert SECRET_ADDRESS not in auditor and "ADR_IND" not in auditor
    assert "1 colonne(s) de données sensibles masquée(s)" in auditor
    archivist = as_role("archivist").get("/lots/1/jeux/individus").text
    assert SECRET_ADDRESS in archivist
    # a hidden column cannot be filtered, sorted or exported either
    client = as_role("auditor")
    probe = client.get(
        "/lots/1/jeux/individus", params={"colonne": "ADR_IND", "operateur": "contient", "valeur": "rue"}
    )
    assert probe.status_code == 400 and SECRET_ADDRESS not in probe.text
    assert client.get("/lots/1/jeux/individus", params={"tri": "ADR_IND"}).status_code == 400
    export = client.get("/lots/1/jeux/individus/export.csv").text
    assert SECRET_ADDRESS not in export and "ADR_IND" not in export


def test_csv_export_of_a_filtered_dataset_is_recorded(as_role, ledger):
    client = as_role("archivist")
    response = client.get(
        "/lots/1/jeux/individus/export.csv",
        params={"colonne": "LIB_NOM_PAT_IND", "operateur": "contient", "valeur": "œuv"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="lot-1-individus.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["COD_IND", "COD_ETU", "LIB_NOM_PAT_IND"] and "ADR_IND" in rows[0]
    assert len(rows) == 1 + 20 and all(r[2] == "Œuvray" for r in rows[1:])
    for spelt in ("oeuv", "OEUVRAY", "Œuv"):  # the ligature spelt out, as the person search allows
        again = client.get(
            "/lots/1/jeux/individus/export.csv",
            params={"colonne": "LIB_NOM_PAT_IND", "operateur": "commence", "valeur": spelt},
        )
        assert again.content == response.content, spelt
    everything = list(
        csv.reader(io.StringIO(client.get("/lots/1/jeux/individus/export.csv").content.decode("utf-8-sig")))
    )
    assert len(everything) == 121
    assert everything[6][3] == "'=1+2"  # a spreadsheet formula is neutralised
    assert any(r[2] == HOSTILE for r in everything)  # CSV carries the value as it is
    exports = actions(ledger, "export.dataset")
    assert len(exports) == 2 + 3  # the three spellings of the ligature are exports too
    first = json.loads(exports[0].details)
    assert exports[0].actor == "archiviste" and first["rows"] == 20 and first["role"] == "archivist"
    assert first["filters"] == [["LIB_NOM_PAT_IND", "contient", "œuv"]]


def test_a_purged_dataset_file_is_said_missing(as_role):
    page = as_role("auditor").get("/lots/4/jeux/agents")
    assert page.status_code == 200 and "n'est plus disponible" in page.text


def test_audit_log_lists_decisions_and_consultations_for_auditors_and_admins(as_role):
    auditor = as_role("auditor")
    auditor.get("/lots/1")
    auditor.get("/lots/1/jeux/individus/export.csv")
    log = auditor.get("/journal").text
    assert "Journal d'audit" in log and 'data-integrity="ok"' in log
    assert 'data-action="export.dataset"' in log and 'data-action="reject"' in log
    assert "Motif : Périmètre incomplet &lt;img" in log
    exports = auditor.get("/journal", params={"type": "exports"}).text
    assert 'data-action="export.dataset"' in exports and 'data-action="reject"' not in exports
    by_actor = auditor.get("/journal", params={"par": "camille"}).text
    assert 'data-action="reject"' in by_actor and 'data-action="export.dataset"' not in by_actor
    assert as_role("admin").get("/journal").status_code == 200
    assert as_role("archivist").get("/journal").status_code == 403


def test_the_browser_changes_no_batch(as_role, ledger):
    client = as_role("admin")
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/lots/3").status_code == 405
    assert ledger.batch(3).state == State.AWAITING_APPROVAL
    assert ledger.verify().ok


def test_audit_log_pages_newest_first_and_takes_wildcards_literally(as_role, ledger):
    for n in range(60):
        ledger.record(1, actor=f"lecteur{n}", action="consult.batch", details={})
    client = as_role("auditor")
    first = client.get("/journal", params={"type": "consultations"}).text
    assert "60 événement(s)" in first and "page 1 sur 2" in first
    assert first.index("lecteur59") < first.index("lecteur58") and "lecteur9<" not in first
    second = client.get("/journal", params={"type": "consultations", "page": "2"}).text
    assert "lecteur0<" in second and 'rel="prev"' in second
    assert "0 événement(s)" in client.get("/journal", params={"par": "%"}).text  # no LIKE wildcard
    assert "lecteur1<" in client.get("/journal", params={"par": "LECTEUR1"}).text


def test_batch_page_summarises_the_manifest_unit_tree_with_rules_and_system_ids(as_role):
    page = as_role("auditor").get("/lots/1").text
    tree = page.split('id="bordereau"')[1].split("Jeux de données")[0]
    assert "<strong>Apogée — scolarité 2023-2024</strong>" in tree and "Series, 2023-09-01 → 2024-08-31" in tree
    assert (
        "durée d&#39;utilité administrative : <code>APP-00001</code>, à compter du 2024-08-31, sort final : conserver"
        in tree
    )
    assert "communicabilité : <code>ACC-00016</code>, à compter du 2024-08-31" in tree
    assert "Identifiant VITAM : <code>aeaqaaaaaahgausqab7boamgjd7hnbqaaaba</code>" in tree
    assert tree.index("Apogée — scolarité") < tree.index("Individus &lt;script&gt;")  # the child, escaped


def test_a_hostile_manifest_reads_no_entity_and_no_file(tmp_path):
    from browser import manifest

    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><DescriptiveMetadata>'
        b"<ArchiveUnit id='U'><Content><DescriptionLevel>File</DescriptionLevel><Title>&x;</Title></Content>"
        b"</ArchiveUnit></DescriptiveMetadata></ArchiveTransfer>"
    )
    (unit,) = manifest.units(hostile)
    assert "root:" not in unit.title
    import pytest

    with pytest.raises(manifest.ManifestUnreadable):
        manifest.units(b"<not-closed>")
    with pytest.raises(manifest.ManifestUnreadable):
        manifest.read_manifest(tmp_path / "absent.zip")


def test_an_edit_made_after_the_first_view_is_shown_once_verified_again(as_role, ledger, monkeypatch):
    """The verification is redone in the background when stale: the page that finds it stale
    shows the last result at once, a later one the new result."""
    import time

    import browser.app

    monkeypatch.setattr(browser.app, "INTEGRITY_SECONDS", 0.0)
    client = as_role("admin")
    assert 'data-integrity="ok"' in client.get("/").text
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'quelqu''un' WHERE id = 3")
    deadline = time.monotonic() + 30
    while 'data-integrity="broken"' not in (page := client.get("/").text):
        assert time.monotonic() < deadline, "the edit was never reported"
        time.sleep(0.05)
    assert "événement 3 : le contenu ne correspond plus à son empreinte" in page


def test_the_timeline_and_the_last_runs_follow_new_events_but_not_consultations(as_role, ledger):
    client = as_role("archivist")
    first = client.get("/lots/3").text.split('id="historique"')[1]
    assert "Dérogation de test" not in first
    for _ in range(3):
        client.get("/lots/3")  # consultations: never part of the timeline
    ledger.record(3, actor="Camille", action="batch.comment", details={"comment": "Dérogation de test"})
    ledger.transition(3, State.APPROVED, actor="Camille", action="approve", changes={"approved_sha256": "f" * 64})
    timeline = client.get("/lots/3").text.split('id="historique"')[1]
    assert "Commentaire : Dérogation de test" in timeline and "consultation d" not in timeline
    assert timeline.count("<tr><td>") == first.count("<tr><td>") + 2
    before = client.get("/").text
    ledger.transition(3, State.SUBMITTING, actor="extraction", action="transfer.submitting")
    dashboard = client.get("/").text
    assert '/lots/3">Lot n° 3 — apogee 2022-2023</a> : validation demandée' not in dashboard
    first_run = dashboard.split('<td class="etat etat-', 1)[1]
    assert first_run.startswith("submitting") and before.split('<td class="etat etat-', 1)[1].startswith("approved")


def test_the_quality_report_is_linked_shown_as_recorded_and_audited(as_role, ledger):
    auditor = as_role("auditor")
    assert 'href="/lots/1/rapport-qualite.html"' in auditor.get("/lots/1").text
    report = auditor.get("/lots/1/rapport-qualite.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "Contrôle qualité du lot n° 1" in report.text
    # its own style is allowed, nothing else (a single policy: the browser's is not added to it)
    assert report.headers.get_list("content-security-policy") == [
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'"
    ]
    assert [(e.action, e.batch_id, e.actor) for e in actions(ledger, "download.")] == [
        ("download.quality_report", 1, "auditeur")
    ]
    assert "consultation du rapport de contrôle qualité" in as_role("admin").get("/journal").text
    assert as_role("admin").get("/lots/1/rapport-qualite.html").status_code == 403  # downloads: not admins
    assert 'href="/lots/3/rapport-qualite.html"' not in auditor.get("/lots/3").text
    assert auditor.get("/lots/3/rapport-qualite.html").status_code == 404  # never checked
    assert auditor.get("/lots/99/rapport-qualite.html").status_code == 404


def test_a_quality_report_edited_since_the_check_is_not_shown(as_role, ledger):
    (validated,) = [e for e in ledger.events(1) if e.action == "validate"]
    path = Path(json.loads(validated.details)["report"]["path"])
    path.write_text(path.read_text(encoding="utf-8").replace("conforme", "NON CONFORME"), encoding="utf-8")
    edited = as_role("auditor").get("/lots/1/rapport-qualite.html")
    assert edited.status_code == 409 and 'role="alert"' in edited.text and "modifié depuis le contrôle" in edited.text
    assert "NON CONFORME" not in edited.text
    path.unlink()
    assert as_role("auditor").get("/lots/1/rapport-qualite.html").status_code == 404
    assert actions(ledger, "download.") == []


def test_a_supersession_is_shown_on_both_batches_with_its_reason(as_role, ledger):
    correction = ledger.create_batch(
        "apogee", "2023-2024", "Camille Archiviste", supersedes=1, reason="Notes de la session 2 corrigées"
    )
    client = as_role("auditor")
    old = client.get("/lots/1").text
    assert f'data-superseded-by>Ce lot a été remplacé par le <a href="/lots/{correction.id}">' in old
    assert f"<li>Remplacé par le lot n° {correction.id}</li>" in old  # the timeline's event says which
    assert "<li>Motif : Notes de la session 2 corrigées</li>" in old
    new = client.get(f"/lots/{correction.id}").text
    assert 'data-supersedes>Ce lot remplace le <a href="/lots/1">lot n° 1</a>' in new
    assert "<li>Remplace le lot n° 1</li>" in new and "<li>Motif : Notes de la session 2 corrigées</li>" in new
    assert "data-superseded-by" not in new and "data-supersedes" not in client.get("/lots/2").text
