"""A typed client for the VITAM external APIs a transfer needs (vitam-api.md §12).

The client is the "hook" layer: it knows URLs, headers, status codes and retries, and nothing
about batches or ledgers. Tests run it against the sandbox through ``transport=``.

Retry policy (vitam-api.md §11): the SIP upload is never retried, because POST /ingests is not
idempotent and a lost answer may hide an operation that exists. Every other call (polling, the
ATR download, logbook, units, object groups, referentials) is idempotent and is retried with
exponential backoff on :class:`~vitam_client.errors.Transient` errors only (no answer, 5xx,
429); a 4xx is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

import httpx

from vitam_client.errors import (
    OperationNeedsOperator,
    UploadOutcomeUnknown,
    VitamConfigurationError,
    VitamError,
    VitamNotFound,
    VitamProtocolError,
    VitamTimeout,
    VitamTransportError,
    is_transient,
)
from vitam_client.models import LogbookOperation, ObjectGroup, OperationStatus
from vitam_client.tls import ssl_context

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # the official Java client's connect timeout
UPLOAD_CHUNK = 1024 * 1024
# The 202 comes only once VITAM has stored the whole body: the read timeout of the upload
# grows with the SIP, assuming a link no slower than this (bytes per second).
SLOWEST_UPLOAD_RATE = 1024 * 1024


@dataclass(frozen=True)
class VitamEndpoint:
    """Where and as whom to reach VITAM."""

    ingest_url: str  # e.g. "https://host:8443/ingest-external/v1"
    admin_url: str  # e.g. "https://host:8444/admin-external/v1"
    access_url: str  # e.g. "https://host:8444/access-external/v1"
    tenant: int
    access_contract: str | None = None
    application_id: str | None = None
    verify: str | bool = True  # CA bundle (file or folder), or True for the system's; never False
    client_cert: tuple[str, str] | None = None  # (cert path, key path) for mutual TLS
    timeout: float = 3600.0  # every read; the upload's grows with the SIP (SLOWEST_UPLOAD_RATE)
    client_key_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for idempotent calls: attempts in all, first delay, cap."""

    attempts: int = 4
    first_delay: float = 2.0
    max_delay: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        for _ in range(max(self.attempts, 1) - 1):
            yield delay
            delay = min(delay * 2, self.max_delay)


