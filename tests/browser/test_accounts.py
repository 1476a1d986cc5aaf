"""Local accounts (ledger table, argon2), the [browser] configuration, and the CLI that manages them."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest
from sqlalchemy import inspect

from tests.browser.conftest import FAST_HASHER
from versement import cli
from versement.browse import demo_accounts
from versement.config import ConfigError, load
from versement.ledger import Ledger
from versement.ledger.accounts import AccountError, AccountInfo, Accounts


def signed_in(accounts: Accounts, name: str, password: str) -> AccountInfo:
    found = accounts.authenticate(name, password)
    assert found is not None, name
    return found


TINY_SPEC = """
tool = "tinytool"
label = "Outil minuscule"
version = "1"
scope = "all"

[[datasets]]
name = "pays"
label = "Pays"
record_type = "reference_tables"
scoped = false
key = ["COD_PAY"]
table = "PAYS"
"""


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A configuration file of our own, on a tool specification of our own (the shipped ones are
    being rewritten); returns a function writing it with an optional [browser] section."""
    import extractors.specs

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tinytool.toml").write_text(TINY_SPEC, encoding="utf-8")
    monkeypatch.setattr(extractors.specs, "SPECS_DIR", specs)
    for variable in list(__import__("os").environ):
        if variable.startswith("VERSEMENT"):
            monkeypatch.delenv(variable)

    def write(browser: str = "") -> str:
        path = tmp_path / "deployment.toml"
        path.write_text(
            f"""
[institution]
name = "Université"
identifier = "UNIV"
transferring_agency = "UNIV"
[vitam]
url = "https://127.0.0.1:1"
tenant = 0
ingest_contract = "IC-1"
archival_agency = "CINES"
[paths]
staging = "staging"
[ledger]
url = "sqlite:///ledger.sqlite"
[sources.tiny]
tool = "tinytool"
url = "sqlite:///tiny.sqlite"
{browser}
""",
            encoding="utf-8",
        )
        return str(path)

    return write


