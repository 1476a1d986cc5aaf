"""``VitamHook``: a ``vitam`` Airflow connection turned into a :class:`VitamClient`.

The connection holds where and as whom to reach VITAM: the host (services on the default ports
8443/8444 unless the URLs are given), and in its extra the tenant, application id, contracts and
the paths of the CA bundle, client certificate and key. The tenant and the ingest contract must be
the deployment's (``vitam.tenant``, ``vitam.ingest_contract``): the transfer operator checks them
(``VitamHook.mismatches``) before anything is sent. The password field is the client key's
password, so Airflow's secrets backend keeps it and masks it in logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from vitam_client import RetryPolicy, VitamClient, VitamConfigurationError, VitamEndpoint, VitamError

if TYPE_CHECKING:
    from versement.config import VitamConfig

INGEST_PORT = 8443  # vitam-api.md §1: deployment defaults
ACCESS_PORT = 8444


class VitamHook(BaseHook):
    conn_name_attr = "vitam_conn_id"
    default_conn_name = "vitam_default"
    conn_type = "vitam"
    hook_name = "VITAM"

    def __init__(self, vitam_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vitam_conn_id = vitam_conn_id

    def get_endpoint(self) -> VitamEndpoint:
        return endpoint_from_connection(self.get_connection(self.vitam_conn_id))

    def get_conn(self) -> VitamClient:
        """A new client (close it, or use it in a ``with`` block)."""
        return VitamClient(self.get_endpoint())

    def mismatches(self, vitam: VitamConfig) -> list[str]:
        """What the connection says otherwise than the deployment's ``[vitam]`` settings (empty: none).

        The SIP names its ingest contract (ArchivalAgreement, from ``vitam.ingest_contract`` at
        packaging) and the CLI, the browser and ``audit verify --vitam`` reach ``vitam.tenant``: a
        connection that sends to another tenant, or declares another contract, would archive where
        the rest of versement does not look."""
        connection = self.get_connection(self.vitam_conn_id)
        found = endpoint_from_connection(connection)
        contract = _extra(connection).get("ingest_contract") or _extra(connection).get("extra__vitam__ingest_contract")
        problems = []
        if found.tenant != vitam.tenant:
            problems.append(f"tenant {found.tenant}, la configuration vitam.tenant = {vitam.tenant}")
        if contract and str(contract) != vitam.ingest_contract:
            problems.append(
                f"contrat d'entrée {contract}, la configuration vitam.ingest_contract = {vitam.ingest_contract}"
            )
        return problems

    def test_connection(self) -> tuple[bool, str]:
        """The "Test" button of the connection form: each service's /status over mutual TLS."""
        try:
            # One attempt: the form waits for the answer.
            with VitamClient(self.get_endpoint(), retry=RetryPolicy(attempts=1)) as client:
                found = client.status()
        except VitamError as exc:
            return False, str(exc)
        down = [name for name, up in found.items() if not up]
        return (not down, "VITAM answers" if not down else f"not answering: {', '.join(down)}")


def endpoint_from_connection(connection: Any) -> VitamEndpoint:
    """The endpoint a ``vitam`` connection describes; a missing or wrong field is named."""
    extra = _extra(connection)
    name = getattr(connection, "conn_id", None) or "(vitam connection)"

    def field(key: str) -> str | None:
        value = extra.get(key, extra.get(f"extra__vitam__{key}"))
        return None if value in (None, "") else str(value)

    host = (connection.host or "").strip().rstrip("/")
    if host and "://" not in host:
        host = f"https://{host}"
    urls = {}
    for key, port, path in (
        ("ingest_url", INGEST_PORT, "ingest-external/v1"),
        ("admin_url", ACCESS_PORT, "admin-external/v1"),
        ("access_url", ACCESS_PORT, "access-external/v1"),
    ):
        given = field(key)
        if given is None and not host:
            raise VitamConfigurationError(f"Airflow connection {name}: no host and no {key}")
        urls[key] = given or f"{host}:{port}/{path}"
    tenant_text: str = field("tenant") or "0"
    try:
        tenant = int(tenant_text)
    except ValueError:
        raise VitamConfigurationError(f"Airflow connection {name}: tenant {tenant_text!r} is not an integer") from None
    cert, cert_key = field("client_cert"), field("client_key")
    if (cert is None) != (cert_key is None):
        raise VitamConfigurationError(f"Airflow connection {name}: client_cert and client_key go together")
    return VitamEndpoint(
        ingest_url=urls["ingest_url"],
        admin_url=urls["admin_url"],
        access_url=urls["access_url"],
        tenant=tenant,
        access_contract=field("access_contract"),
        application_id=field("application_id"),
        verify=field("ca_bundle") or True,
        client_cert=(cert, cert_key) if cert and cert_key else None,
        client_key_password=connection.password or None,
    )


def _extra(connection: Any) -> dict[str, Any]:
    extra = getattr(connection, "extra_dejson", None)
    return dict(extra) if isinstance(extra, dict) else {}
