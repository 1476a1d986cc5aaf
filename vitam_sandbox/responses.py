"""Error answers shaped like VITAM's (vitam-api.md §9) and the filters every external service
runs before its resources: request id, then tenant check."""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitam_sandbox.faults import Faults
from vitam_sandbox.guid import REQUEST, new_guid

log = logging.getLogger(__name__)

TENANT_FILTER_BODY = '{"Error":"X-Tenant-Id check failed!"}'

# Service and domain names that go with the codes the sandbox uses (VitamCodeHelper).
_CONTEXTS = {"04": "External Ingest", "02": "External Access", "00": "Vitam"}
_STATES = {"01": "Input / Output", "03": "Illegal", "07": "Security", "08": "Validation"}


def vitam_error(http_code: int, code: str, message: str, description: str = "") -> JSONResponse:
    """A VitamError JSON body (vitam-api.md §9.1)."""
    body = {
        "httpCode": http_code,
        "code": code,
        "context": _CONTEXTS.get(code[:2], "Vitam"),
        "state": _STATES.get(code[2:4], "Business"),
        "message": message,
        "description": description or message,
        "errors": [],
    }
    return JSONResponse(body, status_code=http_code)


def request_response_ok(results: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """VITAM's RequestResponseOK envelope (vitam-api.md §7.3)."""
    size = len(results)
    return {
        "httpCode": 200,
        "$hits": {"total": size, "offset": 0, "limit": size, "size": size},
        "$results": results,
        "$facetResults": [],
        "$context": context,
    }


def not_implemented(what: str) -> JSONResponse:
    """Something real VITAM does that this test server does not reproduce."""
    return vitam_error(501, "000200", "Not implemented by the VITAM sandbox", what)


async def drain(receive: Receive) -> None:
    """Read the rest of the request body, so that an early error answer reaches the client
    instead of a connection reset in the middle of its upload."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class RequestIdMiddleware:
    """Every answer carries an X-Request-Id; the ingest sets its own (the operation id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers["X-Request-Id"] = new_guid(REQUEST)
            await send(message)

        await self.app(scope, receive, send_with_id)


class TenantFilter:
    """VITAM's TenantFilter: 412 when X-Tenant-Id is missing or not an integer, 401 when the
    tenant is unknown. It answers with the container's error page, not a VitamError; here the
    page is just the filter's JSON message."""

    def __init__(self, app: ASGIApp, tenants: frozenset[int]) -> None:
        self.app = app
        self.tenants = tenants

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith("/status"):
            await self.app(scope, receive, send)
            return
        status = self._refusal(Headers(scope=scope).get("x-tenant-id"))
        if status is None:
            await self.app(scope, receive, send)
            return
        await drain(receive)
        response = Response(TENANT_FILTER_BODY, status_code=status, media_type="application/json")
        await response(scope, receive, send)

    def _refusal(self, value: str | None) -> int | None:
        try:
            tenant = int(value or "")
        except ValueError:
            return 412
        return None if tenant in self.tenants else 401


class FaultMiddleware:
    """The outermost layer, for fault injection (faults.py): HTTP errors before anything else
    runs, and cutting the connection of an ingest flagged ``sandbox.drop`` instead of answering.

    The connection is cut through the server's transport when the server is uvicorn (the
    ``receive`` it passes is bound to its request cycle, which holds the transport); in process
    (no transport), the request raises ConnectionResetError instead.
    """

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = self.faults.take_http_error(scope["method"], scope["path"])
        if status is not None:
            await drain(receive)
            code = ("040105" if status == 500 else "040106") if "/ingest-external/" in scope["path"] else "000200"
            response = vitam_error(status, code, "Internal server error (injected by the test)")
            if scope["path"].rstrip("/").endswith("/ingests"):
                response.headers["X-Global-Execution-State"] = "COMPLETED"
                response.headers["X-Global-Execution-Status"] = "FATAL"
            await response(scope, receive, send)
            return
        dropped = False

        async def send_or_drop(message: Message) -> None:
            nonlocal dropped
            if scope.get("sandbox.drop"):
                if not dropped:
                    dropped = True
                    transport = getattr(getattr(receive, "__self__", None), "transport", None)
                    log.warning("fault injection: connection dropped after the upload of %s", scope["path"])
                    if transport is not None:
                        transport.abort()
                return
            await send(message)

        await self.app(scope, receive, send_or_drop)
        if dropped and getattr(getattr(receive, "__self__", None), "transport", None) is None:
            raise ConnectionResetError("connection dropped by the VITAM sandbox after the upload (fault injection)")
