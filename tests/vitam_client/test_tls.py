"""Over real HTTPS on loopback: server verification with the generated CA, mutual TLS, and no
secret in any error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vitam_client.conftest import endpoint
from tests.vitam_client.sips import MESSAGE_IDENTIFIER, build_sip
from vitam_client import VitamClient, VitamError, VitamTransportError, parse_atr
from vitam_sandbox import SandboxConfig, create_app, make_tls_material, serve

PASSWORD = "s3cret-Key-Passw0rd"


def https_client(base_url: str, **overrides: object) -> VitamClient:
    return VitamClient(endpoint(base_url, **overrides), sleep=lambda _: None)


def test_full_transfer_over_https(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls")
    with serve(create_app(sandbox_config), tls=tls) as base_url:
        assert base_url.startswith("https://127.0.0.1:") and not base_url.endswith(":0")
        with https_client(base_url, verify=str(tls.ca_path)) as client:
            operation_id = client.ingest(build_sip(tmp_path))
            assert client.operation_status(operation_id).state == "RUNNING"
            assert client.wait_for_operation(operation_id, sleep=lambda _: None).status == "OK"
            atr = parse_atr(client.archive_transfer_reply(operation_id))
            assert atr.message_request_identifier == MESSAGE_IDENTIFIER
            units = client.units_by_operation(operation_id)
            assert {unit["#id"] for unit in units} == set(atr.units.values())


def test_an_unknown_server_certificate_is_refused(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls")
    stranger = make_tls_material(tmp_path / "other")  # another CA
    with (
        serve(create_app(sandbox_config), tls=tls) as base_url,
        https_client(base_url, verify=str(stranger.ca_path)) as client,
        pytest.raises(VitamTransportError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.operation_status("aeeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")


def test_mutual_tls(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls", require_client_cert=True, client_key_password=PASSWORD)
    assert tls.client_cert is not None
    key_text = Path(tls.client_cert[1]).read_text()
    with serve(create_app(sandbox_config), tls=tls) as base_url:
        with (
            https_client(base_url, verify=str(tls.ca_path)) as anonymous,
            pytest.raises(VitamTransportError) as refused,
        ):
            anonymous.ingest(build_sip(tmp_path))
        assert refused.value.http_code is None

        identified = https_client(
            base_url, verify=str(tls.ca_path), client_cert=tls.client_cert, client_key_password=PASSWORD
        )
        with identified:
            operation_id = identified.ingest(build_sip(tmp_path))
            assert identified.wait_for_operation(operation_id, sleep=lambda _: None).finished

        assert PASSWORD not in repr(identified.endpoint)
        text = f"{refused.value} {refused.value!r}"
        for secret in (PASSWORD, key_text, "PRIVATE KEY"):
            assert secret not in text


def test_a_wrong_key_password_leaks_nothing(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls", client=True, client_key_password=PASSWORD)
    assert tls.client_cert is not None
    key_text = Path(tls.client_cert[1]).read_text()
    wrong = PASSWORD[::-1]
    with pytest.raises(VitamError) as caught:
        https_client(
            "https://127.0.0.1:9", verify=str(tls.ca_path), client_cert=tls.client_cert, client_key_password=wrong
        )
    error = caught.value
    text = f"{error} {error!r} {error.message} {error.__cause__!r} {error.__context__!r}"
    assert "cannot load the client certificate" in str(error)
    for secret in (PASSWORD, wrong, key_text, "PRIVATE KEY"):
        assert secret not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_an_encrypted_key_without_its_password_fails_at_once(tmp_path: Path) -> None:
    # Without a password callback OpenSSL would prompt on the terminal and a task would hang.
    tls = make_tls_material(tmp_path / "tls", client=True, client_key_password=PASSWORD)
    assert tls.client_cert is not None
    with pytest.raises(VitamError, match="is encrypted and no key password was given") as caught:
        https_client("https://127.0.0.1:9", verify=str(tls.ca_path), client_cert=tls.client_cert)
    assert tls.client_cert[1] in str(caught.value)


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls")
    with pytest.raises(VitamError, match="cannot load the client certificate"):
        https_client(
            "https://127.0.0.1:9",
            verify=str(tls.ca_path),
            client_cert=(str(tls.server_cert_path), str(tmp_path / "nope.pem")),
        )
