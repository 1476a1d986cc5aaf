"""Checks a SipRequest before anything is written, naming the offending field on failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from seda.errors import SipError
from seda.model import Management, Payload, Series, SipRequest
from seda.text import check_text
from seda.versions import SUPPORTED_VERSIONS

LEGAL_STATUSES = ("Public Archive", "Private Archive", "Public and Private Archive")
FINAL_ACTIONS = ("Keep", "Destroy")

# (field path, value, required)
_TextField = tuple[str, object, bool]


def check_request(request: SipRequest) -> None:
    """Raise SipError for the first problem found; return quietly when the request is sound."""
    if request.seda_version not in SUPPORTED_VERSIONS:
        raise SipError(
            f"seda_version: {request.seda_version!r} is not supported (use one of {', '.join(SUPPORTED_VERSIONS)})"
        )
    for field, value, required in _request_texts(request):
        check_text(field, value, required=required)
    if request.legal_status is not None and request.legal_status not in LEGAL_STATUSES:
        raise SipError(f"legal_status: {request.legal_status!r} is not one of {', '.join(LEGAL_STATUSES)}")
    _check_management("management", request.management)
    for index, series in enumerate(request.series):
        _check_series(f"series[{index}]", series)


def _request_texts(request: SipRequest) -> Iterator[_TextField]:
    yield "message_identifier", request.message_identifier, True
    yield "comment", request.comment, True
    yield "archival_agreement", request.archival_agreement, True
    yield "archival_agency", request.archival_agency, True
    yield "transferring_agency", request.transferring_agency, True
    yield "originating_agency", request.originating_agency, True
    yield "submission_agency", request.submission_agency, False
    yield "fonds_title", request.fonds_title, True
    yield "fonds_description", request.fonds_description, False
    yield "legal_status", request.legal_status, False


def _check_series(field: str, series: Series) -> None:
    check_text(f"{field}.title", series.title, required=True)
    check_text(f"{field}.description", series.description)
    _check_dates(field, series.start_date, series.end_date)
    _check_management(f"{field}.management", series.management)
    for index, payload in enumerate(series.payloads):
        _check_payload(f"{field}.payloads[{index}]", payload)


def _check_payload(field: str, payload: Payload) -> None:
    check_text(f"{field}.filename", payload.filename, required=True)
    check_text(f"{field}.title", payload.title, required=True)
    check_text(f"{field}.mime_type", payload.mime_type, required=True)
    check_text(f"{field}.format_id", payload.format_id, required=True)
    check_text(f"{field}.format_name", payload.format_name)
    check_text(f"{field}.description", payload.description)
    _check_dates(field, payload.start_date, payload.end_date)
    _check_management(f"{field}.management", payload.management)
    check_source(f"{field}.source", payload.source)


def _check_management(field: str, management: Management | None) -> None:
    if management is None:
        return
    if management.final_action not in FINAL_ACTIONS:
        raise SipError(f"{field}.final_action: {management.final_action!r} is not one of {', '.join(FINAL_ACTIONS)}")
    for name, rule in (("appraisal", management.appraisal), ("access", management.access)):
        if rule is not None:
            check_text(f"{field}.{name}.rule_id", rule.rule_id, required=True)


def _check_dates(field: str, start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise SipError(f"{field}: start_date {start.isoformat()} is after end_date {end.isoformat()}")


def check_source(field: str, source: Path) -> None:
    """The payload file must exist and hold at least one byte (SEDA Size is a positiveInteger)."""
    try:
        stat = Path(source).stat()
    except OSError as exc:
        raise SipError(f"{field}: cannot read {source}: {exc.strerror or exc}") from exc
    if not Path(source).is_file():
        raise SipError(f"{field}: {source} is not a regular file")
    if stat.st_size == 0:
        raise SipError(f"{field}: {source} is empty (0 bytes); SEDA requires a Size above 0")