def test_accounts_are_argon2_hashes_in_the_ledger_and_audited(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.migrate()
    accounts = Accounts(ledger, FAST_HASHER)
    accounts.add("la.martin@univ.fr", "auditor", "un long mot de passe", actor="t")
    with ledger.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT password_hash FROM browser_account").scalar_one()
    assert stored.startswith("$argon2id$") and "un long" not in stored
    assert signed_in(accounts, "la.martin@univ.fr", "un long mot de passe").role == "auditor"
    assert accounts.authenticate("la.martin@univ.fr", "un long mot de passE") is None
    assert accounts.authenticate("inconnu", "un long mot de passe") is None
    assert accounts.authenticate("'; DROP TABLE browser_account; --", "x") is None
    event = ledger.events()[-1]
    assert event.action == "account.created" and json.loads(event.details) == {
        "account": "la.martin@univ.fr",
        "role": "auditor",
    }
    with pytest.raises(AccountError, match="existe déjà"):
        accounts.add("la.martin@univ.fr", "admin", "un autre long mot de passe", actor="t")
    with pytest.raises(AccountError, match="au moins 12"):
        accounts.add("bob", "admin", "court", actor="t")
    with pytest.raises(AccountError, match="rôle inconnu 'root'"):
        accounts.add("bob", "root", "un long mot de passe", actor="t")
    with pytest.raises(AccountError, match="nom de compte"):
        accounts.add("<b>bob</b>", "admin", "un long mot de passe", actor="t")
    accounts.add("la.martin@univ.fr", "archivist", "un nouveau mot de passe", actor="t", replace=True)
    assert signed_in(accounts, "la.martin@univ.fr", "un nouveau mot de passe").role == "archivist"
    assert ledger.events()[-1].action == "account.changed"
    assert ledger.verify().ok


@pytest.mark.postgres
def test_the_accounts_migration_runs_on_postgresql(postgres_url):
    ledger = Ledger(postgres_url)
    ledger.migrate()
    ledger.migrate()  # idempotent
    assert "browser_account" in inspect(ledger.engine).get_table_names()
    Accounts(ledger, FAST_HASHER).add("alice", "admin", "un long mot de passe", actor="t")
    assert signed_in(Accounts(ledger), "alice", "un long mot de passe").name == "alice"
    ledger.close()


def test_browser_section_is_strict(deployment):
    settings = load(
        deployment(
            '[browser]\nauth = "header"\ntrusted_proxies = ["10.0.0.1", "192.168.0.0/24"]\n'
            'groups_header = "X-Groups"\n'
            'roles = { auditor = { groups = ["auditeurs"] }, admin = { users = ["root"] } }\n'
        )
    )
    assert settings.browser.auth == "header"
    assert [str(n) for n in settings.browser.trusted_proxies] == ["10.0.0.1/32", "192.168.0.0/24"]
    assert settings.browser.roles["auditor"]["groups"] == ("auditeurs",)
    assert load(deployment()).browser.demo_accounts is False  # only the demo file sets it
    for section, key in (
        ('[browser]\nauht = "local"', "browser.auht"),
        ('[browser]\nauth = "kerberos"', "browser.auth"),
        ('[browser]\ntrusted_proxies = ["not-an-address"]', "browser.trusted_proxies.0"),
        ('[browser]\nroles = { superuser = { users = ["x"] } }', "browser.roles.superuser"),
        ('[browser]\nroles = { admin = { userz = ["x"] } }', "browser.roles.admin.userz"),
        # header mode without the proxies to believe, or without roles, would let nobody in
        ('[browser]\nauth = "header"\nroles = { auditor = { users = ["x"] } }', "browser.trusted_proxies"),
        ('[browser]\nauth = "header"\ntrusted_proxies = ["10.0.0.1"]', "browser.roles"),
        ('[browser]\nauth = "header"\ntrusted_proxies = ["10.0.0.1"]\nroles = { auditor = {} }', "browser.roles"),
    ):
        with pytest.raises(ConfigError) as caught:
            load(deployment(section))
        assert caught.value.key == key, section


def test_the_demo_file_alone_asks_for_demo_accounts(repo_root):
    import tomllib

    assert tomllib.loads((repo_root / "config" / "demo.toml").read_text())["browser"]["demo_accounts"] is True
    others = [p for p in (repo_root / "config").glob("*.toml") if p.name != "demo.toml"]
    assert all("demo_accounts" not in p.read_text() for p in others)


def test_demo_accounts_one_per_role_with_fresh_passwords(deployment, tmp_path):
    settings = load(deployment("[browser]\ndemo_accounts = true"))
    ledger = Ledger(settings.ledger_url)
    ledger.migrate()
    made = demo_accounts(settings, ledger)
    assert sorted(role for _, role, _ in made) == ["admin", "archivist", "auditor"]
    again = demo_accounts(settings, ledger)  # a second demo renews the passwords
    for (name, role, password), (_, _, old) in zip(again, made, strict=True):
        assert password != old
        assert signed_in(Accounts(ledger), name, password).role == role
    assert demo_accounts(load(deployment()), ledger) == []


def test_cli_adds_an_account_with_the_password_from_stdin_never_argv(deployment, monkeypatch, capsys):
    config = deployment()
    monkeypatch.setattr(sys, "stdin", io.StringIO("un mot de passe sûr\n"))
    assert cli.main(["--config", config, "accounts", "add", "camille", "--role", "archivist", "--password-stdin"]) == 0
    assert "compte camille (archivist) enregistré" in capsys.readouterr().out
    ledger = Ledger(load(config).ledger_url)
    assert signed_in(Accounts(ledger), "camille", "un mot de passe sûr").role == "archivist"
    assert cli.main(["--config", config, "accounts", "list"]) == 0
    assert "camille\tarchivist\tactif" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("court\n"))
    assert cli.main(["--config", config, "accounts", "add", "dom", "--role", "admin", "--password-stdin"]) == 2
    assert "au moins 12 caractères" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--config", config, "accounts", "add", "dom", "--role", "admin", "--password", "x" * 20])
    with pytest.raises(SystemExit):
        cli.main(["--config", config, "accounts", "add", "dom", "--role", "superuser"])
    assert "court" not in "".join(e.details for e in ledger.events())


