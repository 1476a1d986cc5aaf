"""A forward-only zip writer whose memory does not grow with the number of entries.

Python's ``zipfile`` keeps a ``ZipInfo`` per entry until the archive is closed (about half a
kilobyte each, so tens of megabytes for a 100,000-object SIP). This writer appends each
central-directory record to a spool file as soon as its entry is written and copies the spool
at the end, so memory stays flat. It writes sequentially, never seeking back, which lets it
compute the SHA-256 of the whole zip while writing (the approval is bound to it) and the
SHA-512 of every payload from the very bytes it compresses (each payload is read once).

Entries are deflated at level 6 (zip's default). An entry whose size is known to fit in memory
is compressed in one call and written with its CRC and sizes in the local header; a larger file
is streamed with a data descriptor (general-purpose flag bit 3). Zip64 records are written
where the format needs them (more than 65,535 entries, offsets or sizes beyond 4 GiB). Entry
metadata is fixed (time from the SIP date, Unix mode 0644), so the same input gives the same
bytes.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from seda.archive import CHUNK

LEVEL = 6
_ONE_SHOT = CHUNK  # entries up to 1 MiB are compressed in one call
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF
_FLAG_DESCRIPTOR = 0x08
_DEFLATED = 8
_VERSION_ZIP64 = 45
_VERSION_DEFLATE = 20
_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_EXTERNAL = 0o100644 << 16

_Time = tuple[int, int, int, int, int, int]


@dataclass(frozen=True)
class Written:
    """What went into the zip for one entry: digest and size of the uncompressed bytes."""

    sha512: str
    size: int


def dos_time(when: _Time) -> tuple[int, int]:
    year, month, day, hour, minute, second = when
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class ZipStreamWriter:
    """Write entries one after the other to `target`; `close()` writes the central directory."""

    def __init__(self, target: BinaryIO, when: _Time) -> None:
        self._target = target
        self._sha256 = hashlib.sha256()
        self._offset = 0
        self._count = 0
        self._time, self._date = dos_time(when)
        self._central: IO[bytes] = tempfile.TemporaryFile(prefix="versement-zipcd-")  # noqa: SIM115
        self._central_size = 0
        self.closed = False

    # -- public ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    @property
    def offset(self) -> int:
        """Bytes written so far: the size of the zip if it were closed now, minus its directory."""
        return self._offset

    def write_bytes(self, name: str, data: bytes) -> Written:
        """One entry from bytes held in memory."""
        digest = hashlib.sha512(data).hexdigest()
        compressed = zlib.compress(data, LEVEL, -15)
        crc = zlib.crc32(data)
        self._entry(name, crc, compressed, len(data))
        return Written(digest, len(data))

    def write_file(self, name: str, source: Path | str) -> Written:
        """One entry copied from a file, read once, whatever its size."""
        descriptor = os.open(source, os.O_RDONLY)  # cheaper than open() for many small files
        try:
            # A short read of a regular file means its end: one system call for a small file.
            head = os.read(descriptor, _ONE_SHOT + 1)
            if len(head) <= _ONE_SHOT:
                return self.write_bytes(name, head)
            with os.fdopen(os.dup(descriptor), "rb") as reader:
                reader.seek(len(head))
                return self._stream(name, head, reader)
        finally:
            os.close(descriptor)

    def write_parts(self, name: str, parts: list[bytes | IO[bytes]]) -> Written:
        """One entry made of byte strings and whole spool files, in order (the manifest's pieces)."""
        digest = hashlib.sha512()
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        crc = 0
        size = 0
        offset = self._begin(name, descriptor=True)
        written = 0
        for part in parts:
            for chunk in _chunks(part):
                digest.update(chunk)
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                out = compressor.compress(chunk)
                if out:
                    self._write(out)
                    written += len(out)
        out = compressor.flush()
        self._write(out)
        written += len(out)
        self._finish_descriptor(name, offset, crc, written, size)
        return Written(digest.hexdigest(), size)

    def close(self) -> str:
        """Write the central directory and end records; the SHA-256 of the whole zip."""
        if self.closed:
            return self._sha256.hexdigest()
        start = self._offset
        self._central.seek(0)
        while chunk := self._central.read(CHUNK):
            self._write(chunk)
        self._central.close()
        size = self._central_size
        if self._count > _U16 or start > _U32 or size > _U32:
            self._zip64_end(start, size)
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, _U16, _U16, _U32, _U32, 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, self._count, self._count, size, start, 0))
        self._target.flush()
        self.closed = True
        return self._sha256.hexdigest()

    def abort(self) -> None:
        if not self.closed:
            self._central.close()
            self.closed = True

    # -- entries --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._target.write(data)
        self._sha256.update(data)
        self._offset += len(data)

    def _entry(self, name: str, crc: int, compressed: bytes, size: int) -> None:
        encoded = name.encode("ascii")
        offset = self._offset
        big = size > _U32 or len(compressed) > _U32
        extra = struct.pack("<HHQQ", 1, 16, size, len(compressed)) if big else b""
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _VERSION_ZIP64 if big else _VERSION_DEFLATE,
            0,
            _DEFLATED,
            self._time,
            self._date,
            crc,
            _U32 if big else len(compressed),
            _U32 if big else size,
            len(encoded),
            len(extra),
        )
        self._write(header + encoded + extra)
        self._write(compressed)
        self._record(encoded, 0, crc, len(compressed), size, offset)

    def _begin(self, name: str, *, descriptor: bool) -> int:
        encoded = name.encode("ascii")
        offset = self._offset
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _VERSION_ZIP64,
            _FLAG_DESCRIPTOR if descriptor else 0,
            _DEFLATED,
            self._time,
            self._date,
            0,
            0,
            0,
            len(encoded),
            0,
        )
        self._write(header + encoded)
        return offset

    def _finish_descriptor(self, name: str, offset: int, crc: int, compressed: int, size: int) -> None:
        # Zip64 descriptor (8-byte sizes) whenever either size needs it; readers use the
        # central directory, which always holds the exact values.
        if compressed > _U32 or size > _U32:
            self._write(struct.pack("<IIQQ", 0x08074B50, crc, compressed, size))
        else:
            self._write(struct.pack("<IIII", 0x08074B50, crc, compressed, size))
        self._record(name.encode("ascii"), _FLAG_DESCRIPTOR, crc, compressed, size, offset)

    def _stream(self, name: str, head: bytes, reader: IO[bytes]) -> Written:
        digest = hashlib.sha512()
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        offset = self._begin(name, descriptor=True)
        crc = 0
        size = 0
        written = 0
        chunk = head
        while chunk:
            digest.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            out = compressor.compress(chunk)
            if out:
                self._write(out)
                written += len(out)
            chunk = reader.read(CHUNK)
        out = compressor.flush()
        self._write(out)
        written += len(out)
        self._finish_descriptor(name, offset, crc, written, size)
        return Written(digest.hexdigest(), size)

    def _record(self, encoded: bytes, flags: int, crc: int, compressed: int, size: int, offset: int) -> None:
        values = [(size, size > _U32), (compressed, compressed > _U32), (offset, offset > _U32)]
        extra_values = [value for value, big in values if big]
        extra = b""
        if extra_values:
            extra = struct.pack(f"<HH{len(extra_values)}Q", 1, 8 * len(extra_values), *extra_values)
        record = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            _MADE_BY,
            _VERSION_ZIP64 if (extra or flags) else _VERSION_DEFLATE,
            flags,
            _DEFLATED,
            self._time,
            self._date,
            crc,
            _U32 if compressed > _U32 else compressed,
            _U32 if size > _U32 else size,
            len(encoded),
            len(extra),
            0,
            0,
            0,
            _EXTERNAL,
            _U32 if offset > _U32 else offset,
        )
        self._central.write(record + encoded + extra)
        self._central_size += len(record) + len(encoded) + len(extra)
        self._count += 1

    def _zip64_end(self, start: int, size: int) -> None:
        end64 = self._offset
        self._write(
            struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                _MADE_BY,
                _VERSION_ZIP64,
                0,
                0,
                self._count,
                self._count,
                size,
                start,
            )
        )
        self._write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))


def _chunks(part: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(part, bytes):
        yield part
        return
    part.seek(0)
    while chunk := part.read(CHUNK):
        yield chunk
