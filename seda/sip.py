"""build_sip: one SipRequest in, one zipped SIP (manifest.xml + content/) out."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

from seda.archive import HashingWriter, Stored, entry, sha256_file, store_file, zip_time
from seda.errors import SipError
from seda.manifest import write_manifest
from seda.model import SipRequest, SipResult
from seda.plan import ObjectPlan, SipPlan, plan_sip

MANIFEST_NAME = "manifest.xml"

_Time = tuple[int, int, int, int, int, int]


def build_sip(request: SipRequest, out_path: Path) -> SipResult:
    """Pack `request` into a SIP zip at `out_path`.

    The request is fully checked before anything is written (SipError names the field).
    The zip is written to `<out_path>.partial` and renamed only once complete, so `out_path`
    never holds a half-written SIP. Same request and same payload bytes give the same bytes.
    """
    plan = plan_sip(request)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        stored, manifest_sha512 = _write_zip(plan, partial)
        sha256 = sha256_file(partial)
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return SipResult(
        path=out_path,
        sha256=sha256,
        manifest_sha512=manifest_sha512,
        unit_count=plan.unit_count,
        object_count=len(plan.objects),
        objects={obj.uri: stored[obj.object_id].sha512 for obj in plan.objects},
    )


def _write_zip(plan: SipPlan, path: Path) -> tuple[dict[str, Stored], str]:
    """Payloads first, manifest last: each payload is read once, and the digest written in the
    manifest is the one computed on the very bytes handed to the zip writer."""
    when = zip_time(plan.request.date)
    with path.open("wb") as raw:
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            stored = {obj.object_id: _store_payload(archive, obj, when) for obj in plan.objects}
            manifest_sha512 = _store_manifest(archive, plan, stored, when)
        raw.flush()
        os.fsync(raw.fileno())
    return stored, manifest_sha512


def _store_payload(archive: zipfile.ZipFile, obj: ObjectPlan, when: _Time) -> Stored:
    source = Path(obj.payload.source)
    stored = store_file(archive, entry(obj.uri, when, source.stat().st_size), source)
    if stored.size == 0:  # checked when planning; the file was emptied since
        raise SipError(f"{obj.field}.source: {source} is empty (0 bytes)")
    return stored


def _store_manifest(archive: zipfile.ZipFile, plan: SipPlan, stored: Mapping[str, Stored], when: _Time) -> str:
    with archive.open(entry(MANIFEST_NAME, when), "w") as target:
        writer = HashingWriter(target)
        write_manifest(writer, plan, stored)
    return writer.hexdigest()
