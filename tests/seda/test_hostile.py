"""Hostile manifests (XXE, billion laughs, external DTD, XInclude) are refused as such.

Each attack is aimed at something the test can watch: a named pipe that would see any read of
the "secret" file, a loopback HTTP server that counts requests, a child process whose address
space is capped so that an expansion would blow up instead of passing silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from seda import SipError, build_sip, detect_version, validate_manifest, validate_sip
from seda.hostile import CHECK
from tests.seda.helpers import make_request, read_manifest, rewrite_zip
from versement.cli import main

SECRET = "mot-de-passe-très-secret-42"
LAUGHS = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
)  # 10^9 "lol" once expanded: about 3 GB


@pytest.fixture
def manifest(tmp_path) -> str:
    return read_manifest(build_sip(make_request(tmp_path / "src"), tmp_path / "sip.zip").path).decode()


def with_doctype(manifest: str, subset: str, use: str = "", external: str = "") -> str:
    """The manifest with a DOCTYPE after the XML declaration and `use` inside its Comment."""
    declaration, rest = manifest.split("\n", 1)
    doctype = f"<!DOCTYPE ArchiveTransfer{external}" + (f" [{subset}]" if subset else "") + ">"
    return f"{declaration}\n{doctype}\n" + rest.replace("<Comment>", f"<Comment>{use}", 1)


class WatchedFile:
    """A named pipe standing in for a secret file: any open for reading is seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with self.path.open("w", encoding="utf-8") as pipe:  # blocks until someone reads
            self.opened.set()
            pipe.write(SECRET)

    def close(self) -> None:
        if not self.opened.is_set():
            with self.path.open("r", encoding="utf-8") as reader:  # release the writer ourselves
                reader.read()
        self._thread.join(5)


@pytest.fixture
def secret_file(tmp_path):
    watched = WatchedFile(tmp_path / "secret.txt")
    yield watched
    watched.close()


@pytest.fixture
def http_server():
    """A loopback server counting the requests it receives."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = f'<!ENTITY leak "{SECRET}">'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def safety_issues(report) -> list[str]:
    return [issue.message for issue in report.issues if issue.check == CHECK]


def test_xxe_reading_a_local_file_is_refused_without_reading_it(manifest, secret_file, seda_schemas, tmp_path):
    hostile = with_doctype(manifest, f'<!ENTITY xxe SYSTEM "file://{secret_file.path}">', use="&xxe;")
    path = tmp_path / "xxe.xml"
    path.write_text(hostile, encoding="utf-8")

    for given in (hostile.encode(), path):
        report = validate_manifest(given, seda_schemas)
        assert not report.valid
        messages = safety_issues(report)
        assert any("declares a DTD" in m for m in messages)
        assert any("external entity xxe" in m and "nothing was read" in m for m in messages)
        assert not any(check.startswith(("seda-", "vitam-")) for check in report.checks_run)
        assert report.issues[0].line == 2  # the DOCTYPE's line
        assert SECRET not in json.dumps(report.to_dict(), ensure_ascii=False)
    assert not secret_file.opened.is_set(), "the parser opened the secret file"


def test_xxe_inside_a_sip_is_refused_and_nothing_else_is_checked(manifest, secret_file, seda_schemas, tmp_path):
    hostile = with_doctype(manifest, f'<!ENTITY xxe SYSTEM "file://{secret_file.path}">', use="&xxe;")
    sip = build_sip(make_request(tmp_path / "src2"), tmp_path / "clean.zip").path
    zipped = rewrite_zip(sip, tmp_path / "xxe.zip", replace={"manifest.xml": hostile.encode()})

    report = validate_sip(zipped, seda_schemas)

    assert {issue.check for issue in report.issues} == {CHECK}
    assert "digest" not in report.checks_run
    assert SECRET not in json.dumps(report.to_dict(), ensure_ascii=False)
    assert not secret_file.opened.is_set()


def test_external_dtd_and_parameter_entities_are_not_fetched(manifest, http_server):
    base, requests = http_server
    hostile = with_doctype(
        manifest,
        f'<!ENTITY % remote SYSTEM "{base}/p.dtd"> %remote;',
        use="&leak;",
        external=f' SYSTEM "{base}/evil.dtd"',
    )

    report = validate_manifest(hostile.encode(), None)

    messages = safety_issues(report)
    assert any(f"external DTD '{base}/evil.dtd'" in m and "not fetched" in m for m in messages)
    assert any("external entity remote" in m for m in messages)
    assert requests == []
    assert SECRET not in json.dumps(report.to_dict(), ensure_ascii=False)


def test_xinclude_is_refused_and_not_followed(manifest, secret_file):
    include = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret_file.path}" parse="text"/>'
    hostile = manifest.replace("<Comment>", f"<Comment>{include}", 1)

    report = validate_manifest(hostile.encode(), None)

    (message,) = safety_issues(report)
    assert "XInclude" in message and str(secret_file.path) in message
    assert report.issues[0].line == 3
    assert not secret_file.opened.is_set()


def test_billion_laughs_is_refused_without_expanding(manifest, tmp_path):
    hostile = with_doctype(manifest, LAUGHS, use="&lol9;")
    path = tmp_path / "laughs.xml"
    path.write_text(hostile, encoding="utf-8")
    # In a child capped at 1 GiB of address space: an expansion would fail there, loudly.
    script = (
        "import json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from pathlib import Path\n"
        "from seda import validate_manifest\n"
        "report = validate_manifest(Path(sys.argv[1]), None)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.
        "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(json.dumps({'report': report.to_dict(), 'peak_kib': peak}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout)
    messages = [i["message"] for i in result["report"]["issues"] if i["check"] == CHECK]
    assert any("declares a DTD" in m and "billion laughs" in m for m in messages)
    assert result["report"]["issues"][0]["line"] == 2
    assert result["peak_kib"] < 200 * 1024  # the whole interpreter with lxml, nothing expanded
    assert "lollol" not in done.stdout


def test_detect_version_refuses_a_dtd(manifest):
    with pytest.raises(SipError, match="declares a DTD"):
        detect_version(with_doctype(manifest, '<!ENTITY a "b">').encode())


def test_the_cli_answers_a_hostile_manifest_with_a_json_report(manifest, secret_file, seda_schemas, tmp_path, capsys):
    path = tmp_path / "xxe.xml"
    path.write_text(
        with_doctype(manifest, f'<!ENTITY xxe SYSTEM "file://{secret_file.path}">', use="&xxe;"), encoding="utf-8"
    )

    assert main(["sip", "validate", str(path), "--schemas", str(seda_schemas), "--json"]) == 1

    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["valid"] is False and report["issues"][0]["check"] == CHECK
    assert SECRET not in out
    assert not secret_file.opened.is_set()
