"""A synchronous httpx transport that runs an ASGI application in process.

httpx ships only an async ASGI transport; the client is synchronous. This one runs
``httpx.ASGITransport`` in an anyio portal (a background event loop), through public APIs
only. The request body is forwarded chunk by chunk, as it would go over a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio.from_thread
import httpx
from starlette.types import ASGIApp


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._asgi = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []  # what went through, for tests that count

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        chunks: Iterable[bytes] = request.stream  # type: ignore[assignment]

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=body())

        async def call() -> httpx.Response:
            answer = await self._asgi.handle_async_request(forwarded)
            content = b"".join([chunk async for chunk in answer.stream])  # type: ignore[union-attr]
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return self._portal.call(call)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)

    def __exit__(self, *args: Any) -> None:
        self.close()
