"""The forward-only zip writer: standard zips (Zip64 when needed) that other tools read."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
import zlib

import pytest

from seda.zipstream import ZipStreamWriter

WHEN = (2024, 3, 15, 10, 30, 0)


def test_entries_small_and_streamed_read_back_with_their_digest(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(hashlib.sha512(b"x").digest() * 40_000)  # 2.5 MiB: streamed with a descriptor
    out = tmp_path / "a.zip"
    with out.open("wb") as raw:
        writer = ZipStreamWriter(raw, WHEN)
        small = writer.write_bytes("content/a.txt", "données\r\n".encode())
        large = writer.write_file("content/big.bin", big)
        parts = writer.write_parts("manifest.xml", [b"<a>", b"</a>"])
        sha256 = writer.close()

    assert sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.read("content/a.txt") == "données\r\n".encode()
        assert hashlib.sha512(archive.read("content/big.bin")).hexdigest() == large.sha512
        assert archive.read("manifest.xml") == b"<a></a>"
        assert {i.date_time for i in archive.infolist()} == {WHEN}
    assert small.size == len("données\r\n".encode()) and parts.size == 7
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(out)], check=True)


@pytest.mark.parametrize("count", [65_534, 65_536])
def test_more_entries_than_a_plain_zip_holds_get_zip64_records(tmp_path, count):
    out = tmp_path / "many.zip"
    with out.open("wb") as raw:
        writer = ZipStreamWriter(raw, WHEN)
        for index in range(count):
            writer.write_bytes(f"content/{index}", b"x")
        writer.close()

    data = out.read_bytes()
    assert (b"PK\x06\x06" in data[-200:]) == (count > 0xFFFF)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert len(names) == count and names[-1] == f"content/{count - 1}"
        assert archive.read(names[-1]) == b"x"
        assert zlib.crc32(b"x") == archive.getinfo(names[-1]).CRC
