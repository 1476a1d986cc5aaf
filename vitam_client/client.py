"""A typed client for the VITAM external APIs a transfer needs (vitam-api.md §12).

The client is the "hook" layer: it knows URLs, headers, status codes and retries, and nothing
about batches or ledgers. Tests run it against the sandbox through ``transport=``.

Retry policy (vitam-api.md §11): the SIP upload is never retried, because POST /ingests is not
idempotent and a lost answer may hide an operation that exists. Polling, the ATR download and
DSL reads are safe to repeat and are retried on network errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from vitam_client.errors import VitamError, VitamTimeout, VitamTransportError
from vitam_client.tls import ssl_context

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # the official Java client's connect timeout
NETWORK_ATTEMPTS = 3  # for idempotent calls only
NETWORK_FIRST_DELAY = 2.0
# Increasing severity (vitam-api.md §5.2, StatusCode.java).
STATUS_ORDER = ("UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL")


@dataclass(frozen=True)
class VitamEndpoint:
    """Where and as whom to reach VITAM."""

    ingest_url: str  # e.g. "https://host:8443/ingest-external/v1"
    admin_url: str  # e.g. "https://host:8444/admin-external/v1"
    access_url: str  # e.g. "https://host:8444/access-external/v1"
    tenant: int
    access_contract: str | None = None
    application_id: str | None = None
    verify: str | bool = True  # CA bundle path or bool
    client_cert: tuple[str, str] | None = None  # (cert path, key path) for mutual TLS
    timeout: float = 3600.0  # the 202 comes after the whole upload: cover all of it
    client_key_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OperationStatus:
    """The state of an asynchronous operation, from HEAD /operations/{id}."""

    operation_id: str
    state: str  # PAUSE | RUNNING | COMPLETED
    status: str  # UNKNOWN | STARTED | ALREADY_EXECUTED | OK | WARNING | KO | FATAL

    @property
    def finished(self) -> bool:
        """Nothing more will happen without someone acting (vitam-api.md §5.2)."""
        if self.state == "COMPLETED":
            return True
        return self.state == "PAUSE" and _rank(self.status) >= _rank("STARTED")

    @property
    def needs_operator(self) -> bool:
        """A technical error paused the workflow; no ATR exists until an operator acts."""
        return self.state == "PAUSE" and self.status == "FATAL"


def _rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else -1


class VitamClient:
    """Ingest a SIP, follow the operation, fetch the ATR, read the units back."""

    def __init__(
        self,
        endpoint: VitamEndpoint,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self._sleep = sleep
        # With an injected transport (tests), TLS is the transport's business.
        verify = (
            True
            if transport is not None
            else ssl_context(endpoint.verify, endpoint.client_cert, endpoint.client_key_password)
        )
        self._http = httpx.Client(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(endpoint.timeout, connect=CONNECT_TIMEOUT),
            headers=self._common_headers(),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- ingest-external ---------------------------------------------------------------------

    def ingest(
        self,
        sip: Path,
        *,
        context_id: str = "DEFAULT_WORKFLOW",
        manifest_sha512: str | None = None,
    ) -> str:
        """Upload a SIP and return the operation id (``X-Request-Id`` of the 202).

        Never retried (see the module docstring). On an error answer, ``VitamError.request_id``
        may still name an operation that exists (a 500 after the logbook was created), and a
        503 carries VITAM's ATR KO in ``VitamError.atr``.
        """
        url = f"{_base(self.endpoint.ingest_url)}/ingests"
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Context-Id": context_id,
            "X-Action": "RESUME",
        }
        if manifest_sha512:
            headers["X-Manifest-Digest-Algo"] = "SHA-512"
            headers["X-Manifest-Digest-Value"] = manifest_sha512.lower()  # compared as is
        log.info("uploading %s (%d bytes) to %s", sip.name, sip.stat().st_size, url)
        with sip.open("rb") as body:  # httpx reads the file in chunks and sets Content-Length
            try:
                response = self._send("POST", url, headers=headers, content=body)
            except VitamTransportError as exc:
                raise VitamTransportError(
                    f"{exc.message}; VITAM may have received the SIP anyway: look the operation "
                    "up (logbook, MessageIdentifier) before sending it again"
                ) from exc
        return self._operation_id(response)

    def archive_transfer_reply(
        self,
        operation_id: str,
        *,
        attempts: int = 5,
        delay: float = 2.0,
        sleep: Callable[[float], None] | None = None,
    ) -> bytes:
        """Download the ATR; a 404 means "not stored yet", so it is retried with backoff."""
        url = f"{_base(self.endpoint.ingest_url)}/ingests/{_segment(operation_id)}"
        url += "/archivetransferreply"
        pause = sleep or self._sleep
        error: VitamError = VitamError("no attempt made", request_id=operation_id)
        for attempt in range(1, max(attempts, 1) + 1):
            try:
                response = self._send("GET", url, headers={"Accept": "application/octet-stream"})
            except VitamTransportError as exc:
                error = exc
            else:
                if response.status_code == 200:
                    return response.content
                error = VitamError.from_response(response)
                if response.status_code != 404:
                    raise error
            if attempt < attempts:
                log.info("ATR of %s not available yet (%s); retrying", operation_id, error)
                pause(delay)
                delay *= 2
        raise error

    # -- admin-external ----------------------------------------------------------------------

    def operation_status(self, operation_id: str) -> OperationStatus:
        """One HEAD on the operation: 202 while running, 200 once completed."""
        url = f"{_base(self.endpoint.admin_url)}/operations/{_segment(operation_id)}"
        response = self._send("HEAD", url)
        if response.status_code not in (200, 202):
            raise VitamError.from_response(response)
        state = response.headers.get("X-Global-Execution-State")
        status = response.headers.get("X-Global-Execution-Status")
        if not state or not status:
            raise VitamError(
                "the operation status answer has no X-Global-Execution-State/Status",
                http_code=response.status_code,
                request_id=operation_id,
            )
        return OperationStatus(operation_id, state.upper(), status.upper())

    def wait_for_operation(
        self,
        operation_id: str,
        *,
        timeout: float = 3600,
        first_delay: float = 2.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_status: Callable[[OperationStatus], None] | None = None,
    ) -> OperationStatus:
        """Poll with exponential backoff until the operation is finished (or stuck).

        ``on_status`` sees every status read, to show progress while an ingest takes its time.
        """
        deadline = clock() + timeout
        delay = first_delay
        last: OperationStatus | None = None
        while True:
            try:
                last = self.operation_status(operation_id)
            except VitamTransportError as exc:  # HEAD is safe to repeat
                log.warning("polling %s failed, will retry: %s", operation_id, exc)
            else:
                log.debug("operation %s: %s/%s", operation_id, last.state, last.status)
                if on_status is not None:
                    on_status(last)
                if last.finished:
                    return last
            remaining = deadline - clock()
            if remaining <= 0:
                raise VitamTimeout(
                    f"operation not finished after {timeout:g} s (last seen: {_describe(last)})",
                    request_id=operation_id,
                    state=last.state if last else None,
                    status=last.status if last else None,
                )
            sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    # -- access-external ---------------------------------------------------------------------

    def units_by_operation(self, operation_id: str, *, limit: int = 10000) -> list[dict[str, Any]]:
        """The archive units an ingest created (``#opi``), as VITAM indexed them."""
        if not self.endpoint.access_contract:
            raise ValueError("reading units needs an access contract (VitamEndpoint.access_contract)")
        query = {
            "$roots": [],
            "$query": [{"$eq": {"#opi": operation_id}}],
            "$filter": {"$limit": limit},
            "$projection": {"$fields": {"#id": 1, "Title": 1, "#opi": 1, "#object": 1}},
        }
        url = f"{_base(self.endpoint.access_url)}/units"
        headers = {"X-Access-Contract-Id": self.endpoint.access_contract}
        response = self._send_idempotent("GET", url, headers=headers, json=query)
        if response.status_code != 200:
            raise VitamError.from_response(response)
        results = _json(response).get("$results")
        if not isinstance(results, list):
            raise VitamError("the units answer has no $results list", http_code=200)
        return [unit for unit in results if isinstance(unit, dict)]

    # -- plumbing ----------------------------------------------------------------------------

    def _common_headers(self) -> dict[str, str]:
        headers = {"X-Tenant-Id": str(self.endpoint.tenant)}
        if self.endpoint.application_id:
            headers["X-Application-Id"] = self.endpoint.application_id
        return headers

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise VitamTransportError(f"{method} {url}: no answer ({type(exc).__name__}: {exc})") from exc

    def _send_idempotent(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        delay = NETWORK_FIRST_DELAY
        for attempt in range(1, NETWORK_ATTEMPTS + 1):
            try:
                return self._send(method, url, **kwargs)
            except VitamTransportError as exc:
                if attempt == NETWORK_ATTEMPTS:
                    raise
                log.warning("%s; retrying in %g s", exc, delay)
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _operation_id(response: httpx.Response) -> str:
        operation_id = response.headers.get("X-Request-Id")
        if not response.is_success:
            raise VitamError.from_response(response)
        if not operation_id:
            raise VitamError(
                "VITAM accepted the upload but sent no X-Request-Id (operation id)",
                http_code=response.status_code,
            )
        if response.status_code != 202:
            # The Java client takes any 2xx as success; so do we, the operation exists.
            log.warning("ingest answered %d instead of 202", response.status_code)
        log.info("ingest accepted: operation %s", operation_id)
        return operation_id


def _base(url: str) -> str:
    return url.rstrip("/")


def _segment(value: str) -> str:
    """An id as one URL path segment, whatever it contains."""
    return quote(value, safe="")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise VitamError(
            "the answer is not JSON",
            http_code=response.status_code,
            request_id=response.headers.get("X-Request-Id"),
        ) from None
    if not isinstance(data, dict):
        raise VitamError("the answer is not a JSON object", http_code=response.status_code)
    return data


def _describe(status: OperationStatus | None) -> str:
    return f"{status.state}/{status.status}" if status else "no answer"
