"""Serve a sandbox app over real HTTPS on loopback, in a background thread (tests, demo)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from vitam_sandbox.tls import TlsMaterial, make_tls_material

__all__ = ["TlsMaterial", "make_tls_material", "serve"]

_STARTUP_TIMEOUT = 10.0


@contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsMaterial | None = None,
) -> Iterator[str]:
    """Run ``app`` until the block ends; yield its base URL (``https://127.0.0.1:<port>``).

    ``port=0`` picks a free port. Without ``tls`` the server speaks plain HTTP.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # bound here, so the real port is known before uvicorn starts
    server = uvicorn.Server(_config(app, host, tls))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        scheme = "https" if tls else "http"
        bound_host = f"[{host}]" if ":" in host else host
        yield f"{scheme}://{bound_host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT)
        sock.close()


def _config(app: ASGIApp, host: str, tls: TlsMaterial | None) -> uvicorn.Config:
    options: dict[str, object] = {}
    if tls is not None:
        options = {
            "ssl_certfile": str(tls.server_cert_path),
            "ssl_keyfile": str(tls.server_key_path),
            "ssl_ca_certs": str(tls.ca_path),
            "ssl_cert_reqs": ssl.CERT_REQUIRED if tls.require_client_cert else ssl.CERT_NONE,
        }
    return uvicorn.Config(
        app,
        host=host,
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,  # a connection a client left open must not hold the test or the demo for long
        **options,  # type: ignore[arg-type]
    )


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
