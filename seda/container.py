"""Checks on the SIP zip itself: layout, Uris, and the digest and size of every object."""

from __future__ import annotations

import hashlib
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from seda.archive import CHUNK
from seda.plan import CONTENT_FOLDER, URI_SEGMENT
from seda.report import Issue

CONTAINER = "container"
DIGEST = "digest"

# VITAM's manifest name rule (the dot is escaped here; VITAM's own pattern leaves it bare).
MANIFEST_NAME = re.compile(r"^([a-zA-Z0-9_\-]{0,56}[_-])?(manifest\.xml)$")

# VITAM accepts these MessageDigest algorithms; names as SEDA writes them -> hashlib names.
ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_LOWER_HEX = re.compile(r"^[0-9a-f]+$")

# What reading a damaged zip entry can raise.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)


@dataclass
class Layout:
    """The zip entries sorted out: the manifest, the content files, and what is wrong."""

    manifest: str | None = None
    files: dict[str, zipfile.ZipInfo] = field(default_factory=dict)  # content files by name
    issues: list[Issue] = field(default_factory=list)


def inspect_layout(archive: zipfile.ZipFile) -> Layout:
    """One manifest at the root, nothing else but a `content/` folder (any case)."""
    layout = Layout()
    infos = archive.infolist()
    _slim(infos)
    for name, count in Counter(info.filename for info in infos).items():
        if count > 1:
            layout.issues.append(Issue(CONTAINER, f"entry {name!r} appears {count} times"))
    manifests: list[str] = []
    folders: set[str] = set()
    for info in infos:
        _sort_entry(info, layout, manifests, folders)
    if not manifests:
        layout.issues.append(Issue(CONTAINER, "no manifest at the zip root (expected manifest.xml)"))
    elif len(manifests) > 1:
        layout.issues.append(Issue(CONTAINER, f"several manifests at the root: {sorted(manifests)}"))
    else:
        layout.manifest = manifests[0]
    if len(folders) > 1:
        layout.issues.append(Issue(CONTAINER, f"several content folders: {sorted(folders)}"))
    return layout


_NO_TIME = (1980, 1, 1, 0, 0, 0)


def _slim(infos: list[zipfile.ZipInfo]) -> None:
    """Share what validation never reads or reads alike: a validating process holds a SIP's whole
    central directory (a ZipInfo per object), and each entry's own date tuple and second copy
    of its name cost about 8 MB per 40,000 objects. Names keep their value (the local header
    check compares ``orig_filename`` by value); dates are not checked."""
    for info in infos:
        info.date_time = _NO_TIME
        if info.orig_filename == info.filename:
            info.orig_filename = info.filename


def _sort_entry(info: zipfile.ZipInfo, layout: Layout, manifests: list[str], folders: set[str]) -> None:
    name = info.filename
    if name.startswith("/") or "\\" in name or ".." in name.split("/"):
        layout.issues.append(Issue(CONTAINER, f"unsafe entry name {name!r}"))
        return
    if "/" not in name:
        if MANIFEST_NAME.match(name):
            manifests.append(name)
        else:
            layout.issues.append(Issue(CONTAINER, f"unexpected file {name!r} at the zip root"))
        return
    top = name.split("/", 1)[0]
    if top.lower() != CONTENT_FOLDER:
        layout.issues.append(
            Issue(CONTAINER, f"unexpected entry {name!r}: only a content/ folder may sit beside the manifest")
        )
        return
    folders.add(top)
    if not info.is_dir():
        layout.files[name] = info


def check_objects(archive: zipfile.ZipFile, layout: Layout, root: Any) -> list[Issue]:
    """Every BinaryDataObject Uri in the zip with the declared digest and size; nothing extra."""
    ns = etree.QName(root).namespace
    issues: list[Issue] = []
    referenced: set[str] = set()
    for element in root.iter(f"{{{ns}}}BinaryDataObject"):
        issues.extend(_check_object(archive, layout, element, ns, referenced))
    for name in sorted(set(layout.files) - referenced):
        issues.append(Issue(CONTAINER, f"{name} is in the SIP but no object references it"))
    return issues


