"""Throwaway TLS material for the sandbox: a CA, a server certificate for the loopback
addresses and, for mutual TLS tests, a client certificate. Never use it for anything real."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=30)
_KeyEncryption = serialization.KeySerializationEncryption


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the generated PEM files."""

    ca_path: Path
    server_cert_path: Path
    server_key_path: Path
    client_cert_path: Path | None = None
    client_key_path: Path | None = None
    require_client_cert: bool = False  # the server refuses clients without a certificate

    @property
    def client_cert(self) -> tuple[str, str] | None:
        """As VitamEndpoint.client_cert expects it."""
        if self.client_cert_path is None or self.client_key_path is None:
            return None
        return (str(self.client_cert_path), str(self.client_key_path))


def make_tls_material(
    folder: Path,
    *,
    client: bool = False,
    require_client_cert: bool = False,
    client_key_password: str | None = None,
) -> TlsMaterial:
    """Generate a CA and certificates under ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, now)
    ca_path = _write(folder / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _leaf(ca_key, ca_cert, server_key, now, "VITAM sandbox", server=True)
    material = TlsMaterial(
        ca_path=ca_path,
        server_cert_path=_write(folder / "server.pem", server),
        server_key_path=_write(folder / "server-key.pem", _private(server_key, None)),
        require_client_cert=require_client_cert,
    )
    if not (client or require_client_cert):
        return material
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _leaf(ca_key, ca_cert, client_key, now, "versement client", server=False)
    return TlsMaterial(
        ca_path=material.ca_path,
        server_cert_path=material.server_cert_path,
        server_key_path=material.server_key_path,
        client_cert_path=_write(folder / "client.pem", client_cert),
        client_key_path=_write(folder / "client-key.pem", _private(client_key, client_key_password)),
        require_client_cert=require_client_cert,
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "VITAM sandbox throwaway CA")])
    return (
        _base(name, name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    common_name: str,
    *,
    server: bool,
) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _base(subject, ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM)


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _private(key: ec.EllipticCurvePrivateKey, password: str | None) -> bytes:
    encryption: _KeyEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    if path.name.endswith("-key.pem"):
        path.chmod(0o600)
    return path
