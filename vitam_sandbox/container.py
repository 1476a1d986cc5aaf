"""The SIP container: zip, tar, tar.gz or tar.bz2, as VITAM accepts (vitam-api.md §4.2).

VITAM detects the container type from its content (Siegfried), not from the Content-Type or a
file name: so does the sandbox, from the magic bytes. Anything else is ``CHECK_CONTAINER.KO``.
A container of an accepted type that cannot be unpacked, or whose entries have unsafe names
(absolute paths, ``..``, characters no file system should get, links and devices), fails the
reception step, ``STP_UPLOAD_SIP.KO``, as VITAM's upload with its file-name check does.

Zip members are read in place; tar members are unpacked into a work folder first (a compressed
tar cannot be read out of order cheaply).
"""

from __future__ import annotations

import re
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import IO

from vitam_sandbox.events import Refusal

SANITY = "STP_SANITY_CHECK_SIP"
UPLOAD = "STP_UPLOAD_SIP"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')
CHUNK = 1024 * 1024


def container_kind(sip: Path) -> str:
    """zip | tar | gzip | bzip2, or CHECK_CONTAINER.KO."""
    with sip.open("rb") as stream:
        head = stream.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[257:262] == b"ustar":
        return "tar"
    found = head[:8].hex() if head else "an empty file"
    raise Refusal(
        SANITY,
        "CHECK_CONTAINER",
        "CHECK_CONTAINER.KO",
        technical=f"not a zip, tar, tar.gz or tar.bz2 container (starts with {found})",
    )


class Container:
    """The files of an unpacked SIP, by their path inside it."""

    def __init__(self, sip: Path, kind: str, work: Path) -> None:
        self.kind = kind
        self._zip: zipfile.ZipFile | None = None
        self._folder = work
        self.names: list[str] = []
        self._sizes: dict[str, int] = {}
        try:
            if kind == "zip":
                self._open_zip(sip)
            else:
                self._unpack_tar(sip)
        except Refusal:
            self.close()
            raise
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            self.close()
            raise _upload_refusal(f"the {kind} container cannot be unpacked: {exc}") from None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(name)
        return (self._folder / name).open("rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def size(self, name: str) -> int:
        return self._sizes[name]

    def has(self, name: str) -> bool:
        return name in self._sizes

    def _open_zip(self, sip: Path) -> None:
        self._zip = zipfile.ZipFile(sip)
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            self._add(_safe_name(info.filename), info.file_size)

    def _unpack_tar(self, sip: Path) -> None:
        if self.kind == "gzip":
            archive = tarfile.TarFile.gzopen(sip)
        elif self.kind == "bzip2":
            archive = tarfile.TarFile.bz2open(sip)
        else:
            archive = tarfile.TarFile.taropen(sip)  # noqa: SIM115 (closed by the with below)
        with archive:
            for member in archive:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise _upload_refusal(f"{member.name!r} is a link or a device, not a file")
                name = _safe_name(member.name)
                self._add(name, member.size)
                target = self._folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None  # a regular file
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)

    def _add(self, name: str, size: int) -> None:
        if name in self._sizes:
            raise _upload_refusal(f"{name!r} appears twice in the container")
        self.names.append(name)
        self._sizes[name] = size


def _safe_name(raw: str) -> str:
    name = raw[2:] if raw.startswith("./") else raw
    parts = name.split("/")
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts) or _UNSAFE.search(name):
        raise _upload_refusal(f"file name not allowed in a SIP: {raw!r}")
    return name


def _upload_refusal(technical: str) -> Refusal:
    return Refusal(UPLOAD, "UPLOAD_SIP", "UPLOAD_SIP.KO", technical=technical)
