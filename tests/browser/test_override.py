"""The archivist's override from the batch page, and the quality section it sits in.

Batch 4 of the conftest ledger is ``quality_failed``. The form posts to the same ledger path as
``versement override`` (versement.quality.override) with the signed-in identity.
"""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import csrf_of
from versement.ledger import Dataset, State

FORM = 'action="/lots/4/derogation"'
REASON = "Doublon connu de la table INDIVIDU <b>signalé</b> au service, ticket 4521"


def override_events(ledger, batch_id: int = 4) -> list:
    return [e for e in ledger.events(batch_id) if e.action == "quality.override"]


@pytest.mark.parametrize("role", ["archivist", "admin"])
def test_archivists_and_admins_see_the_override_form_in_french(as_role, role):
    page = as_role(role).get("/lots/4").text
    assert FORM in page and 'name="csrf"' in page
    assert '<textarea id="motif" name="motif"' in page and "required" in page
    assert "Accorder la dérogation" in page and "justification" in page


def test_auditors_do_not_see_the_form_and_other_states_do_not_offer_it(as_role):
    assert FORM not in as_role("auditor").get("/lots/4").text
    assert "/derogation" not in as_role("archivist").get("/lots/3").text  # awaiting approval


def test_an_archivist_lifts_the_gate_through_the_ledger_with_the_signed_in_identity(as_role, ledger):
    client = as_role("archivist")
    page = client.get("/lots/4").text
    response = client.post("/lots/4/derogation", data={"csrf": csrf_of(page), "motif": f"  {REASON}  "})
    assert response.status_code == 303 and response.headers["location"] == "/lots/4#qualite"
    batch = ledger.batch(4)
    assert batch.state == State.VALIDATED and batch.active_key == "harpege/2021-2022"
    (event,) = override_events(ledger)
    details = json.loads(event.details)
    assert (event.actor, event.from_state, event.to_state) == ("archiviste", "quality_failed", "validated")
    assert details["reason"] == REASON and details["by"] == "archiviste"
    assert details["identity"] == "local:archiviste" and details["authenticated"] is True
    assert (batch.datasets[0].quality or {})["override"] == {"by": "archiviste", "reason": REASON}
    assert ledger.verify().ok
    shown = client.get("/lots/4").text
    assert "Dérogation de archiviste : « Doublon connu de la table INDIVIDU &lt;b&gt;signalé&lt;/b&gt;" in shown
    assert "<b>signalé</b>" not in shown and FORM not in shown  # text, and no second override


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(as_role, ledger):
    client = as_role("archivist")
    events = len(ledger.events())
    for data in ({"motif": REASON}, {"motif": REASON, "csrf": "forged"}):
        refused = client.post("/lots/4/derogation", data=data)
        assert refused.status_code == 403 and "Formulaire expiré" in refused.text
    assert ledger.batch(4).state == State.QUALITY_FAILED
    assert len(ledger.events()) == events and not override_events(ledger)


def test_an_auditor_is_refused_even_with_a_valid_token(as_role, ledger):
    client = as_role("auditor")
    token = csrf_of(client.get("/lots/4").text)  # the logout form carries the session's token
    refused = client.post("/lots/4/derogation", data={"csrf": token, "motif": REASON})
    assert refused.status_code == 403 and "Votre rôle" in refused.text
    assert ledger.batch(4).state == State.QUALITY_FAILED and not override_events(ledger)


@pytest.mark.parametrize("reason", ["", "   \n\t "])
def test_an_empty_reason_is_refused_and_changes_nothing(as_role, ledger, reason):
    client = as_role("archivist")
    token = csrf_of(client.get("/lots/4").text)
    refused = client.post("/lots/4/derogation", data={"csrf": token, "motif": reason})
    assert refused.status_code == 400 and "justifiée" in refused.text
    assert ledger.batch(4).state == State.QUALITY_FAILED and not override_events(ledger)


def test_a_batch_not_in_quality_failed_cannot_be_overridden(as_role, ledger):
    client = as_role("archivist")
    token = csrf_of(client.get("/lots/3").text)
    refused = client.post("/lots/3/derogation", data={"csrf": token, "motif": REASON})
    assert refused.status_code == 400 and "seul un lot en échec" in refused.text
    assert ledger.batch(3).state == State.AWAITING_APPROVAL and not override_events(ledger, 3)
    assert client.post("/lots/999/derogation", data={"csrf": token, "motif": REASON}).status_code == 400


