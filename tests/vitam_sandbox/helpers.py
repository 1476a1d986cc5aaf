"""Raw HTTP helpers for the sandbox tests: they speak VITAM's API directly, without vitam_client."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from lxml import etree

from tests.vitam_client.sips import CONTENT

INGEST = "/ingest-external/v1"
ADMIN = "/admin-external/v1"
ACCESS = "/access-external/v1"
TENANT = {"X-Tenant-Id": "0"}
ACCESS_HEADERS = {"X-Tenant-Id": "0", "X-Access-Contract-Id": "AC-000001"}


def post_sip(http: Any, data: bytes, *, workflow: str = "DEFAULT_WORKFLOW", **headers: str) -> str:
    answer = http.post(
        f"{INGEST}/ingests",
        content=data,
        headers={
            **TENANT,
            "X-Context-Id": workflow,
            "X-Action": "RESUME",
            "Content-Type": "application/octet-stream",
            **headers,
        },
    )
    assert answer.status_code == 202, answer.text
    return str(answer.headers["X-Request-Id"])


def wait(http: Any, operation_id: str, tries: int = 20) -> Any:
    for _ in range(tries):
        answer = http.head(f"{ADMIN}/operations/{operation_id}", headers=TENANT)
        if answer.status_code != 202:
            return answer
    raise AssertionError(f"operation {operation_id} still running after {tries} polls")


def atr_of(http: Any, operation_id: str) -> etree._Element:
    answer = http.get(f"{INGEST}/ingests/{operation_id}/archivetransferreply", headers=TENANT)
    assert answer.status_code == 200, answer.text
    return etree.fromstring(answer.content)


def ingest(http: Any, data: bytes, **headers: str) -> tuple[str, etree._Element]:
    operation_id = post_sip(http, data, **headers)
    wait(http, operation_id)
    return operation_id, atr_of(http, operation_id)


def reply_code(atr: etree._Element) -> str:
    return str(atr.findtext("{*}ReplyCode"))


def details(atr: etree._Element) -> list[str]:
    return [str(e.findtext("{*}OutcomeDetail")) for e in atr.iterfind("{*}Operation/{*}Event")]


def technical(atr: etree._Element) -> str:
    return " ".join(e.findtext("{*}EventDetailData") or "" for e in atr.iterfind("{*}Operation/{*}Event"))


def tar_sip(manifest: str | bytes, *, mode: str = "w", files: dict[str, bytes] | None = None) -> bytes:
    """A tar SIP (mode "w", "w:gz" or "w:bz2") with the manifest at the root and content/BDO1.txt."""
    buffer = io.BytesIO()
    entries = {"manifest.xml": manifest.encode() if isinstance(manifest, str) else manifest}
    entries.update({"content/BDO1.txt": CONTENT} if files is None else files)
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(path: Path) -> bytes:
    return path.read_bytes()
