"""Errors raised by the VITAM client.

:class:`VitamError` carries what VITAM answered: the HTTP status, the six-character VitamCode
(service + domain + item, vitam-api.md §9.1), a message and the request id, which for an ingest
is the operation id. It never carries client-side secrets: the messages are built from the
server's answer or from fixed texts, never from the TLS configuration.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from vitam_client.atr import AtrError, parse_atr

_TENANT_FILTER = re.compile(r'\{\s*"Error"\s*:\s*"([^"]*)"\s*\}')
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 300  # enough to identify an error page, short enough for a log line


class VitamError(Exception):
    """An error answer (or no usable answer) from VITAM."""

    def __init__(
        self,
        message: str,
        *,
        http_code: int | None = None,
        vitam_code: str | None = None,
        request_id: str | None = None,
        atr: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_code = http_code
        self.vitam_code = vitam_code
        self.request_id = request_id
        # Only for a 503 on POST /ingests: VITAM answers with an ATR KO instead of a VitamError.
        self.atr = atr

    def __str__(self) -> str:
        head = ", ".join(
            part
            for part in (
                f"HTTP {self.http_code}" if self.http_code is not None else "",
                f"VitamCode {self.vitam_code}" if self.vitam_code else "",
            )
            if part
        )
        text = f"{head}: {self.message}" if head else self.message
        return f"{text} (request {self.request_id})" if self.request_id else text

    @classmethod
    def from_response(cls, response: httpx.Response) -> VitamError:
        """Build the error from a non-success answer, whatever shape its body has."""
        body = response.content
        request_id = response.headers.get("X-Request-Id")
        if _looks_like_atr(body):
            return cls(
                _atr_message(body),
                http_code=response.status_code,
                request_id=request_id,
                atr=body,
            )
        vitam_code, message = _describe(body)
        return cls(
            message or response.reason_phrase or "error without a message",
            http_code=response.status_code,
            vitam_code=vitam_code,
            request_id=request_id,
        )


class VitamTimeout(VitamError):
    """The operation did not finish within the time the caller allowed."""

    def __init__(self, message: str, *, request_id: str, state: str | None, status: str | None) -> None:
        super().__init__(message, request_id=request_id)
        self.state = state
        self.status = status


class VitamTransportError(VitamError):
    """No usable HTTP answer: connection refused or reset, TLS failure, timeout."""


def _describe(body: bytes) -> tuple[str | None, str]:
    """Return (VitamCode, message) from a VitamError JSON, a TenantFilter page or any text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None, ""
    data = _json_object(text)
    if data is not None:
        return _from_json(data)
    # The TenantFilter answers through the servlet container's error page (vitam-api.md §9.3):
    # the JSON may be there as is, or HTML-escaped inside the page.
    found = _TENANT_FILTER.search(html.unescape(text))
    if found:
        return None, found.group(1)
    title = _TITLE.search(text)
    if title:
        return None, _one_line(html.unescape(title.group(1)))
    return None, _one_line(text)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _from_json(data: dict[str, Any]) -> tuple[str | None, str]:
    if "Error" in data and "code" not in data:
        return None, str(data["Error"])
    code = data.get("code")
    message = str(data.get("message") or "")
    description = str(data.get("description") or "")
    if description and description != message:
        message = f"{message}: {description}" if message else description
    return (str(code) if code else None), _one_line(message)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_TEXT else flat[:_MAX_TEXT] + "…"


def _looks_like_atr(body: bytes) -> bool:
    head = body[:2000]
    return head.lstrip().startswith(b"<") and b"ArchiveTransferReply" in head


def _atr_message(body: bytes) -> str:
    try:
        atr = parse_atr(body)
    except AtrError:
        return "VITAM refused the SIP and answered with an unreadable ATR"
    details = "; ".join(f"{event.detail or event.type_code}: {event.message}" for event in atr.events if event.message)
    summary = f"VITAM refused the SIP before processing it (ReplyCode {atr.reply_code or '?'})"
    return f"{summary}: {details}" if details else summary
