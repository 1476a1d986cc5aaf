"""The browser's locks: sessions, roles, CSRF, the login rate limit, the trusted header, hostile input."""

from __future__ import annotations

import re
from ipaddress import ip_network

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from browser import create_app
from browser.security import PERMISSIONS
from tests.browser.conftest import FAST_HASHER, HOSTILE, PASSWORDS, csrf_of, login
from versement.config import BrowserConfig
from versement.ledger.accounts import Accounts

PUBLIC = {"/connexion", "/sante", "/static"}
SAMPLE = {"batch_id": "1", "name": "individus", "key": "apogee-1"}
# What must never show to someone not signed in: data, digests, names, paths.
SECRETS = ("apogee", "LEFÈVRE", "Camille", "Conforme au tableau de gestion", "staging", "individus.parquet")


def route_paths(app) -> list[tuple[str, set[str]]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE[m.group(1)], route.path)
            found.append((path, set(route.methods or ())))
        elif isinstance(route, Mount):
            found.append((route.path + "/style.css", {"GET"}))
    return found


def test_every_route_refuses_a_request_without_a_session(anonymous, app, ledger):
    before = len(ledger.events())
    checked = 0
    for path, methods in route_paths(app):
        if path in PUBLIC or any(path.startswith(p + "/") for p in PUBLIC):
            continue
        for method in methods - {"HEAD"}:
            response = anonymous.request(method, path)
            checked += 1
            if method == "GET":
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/connexion"), path
            else:
                assert response.status_code == 401, (method, path)
            assert not any(secret in response.text for secret in SECRETS), (method, path)
    assert checked >= 9  # every page and download of the app
    assert len(ledger.events()) == before  # nothing consulted, nothing recorded


def test_routes_outside_the_table_are_refused_too(anonymous):
    for path in ("/lots/1/inconnu", "/admin", "/lots/1/jeux/individus/../../../etc/passwd", "/static/../app.py"):
        response = anonymous.get(path)
        assert response.status_code in (303, 404), path
        assert "import" not in response.text and "apogee" not in response.text


def test_public_routes_reveal_nothing(anonymous):
    assert anonymous.get("/sante").json() == {"status": "ok"}
    login_page = anonymous.get("/connexion").text
    assert not any(secret in login_page for secret in SECRETS)
    assert anonymous.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_every_guarded_route_names_a_permission(app):
    for route in app.routes:
        if isinstance(route, Route) and route.path not in PUBLIC and route.path != "/deconnexion":
            assert getattr(route.endpoint, "permission", None) in PERMISSIONS, route.path


def test_an_auditor_cannot_reach_admin_pages(as_role):
    for role in ("auditor", "archivist"):
        response = as_role(role).get("/comptes")
        assert response.status_code == 403 and 'role="alert"' in response.text
        assert "auditeur" not in response.text.split("<main")[1] or role != "auditor"
    admin = as_role("admin")
    page = admin.get("/comptes")
    assert page.status_code == 200 and "archiviste" in page.text and "password" not in page.text
    assert "$argon2" not in page.text
    # the admin role runs the deployment and sees no personal data
    assert admin.get("/lots/1/jeux/individus").status_code == 403
    assert admin.get("/lots/1/jeux/individus/export.csv").status_code == 403


def test_values_holding_html_or_script_are_shown_as_text(as_role):
    page = as_role("archivist").get("/lots/1/jeux/individus", params={"valeur": "gras", "colonne": "LIB_NOM_PAT_IND"})
    assert HOSTILE not in page.text and "<b>gras</b>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;gras&lt;/b&gt;" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_login_name_holding_markup_is_echoed_as_text(anonymous):
    form = anonymous.get("/connexion")
    name = '"><script>alert(1)</script>'
    failed = anonymous.post("/connexion", data={"nom": name, "mot_de_passe": "x", "csrf": csrf_of(form.text)})
    assert failed.status_code == 401 and 'role="alert"' in failed.text
    assert "<script>alert(1)" not in failed.text and "&#34;&gt;&lt;script&gt;" in failed.text


TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "individus/../../x",
    "/etc/passwd",
    "individus%00",
]
INJECTIONS = [
    "' OR 1=1 --",
    '"; DROP TABLE batch; --',
    "x') UNION SELECT * FROM read_csv('/etc/passwd') --",
    "COD_IND\"; COPY (SELECT 1) TO '/tmp/owned.csv'; --",
    "1; ATTACH '/tmp/owned.db'",
]