def test_versement_browse_starts_the_browser_program_on_the_same_configuration(deployment, monkeypatch):
    import subprocess

    seen = {}

    def fake_run(command, check):
        seen["command"] = command
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    config = deployment()
    assert cli.main(["--config", config, "browse", "--host", "127.0.0.2", "--port", "8123"]) == 0
    command = seen["command"]
    assert command[1:3] == ["-m", "browser"]
    assert command[command.index("--config") + 1] == str(load(config).source_file)
    assert command[command.index("--port") + 1] == "8123" and command[command.index("--host") + 1] == "127.0.0.2"


def test_the_browser_program_serves_the_configured_ledger_with_its_settings(deployment, monkeypatch, capsys):
    import uvicorn

    import browser.__main__ as program

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    config = deployment(
        '[browser]\nauth = "header"\ntrusted_proxies = ["10.0.0.1"]\nroles = { auditor = { users = ["alice"] } }'
    )
    assert program.main(["--config", config, "--port", "8765"]) == 0
    assert served["port"] == 8765 and served["host"] == "127.0.0.1" and served["proxy_headers"] is False
    assert "VERSEMENT_BROWSER_SESSION_PASSWORD n'est pas défini" in capsys.readouterr().err
    from starlette.testclient import TestClient

    client = TestClient(served["app"], follow_redirects=False)
    assert client.get("/connexion").status_code == 401  # header mode from the file: no local form
    monkeypatch.setenv("VERSEMENT_BROWSER_SESSION_PASSWORD", "a long signing key")
    assert program.main(["--config", config]) == 0
    assert "n'est pas défini" not in capsys.readouterr().err
    assert program.main(["--config", str(config) + ".missing"]) == 2
    assert "configuration file not found" in capsys.readouterr().err


def test_several_server_processes_need_one_session_key(deployment, monkeypatch, capsys):
    import uvicorn

    import browser.__main__ as program

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    config = deployment()
    monkeypatch.delenv("VERSEMENT_BROWSER_SESSION_PASSWORD", raising=False)
    monkeypatch.setenv("VERSEMENT_CONFIG", str(config))  # main sets it for the worker processes
    assert program.main(["--config", config, "--workers", "2"]) == 2
    assert "--workers demande VERSEMENT_BROWSER_SESSION_PASSWORD" in capsys.readouterr().err
    assert served == {}
    monkeypatch.setenv("VERSEMENT_BROWSER_SESSION_PASSWORD", "a long signing key")
    assert program.main(["--config", config, "--workers", "2"]) == 0
    assert served["app"] == "browser.__main__:worker_app" and served["workers"] == 2 and served["factory"] is True


def test_the_person_index_is_rebuilt_on_demand_without_serving(deployment, monkeypatch, capsys):
    import subprocess

    import uvicorn

    import browser.__main__ as program
    from versement import cli

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    config = deployment()
    assert program.main(["--config", config, "--rebuild-index"]) == 0
    assert "index des personnes reconstruit : 0 jeu(x) de données relu(s)" in capsys.readouterr().err
    assert served == {}
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        subprocess, "run", lambda command, **kw: seen.update(command=command) or subprocess.CompletedProcess(command, 0)
    )
    assert cli.main(["--config", config, "browse", "--rebuild-index"]) == 0
    assert seen["command"][-1] == "--rebuild-index" and "Navigateur" not in capsys.readouterr().err
