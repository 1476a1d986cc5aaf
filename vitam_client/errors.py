"""Errors raised by the VITAM client, typed so that callers never parse a message.

One root, :class:`VitamError`, and two markers that say what a caller may do:

* :class:`Transient`: trying the same call again later may succeed (no answer at all, a read
  timeout, HTTP 5xx, HTTP 429, an operation still running after the caller's patience).
* :class:`Terminal`: the same call will fail again until someone changes something (HTTP 4xx,
  a digest mismatch, an illegal state change, a configuration error).

The markers are plain mixins, so that errors outside this package (the pipeline's digest
mismatch, the ledger's illegal transition) carry them too, and Airflow and the CLI branch on
``isinstance(exc, Transient)`` or :func:`is_transient`, never on text.

Every VitamError JSON body (vitam-api.md §9.1: ``httpCode``, ``code``, ``context``, ``state``,
``message``, ``description``) becomes one of the HTTP subclasses below, with those fields as
attributes. No error carries a client-side secret: messages are built from the server's answer
or from fixed texts, never from the TLS configuration.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

from vitam_client.atr import AtrError, parse_atr

if TYPE_CHECKING:
    import httpx  # only its Response type: the client imports it

_TENANT_FILTER = re.compile(r'\{\s*"Error"\s*:\s*"([^"]*)"\s*\}')
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 300  # enough to identify an error page, short enough for a log line


class Transient:
    """Marker: retrying later may succeed."""

    transient = True


class Terminal:
    """Marker: retrying cannot succeed until something is changed by a person."""

    transient = False


def is_transient(exc: BaseException) -> bool:
    """Whether a retry of the same call may succeed (anything unmarked counts as terminal)."""
    return isinstance(exc, Transient)


class VitamError(Exception):
    """An error answer (or no usable answer) from VITAM.

    ``http_code``, ``vitam_code`` (the six-character VitamCode), ``context``, ``state``,
    ``description`` come from the VitamError body when there is one; ``request_id`` is the
    answer's ``X-Request-Id`` (for an ingest, the operation id).
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        http_code: int | None = None,
        vitam_code: str | None = None,
        context: str | None = None,
        state: str | None = None,
        description: str | None = None,
        request_id: str | None = None,
        atr: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_code = http_code
        self.vitam_code = vitam_code
        self.context = context
        self.state = state
        self.description = description
        self.request_id = request_id
        # Only for a 503 on POST /ingests: VITAM answers with an ATR KO instead of a VitamError.
        self.atr = atr

    @property
    def terminal(self) -> bool:
        return not self.transient

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
        """The typed error for a non-success answer, whatever shape its body has."""
        body = response.content
        request_id = response.headers.get("X-Request-Id")
        code = response.status_code
        if _looks_like_atr(body):
            # POST /ingests with an unknown workflow: 503 + ATR KO (vitam-api.md §4.4). Sending
            # the same request again gets the same answer, so it is terminal despite the 503.
            return UnknownWorkflow(_atr_message(body), http_code=code, request_id=request_id, atr=body)
        fields = _describe(body)
        message = fields.pop("message") or response.reason_phrase or "error without a message"
        return error_class(code)(message, http_code=code, request_id=request_id, **fields)


# -- transient -----------------------------------------------------------------------------------


class VitamTransportError(Transient, VitamError):
    """No usable HTTP answer: connection refused or reset, TLS failure, network timeout."""


class UploadOutcomeUnknown(VitamTransportError):
    """The SIP upload got no answer: VITAM may or may not have created an operation.

    Transient for the *transfer* (it can be resumed by looking the operation up in the logbook
    by MessageIdentifier), never a reason to send the same bytes again blindly.
    """


class VitamServerError(Transient, VitamError):
    """HTTP 5xx. A 500 on POST /ingests that carries an X-Request-Id may still hide an
    operation (vitam-api.md §4.4): the transfer looks it up before sending again."""


class VitamTooManyRequests(Transient, VitamError):
    """HTTP 429 from VITAM or a proxy in front of it."""