# -- the quality section: failures apart from warnings, examples by role ------------------------

SPEC = {
    "label": "Identité des agents",
    "key": ["NO_DOSSIER_PERS"],
    "person_key": "NO_DOSSIER_PERS",
    "columns": {
        "NO_DOSSIER_PERS": {"label": "Dossier", "tags": ["person_identifier"]},
        "NOM": {"label": "Nom", "tags": ["name"]},
        "NO_INSEE": {"label": "NIR", "tags": ["nir"]},
    },
}
QUALITY = {
    "success": False,
    "outcomes": [
        {
            "expectation": "expect_column_values_to_be_valid_nir",
            "column": "NO_INSEE",
            "success": False,
            "severity": "critical",
            "unexpected_count": 1,
            "personal": True,
            "examples": [{"key": {"NO_DOSSIER_PERS": 10042}, "values": {"NO_INSEE": "1840575123456XX"}}],
        },
        {
            "expectation": "expect_column_values_to_not_be_double_encoded",
            "column": "NOM",
            "success": False,
            "severity": "warning",
            "unexpected_count": 1,
            "personal": True,
            "examples": [{"key": {"NO_DOSSIER_PERS": 10007}, "values": {"NOM": "FRANÃ‡OIS"}}],
        },
        {
            "expectation": "expect_column_values_to_be_unique",
            "column": "CODE_REF",
            "success": False,
            "severity": "warning",
            "unexpected_count": 2,
            "personal": False,
            "examples": [{"values": {"CODE_REF": "ZZ9"}, "rows": 2}],
        },
    ],
}


@pytest.fixture
def examples_batch(ledger, tmp_path) -> int:
    batch = ledger.create_batch("harpege", "2019-2020", "démo")
    dataset = Dataset(
        name="agents_identite",
        source_table="INDIVIDU",
        path=str(tmp_path / "absent.parquet"),
        rows=3,
        source_count=3,
        sha256="0" * 64,
        columns=[["NO_DOSSIER_PERS", "int64"]],
        query="SELECT 1",
        spec=SPEC,
    )
    ledger.transition(batch.id, State.EXTRACTED, actor="démo", action="extract", datasets=[dataset])
    ledger.transition(
        batch.id,
        State.QUALITY_FAILED,
        actor="démo",
        action="validate",
        dataset_updates={"agents_identite": {"quality": QUALITY, "quality_success": False}},
    )
    return batch.id


def section(html: str) -> str:
    start = html.index('id="qualite"')
    return html[start : html.index('id="historique"')]


def test_warnings_are_shown_apart_from_failures(as_role, examples_batch):
    page = section(as_role("archivist").get(f"/lots/{examples_batch}").text)
    failures = page[page.index('data-kind="echec"') : page.index('data-kind="avertissement"')]
    warnings = page[page.index('data-kind="avertissement"') :]
    assert "NIR bien formé" in failures and "double encodage" not in failures
    assert "texte sans double encodage" in warnings and "clé en double (CODE_REF) : 2 lignes" in warnings
    table = as_role("archivist").get(f"/lots/{examples_batch}").text
    assert "2 avertissements" in table


def test_personal_examples_are_shown_only_to_authorised_roles(as_role, examples_batch):
    archivist = section(as_role("archivist").get(f"/lots/{examples_batch}").text)
    assert "1840575123456XX" in archivist and "FRANÃ‡OIS" in archivist and "ZZ9" in archivist
    auditor = section(as_role("auditor").get(f"/lots/{examples_batch}").text)
    assert "FRANÃ‡OIS" in auditor and "ZZ9" in auditor  # auditors read the datasets' names
    assert "1840575123456XX" not in auditor and "1 exemple masqué" in auditor  # not the NIR (sensitive class)
    admin = section(as_role("admin").get(f"/lots/{examples_batch}").text)
    assert "ZZ9" in admin  # not personal
    assert "FRANÃ‡OIS" not in admin and "1840575123456XX" not in admin and "10042" not in admin
    assert admin.count("exemple masqué") == 2