def test_path_traversal_and_sql_injection_change_nothing_and_reveal_nothing(as_role, ledger, tmp_path):
    client = as_role("archivist")
    before = [(b.id, b.state, b.updated_at) for b in ledger.batches()]
    for bad in TRAVERSALS + INJECTIONS:
        for path in (f"/lots/1/jeux/{bad}", f"/lots/1/jeux/{bad}/export.csv", f"/lots/{bad}", f"/lots/{bad}/atr.xml"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "root:" not in response.text and "Traceback" not in response.text
        for param in ("colonne", "operateur", "tri", "ordre", "page", "taille"):
            for path in ("/lots/1/jeux/individus", "/lots/1/jeux/individus/export.csv"):
                params = {param: bad, "valeur": "a"}
                if param == "operateur":
                    params["colonne"] = "LIB_NOM_PAT_IND"
                response = client.get(path, params=params)
                assert response.status_code == 400, (path, param, bad)
                assert 'role="alert"' in response.text
                leaks = ("read_parquet", "duckdb", "Error", "Traceback", "root:", str(tmp_path))
                assert not any(word in response.text for word in leaks), (path, param, bad)
        # a typed value is data, never SQL: it matches no row and the request succeeds
        page = client.get("/lots/1/jeux/individus", params={"colonne": "LIB_NOM_PAT_IND", "valeur": bad})
        assert page.status_code == 200 and "0 ligne(s) correspondante(s)" in page.text
        for param in ("type", "page"):
            assert client.get("/journal", params={param: bad}).status_code in (400, 403)
        assert as_role("auditor").get("/journal", params={"par": bad}).status_code == 200
        # the person pages: a key or a search value is data too
        for path in (f"/personnes/{bad}", f"/personnes/{bad}/dossier.csv", f"/personnes/{bad}/dossier.pdf"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "root:" not in response.text and "Traceback" not in response.text
        for param in ("nom", "prenom", "naissance", "numero"):
            response = client.get("/personnes", params={param: bad})
            assert response.status_code in (200, 400), (param, bad)
            revealed = ("sqlite3", "OperationalError", "Traceback", "root:", str(tmp_path))
            assert not any(word in response.text for word in revealed), (param, bad)
            assert 'href="/personnes/apogee-' not in response.text, (param, bad)  # matched nobody
    # a column whose own name holds SQL is quoted from the file's schema and sorts like any other
    odd = client.get("/lots/1/jeux/individus", params={"tri": 'COL"; DROP', "colonne": 'COL"; DROP', "valeur": "odd"})
    assert odd.status_code == 200 and "120 ligne(s) correspondante(s)" in odd.text
    assert [(b.id, b.state, b.updated_at) for b in ledger.batches()] == before
    assert ledger.verify().ok
    assert not any(p.name.startswith("owned") for p in tmp_path.parent.rglob("owned*"))


def test_duckdb_reads_the_dataset_file_and_nothing_else(ledger, tmp_path):
    from browser import data

    dataset = ledger.batch(1).datasets[0]
    (tmp_path / "other.csv").write_text("secret\n42\n")
    with data.connect(dataset.path) as connection:
        assert connection.execute("SELECT count(*) FROM read_parquet(?)", [dataset.path]).fetchone() == (120,)
        for statement in (
            f"SELECT * FROM read_csv('{tmp_path / 'other.csv'}')",
            f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
            "INSTALL httpfs",
            "LOAD httpfs",
            "SET enable_external_access = true",
            "SET allowed_paths = ['/']",
        ):
            with pytest.raises(Exception) as caught:
                connection.execute(statement)
            assert "Permission" in type(caught.value).__name__ or "Invalid" in type(caught.value).__name__, statement
    assert not (tmp_path / "written.csv").exists()


def test_a_form_post_without_its_csrf_token_is_refused(app, anonymous):
    refused = anonymous.post("/connexion", data={"nom": "auditeur", "mot_de_passe": PASSWORDS["auditeur"]})
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert anonymous.get("/").status_code == 303  # not signed in
    forged = anonymous.post(
        "/connexion", data={"nom": "auditeur", "mot_de_passe": PASSWORDS["auditeur"], "csrf": "forged"}
    )
    assert forged.status_code == 403
    client = TestClient(app, follow_redirects=False)
    assert login(client, "auditeur").status_code == 303
    assert client.post("/deconnexion", data={}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    page = client.get("/").text
    assert client.post("/deconnexion", data={"csrf": csrf_of(page)}).status_code == 303
    assert client.get("/").status_code == 303


def test_session_cookie_is_signed_httponly_and_samesite(app):
    client = TestClient(app, follow_redirects=False)
    response = login(client, "auditeur")
    cookie = response.headers["set-cookie"]
    assert "versement_session=" in cookie and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    value = client.cookies["versement_session"]
    client.cookies.set("versement_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/").status_code == 303  # a tampered cookie is no session
    assert TestClient(app).cookies.get("versement_session") is None


def test_login_attempts_are_rate_limited(app, ledger):
    client = TestClient(app, follow_redirects=False)
    for _ in range(5):
        assert login(client, "auditeur", "wrong password!").status_code == 401
    blocked = login(client, "auditeur")  # even the right password waits now
    assert blocked.status_code == 429 and "Trop de tentatives" in blocked.text and 'role="alert"' in blocked.text
    assert login(client, "archiviste").status_code == 429  # the same address, another name
    elsewhere = TestClient(app, follow_redirects=False, client=("192.0.2.7", 4000))
    assert login(elsewhere, "auditeur").status_code == 429  # the same name, another address
    assert login(elsewhere, "archiviste").status_code == 303
    limiter = app.state.limiter
    later = limiter.clock() + limiter.window + 1
    limiter.clock = lambda: later
    assert login(client, "auditeur").status_code == 303
    failures = [e for e in ledger.events() if e.action == "auth.failed"]
    assert len(failures) == 5 and all(e.actor == "auditeur" for e in failures)
    assert "wrong password" not in "".join(e.details for e in ledger.events())


def test_a_deactivated_account_loses_its_session(app, ledger):
    client = TestClient(app, follow_redirects=False)
    assert login(client, "auditeur").status_code == 303
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE browser_account SET active = 0 WHERE name = 'auditeur'")
    assert client.get("/").status_code == 303
    assert login(client, "auditeur").status_code == 401


def header_app(ledger) -> Starlette:
    config = BrowserConfig(
        auth="header",
        trusted_proxies=(ip_network("10.1.2.3/32"),),
        groups_header="X-Remote-Groups",
        roles={"auditor": {"users": ("alice",), "groups": ()}, "admin": {"users": (), "groups": ("dsi-admins",)}},
    )
    return create_app(ledger, config, secret_key="k", accounts=Accounts(ledger, FAST_HASHER))


def test_trusted_header_is_honoured_only_from_a_configured_proxy(ledger):
    app = header_app(ledger)
    proxy = TestClient(app, follow_redirects=False, client=("10.1.2.3", 5000))
    page = proxy.get("/", headers={"REMOTE_USER": "alice"})
    assert page.status_code == 200 and 'data-user="alice"' in page.text
    assert proxy.get("/comptes", headers={"REMOTE_USER": "alice"}).status_code == 403
    admin = proxy.get("/comptes", headers={"REMOTE_USER": "bob", "X-Remote-Groups": "staff;dsi-admins"})
    assert admin.status_code == 200
    assert proxy.get("/", headers={"REMOTE_USER": "mallory"}).status_code == 303  # no role: refused
    for address in ("10.1.2.4", "127.0.0.1", "testclient"):
        outsider = TestClient(app, follow_redirects=False, client=(address, 5000))
        response = outsider.get("/", headers={"REMOTE_USER": "alice", "X-Forwarded-For": "10.1.2.3"})
        assert response.status_code == 303, address
    # in header mode the local form is closed: a local password opens nothing
    form = proxy.get("/connexion")
    assert form.status_code == 401


def test_the_header_is_ignored_in_local_mode(app):
    client = TestClient(app, follow_redirects=False, client=("127.0.0.1", 5000))
    assert client.get("/", headers={"REMOTE_USER": "admin"}).status_code == 303


def test_after_sign_in_the_user_returns_only_to_a_page_of_this_site(app):
    for wanted, landed in (
        ("/lots/1", "/lots/1"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ):
        client = TestClient(app, follow_redirects=False)
        first = client.get("/connexion", params={"suite": wanted})
        response = client.post(
            "/connexion",
            data={
                "nom": "auditeur",
                "mot_de_passe": PASSWORDS["auditeur"],
                "csrf": csrf_of(first.text),
                "suite": wanted,
            },
        )
        assert response.status_code == 303 and response.headers["location"] == landed, wanted
    anonymous = TestClient(app, follow_redirects=False)
    sent = anonymous.get("/lots/1")
    assert sent.headers["location"] == "/connexion?suite=%2Flots%2F1"
    assert 'name="suite" value="/lots/1"' in anonymous.get(sent.headers["location"]).text


def test_a_session_ends_after_its_lifetime(ledger):
    import itsdangerous

    config = BrowserConfig(session_minutes=1)
    app = create_app(ledger, config, secret_key="k", accounts=Accounts(ledger, FAST_HASHER))
    client = TestClient(app, follow_redirects=False)
    assert login(client, "auditeur").status_code == 303
    assert client.get("/").status_code == 200
    signer = itsdangerous.TimestampSigner("k")
    payload = signer.unsign(client.cookies["versement_session"])
    client.cookies.set("versement_session", signer.sign(payload).decode())
    assert client.get("/").status_code == 200  # re-signed now: still valid
    old = itsdangerous.TimestampSigner("k")
    old.get_timestamp = lambda: int(__import__("time").time()) - 120  # type: ignore[method-assign]
    client.cookies.set("versement_session", old.sign(payload).decode())
    assert client.get("/").status_code == 303  # signed two minutes ago: expired
