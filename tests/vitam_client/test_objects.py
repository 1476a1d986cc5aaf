"""Reading archived records back by their key and downloading their objects, against the
sandbox: a unit found by ``OriginatingAgencyArchiveUnitIdentifier`` within its ingest, its
children, and the bytes of its BinaryMaster exactly as they were sent."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import pytest

from tests.vitam_client.sips import MANIFEST_21, build_sip
from tests.vitam_client.test_readback import finished
from vitam_client import VitamClient, VitamError, VitamNotFound, VitamUnauthorized

# Accents, a NUL byte and bytes that are not UTF-8: an object comes back byte for byte.
PAYLOAD = "Lefèvre Œuvray d'Artagnan\n".encode() + b"\x00\xff\xfe" * 1000
KEY = "apogee:etudiant:100001"


def keyed_sip(folder: Path) -> Path:
    digest = hashlib.sha512(PAYLOAD).hexdigest()
    manifest = (
        MANIFEST_21.replace(hashlib.sha512(b"x").hexdigest(), digest)
        .replace("<Size>1</Size>", f"<Size>{len(PAYLOAD)}</Size>")
        .replace(
            "<Title>Dossiers étudiants 2023</Title>",
            f"<Title>Dossiers étudiants 2023</Title>\n<OriginatingAgencyArchiveUnitIdentifier>{KEY}"
            "</OriginatingAgencyArchiveUnitIdentifier>",
        )
    )
    return build_sip(folder, manifest=manifest, files={"content/BDO1.txt": PAYLOAD})


def test_a_unit_is_found_by_its_key_and_its_object_downloaded(client: VitamClient, tmp_path: Path) -> None:
    operation = finished(client, keyed_sip(tmp_path))
    other = finished(client, keyed_sip(tmp_path))  # the same key in another ingest is not mixed in
    [found] = client.units_by_key(operation, KEY)
    assert found["#opi"] == operation and found["Title"] == "Dossiers étudiants 2023"
    assert client.units_by_key(operation, KEY + "0") == []
    assert client.units_by_key(operation, "apogee:etudiant:100001' OR '1'='1") == []
    [child] = client.child_units(operation, found["#id"])
    assert child["Title"] == "Relevé de notes" and child["#object"]
    assert client.child_units(other, found["#id"]) == []
    target = io.BytesIO()
    assert client.download_object(child["#id"], target) == len(PAYLOAD)
    assert target.getvalue() == PAYLOAD
    with pytest.raises(VitamNotFound):
        client.download_object(child["#id"], io.BytesIO(), qualifier="Dissemination")
    with pytest.raises(VitamNotFound):
        client.download_object(child["#id"], io.BytesIO(), version=2)
    with pytest.raises(VitamError):  # a unit without object group
        client.download_object(found["#id"], io.BytesIO())


def test_the_download_needs_an_active_access_contract(make_client, tmp_path: Path) -> None:
    client = make_client()
    operation = finished(client, keyed_sip(tmp_path))
    [found] = client.units_by_key(operation, KEY)
    [child] = client.child_units(operation, found["#id"])
    with pytest.raises(VitamUnauthorized):
        make_client(access_contract="AC-NO-SUCH-CONTRACT").download_object(child["#id"], io.BytesIO())


def test_the_sandbox_asks_for_qualifier_and_version(http, client: VitamClient, tmp_path: Path) -> None:
    operation = finished(client, keyed_sip(tmp_path))
    [found] = client.units_by_key(operation, KEY)
    [child] = client.child_units(operation, found["#id"])
    headers = {"X-Tenant-Id": "0", "X-Access-Contract-Id": "AC-000001", "Accept": "application/octet-stream"}
    url = f"/access-external/v1/units/{child['#id']}/objects"
    assert http.get(url, headers=headers).status_code == 412
    assert http.get(url, headers={**headers, "X-Qualifier": "BinaryMaster", "X-Version": "1;2"}).status_code == 412
    answer = http.get(url, headers={**headers, "X-Qualifier": "BinaryMaster", "X-Version": "1"})
    assert answer.status_code == 200 and answer.content == PAYLOAD
    assert answer.headers["x-qualifier"] == "BinaryMaster" and answer.headers["x-version"] == "1"
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_transient_failure_mid_download_is_retried_from_the_start(tmp_path: Path) -> None:
    from tests.vitam_client.conftest import endpoint, no_sleep

    answers = iter([httpx.Response(503, json={"httpCode": 503}), httpx.Response(200, content=PAYLOAD)])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    client = VitamClient(endpoint(), transport=httpx.MockTransport(handler), sleep=no_sleep)
    target = io.BytesIO(b"left over")
    target.seek(0, io.SEEK_END)
    assert client.download_object("aeaqaaaaaahgausqab7boamgjd7hnbqaaaba", target) == len(PAYLOAD)
    assert target.getvalue() == b"left over" + PAYLOAD
    assert [r.headers["X-Qualifier"] for r in seen] == ["BinaryMaster", "BinaryMaster"]
    assert seen[0].headers["Accept"] == "application/octet-stream" and seen[0].headers["X-Version"] == "1"