def _check_object(
    archive: zipfile.ZipFile, layout: Layout, element: Any, ns: str | None, referenced: set[str]
) -> Iterator[Issue]:
    label = f"object {element.get('id')!r}"
    uri_element = element.find(f"{{{ns}}}Uri")
    if uri_element is None:
        yield Issue(CONTAINER, f"{label} has no Uri (VITAM needs a Uri, not an Attachment)", element.sourceline)
        return
    uri = (uri_element.text or "").strip()
    line = uri_element.sourceline
    yield from _check_uri(uri, label, line)
    if uri in referenced:
        yield Issue(CONTAINER, f"{label}: Uri {uri!r} is used by another object too", line)
    info = layout.files.get(uri)
    # The entry's own name when there is one (equal, already held): a second copy of every
    # name costs a validating process about 3 MB per 40,000 objects.
    referenced.add(info.filename if info is not None and info.filename == uri else uri)
    if info is None:
        yield Issue(CONTAINER, f"{label}: Uri {uri!r} does not exist in the SIP", line)
        return
    yield from _check_digest(archive, info, element, ns, label)


def _check_uri(uri: str, label: str, line: int | None) -> Iterator[Issue]:
    segments = uri.split("/")
    if segments[0].lower() != CONTENT_FOLDER or len(segments) < 2:
        yield Issue(CONTAINER, f"{label}: Uri {uri!r} is not under content/", line)
    bad = [segment for segment in segments if not URI_SEGMENT.match(segment)]
    if bad:
        yield Issue(CONTAINER, f"{label}: Uri {uri!r} has segments VITAM refuses: {bad}", line)


def _check_digest(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, element: Any, ns: str | None, label: str
) -> Iterator[Issue]:
    digest_element = element.find(f"{{{ns}}}MessageDigest")
    if digest_element is None:
        yield Issue(DIGEST, f"{label} has no MessageDigest", element.sourceline)
        return
    line = digest_element.sourceline
    algorithm = digest_element.get("algorithm", "")
    if algorithm not in ALGORITHMS:
        yield Issue(DIGEST, f"{label}: digest algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}", line)
        return
    declared = (digest_element.text or "").strip()
    if not _LOWER_HEX.match(declared):
        yield Issue(DIGEST, f"{label}: MessageDigest must be lowercase hexadecimal", line)
    try:
        actual, size = _hash_entry(archive, info, ALGORITHMS[algorithm])
    except READ_ERRORS as exc:
        yield Issue(CONTAINER, f"{info.filename} cannot be read from the zip: {exc}", line)
        return
    if actual != declared.lower():
        yield Issue(
            DIGEST, f"{label}: {algorithm} of {info.filename} is {actual}, the manifest declares {declared}", line
        )
    yield from _check_size(element, ns, label, info.filename, size)


def _check_size(element: Any, ns: str | None, label: str, name: str, actual: int) -> Iterator[Issue]:
    size_element = element.find(f"{{{ns}}}Size")
    if size_element is None:
        return
    declared = (size_element.text or "").strip()
    if not declared.isdigit() or int(declared) != actual:
        yield Issue(
            DIGEST,
            f"{label}: {name} holds {actual} bytes, the manifest declares Size {declared!r}",
            size_element.sourceline,
        )


def _hash_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, algorithm: str) -> tuple[str, int]:
    small = _small_entry(archive, info)
    if small is not None:
        return hashlib.new(algorithm, small).hexdigest(), len(small)
    digest = hashlib.new(algorithm)
    size = 0
    with archive.open(info) as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_LOCAL_HEADER = struct.Struct("<4s22xHH")


def _small_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The bytes of a small stored or deflated entry, read in one go (most objects of a SIP of
    person files are a few kilobytes, and opening a ZipExtFile costs more than inflating them).
    The same checks as zipfile's reader: local header signature and name, CRC-32. None when
    the entry is large, encrypted or compressed otherwise: the caller then streams it."""
    if info.compress_size > CHUNK or info.file_size > CHUNK or info.flag_bits & 0x1:
        return None
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or archive.fp is None:
        return None
    handle = archive.fp
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name = handle.read(name_length)
    if name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
        raise zipfile.BadZipFile(f"local header name {name!r} differs from the directory's {info.orig_filename!r}")
    handle.seek(extra_length, 1)
    raw = handle.read(info.compress_size)
    data = zlib.decompress(raw, -15) if info.compress_type == zipfile.ZIP_DEFLATED else raw
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 or size for {info.filename}")
    return data


check_object = _check_object  # one object element against the zip, for the streamed path