class VitamTimeout(Transient, VitamError):
    """The operation did not finish within the time the caller allowed.

    Here ``state`` and ``status`` are the operation's last seen state and status.
    """

    def __init__(self, message: str, *, request_id: str, state: str | None, status: str | None) -> None:
        super().__init__(message, request_id=request_id, state=state)
        self.status = status


# -- terminal ------------------------------------------------------------------------------------


class VitamClientError(Terminal, VitamError):
    """HTTP 4xx: the request is wrong as sent (certificate, tenant, contract, DSL, id)."""


class VitamBadRequest(VitamClientError):
    """HTTP 400, e.g. an invalid DSL query (000601)."""


class VitamUnauthorized(VitamClientError):
    """HTTP 401: certificate, context, contract or tenant refused (000700)."""


class VitamForbidden(VitamClientError):
    """HTTP 403."""


class VitamNotFound(VitamClientError):
    """HTTP 404: unknown id, or (ATR) not stored yet; the ATR download retries it itself."""


class VitamPreconditionFailed(VitamClientError):
    """HTTP 412: X-Tenant-Id missing or not an integer, invalid id or header."""


class VitamUnsupportedMediaType(VitamClientError):
    """HTTP 415."""


class UnknownWorkflow(Terminal, VitamError):
    """POST /ingests answered 503 with an ATR KO: the X-Context-Id workflow does not exist."""


class VitamProtocolError(Terminal, VitamError):
    """VITAM answered, but not as documented (a missing header, a body that is not JSON)."""


class VitamConfigurationError(Terminal, VitamError, ValueError):
    """The client cannot be set up as asked (CA bundle, client certificate, missing contract)."""


class OperationNeedsOperator(Terminal, VitamError):
    """The workflow is paused on FATAL: nothing happens until a VITAM operator acts."""


class DigestMismatch(Terminal, VitamError):
    """What VITAM stored differs from what was sent (an object's digest or size)."""

    def __init__(self, what: str, algorithm: str, expected: str, found: str | None) -> None:
        super().__init__(f"{what}: {algorithm} expected {expected}, VITAM has {found}")
        self.what = what
        self.algorithm = algorithm
        self.expected = expected
        self.found = found


_BY_STATUS: dict[int, type[VitamError]] = {
    400: VitamBadRequest,
    401: VitamUnauthorized,
    403: VitamForbidden,
    404: VitamNotFound,
    412: VitamPreconditionFailed,
    415: VitamUnsupportedMediaType,
    429: VitamTooManyRequests,
}


def error_class(http_code: int) -> type[VitamError]:
    """The exception class for an HTTP error status."""
    if http_code in _BY_STATUS:
        return _BY_STATUS[http_code]
    if http_code >= 500:
        return VitamServerError
    if http_code >= 400:
        return VitamClientError
    return VitamProtocolError  # a 1xx/2xx/3xx where the call expected something else


# -- reading error bodies ------------------------------------------------------------------------


def _describe(body: bytes) -> dict[str, Any]:
    """The VitamError fields of a body: VitamError JSON, a TenantFilter page or any text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return {"message": ""}
    data = _json_object(text)
    if data is not None:
        return _from_json(data)
    # The TenantFilter answers through the servlet container's error page (vitam-api.md §9.3):
    # the JSON may be there as is, or HTML-escaped inside the page.
    found = _TENANT_FILTER.search(html.unescape(text))
    if found:
        return {"message": found.group(1)}
    title = _TITLE.search(text)
    if title:
        return {"message": _one_line(html.unescape(title.group(1)))}
    return {"message": _one_line(text)}


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _from_json(data: dict[str, Any]) -> dict[str, Any]:
    if "Error" in data and "code" not in data:
        return {"message": _one_line(str(data["Error"]))}
    code = data.get("code")
    message = str(data.get("message") or "")
    description = str(data.get("description") or "")
    if description and description != message:
        message = f"{message}: {description}" if message else description
    return {
        "message": _one_line(message),
        "vitam_code": str(code) if code else None,
        "context": _text_or_none(data.get("context")),
        "state": _text_or_none(data.get("state")),
        "description": _one_line(description) if description else None,
    }


def _text_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    # Security filters put a server-identity JSON object in ``context`` (vitam-api.md §9.1).
    return _one_line(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


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
