"""TLS settings for the client: server verification and the application's certificate.

VITAM's external services require mutual TLS and speak TLS 1.2 (vitam-api.md §1, §3.1, §3.5):
the context always verifies the server (certificate chain and host name; there is no way to
turn it off), offers the client certificate when one is configured, and refuses anything older
than TLS 1.2. httpx 0.28 deprecates its ``cert=`` argument, so the SSL context is built here.
Loading errors are reported without the key password and without anything read from the key
file.
"""

from __future__ import annotations

import os
import ssl

import httpx

from vitam_client.errors import VitamConfigurationError


def ssl_context(
    verify: str | bool,
    client_cert: tuple[str, str] | None,
    key_password: str | None = None,
) -> ssl.SSLContext:
    """The context for httpx: ``verify`` is a CA bundle (file or folder) or a bool."""
    context = _verifying_context(verify)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if client_cert is not None:
        cert_path, key_path = client_cert
        try:
            context.load_cert_chain(cert_path, key_path, password=key_password or _no_password)
        except _NoPassword:
            raise VitamConfigurationError(
                f"the client key {key_path!r} is encrypted and no key password was given"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise VitamConfigurationError(
                f"cannot load the client certificate {cert_path!r} with key {key_path!r}: {_reason(exc)}"
            ) from None  # the original exception stays out of tracebacks and logs
    return context


class _NoPassword(Exception):
    pass


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal: a scheduled task would hang.
    raise _NoPassword


def _verifying_context(verify: str | bool) -> ssl.SSLContext:
    if verify is True:
        return httpx.create_ssl_context()
    if verify is False:
        raise VitamConfigurationError("server certificate verification cannot be turned off; give a CA bundle")
    try:
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise VitamConfigurationError(f"cannot load the CA bundle {verify!r}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    # OpenSSL reasons are short codes ("PEM_LIB", "BAD_DECRYPT"); OS errors give strerror.
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"{exc.library or 'SSL'} {exc.reason}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
