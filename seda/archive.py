"""Zip writing helpers: reproducible entries and streamed, hashed copies."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

CHUNK = 1 << 20  # 1 MiB: memory stays flat whatever the payload size

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ZIP_LAST_YEAR = 2107
_UNIX = 3  # ZipInfo.create_system; fixed so the archive does not depend on the build host
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--


@dataclass(frozen=True)
class Stored:
    """What was actually written into the zip for one entry."""

    sha512: str
    size: int


def zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """Entry timestamp from the request date (UTC when aware), clamped to what zip can hold."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    if stamp < _ZIP_EPOCH:
        return _ZIP_EPOCH
    if moment.year > _ZIP_LAST_YEAR:
        return (_ZIP_LAST_YEAR, 12, 31, 23, 59, 58)
    return stamp


def entry(name: str, when: tuple[int, int, int, int, int, int], size: int = 0) -> zipfile.ZipInfo:
    """A deflated entry with fixed metadata; `size` (if known) lets zipfile pick Zip64 up front."""
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = _UNIX
    info.external_attr = _FILE_MODE
    info.file_size = size
    return info


def store_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path) -> Stored:
    """Copy `source` into the archive, hashing exactly the bytes handed to the zip writer."""
    digest = hashlib.sha512()
    size = 0
    with source.open("rb") as reader, archive.open(info, "w") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return Stored(digest.hexdigest(), size)


class HashingWriter:
    """A write-only stream that forwards to `target` and keeps a SHA-512 of what went through."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._digest = hashlib.sha512()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._target.write(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
