"""Error answers shaped like VITAM's (vitam-api.md §9) and the filters every external service
runs before its resources: request id, then tenant check."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitam_sandbox.guid import REQUEST, new_guid

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