class VitamClient:
    """Ingest a SIP, follow the operation, fetch the ATR, read back what VITAM stored."""

    def __init__(
        self,
        endpoint: VitamEndpoint,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry
        self._sleep = sleep
        # With an injected transport (tests), TLS is the transport's business.
        verify = (
            True
            if transport is not None
            else ssl_context(endpoint.verify, endpoint.client_cert, endpoint.client_key_password)
        )
        if transport is None and endpoint.client_cert is None and endpoint.ingest_url.startswith("https:"):
            log.warning("no client certificate configured: VITAM requires mutual TLS and will refuse the calls")
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

    def status(self) -> dict[str, bool]:
        """``GET /status`` of each external service (204 when up; vitam-api.md §1), by service.

        No security-profile check applies there, but the TLS handshake (and so the client
        certificate) does: a refused certificate shows as a transport error, raised.
        """
        found = {}
        for name, base in (
            ("ingest-external", self.endpoint.ingest_url),
            ("admin-external", self.endpoint.admin_url),
            ("access-external", self.endpoint.access_url),
        ):
            try:
                self._idempotent("GET", f"{_base(base)}/status", ok=(200, 204))
            except VitamTransportError:
                raise
            except VitamError:
                found[name] = False
            else:
                found[name] = True
        return found

    # -- ingest-external ---------------------------------------------------------------------

    def ingest(
        self,
        sip: Path,
        *,
        context_id: str = "DEFAULT_WORKFLOW",
        manifest_sha512: str | None = None,
    ) -> str:
        """Upload a SIP, streamed from disk, and return the operation id (``X-Request-Id``).

        Never retried (see the module docstring). No answer raises
        :class:`UploadOutcomeUnknown`; an error answer may still name an operation that exists
        in ``request_id`` (a 500 after the logbook was created), and a 503 carries VITAM's ATR KO
        in ``atr`` (:class:`UnknownWorkflow`). ``context_id`` ``BLANK_TEST`` is a dry run.
        """
        url = f"{_base(self.endpoint.ingest_url)}/ingests"
        size = sip.stat().st_size
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "Accept": "application/xml",
            "X-Context-Id": context_id,
            "X-Action": "RESUME",
        }
        if manifest_sha512:
            headers["X-Manifest-Digest-Algo"] = "SHA-512"
            headers["X-Manifest-Digest-Value"] = manifest_sha512.lower()  # compared as is
        patience = max(self.endpoint.timeout, size / SLOWEST_UPLOAD_RATE)
        timeout = httpx.Timeout(patience, connect=CONNECT_TIMEOUT)
        log.info("uploading %s (%d bytes, %s) to %s", sip.name, size, context_id, url)
        with sip.open("rb") as body:
            try:
                response = self._send("POST", url, headers=headers, content=_chunks(body), timeout=timeout)
            except VitamTransportError as exc:
                raise UploadOutcomeUnknown(
                    f"{exc.message}; VITAM may have received the SIP anyway: look the operation "
                    "up (logbook, MessageIdentifier) before sending it again"
                ) from exc
        return self._operation_id(response)

    def archive_transfer_reply(self, operation_id: str, *, attempts: int = 5, delay: float = 2.0) -> bytes:
        """Download the ATR (bytes). A 404 means "not stored yet" and is retried with backoff,
        ``attempts`` times in all; other errors follow the retry policy. A KO ATR comes with
        200 too: read its ReplyCode, not the HTTP status."""
        url = f"{_base(self.endpoint.ingest_url)}/ingests/{_segment(operation_id)}/archivetransferreply"
        for attempt in range(1, max(attempts, 1) + 1):
            try:
                response = self._get(url, headers={"Accept": "application/octet-stream"})
            except VitamNotFound as exc:
                if attempt == attempts:
                    raise
                log.info("ATR of %s not available yet (%s); retrying in %g s", operation_id, exc, delay)
                self._sleep(delay)
                delay *= 2
            else:
                return response.content
        raise AssertionError("unreachable")  # pragma: no cover

    def manifest(self, operation_id: str) -> bytes:
        """The manifest as VITAM stored it (OK and WARNING ingests only; 404 otherwise)."""
        url = f"{_base(self.endpoint.ingest_url)}/ingests/{_segment(operation_id)}/manifests"
        return self._get(url, headers={"Accept": "application/octet-stream"}).content

    def download_manifest(self, operation_id: str, target: IO[bytes]) -> int:
        """Stream the manifest VITAM stored for the ingest into ``target`` (a large batch's
        manifest need not be held whole by httpx); returns its size. VITAM keeps it in storage
        for OK and WARNING ingests only (404 for a KO one, or an unknown id), also once the
        operation is gone from processing. Transient failures are retried when ``target`` can
        be rewound."""
        url = f"{_base(self.endpoint.ingest_url)}/ingests/{_segment(operation_id)}/manifests"
        return self._stream(url, {"Accept": "application/octet-stream"}, target)

    # -- admin-external: operations ----------------------------------------------------------

    def operation_status(self, operation_id: str) -> OperationStatus:
        """HEAD on the operation: 202 while running, 200 once completed (retried if transient)."""
        url = f"{_base(self.endpoint.admin_url)}/operations/{_segment(operation_id)}"
        return _status_of(self._idempotent("HEAD", url, ok=(200, 202)), operation_id)

    def wait_for_operation(
        self,
        operation_id: str,
        *,
        timeout: float = 3600,
        first_delay: float = 2.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_status: Callable[[OperationStatus], None] | None = None,
    ) -> OperationStatus:
        """Poll with exponential backoff until the operation is finished (or stuck).

        Transient errors (no answer, 5xx) are logged and polled through. When the operations
        API no longer knows the id (finished operations are purged after about an hour,
        vitam-api.md §5.4), the logbook answers instead. ``on_status`` sees every status read.
        Raises :class:`VitamTimeout` (transient) when ``timeout`` seconds pass first.
        """
        pause = sleep or self._sleep
        deadline = clock() + timeout
        delay = first_delay
        last: OperationStatus | None = None
        while True:
            try:
                last = self._status_once(operation_id)
            except VitamError as exc:
                if not is_transient(exc):
                    raise
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
                    f"operation not finished after {timeout:g} s (last seen: {_show(last)})",
                    request_id=operation_id,
                    state=last.state if last else None,
                    status=last.status if last else None,
                )
            pause(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    def wait_for_completion(self, operation_id: str, **kwargs: Any) -> OperationStatus:
        """:meth:`wait_for_operation`, raising :class:`OperationNeedsOperator` for PAUSE/FATAL."""
        status = self.wait_for_operation(operation_id, **kwargs)
        if status.needs_operator:
            raise OperationNeedsOperator(
                f"operation {operation_id} is paused on {status.status}: a VITAM operator must act",
                request_id=operation_id,
                state=status.state,
            )
        return status

    def _status_once(self, operation_id: str) -> OperationStatus:
        try:
            return self._send_status(operation_id)
        except VitamNotFound:
            if not self.endpoint.access_contract:
                raise
            log.info("operation %s unknown to the operations API; reading the logbook", operation_id)
            return self.logbook_operation(operation_id).status()

    def _send_status(self, operation_id: str) -> OperationStatus:
        # One HEAD, no retry of its own: the polling loop is the retry.
        url = f"{_base(self.endpoint.admin_url)}/operations/{_segment(operation_id)}"
        return _status_of(self._checked(self._send("HEAD", url), ok=(200, 202)), operation_id)

    # -- access-external: logbook ------------------------------------------------------------

    def logbook_operation(self, operation_id: str) -> LogbookOperation:
        """The logbook operation by id, with all its events (durable, unlike /operations)."""
        url = f"{_base(self.endpoint.access_url)}/logbookoperations/{_segment(operation_id)}"
        results = self._results(self._access("GET", url, json={"$projection": {}}))
        if not results:
            raise VitamNotFound(f"no logbook operation {operation_id}", http_code=200, request_id=operation_id)
        return LogbookOperation.from_json(results[0])

    def ingests_of_message(self, message_identifier: str) -> list[LogbookOperation]:
        """The ingest operations whose ``obIdIn`` is this SIP MessageIdentifier, newest first.

        ``obIdIn`` holds the MessageIdentifier once CHECK_HEADER has run (vitam-api.md §11.2):
        an ingest refused before that (sanity checks) is not found this way.
        """
        query = {
            "$query": {"$and": [{"$eq": {"obIdIn": message_identifier}}, {"$eq": {"evTypeProc": "INGEST"}}]},
            "$filter": {"$orderby": {"evDateTime": -1}},
            "$projection": {},
        }
        url = f"{_base(self.endpoint.access_url)}/logbookoperations"
        return [LogbookOperation.from_json(item) for item in self._results(self._access("GET", url, json=query))]

    def ingests_since(self, when: datetime) -> list[LogbookOperation]:
        """The ingest operations whose logbook date is ``when`` (UTC) or later, newest first: the
        ones that may be an interrupted upload whose header VITAM has not read yet (their
        ``obIdIn`` is still their own id, :attr:`LogbookOperation.header_read` is false)."""
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]  # VITAM writes UTC, no offset
        query = {
            "$query": {"$and": [{"$eq": {"evTypeProc": "INGEST"}}, {"$gte": {"evDateTime": stamp}}]},
            "$filter": {"$orderby": {"evDateTime": -1}},
            "$projection": {},
        }
        url = f"{_base(self.endpoint.access_url)}/logbookoperations"
        return [LogbookOperation.from_json(item) for item in self._results(self._access("GET", url, json=query))]

    # -- access-external: units and objects --------------------------------------------------

    def units_by_operation(self, operation_id: str, *, limit: int = 10000) -> list[dict[str, Any]]:
        """The archive units an ingest created (``#opi``), as VITAM indexed them."""
        query = {
            "$roots": [],
            "$query": [{"$eq": {"#opi": operation_id}}],
            "$filter": {"$limit": limit},
            "$projection": {"$fields": {"#id": 1, "Title": 1, "#opi": 1, "#object": 1}},
        }
        url = f"{_base(self.endpoint.access_url)}/units"
        return self._results(self._access("GET", url, json=query))

    def units_by_key(self, operation_id: str, key: str) -> list[dict[str, Any]]:
        """The units of one ingest whose ``OriginatingAgencyArchiveUnitIdentifier`` is ``key``:
        a record found again by its stable key, without listing the whole operation."""
        query = {
            "$roots": [],
            "$query": [
                {"$and": [{"$eq": {"#opi": operation_id}}, {"$eq": {"OriginatingAgencyArchiveUnitIdentifier": key}}]}
            ],
            "$filter": {"$limit": 10},
            "$projection": {"$fields": {"#id": 1, "Title": 1, "#opi": 1, "#object": 1}},
        }
        url = f"{_base(self.endpoint.access_url)}/units"
        return self._results(self._access("GET", url, json=query))

    def child_units(self, operation_id: str, parent_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The units of one ingest directly under ``parent_id`` (``#unitups``)."""
        query = {
            "$roots": [],
            "$query": [{"$and": [{"$eq": {"#opi": operation_id}}, {"$eq": {"#unitups": parent_id}}]}],
            "$filter": {"$limit": limit},
            "$projection": {
                "$fields": {"#id": 1, "Title": 1, "#opi": 1, "#object": 1, "OriginatingAgencyArchiveUnitIdentifier": 1}
            },
        }
        url = f"{_base(self.endpoint.access_url)}/units"
        return self._results(self._access("GET", url, json=query))

    def download_object(
        self, unit_id: str, target: IO[bytes], *, qualifier: str = "BinaryMaster", version: int = 1
    ) -> int:
        """Stream the unit's binary object (``X-Qualifier``/``X-Version``) into ``target``; returns
        its size. A 460 (object on a cold offer, an access request is needed first) is an error."""
        if not self.endpoint.access_contract:
            raise VitamConfigurationError("access-external needs an access contract (VitamEndpoint.access_contract)")
        url = f"{_base(self.endpoint.access_url)}/units/{_segment(unit_id)}/objects"
        headers = {
            "X-Access-Contract-Id": self.endpoint.access_contract,
            "Accept": "application/octet-stream",
            "X-Qualifier": qualifier,
            "X-Version": str(int(version)),
        }
        return self._stream(url, headers, target)

    def _stream(self, url: str, headers: dict[str, str], target: IO[bytes]) -> int:
        """GET ``url`` into ``target`` chunk by chunk; a transient failure is retried from where
        ``target`` stood, when it can seek back there."""
        delays = self.retry.delays()
        while True:
            start = target.tell() if target.seekable() else None
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    if response.status_code != 200:
                        response.read()
                        raise VitamError.from_response(response)
                    size = 0
                    for chunk in response.iter_bytes(UPLOAD_CHUNK):
                        target.write(chunk)
                        size += len(chunk)
                    return size
            except httpx.TransportError as exc:
                error: VitamError = VitamTransportError(f"GET {url}: no answer ({type(exc).__name__}: {exc})")
            except VitamError as exc:
                error = exc
            delay = next(delays, None) if is_transient(error) and start is not None else None
            if delay is None:
                raise error
            log.warning("GET %s: %s; retrying in %g s", url, error, delay)
            self._sleep(delay)
            target.seek(start)  # type: ignore[arg-type]
            target.truncate()

    def unit(self, unit_id: str) -> dict[str, Any]:
        """One archive unit by GUID (404 when unknown or not visible under the contract)."""
        url = f"{_base(self.endpoint.access_url)}/units/{_segment(unit_id)}"
        results = self._results(self._access("GET", url, json={"$projection": {}}))
        if not results:
            raise VitamNotFound(f"no unit {unit_id}", http_code=200)
        return results[0]

    def object_group_of_unit(self, unit_id: str) -> ObjectGroup:
        """The metadata of the unit's object group: every version's digest and size."""
        url = f"{_base(self.endpoint.access_url)}/units/{_segment(unit_id)}/objects"
        response = self._access("GET", url, json={"$projection": {}}, headers={"Accept": "application/json"})
        results = self._results(response)
        if not results:
            raise VitamNotFound(f"unit {unit_id} has no object group", http_code=200)
        return ObjectGroup.from_json(results[0])

    # -- admin-external: referentials --------------------------------------------------------

    def rules(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        """The management rules referential (or one rule)."""
        return self._referential("rules", rule_id)

    def ingest_contracts(self, identifier: str | None = None) -> list[dict[str, Any]]:
        return self._referential("ingestcontracts", identifier)

    def agencies(self, identifier: str | None = None) -> list[dict[str, Any]]:
        return self._referential("agencies", identifier)

    def _referential(self, collection: str, identifier: str | None) -> list[dict[str, Any]]:
        base = f"{_base(self.endpoint.admin_url)}/{collection}"
        headers = {"X-Access-Contract-Id": self.endpoint.access_contract} if self.endpoint.access_contract else {}
        if identifier is not None:
            return self._results(self._get(f"{base}/{_segment(identifier)}", headers=headers))
        query: dict[str, Any] = {"$query": {}, "$filter": {}, "$projection": {}}
        return self._results(self._get(base, headers=headers, json=query))

    # -- plumbing ----------------------------------------------------------------------------

    def _common_headers(self) -> dict[str, str]:
        headers = {"X-Tenant-Id": str(self.endpoint.tenant)}
        if self.endpoint.application_id:
            headers["X-Application-Id"] = self.endpoint.application_id
        return headers

    def _access(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not self.endpoint.access_contract:
            raise VitamConfigurationError("access-external needs an access contract (VitamEndpoint.access_contract)")
        headers = {"X-Access-Contract-Id": self.endpoint.access_contract, **kwargs.pop("headers", {})}
        return self._idempotent(method, url, headers=headers, **kwargs)

    def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._idempotent("GET", url, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise VitamTransportError(f"{method} {url}: no answer ({type(exc).__name__}: {exc})") from exc

    def _idempotent(self, method: str, url: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        """Send a call that is safe to repeat; retry transient failures with backoff."""
        delays = self.retry.delays()
        while True:
            try:
                return self._checked(self._send(method, url, **kwargs), ok=ok)
            except VitamError as exc:
                delay = next(delays, None) if is_transient(exc) else None
                if delay is None:
                    raise
                log.warning("%s %s: %s; retrying in %g s", method, url, exc, delay)
                self._sleep(delay)

    @staticmethod
    def _checked(response: httpx.Response, *, ok: tuple[int, ...]) -> httpx.Response:
        if response.status_code not in ok:
            raise VitamError.from_response(response)
        return response

    @staticmethod
    def _results(response: httpx.Response) -> list[dict[str, Any]]:
        try:
            data = response.json()
        except ValueError:
            raise VitamProtocolError(
                "the answer is not JSON",
                http_code=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            ) from None
        results = data.get("$results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise VitamProtocolError("the answer has no $results list", http_code=response.status_code)
        return [item for item in results if isinstance(item, dict)]

    @staticmethod
    def _operation_id(response: httpx.Response) -> str:
        if not response.is_success:
            raise VitamError.from_response(response)
        operation_id = response.headers.get("X-Request-Id")
        if not operation_id:
            raise VitamProtocolError(
                "VITAM accepted the upload but sent no X-Request-Id (operation id)",
                http_code=response.status_code,
            )
        if response.status_code != 202:
            # The Java client takes any 2xx as success; so do we, the operation exists.
            log.warning("ingest answered %d instead of 202", response.status_code)
        log.info("ingest accepted: operation %s", operation_id)
        return operation_id


def _status_of(response: httpx.Response, operation_id: str) -> OperationStatus:
    state = response.headers.get("X-Global-Execution-State")
    status = response.headers.get("X-Global-Execution-Status")
    if not state or not status:
        raise VitamProtocolError(
            "the operation status answer has no X-Global-Execution-State/Status",
            http_code=response.status_code,
            request_id=operation_id,
        )
    return OperationStatus(operation_id, state.upper(), status.upper())


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The SIP in fixed-size chunks: memory stays flat whatever the SIP's size."""
    while chunk := stream.read(UPLOAD_CHUNK):
        yield chunk


def _base(url: str) -> str:
    return url.rstrip("/")


def _segment(value: str) -> str:
    """An id as one URL path segment, whatever it contains."""
    return quote(value, safe="")


def _show(status: OperationStatus | None) -> str:
    return f"{status.state}/{status.status}" if status else "no answer"


__all__ = ["OperationStatus", "RetryPolicy", "VitamClient", "VitamEndpoint"]
