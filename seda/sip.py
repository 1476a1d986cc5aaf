"""build_sip: one SipRequest in, one zipped SIP (manifest.xml + content/) out.

A thin layer over the tree writer (``seda.writer.write_package``): the request's Fonds › Series
› Item shape becomes a ``seda.tree.Unit`` tree written as one SIP at `out_path`.
"""

from __future__ import annotations

from pathlib import Path

from seda.checks import check_request
from seda.model import Payload, SipRequest, SipResult
from seda.plan import safe_extension
from seda.tree import DataObject, Format, Limits, PackageResult, SipHeader, Unit
from seda.writer import write_package

# build_sip writes what it is asked for in one SIP, whatever its size.
_NO_SPLIT = Limits(max_items=2**62, max_bytes=2**62)


def build_sip(request: SipRequest, out_path: Path) -> SipResult:
    """Pack `request` into a SIP zip at `out_path`.

    The request is fully checked before anything is written (SipError names the field).
    The zip is written to a ``.partial`` file and renamed only once complete, so `out_path`
    never holds a half-written SIP. Same request and same payload bytes give the same bytes.
    """
    check_request(request)
    out_path = Path(out_path)
    result = write_package(
        _header(request),
        _tree(request),
        out_path.parent,
        limits=_NO_SPLIT,
        keep_digests=True,
        path_for=lambda _identifier: out_path,
    )
    (sip,) = result.sips
    return SipResult(
        path=sip.path,
        sha256=sip.sha256,
        manifest_sha512=sip.manifest_sha512,
        unit_count=sip.unit_count,
        object_count=sip.object_count,
        objects=sip.objects,
    )


def package_request(request: SipRequest, out_dir: Path, *, limits: Limits | None = None) -> PackageResult:
    """Pack `request` into one SIP, or several self-contained ones when it is over `limits`
    (cut between two series, never inside one; parts ``<MessageIdentifier>-001``...), in
    `out_dir` as ``<MessageIdentifier>.zip``."""
    check_request(request)
    tree = _tree(request)
    streamed = Unit(
        level=tree.level, title=tree.title, description=tree.description, children=iter(list(tree.children))
    )
    return write_package(_header(request), streamed, Path(out_dir), limits=limits)


def _header(request: SipRequest) -> SipHeader:
    return SipHeader(
        message_identifier=request.message_identifier,
        comment=request.comment,
        archival_agreement=request.archival_agreement,
        archival_agency=request.archival_agency,
        transferring_agency=request.transferring_agency,
        originating_agency=request.originating_agency,
        date=request.date,
        seda_version=request.seda_version,
        submission_agency=request.submission_agency,
        legal_status=request.legal_status,
        management=request.management,
    )


def _tree(request: SipRequest) -> Unit:
    series = [
        Unit(
            level="Series",
            title=s.title,
            description=s.description,
            start_date=s.start_date,
            end_date=s.end_date,
            management=s.management,
            children=[_item(p) for p in s.payloads],
        )
        for s in request.series
    ]
    return Unit(level="Fonds", title=request.fonds_title, description=request.fonds_description, children=series)


def _item(payload: Payload) -> Unit:
    fmt = Format(payload.mime_type, payload.format_id, payload.format_name or "", safe_extension(payload.filename))
    return Unit(
        level="Item",
        title=payload.title,
        description=payload.description,
        start_date=payload.start_date,
        end_date=payload.end_date,
        management=payload.management,
        object=DataObject(filename=payload.filename, format=fmt, source=Path(payload.source)),
    )
